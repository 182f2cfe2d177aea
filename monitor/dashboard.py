"""The dashboard ``monitor serve`` opens on: per brand or across your brands, over a period, with
a source filter. The store's reads happen in ``gather``; ``render`` only formats (inline SVG from
``monitor.charts``: nothing is fetched, no script is needed to see a number).

What it shows, as Brand24 and Mention open with: mentions per day by bucket, the assassins'
likely reach per day (one outlier cannot flatten it: it is cut and named), share of voice against
the competitors the config watches, mentions by source, the storms on a timeline with their one
line, the top assassins and advocates by reach (one row per distinct text, its copies counted)
and the hostile coverage (press articles the call read as an assassin's words: not a customer, but
what a PR team answers), the authors who moved between buckets, and the alerts with who acknowledged them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Sequence
from urllib.parse import urlencode

from monitor.charts import BUCKET_COLOURS, capped_days, cut_day, esc, lines, stacked_days, stacked_rows, timeline
from monitor.judgement.digest import net_score
from monitor.models import to_iso

if TYPE_CHECKING:
    from monitor.store import Store

PERIODS = (7, 30, 90)  # days the period filter offers
BUCKETS = ("advocates", "apathetics", "assassins", "unscored")
COVERAGE = "Hostile coverage by likely reach (press articles the call read as an assassin's words)"


@dataclass
class Filters:
    """What the page was asked for: one brand (``""``: every brand of yours), one source (``""``:
    all), the last ``days`` days."""

    brand: str = ""
    source: str = ""
    days: int = 30

    @classmethod
    def parse(cls, args: dict) -> "Filters":
        try:
            days = int(args.get("days") or 30)
        except ValueError:
            days = 30
        return cls(str(args.get("brand") or ""), str(args.get("source") or ""), days if days in PERIODS else 30)

    def link(self, **changes: object) -> str:
        values = {"brand": self.brand, "source": self.source, "days": self.days, **changes}
        return "?" + urlencode({k: v for k, v in values.items() if v not in ("", None)})


@dataclass
class Dashboard:
    """Everything the page shows, read from the store."""

    filters: Filters
    start: datetime
    now: datetime
    brands: list[str]  # the brands in scope (one, or yours)
    every_brand: list[str]  # yours and the competitors, for share of voice and the menu
    competitors: list[str]
    sources: list[str]
    days: list[str]
    buckets: dict[str, list[int]]
    reach: list[int]
    voice: dict[str, dict]  # brand -> {"days": [...], "mentions", "advocates", "assassins", "scored"}
    by_source: list[dict]
    storms: list[dict]
    assassins: list[dict]
    advocates: list[dict]
    moves: list[dict]
    alerts: list[dict]
    coverage: list[dict] = field(default_factory=list)  # press articles the call read as an assassin's words
    outlier: dict | None = None
    totals: dict = field(default_factory=dict)


def gather(store: "Store", filters: Filters, *, competitors: Sequence[str] = (), now: datetime | None = None,
           start: datetime | None = None) -> Dashboard:
    """The page's data over [start, now] (default: the last ``filters.days`` UTC days, today's so
    far included): a handful of reads over the rollups (small at any size) and a few over the
    period's mentions."""
    now = now or datetime.now(timezone.utc)
    start = start or datetime.combine((now - timedelta(days=filters.days - 1)).date(), datetime.min.time(), timezone.utc)
    known = store.brand_names()
    rivals = [b for b in known if b in set(competitors)]
    yours = [b for b in known if b not in set(rivals)] or known
    every = yours + rivals
    brands = [filters.brand] if filters.brand in known else yours
    days = [(start + timedelta(days=n)).strftime("%Y-%m-%d") for n in range((now.date() - start.date()).days + 1)]
    voice_rows = store.voice_days(start, now, source=filters.source or None)
    voice = {b: {"days": [0] * len(days), "mentions": 0, "advocates": 0, "assassins": 0, "scored": 0} for b in every}
    buckets = {name: [0] * len(days) for name in BUCKETS}
    reach = [0] * len(days)
    index = {day: n for n, day in enumerate(days)}
    for row in voice_rows:
        n = index.get(row["day"])
        if n is None or row["brand"] not in voice:
            continue
        v = voice[row["brand"]]
        v["days"][n] += row["mentions"]
        v["mentions"] += row["mentions"]
        v["advocates"] += row["advocates"]
        v["assassins"] += row["assassins"]
        v["scored"] += row["mentions"] - row["unscored"]
        if row["brand"] in brands:
            for name in BUCKETS:
                buckets[name][n] += row[name]
            reach[n] += row["assassin_reach"]
    by_source = store.source_totals(start, now, brands=brands)
    if filters.source:
        by_source = [row for row in by_source if row["source"] == filters.source]
    scope = set(brands)  # one read of the period's storms, whichever brands are in scope
    storms = [s for s in store.storms(since=start, brand=brands[0] if len(brands) == 1 else None)
              if s["brand"] in scope and s["started_at"] <= to_iso(now)]
    storms = [s for s in storms if not filters.source or s.get("source") in (None, filters.source)]
    latest: dict[tuple[str, str], dict] = {}  # each author's latest move over the brands in scope
    for move in (m for b in brands for m in store.author_moves(b, start, now, limit=20)):
        key = (move["source"], move["handle"])
        if key not in latest or move["at"] > latest[key]["at"]:
            latest[key] = move
    moves = sorted(latest.values(), key=lambda m: (m["to_bucket"] == "assassin", m["from_bucket"] == "advocate",
                                                   m["audience"] or 0, m["at"]), reverse=True)[:20]  # as the store orders them
    page = Dashboard(
        filters, start, now, brands, every, rivals, store.source_names(), days, buckets, reach, voice,
        by_source, storms,
        store.top_texts("assassin", start, now, brands=brands, source=filters.source or None),
        store.top_texts("advocate", start, now, brands=brands, source=filters.source or None),
        moves, store.acted_alerts(start, brands=brands),
        coverage=store.top_texts("assassin", start, now, brands=brands, source=filters.source or None, speaker="press"),
    )
    page.totals = {name: sum(values) for name, values in buckets.items()}
    page.totals["mentions"] = sum(page.totals.values())
    page.totals["reach"] = sum(reach)
    return page


