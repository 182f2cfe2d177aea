"""`monitor report`: one self-contained HTML file a PR lead can mail (no network needed to open it).

Data in, HTML out: the store's reads happen in ``gather``; ``render`` only formats. Charts are
inline SVG (volume per day with spike days marked, assassins' reach per day), readable in print.
Every text from a post is escaped, and only http(s) links are made links.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from monitor.judgement.digest import net_score
from monitor.models import Judged, clean_text

if TYPE_CHECKING:
    from monitor.store import Store


@dataclass
class BrandReport:
    """What the report says of one brand over the period and the one before."""

    brand: str
    days: list[dict]  # brand_health_daily rows of the period, by day
    previous: dict  # the previous period's totals
    assassins: list[Judged]
    advocates: list[Judged]
    moves: list[dict]
    storms: list[dict]
    spike_days: set[str] = field(default_factory=set)


def gather(store: "Store", brands: list[str], start: datetime, end: datetime) -> list[BrandReport]:
    """The report's data for each brand, from the store."""
    span = end - start
    out = []
    for brand in brands:
        days = store.health_days(brand, start, end)
        before = store.health_days(brand, start - span, start)
        previous = {key: sum(row[key] or 0 for row in before) for key in ("mentions", "advocates", "assassins", "unscored")}
        storms = [s for s in store.storms(since=start, brand=brand) if s["started_at"] < end.isoformat()]
        out.append(BrandReport(
            brand, days, previous,
            store.top_mentions(brand, "assassin", start, end, limit=10),
            store.top_mentions(brand, "advocate", start, end, limit=10),
            store.author_moves(brand, start, end, limit=20),
            storms,
            {s["started_at"][:10] for s in storms},
        ))
    return out


def _e(value: object, width: int | None = None) -> str:
    return html.escape(clean_text(value, width=width), quote=True)


def _link(url: str | None, text: str) -> str:
    if url and url.lower().startswith(("https://", "http://")):
        return f'<a href="{html.escape(url, quote=True)}" rel="noopener noreferrer nofollow">{text}</a>'
    return text


def _net(totals: dict) -> float | None:
    """The digest's net score of a period's brand-health totals."""
    scored = totals["mentions"] - totals["unscored"]
    return net_score({"advocate": totals["advocates"], "assassin": totals["assassins"],
                      "apathetic": scored - totals["advocates"] - totals["assassins"]})


