"""`monitor label` and `monitor train`: a site's own calls on its mentions, and the assassin call
refit on them (written beside the database, picked up by a running monitor at its next run)."""

from __future__ import annotations

import csv
import getpass
import io
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from monitor.cli.common import _database, _load
from monitor.models import Mention
from monitor.store.labels import LABELS

if TYPE_CHECKING:  # names for type hints only: the modules load when a command needs them
    from monitor.judgement.learned import Model

MIN_LABELS = 10  # fewer cannot be cross-validated into anything but noise


@click.command()
@click.argument("mention", required=False)
@click.argument("label", required=False, type=click.Choice(LABELS))
@click.option("--note", default="", help="Why (kept with the label).")
@click.option("--who", default=None, help="Who labels (default: the user name).")
@click.option("--import", "import_file", type=click.File("r", encoding="utf-8"), default=None,
              help="Label many: a CSV with a header (source,id,label[,note,who]) or JSON lines with those keys; "
                   "rows whose label is left empty are skipped.")
@click.option("--suggest", type=click.IntRange(1, 10_000), default=None, metavar="N",
              help="List the N unlabelled mentions the call is least sure of (assassin_score nearest the threshold).")
@click.option("--csv", "as_csv", is_flag=True,
              help="With --suggest: a CSV to fill in (source,id,label,note,assassin_score,text) for --import.")
@click.pass_context
def label(ctx: click.Context, mention: str | None, label: str | None, note: str, who: str | None, import_file,
          suggest: int | None, as_csv: bool) -> None:
    """Say whether a stored mention is an assassin: MENTION is SOURCE:ID, LABEL assassin or not.

    Labels teach the call: `monitor train` refits it on them. `--suggest N` lists the mentions
    where a label teaches it most: those it is least sure of.
    """
    from monitor.models import utcnow
    from monitor.store import Store
    if suggest is not None:
        if import_file is not None or mention is not None:
            raise click.UsageError("--suggest lists mentions to label; give it alone (then label them, or --import)")
        _suggest(ctx, suggest, as_csv)
        return
    if as_csv:
        raise click.UsageError("--csv goes with --suggest")
    if (import_file is None) == (mention is None or label is None):
        raise click.UsageError("give MENTION and LABEL (e.g. hn:41000001 assassin), or --import FILE, or --suggest N")
    who = who or getpass.getuser()
    rows = _read_labels(import_file) if import_file else [{"source": mention.partition(":")[0],
                                                           "id": mention.partition(":")[2], "label": label, "note": note}]
    config = _load(ctx)
    now = utcnow()
    saved, blank, unknown = 0, 0, []
    with Store(_database(ctx, config)) as store, store.transaction():
        for n, row in enumerate(rows, start=1):
            # " Assassin" from a spreadsheet means assassin; an empty label is a suggestion left unlabelled.
            value = str(row.get("label") or "").strip().lower() if isinstance(row, dict) else ""
            if isinstance(row, dict) and not value:
                blank += 1
                continue
            if not isinstance(row, dict) or not row.get("source") or not row.get("id") or value not in LABELS:
                raise click.ClickException(f"row {n}: needs source, id and a label of {' or '.join(LABELS)} (got {row!r})")
            if store.save_label(row["source"], row["id"], value, who=row.get("who") or who, at=now,
                                note=row.get("note") or ""):
                saved += 1
            else:
                unknown.append(f"{row['source']}:{row['id']}")
        counts = store.label_counts()
    for key in unknown[:10]:
        click.echo(f"no stored mention {key}: not labelled (use SOURCE:ID as `monitor search --json` shows them)", err=True)
    skipped = f" ({blank} rows with no label skipped)" if blank else ""
    click.echo(f"labelled {saved}{skipped}; the site has {counts['assassin']} assassin and {counts['not']} not labels")
    if unknown:
        ctx.exit(1)


def _suggest(ctx: click.Context, limit: int, as_csv: bool) -> None:
    """The mentions nearest the threshold, to label (one of each text, numbers aside): a line each,
    or a CSV to fill in and import."""
    from monitor.cli.common import _FORMULA, _clean
    from monitor.judgement.text import text_key
    from monitor.store import Store

    config = _load(ctx)
    threshold = config.sentiment.assassin_threshold
    with Store(_database(ctx, config)) as store:
        candidates = store.unsure(threshold, min(limit * 20, 50_000))
    rows, seen = [], set()
    for row in candidates:  # one of each text: a label on one copy teaches the call all of them
        key = text_key(row["title"], row["text"])
        if key not in seen:
            seen.add(key)
            rows.append(row)
            if len(rows) == limit:
                break
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(["source", "id", "label", "note", "assassin_score", "text"])
        for row in rows:
            text = _clean(" — ".join(part for part in (row["title"], row["text"]) if part))
            writer.writerow([row["source"], row["id"], "", "", row["assassin_score"],
                             "'" + text if text.startswith(_FORMULA) else text])
        return
    if not rows:
        click.echo("no unlabelled scored mention to suggest")
        return
    click.echo(f"{len(rows)} unlabelled mentions the call is least sure of (assassin_score nearest {threshold}); "
               "label each with `monitor label SOURCE:ID assassin|not`:")
    for row in rows:
        click.echo(f"  {_clean(row['source'] + ':' + row['id'], 40):<40} {row['assassin_score']:.2f}  "
                   f"{_clean(row['title'] or row['text'], 90)}")


def _read_labels(handle) -> list[dict]:
    text = handle.read()
    if text.lstrip().startswith("{"):
        rows = []
        for n, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError as exc:
                    raise click.ClickException(f"line {n}: not valid JSON ({exc})")
        return rows
    return list(csv.DictReader(io.StringIO(text)))


