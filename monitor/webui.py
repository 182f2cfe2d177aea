"""The Datasette plugin ``monitor serve`` registers in its own process: the dashboard it opens
on (``/``, and ``/-/dashboard``), readable tables (long text wrapped with room, times in the
viewer's zone: ``/-/monitor.css`` and ``/-/monitor-times.js``, both served from here, nothing from
a CDN), and the SQL function ``text_key`` (one of each text, as ``monitor label --suggest``
counts them) that the ``to_label`` query groups by."""

from __future__ import annotations

import asyncio

from datasette import hookimpl
from datasette.utils.asgi import Response

from monitor.dashboard import Filters, gather, outlier_of, render
from monitor.judgement.text import text_key

CSS = """
table.rows-and-columns td { vertical-align: top; }
table.rows-and-columns td.col-post, table.rows-and-columns td.col-text, table.rows-and-columns td.col-summary,
table.rows-and-columns td.col-reason, table.rows-and-columns td.col-said {
  min-width: 26em; max-width: 60em; white-space: normal; overflow-wrap: anywhere; }
table.rows-and-columns td.col-title { min-width: 10em; max-width: 30em; overflow-wrap: anywhere; }
table.rows-and-columns td.col-url, table.rows-and-columns td.col-author_page, table.rows-and-columns td.col-posts_page {
  max-width: 18em; overflow-wrap: anywhere; font-size: .9em; }
table.rows-and-columns td.col-published_at, table.rows-and-columns td.col-fetched_at { white-space: nowrap; }
details summary { cursor: pointer; color: #555; }
"""

TIMES = """
document.addEventListener("DOMContentLoaded", function () {
  var iso = /^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d(:\\d\\d(\\.\\d+)?)?Z$/;
  document.querySelectorAll("table.rows-and-columns td").forEach(function (cell) {
    var text = cell.textContent.trim();
    if (cell.children.length || !iso.test(text)) { return; }
    var when = new Date(text);
    if (isNaN(when)) { return; }
    cell.title = text;
    cell.textContent = when.toLocaleString([], {dateStyle: "medium", timeStyle: "short"});
  });
  var notes = document.querySelector("dl.column-descriptions");
  if (notes) {  // what each column holds: one click away, not a screen above the rows
    var fold = document.createElement("details");
    var summary = document.createElement("summary");
    summary.textContent = "What each column holds";
    notes.parentNode.insertBefore(fold, notes);
    fold.appendChild(summary);
    fold.appendChild(notes);
  }
});
"""

FOLDED = {"raw", "payload", "explanation", "state"}  # JSON a person rarely reads: folded in its cell


def _page(path: str, filters: Filters, name: str, private: bool) -> str:
    from monitor.store import Store

    with Store(path, readonly=True) as store:
        page = gather(store, filters, competitors=store.competitor_names())
        outlier_of(store, page)
    return render(page, database=name, private=private)


async def dashboard(request, datasette) -> Response:  # noqa: ANN001 - Datasette's own types
    database = datasette.get_database()
    private = bool((datasette.plugin_config("monitor-webui") or {}).get("private"))
    html = await asyncio.to_thread(_page, database.path, Filters.parse(request.args), database.name, private)
    return Response.html(html)


async def css(request, datasette) -> Response:  # noqa: ANN001, ARG001
    return Response(CSS, content_type="text/css; charset=utf-8")


async def times(request, datasette) -> Response:  # noqa: ANN001, ARG001
    return Response(TIMES, content_type="text/javascript; charset=utf-8")


@hookimpl
def register_routes():  # noqa: ANN201 - the hook's signature
    return [(r"^/$", dashboard), (r"^/-/dashboard$", dashboard), (r"^/-/monitor\.css$", css),
            (r"^/-/monitor-times\.js$", times)]


@hookimpl
def extra_css_urls():  # noqa: ANN201
    return ["/-/monitor.css"]


@hookimpl
def extra_js_urls():  # noqa: ANN201
    return ["/-/monitor-times.js"]


@hookimpl
def render_cell(value, column):  # noqa: ANN001, ANN201
    """A cell of bulky JSON folded to one line that opens on a click (its text escaped)."""
    if column in FOLDED and isinstance(value, str) and len(value) > 80:
        from markupsafe import Markup, escape

        return Markup(f"<details><summary>{len(value):,} characters of JSON</summary><pre>{escape(value)}</pre></details>")
    return None


@hookimpl
def prepare_connection(conn):  # noqa: ANN001, ANN201
    conn.create_function("text_key", 2, text_key, deterministic=True)
