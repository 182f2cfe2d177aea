"""Inline SVG charts for the dashboard and the report: no script, no library, nothing fetched, so
the page prints and a mailed report opens offline. Every mark carries its number in ``data-*``
attributes and a ``<title>`` (a browser test reads them; a person hovers them)."""

from __future__ import annotations

import html
import statistics
from datetime import datetime
from typing import Sequence

from monitor.models import clean_text

BUCKET_COLOURS = {"advocates": "#3c8d5a", "apathetics": "#9aa5b1", "assassins": "#c0392b", "unscored": "#d9d9d9"}
PALETTE = ("#4a78b5", "#d08c2c", "#7a4ab5", "#2c9d9d", "#b54a7a", "#6b8e23", "#8c564b", "#e377c2")
WIDTH, HEIGHT, PAD = 860, 200, 44


def esc(value: object, width: int | None = None) -> str:
    """Text for HTML: cleaned of control and bidirectional characters, then escaped."""
    return html.escape(clean_text(value, width=width), quote=True)


def _svg(title: str, height: int, body: list[str], *, css: str) -> str:
    return (f'<svg class="chart {css}" role="img" aria-label="{esc(title)}" viewBox="0 0 {WIDTH} {height}" '
            f'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
            f'<title>{esc(title)}</title>{"".join(body)}</svg>')


def _day_labels(days: Sequence[str], step: float, y: float) -> list[str]:
    every = max(1, len(days) // 8)
    return [f'<text x="{PAD + i * step:.1f}" y="{y:.0f}" font-size="10" fill="#555">{esc(day[5:])}</text>'
            for i, day in enumerate(days) if i % every == 0]


def stacked_days(days: Sequence[str], stacks: dict[str, Sequence[int]], title: str, *, partial: str | None = None) -> str:
    """Bars per day, each split by bucket (``stacks``: bucket → a value per day); ``partial``, a
    day still under way, is drawn paler and said to be so far."""
    totals = [sum(v[i] for v in stacks.values()) for i in range(len(days))]
    top = max(totals, default=0) or 1
    step = (WIDTH - 2 * PAD) / max(1, len(days))
    body = [f'<text x="{PAD}" y="14" font-size="12" fill="#333">highest day {top:,}</text>']
    for i, day in enumerate(days):
        y = HEIGHT - 24.0
        for name, values in stacks.items():
            value = values[i]
            h = (HEIGHT - 50) * value / top
            y -= h
            faded = ' opacity="0.45"' if day == partial else ""
            body.append(f'<rect class="bar" x="{PAD + i * step:.1f}" y="{y:.1f}" width="{max(1.0, step - 2):.1f}" '
                        f'height="{h:.1f}" fill="{BUCKET_COLOURS.get(name, "#888")}"{faded} data-day="{esc(day)}" '
                        f'data-bucket="{esc(name)}" data-value="{value}"><title>{esc(day)}: {value:,} {esc(name)}'
                        f'{" (so far today)" if day == partial else ""}</title></rect>')
        if day == partial:
            body.append(f'<text class="partial" x="{PAD + i * step:.1f}" y="{y - 4:.1f}" font-size="10" fill="#555">so far</text>')
    body += _day_labels(days, step, HEIGHT - 8)
    body.append(f'<line x1="{PAD}" y1="{HEIGHT - 24}" x2="{WIDTH - PAD}" y2="{HEIGHT - 24}" stroke="#444"/>')
    return _svg(title, HEIGHT, body, css="stacked")


def cut_day(days: Sequence[str], values: Sequence[int]) -> str | None:
    """The day an outlier scale would cut: one above 3 × the median of the others' non-zero
    values and above all of them; None when no day stands out so."""
    ordered = sorted(zip(values, days), reverse=True)
    rest = [v for v, _ in ordered[1:] if v > 0]
    if not rest or ordered[0][0] <= 0:
        return None
    ceiling = max(3 * statistics.median(rest), ordered[1][0])
    return ordered[0][1] if ordered[0][0] > ceiling else None


def capped_days(days: Sequence[str], values: Sequence[int], title: str, colour: str, *,
                partial: str | None = None) -> tuple[str, str | None]:
    """Bars per day on a scale one outlier cannot flatten: the ``cut_day`` is cut at that height,
    marked, and its value written on it. The SVG, and the day that was cut (None when none was)."""
    cut = cut_day(days, values)
    top = (max(v for v, d in zip(values, days) if d != cut) if cut else max(values, default=0)) or 1
    scale_top = top * 1.15 if cut else top
    step = (WIDTH - 2 * PAD) / max(1, len(days))
    body = [f'<text x="{PAD}" y="14" font-size="12" fill="#333">'
            f'{"scale cut at " + format(round(scale_top), ",") if cut else "highest day " + format(top, ",")}</text>']
    for i, (day, value) in enumerate(zip(days, values)):
        shown = min(value, scale_top)
        h = (HEIGHT - 50) * shown / scale_top
        y = HEIGHT - 24 - h
        faded = ' opacity="0.45"' if day == partial else ""
        body.append(f'<rect class="bar{" cut" if day == cut else ""}" x="{PAD + i * step:.1f}" y="{y:.1f}" '
                    f'width="{max(1.0, step - 2):.1f}" height="{h:.1f}" fill="{colour}"{faded} data-day="{esc(day)}" '
                    f'data-value="{value}"><title>{esc(day)}: {value:,}</title></rect>')
        if day == cut:
            right = PAD + i * step > WIDTH / 2  # written leftwards near the right edge, so it stays inside
            body.append(f'<text class="cut-label" x="{PAD + (i + (1 if right else 0)) * step:.1f}" y="{y - 4:.1f}" '
                        f'font-size="11" fill="#a00" text-anchor="{"end" if right else "start"}">≈ {value:,} (cut)</text>')
    body += _day_labels(days, step, HEIGHT - 8)
    body.append(f'<line x1="{PAD}" y1="{HEIGHT - 24}" x2="{WIDTH - PAD}" y2="{HEIGHT - 24}" stroke="#444"/>')
    return _svg(title, HEIGHT, body, css="capped"), cut


def lines(days: Sequence[str], series: dict[str, Sequence[int]], title: str) -> str:
    """A line per series (a brand's mentions per day), each point carrying its value."""
    top = max((v for values in series.values() for v in values), default=0) or 1
    step = (WIDTH - 2 * PAD) / max(1, len(days) - 1)
    body = [f'<text x="{PAD}" y="14" font-size="12" fill="#333">highest day {top:,}</text>']
    for n, (name, values) in enumerate(series.items()):
        colour = PALETTE[n % len(PALETTE)]
        points = [(PAD + i * step, HEIGHT - 24 - (HEIGHT - 50) * v / top) for i, v in enumerate(values)]
        body.append(f'<polyline class="voice" data-brand="{esc(name)}" fill="none" stroke="{colour}" stroke-width="2" '
                    f'points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in points)}"/>')
        body += [f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}" data-brand="{esc(name)}" '
                 f'data-day="{esc(day)}" data-value="{v}"><title>{esc(name)}, {esc(day)}: {v:,}</title></circle>'
                 for (x, y), day, v in zip(points, days, values)]
        body.append(f'<text x="{WIDTH - PAD - 160}" y="{16 + 14 * n}" font-size="11" fill="{colour}">■ {esc(name, 40)}</text>')
    body += _day_labels(days, step, HEIGHT - 8)
    body.append(f'<line x1="{PAD}" y1="{HEIGHT - 24}" x2="{WIDTH - PAD}" y2="{HEIGHT - 24}" stroke="#444"/>')
    return _svg(title, HEIGHT, body, css="lines")