def net_of(advocates: int, assassins: int, scored: int) -> float | None:
    return net_score({"advocate": advocates, "assassin": assassins, "apathetic": scored - advocates - assassins})


def _time(value: str | None) -> str:
    """A UTC time the page's script shows in the viewer's zone (as written here without it)."""
    if not value:
        return "–"
    return f'<time datetime="{esc(value)}">{esc(value[:16].replace("T", " "))} UTC</time>'


def _link(url: str | None, text: str) -> str:
    if url and url.lower().startswith(("https://", "http://")):
        return f'<a href="{esc(url)}" rel="noopener noreferrer nofollow">{text}</a>'
    return text


def reach_chart(page: Dashboard, title: str, *, partial: str | None) -> str:
    """The assassins' reach per day on a scale one outlier cannot flatten, and the post behind
    the day that was cut, named."""
    svg, cut = capped_days(page.days, page.reach, title, "#b54a4a", partial=partial)
    if cut is None or page.outlier is None:
        return svg
    o = page.outlier
    return (f'{svg}<p class="outlier">The bar of {esc(cut)} is cut to keep the other days readable: that day\'s '
            f'assassins reached about {page.reach[page.days.index(cut)]:,} people, {(o["reach_likely"] or 0):,} of them '
            f'through one post on {esc(o["source"])}: {_link(o["url"], "“" + esc(o["said"], 160) + "”")}</p>')


def texts_table(title: str, rows: list[dict], kind: str) -> str:
    if not rows:
        return f"<h3>{esc(title)}</h3><p class=none>None in this period.</p>"
    body = "".join(
        f'<tr class="{kind}"><td class=post>{_link(r["url"], esc(r["said"], 280))}</td>'
        f'<td class=num data-copies="{r["copies"]}">{r["copies"]:,}</td>'
        f'<td class=num data-reach="{r["reach_likely"] or 0}">{(r["reach_likely"] or 0):,}</td>'
        f'<td>{esc(r["source"])}</td><td>{esc(r["author"], 40)}</td><td>{_time(r["published_at"])}</td></tr>'
        for r in rows)
    return (f'<h3>{esc(title)}</h3><table class="texts {kind}"><tr><th>what was said (one row per distinct text)</th>'
            f'<th>copies</th><th>likely reach (estimate)</th><th>source</th><th>author</th><th>when</th></tr>{body}</table>')


