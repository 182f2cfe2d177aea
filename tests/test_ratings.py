"""A review's stars in the assassin call: the customer's own stars over the words' score."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from werkzeug import Response

from alerts.wording import call_label, why_line
from monitor.cli import main
from monitor.judgement.ratings import with_stars
from monitor.models import Score
from monitor.store import Store
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
        (judged,) = store.mentions_by_key([(row["source"], row["id"]) for row in
                                           store.db.query("SELECT source, id FROM mentions WHERE bucket = 'assassin'")])
    assert buckets == {"6751f0c2a1b2c3d4e5f60718": "assassin", "6751e8a0b1c2d3e4f5061728": "advocate"}
    assert call_label(judged) == "assassin, 1-star review", call_label(judged)
    assert why_line(judged).startswith("1-star review"), why_line(judged)


def test_an_edited_review_updates_its_row_and_alerts_once_when_it_turns_into_a_complaint(
        tmp_path: Path, httpserver: HTTPServer) -> None:
    """Google Play sends a review again under its id when its author edits it: 5 stars and glad,
    then 1 star and hurt. One row, now the complaint (search, rollups and the call follow), what
    it said before kept in ``edits``, and one alert saying it was edited; a third run with the
    same words changes nothing."""
    page = json.loads(fixture_bytes("googleplay_reviews.json"))
    glad = page["reviews"][1]
    hurt = json.loads(json.dumps(glad))
    hurt["comments"][0]["userComment"].update(text="\tAcme Cloud deleted half my videos after the update.",
                                              starRating=1, lastModified={"seconds": "1795500000", "nanos": 0})
    answers = [{"reviews": [glad]}, {"reviews": [hurt]}, {"reviews": [hurt]}]
    httpserver.expect_request("/token", method="POST").respond_with_json({"access_token": "ya29.t", "expires_in": 3599})
    served = []

    def reviews(request):
        served.append(request)
        return Response(json.dumps(answers[min(len(served), 3) - 1]), content_type="application/json")

    httpserver.expect_request("/v3/applications/com.acme.cloud/reviews").respond_with_handler(reviews)
    config = tmp_path / "config.yaml"
    config.write_text(f"database: {tmp_path / 'm.db'}\nbrands: [{{name: Acme Cloud, keywords: ['\"Acme Cloud\"']}}]\n"
                      f"sources: [{{name: play, type: googleplay, base_url: '{httpserver.url_for('/v3')}',"
                      f" token_url: '{httpserver.url_for('/token')}', package_names: [com.acme.cloud], brands: [Acme Cloud]}}]\n")
    key = json.dumps({"client_email": "m@acme.iam.gserviceaccount.com", "token_uri": "https://oauth2.googleapis.com/token",
                      "private_key": fixture_bytes("googleplay_test_key.pem").decode()})
    for _ in range(3):
        result = CliRunner().invoke(main, ["--config", str(config), "once"], env={"GOOGLE_PLAY_CREDENTIALS": key},
                                    catch_exceptions=False)
        assert "play: 1 fetched" in result.output, result.output
    assert len(served) == 3
    with Store(tmp_path / "m.db") as store:
        (row,) = store.db.query("SELECT id, text, bucket, metrics FROM mentions")
        assert row["bucket"] == "assassin" and row["text"].startswith("Acme Cloud deleted half my videos")
        assert json.loads(row["metrics"])["rating"] == 1
        (edit,) = store.edits_of("play", row["id"])
        assert (edit["rating_before"], edit["rating_after"], edit["bucket_before"], edit["bucket_after"]) == (5, 1, "advocate",
                                                                                                             "assassin")
        assert edit["text_before"] == "Love how quickly Acme Cloud uploads my videos."
        assert [r["id"] for r in store.search("deleted")] == [row["id"]] and store.search("uploads") == []
        health = next(iter(store.db.query("SELECT mentions, advocates, assassins FROM brand_health")))
        assert health == {"mentions": 1, "advocates": 0, "assassins": 1}
        reasons = [r["reason"] for r in store.db.query("SELECT reason FROM alerts")]
    assert len(reasons) == 1 and reasons[0].startswith("edited (was advocate, 5 stars); "), reasons
