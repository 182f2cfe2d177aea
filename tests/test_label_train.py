"""`monitor label` and `monitor train` end to end on a real database: labels stored, a refit that
hears what the site taught it, picked up by a running monitor, and a worse one refused."""

from __future__ import annotations

import csv
import io
import json
import random
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.assassin_model import site_path
from monitor.cli import main
from monitor.ingest import ingest
from monitor.models import Mention
from monitor.scheduler import Monitor
from tests.support import NOW

CONFIG = """\
database: {db}
sentiment: {{encoder: "off"}}
brands:
  - name: Globex
    keywords: [globex]
"""

# At this site "borked" and "janky" are how customers complain about the export; the shipped
# word heads have never seen either word used so. (The sentence heads hear 8 of the 12 without a
# label: test_sentence. A refit moves the word heads, so this site reads words only.)
HURT = ["the Globex export is borked again", "Globex export borked, third time this week",
        "borked Globex sync lost the report", "Globex dashboard janky and borked after the update",
        "export borked on Globex, client waiting", "Globex import janky again today",
        "janky Globex export broke my deck", "our Globex export is borked, now what",
        "borked again: Globex export", "the janky Globex sync ate my file",
        "Globex export is janky this morning", "borked Globex report for the board"]
FINE = ["the Globex export is ready again", "Globex export done, third report this week",
        "Globex sync finished the report", "Globex dashboard updated after the release",
        "export finished on Globex, client has it", "Globex import ran again today",
        "Globex export made my deck", "our Globex export is in, next step",
        "done again: Globex export", "the Globex sync saved my file",
        "Globex export is quick this morning", "Globex report for the board is out"]


def invoke(config: Path, *args: str, **kwargs):
    return CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False, **kwargs)


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, Monitor]:
    """A site with the posts above stored by the real pipeline (source "forum", ids h0… and f0…)."""
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(db=tmp_path / "m.db"))
    monitor = Monitor(config, clock=lambda: NOW)
    posts = [Mention(source="forum", id=f"h{i}", url=None, text=t, published_at=NOW - timedelta(hours=i), language="en")
             for i, t in enumerate(HURT)]
    posts += [Mention(source="forum", id=f"f{i}", url=None, text=t, published_at=NOW - timedelta(hours=i), language="en")
              for i, t in enumerate(FINE)]
    from monitor.store import Store

    with Store(tmp_path / "m.db") as store:
        store.ensure_source("forum", "discourse", now=NOW)
        ingest(posts, "forum", monitor.runtime, store, now=NOW)
    return config, monitor