def bars(days: list[dict], key: str, marked: set[str], title: str, colour: str) -> str:
    """An SVG bar chart of ``key`` per day; days in ``marked`` get a red marker above their bar."""
    width, height, pad = 720, 180, 30
    values = [row[key] or 0 for row in days]
    top = max(values, default=0) or 1
    step = (width - 2 * pad) / max(1, len(days))
    parts = [f'<svg class="chart" role="img" aria-label="{_e(title)}" viewBox="0 0 {width} {height + 40}" '
             f'width="{width}" height="{height + 40}" xmlns="http://www.w3.org/2000/svg">',
             f'<text x="{pad}" y="14" font-size="13">{_e(title)} (max {top:,})</text>']
    for i, (row, value) in enumerate(zip(days, values)):
        h = (height - 30) * value / top
        x, y = pad + i * step, height - h
        parts.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{max(1, step - 2):.1f}" height="{h:.1f}" '
                     f'fill="{colour}" data-day="{_e(row["day"])}" data-value="{value}"><title>{_e(row["day"])}: '
                     f'{value:,}</title></rect>')
        if row["day"] in marked:
            parts.append(f'<text class="spike" x="{x + step / 2:.1f}" y="{y - 4:.1f}" font-size="14" fill="#c00" '
                         f'text-anchor="middle">▲</text>')
        if i % max(1, len(days) // 7) == 0:
            parts.append(f'<text x="{x:.1f}" y="{height + 16}" font-size="10">{_e(row["day"][5:])}</text>')
    parts.append(f'<line x1="{pad}" y1="{height}" x2="{width - pad}" y2="{height}" stroke="#444"/></svg>')
    return "".join(parts)


def _table(title: str, rows: list[Judged]) -> str:
    if not rows:
        return f"<h3>{_e(title)}</h3><p>None in this period.</p>"
    body = "".join(
        f"<tr><td>{_e(j.mention.published_at.strftime('%Y-%m-%d %H:%M'))}</td><td>{_e(j.mention.source)}</td>"
        f"<td>{_e(j.mention.author_name or j.mention.author, 40)}</td><td class=num>{(j.reach.likely or j.reach.high):,}</td>"
        f"<td>{_link(j.mention.url, _e(j.mention.title or j.mention.text, 140))}</td></tr>"
        for j in rows)
    return (f"<h3>{_e(title)}</h3><table><tr><th>published (UTC)</th><th>source</th><th>author</th>"
            f"<th>likely reach</th><th>post</th></tr>{body}</table>")


def render(reports: list[BrandReport], start: datetime, end: datetime, now: datetime) -> str:
    """The whole HTML document."""
    sections = []
    for r in reports:
        total = {key: sum(row[key] or 0 for row in r.days) for key in ("mentions", "advocates", "apathetics", "assassins",
                                                                       "unscored", "assassin_reach")}
        net, before = _net(total), _net(r.previous)
        shown = lambda v: "–" if v is None else f"{v:+.1f}"  # noqa: E731
        moves = "".join(
            f"<tr><td>{_e(m['at'][:16].replace('T', ' '))}</td><td>{_e(m['source'])}</td><td>{_e(m['display_name'] or m['handle'], 40)}</td>"
            f"<td>{_e(m['from_bucket'] or 'new')} → {_e(m['to_bucket'])}</td><td class=num>{m['audience'] or 0:,}</td></tr>"
            for m in r.moves)
        storms = "".join(f"<li><b>{_e(s['started_at'][:16].replace('T', ' '))}</b>: {_e(s['summary'], 400)}</li>" for s in r.storms)
        sections.append(f"""
<section class="brand"><h2>{_e(r.brand)}</h2>
<table class="summary"><tr><th></th><th>this period</th><th>previous period</th></tr>
<tr><td>mentions</td><td class=num>{total['mentions']:,}</td><td class=num>{r.previous['mentions']:,}</td></tr>
<tr><td>advocates / apathetics / assassins</td><td class=num>{total['advocates']:,} / {total['apathetics']:,} / {total['assassins']:,}</td>
<td class=num>{r.previous['advocates']:,} / – / {r.previous['assassins']:,}</td></tr>
<tr><td>net score (advocates % − assassins %)</td><td class=num>{shown(net)}</td><td class=num>{shown(before)}</td></tr>
<tr><td>assassins' likely reach</td><td class=num>{total['assassin_reach']:,}</td><td></td></tr></table>
{bars(r.days, "mentions", r.spike_days, f"Mentions of {r.brand} per day (▲ a storm began)", "#4a78b5")}
{bars(r.days, "assassin_reach", r.spike_days, f"Likely reach of {r.brand}'s assassins per day", "#b54a4a")}
<h3>Storms</h3>{f"<ul>{storms}</ul>" if storms else "<p>None in this period.</p>"}
{_table("Top assassins by reach", r.assassins)}
{_table("Top advocates by reach", r.advocates)}
<h3>Authors who changed bucket</h3>{f"<table><tr><th>when (UTC)</th><th>source</th><th>author</th><th>move</th><th>audience</th></tr>{moves}</table>" if moves else "<p>None in this period.</p>"}
</section>""")
    period = f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Reputation report, {_e(period)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; max-width: 980px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; margin: .5em 0 1em; }} td, th {{ border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }}
td.num {{ text-align: right; }} section.brand {{ page-break-before: always; }} svg.chart {{ display: block; margin: 1em 0; }}
@media print {{ body {{ margin: 0; }} a {{ color: inherit; }} }}
</style></head><body>
<h1>Reputation report</h1><p>{_e(period)}; generated {now:%Y-%m-%d %H:%M} UTC by the reputation monitor.
Reach figures are estimates (a range, of which the likely figure is shown); see the README's reach model.</p>
{"".join(sections) or "<p>No brand has mentions in this store.</p>"}
</body></html>
"""
