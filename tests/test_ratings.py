"""A review's stars in the assassin call: the customer's own stars over the words' score."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from alerts.wording import call_label, why_line
from monitor.cli import main
from monitor.judgement.ratings import with_stars
from monitor.models import Score
from monitor.store import Store, judged_from_row
from tests.support import fixture_bytes


def test_low_stars_make_a_complaint_and_say_so_first() -> None:
    calm = Score(0.42, "apathetic", ("compound +0.42",), None, 0.12)
    assert with_stars(calm, 1) == Score(0.42, "assassin", ("1-star review",), None, 0.12)
    assert with_stars(calm, 3) is calm and with_stars(calm, None) is calm and with_stars(calm, "1") is calm
    called = Score(-0.7, "assassin", ("complaint: refund",), None, 0.91)
    assert with_stars(called, 2).reasons == ("2-star review", "complaint: refund")
    unscored = Score(None, None, (), "language 'de' is not English; VADER scores English only")
    assert with_stars(unscored, 1) is unscored


def test_a_sarcastic_one_star_trustpilot_review_is_an_assassin_through_the_whole_pipeline(
        tmp_path: Path, httpserver: HTTPServer) -> None:
    """"Great, another outage", 1 star: its words score glad; the stars say hurt."""
    httpserver.expect_request("/v1/business-units/507f191e810c19729de860ea/reviews").respond_with_data(
        fixture_bytes("trustpilot_reviews.json"), content_type="application/json")
    config = tmp_path / "config.yaml"
    config.write_text(f"database: {tmp_path / 'm.db'}\nbrands: [{{name: Acme Cloud, keywords: ['\"Acme Cloud\"']}}]\n"
                      f"sources: [{{name: tp, type: trustpilot, base_url: '{httpserver.url_for('/v1')}', first_run: 60d,"
                      " business_unit_ids: [507f191e810c19729de860ea]}]\n")
    result = CliRunner().invoke(main, ["--config", str(config), "once"], env={"TRUSTPILOT_API_KEY": "k"},
                                catch_exceptions=False)
    assert "tp: 2 fetched, 2 matched, 2 new" in result.output, result.output
    with Store(tmp_path / "m.db") as store:
        buckets = {row["id"]: row["bucket"] for row in store.db.query("SELECT id, bucket FROM mentions")}
        (judged,) = [judged_from_row(row) for row in store.db.query("SELECT * FROM mentions WHERE bucket = 'assassin'")]
    assert buckets == {"6751f0c2a1b2c3d4e5f60718": "assassin", "6751e8a0b1c2d3e4f5061728": "advocate"}
    assert call_label(judged) == "assassin, 1-star review", call_label(judged)
    assert why_line(judged).startswith("1-star review"), why_line(judged)
