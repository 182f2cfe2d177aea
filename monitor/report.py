"""`monitor report`: one self-contained HTML file a PR lead can mail (no network needed to open it),
and, with ``--pdf``, the same pages printed by headless Chromium where it is installed.

Each brand's section is the dashboard's data over the report's period (``monitor.dashboard``):
mentions per day by bucket (today's partial day marked), assassins' reach per day on a scale one
outlier cannot flatten (the outlier named), share of voice against the competitors, mentions by
source, the storms in plain words, the top assassins, the hostile coverage and the advocates as distinct
texts with their copies counted, and the authors who moved; beside it the period before, every bucket and the
reach. Charts are inline SVG, readable in print. Every text from a post is escaped, and only
http(s) links are made links.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from monitor.charts import esc, lines, stacked_days, stacked_rows
from monitor.dashboard import BUCKETS, COVERAGE, Dashboard, Filters, gather as gather_page, net_of, outlier_of, reach_chart, texts_table
from monitor.errors import MonitorError

if TYPE_CHECKING:
    from monitor.store import Store

TOTALS = ("mentions", "advocates", "apathetics", "assassins", "unscored", "assassin_reach")


@dataclass
class BrandReport:
    """What the report says of one brand over the period, and the period before's totals."""

    brand: str
    page: Dashboard
    previous: dict  # every bucket, the unscored and the assassins' reach, over the period before
    partial: str | None  # the period's last day when it is still under way


def gather(store: "Store", brands: list[str], start: datetime, end: datetime, *, now: datetime | None = None,
           competitors: Sequence[str] | None = None) -> list[BrandReport]:
    """The report's data for each brand, from the store."""
    now = now or end
    rivals = list(store.competitor_names() if competitors is None else competitors)
    out = []
    for brand in brands:
        page = gather_page(store, Filters(brand=brand), competitors=rivals, now=end, start=start)
        outlier_of(store, page)
        before = store.health_days(brand, start - (end - start), start)
        previous = {key: sum(row[key] or 0 for row in before) for key in TOTALS}
        partial = page.days[-1] if page.days and page.days[-1] == now.strftime("%Y-%m-%d") else None
        out.append(BrandReport(brand, page, previous, partial))
    return out