def render(page: Dashboard, *, database: str = "", private: bool = False) -> str:
    """The whole page (``private``: who acknowledged an alert is not named, as ``serve --private``
    hides ``alert_actions``)."""
    f = page.filters
    scope = f.brand if f.brand else ("all your brands" if len(page.brands) > 1 else (page.brands[0] if page.brands else "—"))
    partial = page.days[-1] if page.days else None
    brand_options = "".join(
        f'<option value="{esc(b)}"{" selected" if b == f.brand else ""}>{esc(b)}{" (competitor)" if b in page.competitors else ""}</option>'
        for b in page.every_brand)
    source_options = "".join(f'<option value="{esc(s)}"{" selected" if s == f.source else ""}>{esc(s)}</option>'
                             for s in page.sources)
    period_options = "".join(f'<option value="{d}"{" selected" if d == f.days else ""}>last {d} days</option>'
                             for d in PERIODS)
    t = page.totals
    net = net_of(t["advocates"], t["assassins"], t["mentions"] - t["unscored"])
    reach_html = reach_chart(page, "Assassins' likely reach per day (an estimate)", partial=partial)
    voice_rows = []
    total_voice = sum(v["mentions"] for v in page.voice.values()) or 1
    for b, v in page.voice.items():
        share = 100 * v["mentions"] / total_voice
        n = net_of(v["advocates"], v["assassins"], v["scored"])
        voice_rows.append(
            f'<tr data-brand="{esc(b)}"><td>{esc(b)}{" <small>(competitor)</small>" if b in page.competitors else ""}</td>'
            f'<td class=num data-mentions="{v["mentions"]}">{v["mentions"]:,}</td><td class=num data-share="{share:.1f}">{share:.1f} %</td>'
            f'<td class=num data-net="{"" if n is None else f"{n:.1f}"}">{"–" if n is None else f"{n:+.1f}"}</td></tr>')
    storms = "".join(
        f'<li class="storm-line">{_time(s["started_at"])} · {esc(s["brand"])}: {esc(s["summary"], 400)}</li>'
        for s in reversed(page.storms))
    moves = "".join(
        f'<tr><td>{_time(m["at"])}</td><td>{esc(m["source"])}</td><td>{esc(m["display_name"] or m["handle"], 40)}</td>'
        f'<td>{esc(m["from_bucket"])} → {esc(m["to_bucket"])}</td><td class=num>{(m["audience"] or 0):,}</td></tr>'
        for m in page.moves)
    alerts = "".join(
        f'<tr><td>{_time(a["sent_at"])}</td><td>{esc(a["kind"])}</td><td>{esc(a["brand"])}</td>'
        f'<td class=reason>{esc(a["reason"], 220)}</td>'
        f'<td>{esc("someone" if private and a["acknowledged_by"] else a["acknowledged_by"] or "not yet")}</td>'
        f'<td>{_time(a["acknowledged_at"]) if a["acknowledged_at"] else "–"}</td></tr>'
        for a in page.alerts)
    sources = [(r["source"], {name: r[name] for name in BUCKETS if r[name]}) for r in page.by_source]
    tables = f'<a href="/{esc(database)}">tables and saved queries</a>' if database else ""
    legend = " ".join(f'<span class=key style="background:{c}"></span>{name}' for name, c in BUCKET_COLOURS.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(scope)} · reputation dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1320px; padding: 1em 2em; color: #222; }}
