"""Authors over time, their bucket changes, brand health, and the README's SQL over a real database."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from monitor.judgement.authors import AuthorRules, fold, new_author
from monitor.models import Judged, Match, Mention, Reach, Score
from monitor.store import Store
from tests.support import ROOT

RULES = AuthorRules(half_life=timedelta(days=14), advocate_above=0.5, assassin_threshold=0.25)
# Real "now": the README's queries use SQLite's clock, so the data is placed relative to it.
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def judged(ident: str, *, author: str = "ann", when: datetime = NOW, compound: float | None = 0.0,
           assassin: float = 0.0, audience: int | None = None, brands: tuple[str, ...] = ("Acme",),
           source: str = "masto") -> Judged:
    bucket = None if compound is None else ("assassin" if assassin >= 0.25 else "advocate" if compound >= 0.5 else "apathetic")
    mention = Mention(source=source, id=ident, url=None, text="t", published_at=when, author=author,
                      author_name=author.title(), audience=audience, source_type="mastodon")
    score = Score(compound, bucket, (), None if compound is not None else "language 'fr'", None if compound is None else assassin)
    return Judged(mention, Match(brands, ()), score, Reach(1, 4, "test", 3))


def test_a_helped_assassin_moves_and_each_change_is_recorded() -> None:
    row = new_author("masto", "ann")
    first = fold(row, judged("1", when=NOW - timedelta(days=10), compound=-0.8, assassin=0.7), RULES)
    assert (first.from_bucket, first.to_bucket, first.mention_id) == (None, "assassin", "1")
    assert fold(row, judged("2", when=NOW - timedelta(days=9), compound=-0.3, assassin=0.4), RULES) is None
    # Support fixed it: two happy posts a week later outweigh the older complaints.
    fold(row, judged("3", when=NOW - timedelta(days=2), compound=0.8), RULES)
    moved = fold(row, judged("4", when=NOW - timedelta(days=1), compound=0.9), RULES)
    assert moved is not None and moved.from_bucket == "assassin" and moved.to_bucket in ("apathetic", "advocate")
    assert row["mentions"] == 4 and row["latest_sentiment"] == 0.9
    assert row["mean_sentiment"] == pytest.approx((-0.8 - 0.3 + 0.8 + 0.9) / 4, abs=1e-4)


def test_recent_posts_weigh_more() -> None:
    old_then_new, new_then_old = new_author("s", "a"), new_author("s", "a")
    posts = [judged("1", when=NOW - timedelta(days=28), compound=-1.0), judged("2", when=NOW, compound=1.0)]
    for item in posts:
        fold(old_then_new, item, RULES)
    assert old_then_new["weighted_sentiment"] == pytest.approx((-0.25 + 1.0) / 1.25, abs=1e-4)  # two half-lives
    # A backlog arriving newest first gives the same state: weights follow publication time.
    for item in reversed(posts):
        fold(new_then_old, item, RULES)
    assert new_then_old["weighted_sentiment"] == pytest.approx(old_then_new["weighted_sentiment"], abs=1e-4)
    assert new_then_old["weight"] == pytest.approx(old_then_new["weight"])


def test_unscored_posts_count_but_do_not_bucket() -> None:
    row = new_author("s", "a")
    assert fold(row, judged("1", compound=None), RULES) is None
    assert (row["mentions"], row["scored_mentions"], row["bucket"]) == (1, 0, None)


def _readme_query(title: str) -> str:
    text = (ROOT / "docs" / "database.md").read_text()
    found = re.search(rf"-- {re.escape(title)}\n(.*?;)", text, re.S)
    assert found, f"docs/database.md has no query titled {title!r}"
    return found.group(1)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store(tmp_path / "monitor.db") as store:
        store.ensure_source("masto", "mastodon", now=NOW)
        yield store


def test_readme_queries_answer_who_moved_and_who_advocates(store: Store) -> None:
    days = lambda n: NOW - timedelta(days=n)  # noqa: E731
    batches = [
        # ann: assassin 40 days ago, won back 5 days ago.
        [judged("a1", author="ann", when=days(40), compound=-0.9, assassin=0.8, audience=500)],
        [judged("a2", author="ann", when=days(5), compound=0.9, audience=520),
         judged("a3", author="ann", when=days(4), compound=0.8, audience=530)],
        # bob: an assassin who stays one.
        [judged("b1", author="bob", when=days(3), compound=-0.9, assassin=0.9, audience=90_000)],
        # cat and dan: advocates with different audiences; eve: apathetic with the biggest.
        [judged("c1", author="cat", when=days(2), compound=0.9, audience=1_000),
         judged("d1", author="dan", when=days(2), compound=0.8, audience=50_000),
         judged("e1", author="eve", when=days(2), compound=0.1, audience=9_000_000)],
        # fay moved out of the assassin bucket, but long ago (outside the 30 days).
        [judged("f1", author="fay", when=days(80), compound=-0.9, assassin=0.9)],
        [judged("f2", author="fay", when=days(60), compound=0.9), judged("f3", author="fay", when=days(59), compound=0.9)],
    ]
    for batch in batches:
        store.save_mentions(batch, fetched_at=NOW, authors=RULES)

    moved = list(store.db.query(_readme_query("Assassins who moved to another bucket in the last 30 days")))
    assert [(r["handle"], r["to_bucket"]) for r in moved] == [("ann", moved[0]["to_bucket"])]
    assert moved[0]["to_bucket"] in ("apathetic", "advocate") and moved[0]["display_name"] == "Ann"

    advocates = list(store.db.query(_readme_query("Top advocates by audience")))
    assert [r["handle"] for r in advocates][:2] == ["dan", "cat"]
    assert "eve" not in {r["handle"] for r in advocates} and "bob" not in {r["handle"] for r in advocates}

    ann = store.author("masto", "ann")
    assert (ann["mentions"], ann["audience"], ann["first_seen"][:10]) == (3, 530, days(40).strftime("%Y-%m-%d"))
    history = list(store.db.query("SELECT from_bucket, to_bucket FROM author_transitions WHERE handle = 'ann' ORDER BY at"))
    assert history[0] == {"from_bucket": None, "to_bucket": "assassin"} and len(history) >= 2


def test_authors_are_not_counted_twice_when_a_mention_is_saved_again(store: Store) -> None:
    item = judged("x1", author="gus", compound=-0.9, assassin=0.9)
    store.save_mentions([item], fetched_at=NOW, authors=RULES)
    store.save_mentions([item], fetched_at=NOW, authors=RULES)
    assert store.author("masto", "gus")["mentions"] == 1
    assert store.db.execute("SELECT count(*) FROM author_transitions").fetchone()[0] == 1


def test_a_store_folds_into_its_own_rows_but_rereads_what_another_connection_wrote(store: Store) -> None:
    store.save_mentions([judged("h1", author="hal", compound=-0.9, assassin=0.9)], fetched_at=NOW, authors=RULES)
    with Store(store.path) as other:  # another job, another connection, the same author
        other.save_mentions([judged("h2", author="hal", compound=0.9)], fetched_at=NOW, authors=RULES)
    store.save_mentions([judged("h3", author="hal", compound=0.8)], fetched_at=NOW, authors=RULES)
    hal = store.author("masto", "hal")
    assert (hal["mentions"], hal["scored_mentions"]) == (3, 3)
    assert hal["mean_sentiment"] == pytest.approx((-0.9 + 0.9 + 0.8) / 3, abs=1e-4)
    # A page that fails half-way through folding is rolled back, and what was folded in memory too.
    broken = judged("h4b", author="hal", when=NOW + timedelta(seconds=1))
    broken = Judged(broken.mention, broken.match, Score("not a number", "apathetic", (), None, 0.0), broken.reach)
    with pytest.raises(TypeError):
        store.save_mentions([judged("h4", author="hal", compound=0.5), broken], fetched_at=NOW, authors=RULES)
    store.save_mentions([judged("h5", author="hal", compound=0.5)], fetched_at=NOW, authors=RULES)
    assert store.author("masto", "hal")["mentions"] == 4



def test_a_run_rolled_back_after_its_mentions_were_saved_forgets_them_and_their_authors(store: Store) -> None:
    store.save_mentions([judged("k1", author="kim", compound=0.9)], fetched_at=NOW, authors=RULES)
    with pytest.raises(RuntimeError), store.transaction():  # a run: mentions, then its alerts fail
        store.save_mentions([judged("k2", author="kim", compound=-0.9, assassin=0.9)], fetched_at=NOW, authors=RULES)
        raise RuntimeError("the alerts could not be queued")
    assert store.author("masto", "kim")["mentions"] == 1 and store.db.execute("SELECT count(*) FROM mentions").fetchone()[0] == 1
    # The retry folds k2 into the author's stored row, not into the one folded before the rollback.
    store.save_mentions([judged("k2", author="kim", compound=-0.9, assassin=0.9)], fetched_at=NOW, authors=RULES)
    assert store.author("masto", "kim")["mentions"] == 2
    # A step inside a run is a savepoint: caught, it undoes itself and the run keeps the rest.
    with store.transaction():
        store.save_mentions([judged("k3", author="kim")], fetched_at=NOW, authors=RULES)
        with pytest.raises(RuntimeError), store.transaction():
            store.save_mentions([judged("k4", author="kim")], fetched_at=NOW, authors=RULES)
            raise RuntimeError("one step failed")
    assert {r[0] for r in store.db.execute("SELECT id FROM mentions")} == {"k1", "k2", "k3"}
    assert store.author("masto", "kim")["mentions"] == 3

def test_brand_health_counts_buckets_and_net_score_per_day(store: Store) -> None:
    day = NOW.replace(hour=12, minute=0, second=0) - timedelta(days=1)
    items = [
        judged("h1", author="a", when=day, compound=0.9),
        judged("h2", author="b", when=day, compound=0.9, brands=("Acme", "Beta")),
        judged("h3", author="c", when=day, compound=0.1),
        judged("h4", author="d", when=day, compound=-0.9, assassin=0.9),
        judged("h5", author="e", when=day, compound=None),
    ]
    store.save_mentions(items, fetched_at=NOW, authors=RULES)
    rows = {r["brand"]: r for r in store.db.query(_readme_query("Brand health, last 14 days"))}
    acme = rows["Acme"]
    assert (acme["advocates"], acme["apathetics"], acme["assassins"]) == (2, 1, 1)
    assert acme["net_score"] == 25.0  # (2 − 1) / 4 scored
    assert rows["Beta"]["advocates"] == 1 and rows["Beta"]["net_score"] == 100.0
    overall = {r["brand"]: r for r in store.db.query("SELECT * FROM brand_health")}
    assert overall["Acme"]["unscored"] == 1 and overall["Acme"]["mentions"] == 5


def test_digest_counts_buckets_against_the_previous_period_and_names_the_top_people(store: Store) -> None:
    from monitor.watch import digest_alert as digest

    today, yesterday = NOW - timedelta(hours=2), NOW - timedelta(hours=30)
    store.save_mentions([
        judged("d1", author="a", when=yesterday, compound=0.9),
        judged("d2", author="b", when=yesterday, compound=0.1),
        judged("d3", author="c", when=today, compound=0.9),
        judged("d4", author="d", when=today, compound=-0.9, assassin=0.9),
        judged("d5", author="e", when=today, compound=-0.8, assassin=0.8),
    ], fetched_at=NOW, authors=RULES)
    from monitor.judgement.voice import PRESS, as_own_voice

    article = judged("d6", author="The Daily Byte", when=today, compound=-0.5, assassin=0.9, source="news")
    store.save_mentions([replace(article, score=as_own_voice(article.score, PRESS, speaker="press"))],
                        fetched_at=NOW, authors=RULES)
    alert = digest(store, "Acme", now=NOW)
    assert alert.kind == "digest" and alert.labels["kind"] == "digest"
    assert alert.reason == ("last 1d: advocates 1 (+0), apathetic 1 (+0), assassins 2 (+2); "
                            "net score -25.0 (was +50.0)")
    assert [(j.score.bucket, j.score.speaker) for j in alert.mentions] == [
        ("assassin", "customer"), ("assassin", "customer"), ("apathetic", "press"), ("advocate", "customer")]
    assert digest(store, "Nobody", now=NOW).reason.endswith("net score n/a")


def test_the_dashboards_moves_put_who_turned_assassin_first_then_the_loudest_each_author_once(database: str) -> None:
    """A PR team reads the top of the list: it was newest first, every move of every author, so a
    day of forum regulars drifting advocate → apathetic pushed out the one who turned assassin."""
    days = lambda n: NOW - timedelta(hours=24 * n)  # noqa: E731
    batches = [
        # gus: an advocate who turned assassin 3 days ago (audience 40).
        [judged("g1", author="gus", when=days(6), compound=0.9, audience=40)],
        [judged("g2", author="gus", when=days(3), compound=-0.9, assassin=0.9, audience=40),
         judged("g3", author="gus", when=days(3) + timedelta(minutes=5), compound=-0.9, assassin=0.9, audience=40)],
        # hal: apathetic, then assassin, then calmed down (his latest move is the one shown).
        [judged("h1", author="hal", when=days(8), compound=0.0, audience=10)],
        [judged("h2", author="hal", when=days(5), compound=-0.9, assassin=0.9, audience=10),
         judged("h3", author="hal", when=days(5) + timedelta(minutes=5), compound=-0.9, assassin=0.9, audience=10)],
        [judged(f"h{k}", author="hal", when=days(2) + timedelta(minutes=k), compound=0.1, audience=10) for k in range(4, 12)],
    ]
    # Twelve regulars drift advocate → apathetic, each more recently than anything above.
    for n in range(12):
        batches.append([judged(f"r{n}a", author=f"reg{n}", when=days(7), compound=0.9, audience=n)])
        batches.append([judged(f"r{n}{k}", author=f"reg{n}", when=days(1) + timedelta(minutes=n * 10 + k), compound=0.0,
                               audience=n) for k in range(6)])
    with Store(database) as store:
        store.ensure_source("masto", "mastodon", now=NOW)
        for batch in batches:
            store.save_mentions(batch, fetched_at=NOW, authors=RULES)
        moves = store.author_moves("Acme", NOW - timedelta(days=30), NOW + timedelta(minutes=1), limit=5)
    shown = [(m["handle"], m["from_bucket"], m["to_bucket"]) for m in moves]
    assert shown[0] == ("gus", "advocate", "assassin"), shown
    assert [h for h, _, _ in shown].count("hal") <= 1 and all(h != "hal" or t != "assassin" for h, _, t in shown), shown
    # Then lost advocates, the loudest first.
    assert [h for h, f, _ in shown[1:]] == ["reg11", "reg10", "reg9", "reg8"], shown
