"""A competitor is watched as a brand (share of voice) and never alerted on unless asked."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from monitor.cli import main
from monitor.store import Store

FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>Globex Cloud lost our data and support never answered, worst vendor ever</title><guid>g1</guid>
<link>https://e.example/g1</link><pubDate>{when}</pubDate></item>
<item><title>Acme Cloud deleted our backups, furious and cancelling, awful support</title><guid>a1</guid>
<link>https://e.example/a1</link><pubDate>{when}</pubDate></item>
<item><title>Left Globex Cloud for Acme Cloud: Acme Cloud is a disaster too, terrible outage, never again</title>
<guid>b1</guid><link>https://e.example/b1</link><pubDate>{when}</pubDate></item>
</channel></rss>"""


def test_competitor_posts_are_stored_but_alert_only_when_asked(tmp_path: Path, httpserver: HTTPServer) -> None:
    from email.utils import format_datetime
    from datetime import datetime, timezone

    httpserver.expect_request("/feed.xml").respond_with_data(
        FEED.format(when=format_datetime(datetime.now(timezone.utc))), content_type="application/rss+xml")
    config = tmp_path / "config.yaml"

    def once(globex: str) -> list[str]:
        db = tmp_path / f"{len(list(tmp_path.glob('*.db')))}.db"
        config.write_text(f"database: {db}\nbrands:\n  - {{name: Acme Cloud, keywords: ['\"Acme Cloud\"']}}\n"
                          f"  - {{name: Globex Cloud, keywords: ['\"Globex Cloud\"'], {globex}}}\n"
                          f"sources: [{{name: blog, type: rss, url: '{httpserver.url_for('/feed.xml')}'}}]\n"
                          "alerts: {buckets: [assassin], backfill: 1d}\n")
        result = CliRunner().invoke(main, ["--config", str(config), "once"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        with Store(db) as store:
            assert store.db.execute("SELECT count(*) FROM mentions").fetchone()[0] == 3, "every post kept"
            return sorted(r["mention_id"].rsplit("/", 1)[-1] for r in store.db.query("SELECT mention_id FROM alerts WHERE kind = 'assassin'"))

    assert once("competitor: true") == ["a1", "b1"], "the competitor's own complaint stays quiet"
    assert once("competitor: true, alerting: true") == ["a1", "b1", "g1"]
    assert once("alerting: false") == ["a1", "b1"]