header {{ display: flex; flex-wrap: wrap; align-items: baseline; gap: 1em; }} header h1 {{ margin: 0; font-size: 1.5em; }}
form {{ display: flex; gap: .6em; align-items: center; margin: .6em 0 1em; }} select, button {{ font: inherit; padding: .2em .4em; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 1em 2.5em; }}
section {{ min-width: 0; }} h2 {{ font-size: 1.1em; margin: 1em 0 .3em; }} h3 {{ font-size: 1em; margin: 1em 0 .3em; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ border-bottom: 1px solid #e3e3e3; padding: 3px 6px; text-align: left; vertical-align: top; }}
td.num, th.num {{ text-align: right; white-space: nowrap; }} td.post {{ width: 55%; overflow-wrap: anywhere; }} time {{ white-space: nowrap; }}
.figures {{ display: flex; gap: 2em; flex-wrap: wrap; margin: .4em 0; }} .figures div {{ font-size: 1.6em; }} .figures small {{ display: block; font-size: .55em; color: #555; }}
.key {{ display: inline-block; width: .8em; height: .8em; margin: 0 .25em 0 .8em; vertical-align: middle; }}
.note, .outlier, .none {{ color: #555; font-size: .92em; }} svg.chart {{ max-width: 100%; height: auto; }}
@media print {{ form {{ display: none; }} }}
</style></head><body>
<header><h1>{esc(scope)}</h1><span class=note>{len(page.days)} days to {_time(page.now.strftime("%Y-%m-%dT%H:%M:%SZ"))}{" · source " + esc(f.source) if f.source else ""}</span> {tables}</header>
<form method="get"><label>brand <select name="brand"><option value="">all your brands</option>{brand_options}</select></label>
<label>source <select name="source"><option value="">all sources</option>{source_options}</select></label>
<label>period <select name="days">{period_options}</select></label><button type="submit">show</button></form>
<div class="figures">
<div data-figure="mentions">{t["mentions"]:,}<small>mentions</small></div>
<div data-figure="assassins">{t["assassins"]:,}<small>assassins</small></div>
<div data-figure="advocates">{t["advocates"]:,}<small>advocates</small></div>
<div data-figure="net">{"–" if net is None else f"{net:+.1f}"}<small>net score</small></div>
<div data-figure="reach">{t["reach"]:,}<small>assassins' likely reach (estimate)</small></div>
<div data-figure="storms">{len(page.storms):,}<small>storms</small></div></div>
<p class="note"><b>Net score</b> = advocates minus assassins, as a share of the scored mentions (−100: every one an
assassin, +100: every one an advocate; apathetics count in the total). <b>Reach</b> figures are estimates: the likely
number of people a post reached, by its source's method; audiences overlap, so summed reach overstates distinct people.</p>
<div class="grid">
<section><h2>Mentions per day, by bucket</h2><p class=note>{legend}; today so far is paler.</p>
{stacked_days(page.days, {name: page.buckets[name] for name in BUCKETS}, "Mentions per day by bucket", partial=partial)}</section>
<section><h2>Assassins' likely reach per day (estimate)</h2>{reach_html}</section>
<section><h2>Share of voice</h2>{lines(page.days, {b: v["days"] for b, v in page.voice.items()}, "Mentions per day, every watched brand")}
<table class="voice"><tr><th>brand</th><th class=num>mentions</th><th class=num>share of voice</th><th class=num>net score</th></tr>{"".join(voice_rows)}</table></section>
<section><h2>Mentions by source</h2>{stacked_rows(sources, "Mentions by source and bucket") if sources else "<p class=none>No mentions in this period.</p>"}</section>
<section><h2>Storms</h2>{timeline(page.days[0] + "T00:00:00Z", page.now.strftime("%Y-%m-%dT%H:%M:%SZ"), page.storms, "Storms in the period") if page.days else ""}
{f"<ul class=storms>{storms}</ul>" if storms else "<p class=none>No storm in this period.</p>"}</section>
<section><h2>Alerts and who acknowledged them</h2>{f"<table class=alerts><tr><th>sent</th><th>kind</th><th>brand</th><th>why</th><th>acknowledged by</th><th>when</th></tr>{alerts}</table>" if alerts else "<p class=none>No alert sent in this period.</p>"}</section>
</div>
{texts_table("Top assassins by likely reach", page.assassins, "assassin")}
{texts_table(COVERAGE, page.coverage, "coverage")}
{texts_table("Top advocates by likely reach", page.advocates, "advocate")}
<h3>Authors who moved between buckets <small>(each one's latest move: who turned assassin first, then lost advocates, the widest audience first)</small></h3>{f"<table class=moves><tr><th>when</th><th>source</th><th>author</th><th>move</th><th class=num>audience</th></tr>{moves}</table>" if moves else "<p class=none>No author changed bucket in this period.</p>"}
<script>
for (const t of document.querySelectorAll("time[datetime]")) {{
  const d = new Date(t.getAttribute("datetime"));
  if (!isNaN(d)) {{ t.title = t.textContent; t.textContent = d.toLocaleString([], {{dateStyle: "medium", timeStyle: "short"}}); }}
}}
</script>
</body></html>
"""


def outlier_of(store: "Store", page: Dashboard) -> None:
    """Name the post behind a day whose reach the chart cuts (set on ``page``)."""
    cut = cut_day(page.days, page.reach)
    if cut is None:
        return
    day = datetime.strptime(cut, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    page.outlier = store.widest_post(day, day + timedelta(days=1), bucket="assassin", brands=page.brands,
                                     source=page.filters.source or None)