@click.command()
@click.option("--force", is_flag=True, help="Write the refit even when it scores worse on the site's labels.")
@click.option("--folds", default=10, show_default=True, help="Cross-validation folds over the site's labels.")
@click.pass_context
def train(ctx: click.Context, force: bool, folds: int) -> None:
    """Refit the assassin call on the site's labels and write it beside the database.

    The complaint heads (the words', and the sentence's where the encoder runs) start from the
    shipped weights (what the shipped data taught them) and are held near them while the labels
    move them; prints the shipped model and the refit, each cross-validated on the labels as the
    monitor would call them, and refuses a refit that scores worse (unless --force). A running
    monitor scores with the new model from its next source run.
    """
    from monitor.assassin_model import ModelSource, read, site_path, write
    from monitor.ingest import normalize, scored_text
    from monitor.judgement import training
    from monitor.judgement.sentiment import Scorer
    from monitor.models import utcnow
    from monitor.store import Store
    config = _load(ctx)
    database = _database(ctx, config)
    with Store(database, readonly=True) as store:
        rows = store.labelled()
    labels = [int(r["label"] == "assassin") for r in rows]
    if len(rows) < MIN_LABELS or sum(labels) < 2 or sum(labels) > len(labels) - 2:
        raise click.ClickException(f"{len(rows)} labels ({sum(labels)} assassin): label at least {MIN_LABELS}, "
                                   "with at least two of each kind, first (monitor label; `monitor label --suggest 20` "
                                   "lists the mentions where a label teaches the call most)")
    texts, brands = [], []
    for r in rows:
        post = normalize(Mention(source=r["source"], id=r["id"], url=None, text=r["text"] or "", title=r["title"] or "",
                                 published_at=utcnow(), metrics=json.loads(r["metrics"] or "{}")))
        texts.append(scored_text(post))
        brands.append((json.loads(r["brands"] or "[]") or [None])[0])
    words, dense = training.prepare(Scorer(), texts, brands)
    models = ModelSource()
    shipped = models.shipped()
    mode = config.sentiment.encoder
    encoder = models.encoder(mode) if shipped.sentence is not None else None
    vectors = encoder.encode(texts) if encoder is not None else None  # the sentence heads learn from the labels too
    before = training.call_all(shipped, words, dense, vectors, mode=mode)
    folds = max(2, min(folds, sum(labels), len(labels) - sum(labels)))
    after = training.cross_validate(shipped.to_dict(), words, dense, labels, folds=folds, vectors=vectors, mode=mode)
    threshold = shipped.threshold
    scores = {name: (training.auc(p, labels), training.f1(p, labels, threshold)) for name, p in
              (("shipped", before), ("refit", after))}
    click.echo(f"{len(rows)} site labels ({sum(labels)} assassin), {folds}-fold cross-validated:")
    for name, (area, f) in scores.items():
        click.echo(f"  {name + ' model':<14} ROC-AUC {area:.3f}   F1 {f:.3f} (at {threshold:g})")
    trained_on = shipped.meta.get("trained_on", {})
    if trained_on:
        cv = shipped.meta.get("cross_validated", {})
        click.echo("  shipped data: " + ", ".join(f"{k} {v['texts']:,}" for k, v in trained_on.items())
                   + (f"; brand complaints 10-fold: F1 {cv['f1']:.3f}, ROC-AUC {cv['auc']:.3f}" if cv else ""))
    if vectors is not None:
        click.echo(f"  the refit moves both complaint heads, its words' and its sentence's (sentiment.encoder: {mode}); "
                   "the figures are the whole call's")
    elif shipped.sentence is not None:
        click.echo("  the refit moves the complaint word head; the sentence heads stay as shipped (sentiment.encoder: "
                   f"{mode}{', not installed' if models.encoder_unavailable else ''}); the figures are the words'")
    worse = _worse(scores["refit"], scores["shipped"])
    if worse and not force:
        raise click.ClickException(f"the refit scores worse on the site's labels ({worse}): not written "
                                   "(label more, or --force)")
    model = training.refit_all(shipped.to_dict(), words, dense, labels, vectors, meta={
        "site": {"labels": len(rows), "assassin": sum(labels), "trained_at": utcnow().isoformat(timespec="seconds"),
                 "cross_validated": {k: {"auc": round(a, 4), "f1": round(f, 4)} for k, (a, f) in scores.items()}},
        "base": shipped.version,
    })
    model["version"] = f"{shipped.version}+site"
    path = site_path(database)
    try:
        write(model, path)
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc} — the model goes beside the database; "
                                   "run train where you can write to its folder")
    read(path)  # what a running monitor will read back
    click.echo(f"wrote {path}{' (forced)' if worse else ''}: a running monitor scores with it from its next run")


def _worse(new: tuple[float, float], old: tuple[float, float]) -> str:
    """Why ``new`` (ROC-AUC, F1) is worse than ``old``, or "" when it is not."""
    if math.isnan(new[0]) or new[0] < old[0] - 0.005:
        return f"ROC-AUC {new[0]:.3f} against {old[0]:.3f}"
    if new[1] < old[1] - 0.02:
        return f"F1 {new[1]:.3f} against {old[1]:.3f}"
    return ""


def model_name(model: Model) -> str:
    """Which model scored, for `monitor classify`."""
    where = model.meta.get("where", "shipped")
    return f"{model.version} ({'shipped with the monitor' if where == 'shipped' else Path(where).name})"