def stacked_rows(rows: Sequence[tuple[str, dict[str, int]]], title: str) -> str:
    """A horizontal bar per row (a source), split by bucket."""
    height = 30 + 22 * max(1, len(rows))
    top = max((sum(parts.values()) for _, parts in rows), default=0) or 1
    left, span = 170, WIDTH - 170 - PAD - 60
    body = []
    for n, (name, parts) in enumerate(rows):
        y, x = 14 + 22 * n, float(left)
        body.append(f'<text x="{left - 8}" y="{y + 13}" font-size="12" text-anchor="end" fill="#333">{esc(name, 24)}</text>')
        for bucket, value in parts.items():
            w = span * value / top
            body.append(f'<rect class="bar" x="{x:.1f}" y="{y}" width="{w:.1f}" height="16" fill="{BUCKET_COLOURS.get(bucket, "#888")}" '
                        f'data-source="{esc(name)}" data-bucket="{esc(bucket)}" data-value="{value}"><title>{esc(name)}: '
                        f'{value:,} {esc(bucket)}</title></rect>')
            x += w
        body.append(f'<text x="{x + 6:.1f}" y="{y + 13}" font-size="11" fill="#333">{sum(parts.values()):,}</text>')
    return _svg(title, height, body, css="rows")


def timeline(start: str, end: str, events: Sequence[dict], title: str) -> str:
    """Storms on the period's axis: a band from each one's start to its end (at least a dot)."""
    def at(value: str) -> float:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()

    t0, t1 = at(start), at(end)
    span = max(1.0, t1 - t0)
    height = 70
    body = [f'<line x1="{PAD}" y1="40" x2="{WIDTH - PAD}" y2="40" stroke="#444"/>',
            f'<text x="{PAD}" y="62" font-size="10" fill="#555">{esc(start[:10])}</text>',
            f'<text x="{WIDTH - PAD}" y="62" font-size="10" fill="#555" text-anchor="end">{esc(end[:10])}</text>']
    for event in events:
        a = PAD + (WIDTH - 2 * PAD) * max(0.0, (at(event["started_at"]) - t0) / span)
        b = PAD + (WIDTH - 2 * PAD) * min(1.0, (at(event["ended_at"] or event["started_at"]) - t0) / span)
        colour = "#c0392b" if event["kind"] == "spike" else "#7f8c8d"
        body.append(f'<rect class="storm" x="{a:.1f}" y="28" width="{max(4.0, b - a):.1f}" height="24" fill="{colour}" '
                    f'opacity="0.8" data-started="{esc(event["started_at"])}" data-posts="{event["posts"] or 0}">'
                    f'<title>{esc(event["started_at"][:16].replace("T", " "))} UTC: {esc(event["summary"], 300)}</title></rect>')
    return _svg(title, height, body, css="timeline")