def _section(r: BrandReport) -> str:
    p, prev = r.page, r.previous
    total = {**p.totals, "assassin_reach": p.totals["reach"]}
    net = net_of(total["advocates"], total["assassins"], total["mentions"] - total["unscored"])
    before = net_of(prev["advocates"], prev["assassins"], prev["mentions"] - prev["unscored"])
    shown = lambda v: "–" if v is None else f"{v:+.1f}"  # noqa: E731  (no scored mention: no score)
    share = lambda n, of: f"{100 * n / of:.0f} %" if of else "–"  # noqa: E731
    reach_html = reach_chart(p, f"Likely reach of {r.brand}'s assassins per day (an estimate)", partial=r.partial)
    voice_total = sum(v["mentions"] for v in p.voice.values()) or 1
    voice = "".join(
        f'<tr><td>{esc(b)}{" (competitor)" if b in p.competitors else ""}</td><td class=num>{v["mentions"]:,}</td>'
        f'<td class=num>{100 * v["mentions"] / voice_total:.1f} %</td>'
        f'<td class=num>{shown(net_of(v["advocates"], v["assassins"], v["scored"]))}</td></tr>'
        for b, v in p.voice.items())
    sources = [(row["source"], {name: row[name] for name in BUCKETS if row[name]}) for row in p.by_source]
    storms = "".join(f"<li><b>{esc(s['started_at'][:16].replace('T', ' '))} UTC</b>: {esc(s['summary'], 400)}</li>"
                     for s in p.storms)
    moves = "".join(
        f"<tr><td>{esc(m['at'][:16].replace('T', ' '))}</td><td>{esc(m['source'])}</td>"
        f"<td>{esc(m['display_name'] or m['handle'], 40)}</td><td>{esc(m['from_bucket'] or 'new')} → {esc(m['to_bucket'])}</td>"
        f"<td class=num>{m['audience'] or 0:,}</td></tr>" for m in p.moves)
    scored, scored_before = total["mentions"] - total["unscored"], prev["mentions"] - prev["unscored"]
    return f"""
<section class="brand"><h2>{esc(r.brand)}</h2>
<table class="summary"><tr><th></th><th class=num>this period</th><th class=num>previous period</th></tr>
<tr><td>mentions</td><td class=num data-now="mentions">{total['mentions']:,}</td><td class=num data-before="mentions">{prev['mentions']:,}</td></tr>
<tr><td>advocates</td><td class=num>{total['advocates']:,} ({share(total['advocates'], scored)})</td><td class=num data-before="advocates">{prev['advocates']:,} ({share(prev['advocates'], scored_before)})</td></tr>
<tr><td>apathetics</td><td class=num>{total['apathetics']:,} ({share(total['apathetics'], scored)})</td><td class=num data-before="apathetics">{prev['apathetics']:,} ({share(prev['apathetics'], scored_before)})</td></tr>
<tr><td>assassins</td><td class=num>{total['assassins']:,} ({share(total['assassins'], scored)})</td><td class=num data-before="assassins">{prev['assassins']:,} ({share(prev['assassins'], scored_before)})</td></tr>
<tr><td>net score (advocates % − assassins % of the scored mentions)</td><td class=num>{shown(net)}</td><td class=num data-before="net">{shown(before)}</td></tr>
<tr><td>assassins' likely reach (an estimate)</td><td class=num>{total['assassin_reach']:,}</td><td class=num data-before="reach">{prev['assassin_reach']:,}</td></tr></table>
<h3>Sentiment: mentions per day by bucket</h3>
{stacked_days(p.days, {name: p.buckets[name] for name in BUCKETS}, f"Mentions of {r.brand} per day by bucket", partial=r.partial)}
{'<p class="note">The last day is still under way: its bars show it so far.</p>' if r.partial else ''}
<h3>Assassins' likely reach per day</h3>{reach_html}
<h3>Share of voice</h3>{lines(p.days, {b: v["days"] for b, v in p.voice.items()}, "Mentions per day, every watched brand")}
<table><tr><th>brand</th><th class=num>mentions</th><th class=num>share of voice</th><th class=num>net score</th></tr>{voice}</table>
<h3>Mentions by source</h3>{stacked_rows(sources, f"Mentions of {r.brand} by source and bucket") if sources else "<p>None in this period.</p>"}
<h3>Storms</h3>{f"<ul>{storms}</ul>" if storms else "<p>None in this period.</p>"}
{texts_table("Top assassins by likely reach", p.assassins, "assassin")}
{texts_table(COVERAGE, p.coverage, "coverage")}
{texts_table("Top advocates by likely reach", p.advocates, "advocate")}
<h3>Authors who changed bucket</h3><p>Each one's latest move: who turned assassin first, then lost advocates, the widest audience first.</p>{f"<table><tr><th>when (UTC)</th><th>source</th><th>author</th><th>move</th><th class=num>audience</th></tr>{moves}</table>" if moves else "<p>None in this period.</p>"}
</section>"""


def render(reports: list[BrandReport], start: datetime, end: datetime, now: datetime) -> str:
    """The whole HTML document."""
    period = f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Reputation report, {esc(period)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; max-width: 1000px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; margin: .5em 0 1em; width: 100%; }} td, th {{ border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }}
td.num, th.num {{ text-align: right; white-space: nowrap; }} td.post {{ width: 55%; overflow-wrap: anywhere; }} time {{ white-space: nowrap; }}
section.brand {{ page-break-before: always; }} svg.chart {{ display: block; margin: .5em 0; max-width: 100%; height: auto; }}
.note, .outlier {{ color: #555; font-size: .92em; }}
@media print {{ body {{ margin: 0; }} a {{ color: inherit; }} }}
</style></head><body>
<h1>Reputation report</h1><p>{esc(period)}; generated {now:%Y-%m-%d %H:%M} UTC by the reputation monitor.
Reach figures are estimates (the likely number of people, by each source's method; audiences overlap); the net score
is advocates minus assassins as a share of the scored mentions (−100 to +100).</p>
{"".join(_section(r) for r in reports) or "<p>No brand has mentions in this store.</p>"}
</body></html>
"""


def print_pdf(html_path: Path, pdf_path: Path) -> None:
    """Print the report to PDF with headless Chromium (Debian's ``chromium``), A4."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        raise MonitorError("--pdf needs Chromium (apt-get install chromium); the HTML report was written")
    with tempfile.TemporaryDirectory(prefix="report-pdf-") as profile:
        done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                               "--no-first-run", f"--user-data-dir={profile}", "--no-pdf-header-footer",
                               f"--print-to-pdf={pdf_path}", html_path.resolve().as_uri()],
                              capture_output=True, text=True, timeout=180)
    if done.returncode != 0 or not pdf_path.exists() or pdf_path.stat().st_size == 0:
        raise MonitorError(f"Chromium could not print {html_path} to PDF: {done.stderr.strip()[-300:]}")