def stored(config: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(config.parent / "m.db") as db:
        return db.execute(sql).fetchall()


def test_labels_teach_a_refit_that_a_running_monitor_picks_up(site) -> None:
    config, monitor = site
    shipped = stored(config, "SELECT count(*) FROM mentions WHERE id LIKE 'h%' AND bucket = 'assassin'")[0][0]
    assert shipped < len(HURT) // 2  # the shipped model misses most of this site's way of complaining

    one = invoke(config, "label", "forum:h0", "assassin", "--note", "borked = broken here", "--who", "dana")
    assert one.exit_code == 0 and "labelled 1" in one.output
    assert stored(config, "SELECT label, who, note FROM labels") == [("assassin", "dana", "borked = broken here")]
    csv_rows = "source,id,label,note\nforum,f0,not,a status update\n"
    assert invoke(config, "label", "--import", "-", input=csv_rows).exit_code == 0
    rows = "\n".join(json.dumps({"source": "forum", "id": f"{k}{i}", "label": "assassin" if k == "h" else "not"})
                     for k in "hf" for i in range(len(HURT)))
    many = invoke(config, "label", "--import", "-", input=rows)
    assert many.exit_code == 0 and "the site has 12 assassin and 12 not labels" in many.output
    missing = invoke(config, "label", "forum:nope", "not")
    assert missing.exit_code == 1 and "no stored mention forum:nope" in missing.output

    trained = invoke(config, "train")
    assert trained.exit_code == 0, trained.output
    lines = trained.output.splitlines()
    assert lines[0] == "24 site labels (12 assassin), 10-fold cross-validated:"
    before, after = (float(line.split("ROC-AUC ")[1].split()[0]) for line in lines[1:3])
    assert lines[1].lstrip().startswith("shipped model") and lines[2].lstrip().startswith("refit model")
    assert "the refit moves the complaint word head; the sentence heads stay as shipped (sentiment.encoder: off)" in trained.output
    assert after > before + 0.1, trained.output
    assert site_path(config.parent / "m.db").exists() and "a running monitor scores with it" in trained.output

    # The running monitor (built before the refit) scores the next posts with it.
    from monitor.store import Store

    with Store(config.parent / "m.db") as store:
        ingest([Mention(source="forum", id="new1", url=None, text="Globex export borked again, deadline today",
                        published_at=NOW, language="en")], "forum", monitor.runtime, store, now=NOW)
    assert stored(config, "SELECT bucket FROM mentions WHERE id = 'new1'") == [("assassin",)]
    classify = invoke(config, "classify", input="Globex export borked again\n")
    assert '"model": "assassin-2+site (m.assassin.json.gz)"' in classify.output


def test_a_refit_that_scores_worse_is_refused(site) -> None:
    config, _ = site
    # Labels that contradict the texts and each other: a coin toss per post.
    rng = random.Random(3)
    rows = "\n".join(json.dumps({"source": "forum", "id": f"{k}{i}", "label": rng.choice(["assassin", "not"])})
                     for k in "hf" for i in range(len(HURT)))
    assert invoke(config, "label", "--import", "-", input=rows).exit_code == 0
    refused = CliRunner().invoke(main, ["--config", str(config), "train"])
    assert refused.exit_code == 1 and "scores worse on the site's labels" in refused.output, refused.output
    assert not site_path(config.parent / "m.db").exists()
    forced = invoke(config, "train", "--force")
    assert forced.exit_code == 0 and "(forced)" in forced.output and site_path(config.parent / "m.db").exists()


def test_too_few_labels_says_how_many_are_needed(site) -> None:
    config, _ = site
    invoke(config, "label", "forum:h0", "assassin")
    result = CliRunner().invoke(main, ["--config", str(config), "train"])
    assert result.exit_code == 1 and "1 labels (1 assassin): label at least 10" in result.output


def test_suggestions_are_the_mentions_the_call_is_least_sure_of_and_come_back_labelled(database: str,
                                                                                      tmp_path: Path) -> None:
    from monitor.store import Store

    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(db=database))
    monitor = Monitor(config, clock=lambda: NOW)
    posts = [Mention(source="forum", id=f"p{i}", url=None, text=t, published_at=NOW - timedelta(minutes=i), language="en")
             for i, t in enumerate(HURT + FINE + ["=HYPERLINK(\"http://evil.example\") Globex export borked",
                                                  "Globex refund #1 still not here", "Globex refund #2 still not here"])]
    with Store(database) as store:
        store.ensure_source("forum", "discourse", now=NOW)
        ingest(posts, "forum", monitor.runtime, store, now=NOW)
        scores = {row["id"]: row["assassin_score"] for row in store.db.query("SELECT id, assassin_score FROM mentions")}
    invoke(config, "label", "forum:p0", "assassin")
    listed = invoke(config, "label", "--suggest", "5")
    assert listed.exit_code == 0, listed.output
    keys = [line.split()[0] for line in listed.output.splitlines()[1:]]
    # the five unlabelled ones nearest the threshold, nearest first; the labelled one is not asked again
    nearest = sorted((k for k in scores if k != "p0"), key=lambda k: abs(scores[k] - 0.5))[:5]
    assert keys == [f"forum:{k}" for k in nearest]
    assert [abs(scores[k] - 0.5) for k in nearest] == sorted(abs(scores[k] - 0.5) for k in nearest)
    # the CSV round trip: fill in two, leave the rest empty, import
    table = invoke(config, "label", "--suggest", "30", "--csv")
    rows = list(csv.DictReader(io.StringIO(table.output)))
    # every scored mention but the labelled one, and one of the two copies that differ in a number
    assert len(rows) == len(HURT) + len(FINE) + 1
    assert sum("still not here" in r["text"] for r in rows) == 1
    hostile = next(r for r in rows if "HYPERLINK" in r["text"])
    assert hostile["text"].startswith("'=")  # a spreadsheet shows it, never runs it
    rows[0]["label"], rows[1]["label"] = " Assassin", "not"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    back = invoke(config, "label", "--import", "-", input=out.getvalue())
    assert back.exit_code == 0, back.output
    assert f"labelled 2 ({len(rows) - 2} rows with no label skipped)" in back.output
    assert "the site has 2 assassin and 1 not labels" in back.output
    again = invoke(config, "label", "--suggest", "30")
    assert f"forum:{rows[0]['id']} " not in again.output and f"forum:{rows[1]['id']} " not in again.output
    assert invoke(config, "label", "--suggest", "3", "forum:p1").exit_code == 2  # one thing at a time


def test_with_the_encoder_the_refit_moves_the_sentence_complaint_head_too(site) -> None:
    config, _ = site
    config.write_text(config.read_text().replace('sentiment: {encoder: "off"}\n', ""))  # auto: the encoder runs
    rows = "\n".join(json.dumps({"source": "forum", "id": f"{k}{i}", "label": "assassin" if k == "h" else "not"})
                     for k in "hf" for i in range(len(HURT)))
    assert invoke(config, "label", "--import", "-", input=rows).exit_code == 0
    trained = invoke(config, "train")
    assert trained.exit_code == 0, trained.output
    lines = trained.output.splitlines()
    (before, shipped_f1), (after, _) = ((float(line.split("ROC-AUC ")[1].split()[0]), float(line.split("F1 ")[1].split()[0]))
                                        for line in lines[1:3])
    assert shipped_f1 > 0.7 and after > max(0.95, before + 0.02), trained.output  # the sentence heads hear most; the labels the rest
    assert "the refit moves both complaint heads, its words' and its sentence's (sentiment.encoder: auto)" in trained.output
    from monitor.assassin_model import ModelSource, read

    refit, shipped = read(site_path(config.parent / "m.db")), ModelSource().shipped()
    moved = refit.sentence.heads["complaint"]["vector"]
    assert moved != shipped.sentence.heads["complaint"]["vector"]
    assert refit.sentence.heads["negative"] == shipped.sentence.heads["negative"]
    classify = invoke(config, "classify", input="Globex import borked again, the deck is gone\n")
    out = json.loads(classify.output)
    assert out["bucket"] == "assassin" and "sentence complaint" in out["heads"], out
