"""Rows <-> models: how mentions and alerts are written to and read from SQLite (JSON columns,
the outbox payload)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from monitor.models import Alert, Judged, Match, Mention, Reach, Score, from_iso, to_iso

# json.dumps with options builds a new encoder per call; rows need five encodings each.
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


def _json(value: Any) -> str:
    if value is None:
        return "null"
    if not value:
        return "[]" if isinstance(value, (list, tuple)) else ("{}" if isinstance(value, dict) else _ENCODER.encode(value))
    return _ENCODER.encode(value)


def _strings(values: tuple[str, ...]) -> str:
    """A JSON array of strings; JSONEncoder.encode builds a new C encoder for every list (3× slower)."""
    return "[" + ",".join(map(_STRING, values)) + "]"


_STRING = json.encoder.encode_basestring  # ensure_ascii=False, as _ENCODER


def _row(item: Judged, fetched: str | None, published: str, rule_sets: dict[tuple[str, ...], int]) -> tuple:
    """A mention's column values (``published``: its ISO publication time, made once per item;
    ``rule_sets``: each list of matched rules' id in the ``rule_sets`` table; none matched, NULL)."""
    m, match, score, reach = item.mention, item.match, item.score, item.reach
    return (
        m.source, m.id, m.source_type, m.url, m.author, m.author_name, m.title, m.text,
        published, fetched, match.brand, _strings(match.brands),
        rule_sets.get(match.keywords), m.language, score.compound, score.bucket,
        _strings(score.reasons), score.unscored_reason, m.audience, _json(dict(m.metrics)),
        reach.low, reach.high, reach.method, _json(m.raw), score.assassin_score, reach.likely, *spoken(score),
    )


def spoken(score: Score) -> tuple[str | None, str | None]:
    """The ``speaker`` and ``read_as`` columns of a mention: NULL for a customer (nearly every post;
    its bucket is what the call read), else who spoke and what the call read in their words."""
    return (None, None) if score.speaker == "customer" else (score.speaker, score.read_as)


def row_alert(row: dict) -> Alert:
    """The alert an outbox row carries."""
    return alert_from_dict(json.loads(row["payload"]))


def judged_from_row(row: dict) -> Judged:
    """A stored mention row back as a Judged (the raw payload left out; its rules' texts read as
    ``matched_keywords``: ``MentionStore._matched``)."""
    speaker = row["speaker"] or "customer"
    mention = Mention(
        source=row["source"], id=row["id"], url=row["url"], text=row["text"] or "",
        published_at=from_iso(row["published_at"]), title=row["title"] or "", author=row["author"] or "",
        author_name=row["author_name"] or "", language=row["language"], audience=row["audience"],
        metrics=json.loads(row["metrics"] or "{}"), source_type=row["source_type"],
    )
    return Judged(
        mention,
        Match(tuple(json.loads(row["brands"])), tuple(json.loads(row["matched_keywords"]))),
        Score(row["sentiment"], row["bucket"], tuple(json.loads(row["bucket_reasons"] or "[]")),
              row["unscored_reason"], row["assassin_score"], speaker, row["read_as"]),
        Reach(row["reach_low"] or 1, row["reach_high"] or 1, row["reach_method"] or "", row["reach_likely"]),
    )


def _mention_dict(m: Mention) -> dict:
    data = asdict(m)
    data["published_at"] = to_iso(m.published_at)
    data["raw"] = None  # the raw payload stays in the mentions table; alerts do not need it
    data["metrics"] = dict(m.metrics)
    return data


def alert_to_dict(alert: Alert) -> dict:
    """An alert as JSON-ready data (its outbox payload)."""
    return {
        "key": alert.key,
        "kind": alert.kind,
        "brand": alert.brand,
        "source": alert.source,
        "severity": alert.severity,
        "reason": alert.reason,
        "created_at": to_iso(alert.created_at),
        "details": alert.details,
        "starts_at": to_iso(alert.starts_at),
        "ends_at": to_iso(alert.ends_at),
        "mentions": [
            {
                "mention": _mention_dict(j.mention),
                "match": {"brands": list(j.match.brands), "keywords": list(j.match.keywords)},
                "score": {**asdict(j.score), "reasons": list(j.score.reasons)},
                "reach": asdict(j.reach),
            }
            for j in alert.mentions
        ],
    }


def alert_from_dict(data: dict) -> Alert:
    """Rebuild an alert from its outbox payload."""
    mentions = []
    for item in data["mentions"]:
        m = dict(item["mention"])
        m["published_at"] = from_iso(m["published_at"])
        mentions.append(
            Judged(
                mention=Mention(**m),
                match=Match(tuple(item["match"]["brands"]), tuple(item["match"]["keywords"])),
                score=Score(**{**item["score"], "reasons": tuple(item["score"]["reasons"])}),
                reach=Reach(**item["reach"]),
            )
        )
    return Alert(
        key=data["key"],
        kind=data["kind"],
        brand=data["brand"],
        source=data["source"],
        severity=data["severity"],
        reason=data["reason"],
        mentions=tuple(mentions),
        created_at=from_iso(data.get("created_at")),
        details=data.get("details") or "",
        starts_at=from_iso(data.get("starts_at")),
        ends_at=from_iso(data.get("ends_at")),
    )
