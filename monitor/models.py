"""The data that flows through the pipeline: what connectors yield, what judgement adds, alerts.

Connectors, judgement, the store and alerts all speak these types and nothing else, so none of
them needs to know another's internals.
"""

from __future__ import annotations

import hashlib
import operator
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Mapping
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, WithJsonSchema

# C0 and C1 controls but the whitespace ones (tab, newline, \v, \f, \r: whitespace, collapsed as
# such), DEL, the bidirectional marks, embeddings, overrides and isolates (U+061C, U+200E, U+200F,
# U+202A–U+202E, U+2066–U+2069) that reorder what a reader sees ("Trojan Source"), and the
# invisible ones that hide a word inside another (zero-width space and non-joiner, word joiner,
# invisible operators, the BOM, the Mongolian vowel separator). The one set, as a pattern (for text
# that keeps its lines, monitor.judgement.text) and as a translation table. The zero-width joiner
# is kept only between two emoji (a family, a skin tone: 👩‍💻), where it is what draws them.
CONTROL_CHARACTERS = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x9f\u061c\u180e\u200b\u200c\u200e\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufeff]")
_CONTROLS = {i: None for i in (*range(0, 9), *range(14, 32), *range(127, 160), 0x061C, 0x180E, 0x200B, 0x200C,
                               0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2060, 0x2065),
                               *range(0x2066, 0x206A), 0xFEFF)}
_CONTROLS_LINE = {**_CONTROLS, 9: " ", 10: " ", 11: " ", 12: " ", 13: " "}
_EMOJI = "\u2600-\u27bf\U0001f000-\U0001faff\ufe0f"
STRAY_JOINERS = re.compile(f"(?<![{_EMOJI}])\u200d|\u200d(?![{_EMOJI}])")


def without_invisibles(text: str) -> str:
    """``text`` with its controls, bidirectional and invisible characters dropped, lines kept."""
    text = CONTROL_CHARACTERS.sub("", text)
    return STRAY_JOINERS.sub("", text) if "\u200d" in text else text


_UNSAFE_IN_URL = re.compile(f"{CONTROL_CHARACTERS.pattern}|\u200d|\\s")  # what safe_url encodes (one scan of a URL)


def safe_url(url: str | None) -> str | None:
    """A post's URL as stored: any control, bidirectional or invisible character in it (a link
    that reads ``moc.elgoog`` backwards) percent-encoded, so it shows and cannot reorder the text."""
    if not url or not _UNSAFE_IN_URL.search(url):
        return url
    return _UNSAFE_IN_URL.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode("utf-8")), url)


def clean_text(value: object, *, width: int | None = None, one_line: bool = True) -> str:
    """Untrusted text fit to show: no control or bidirectional-override characters (ANSI escapes
    included), on one line unless ``one_line`` is false, clipped to ``width`` with an ellipsis."""
    text = str(value if value is not None else "").translate(_CONTROLS_LINE if one_line else _CONTROLS)
    if "\u200d" in text:
        text = STRAY_JOINERS.sub("", text)
    if one_line:
        text = " ".join(text.split())
    if width and len(text) > width:
        text = text[: width - 1] + "…"
    return text


def to_iso(value: datetime | None) -> str | None:
    """A UTC timestamp as stored and sent: ``2026-11-23T12:00:00Z`` (sorts as text, SQLite reads it)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: every time in the monitor is timezone-aware")
    if value.tzinfo is not timezone.utc:
        value = value.astimezone(timezone.utc)
    # isoformat is C, three times faster than strftime; every stored row needs one.
    return value.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def from_iso(value: str | None) -> datetime | None:
    """Read a stored timestamp back as an aware UTC datetime."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


DEFAULT_DATABASE = "data/monitor.db"  # relative to the config file's folder
# The alerts a person acts on (acknowledges from Slack): who answered and how fast is counted for these.
ACTED_ON = "('assassin', 'press', 'spike', 'reach')"  # as SQL


def is_postgres(database: str) -> bool:
    """Whether ``database`` names a PostgreSQL database (a URL) rather than a SQLite file."""
    return database.startswith(("postgresql://", "postgres://"))


def utcnow() -> datetime:
    """The current time, timezone-aware (the default clock)."""
    return datetime.now(timezone.utc)

@dataclass(frozen=True, slots=True)
class Mention:
    """One public post or review as a source gave it. Every string in it is untrusted."""

    source: str
    id: str
    url: str | None
    text: str
    published_at: datetime
    title: str = ""
    author: str = ""
    author_name: str = ""
    language: str | None = None
    audience: int | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    raw: Any = None
    source_type: str = ""

    def __post_init__(self) -> None:
        # The one typed check every connector's items pass (a frozen dataclass checks nothing):
        # a list, a mapping or a number where text belongs is a malformed item, skipped by the
        # connector (connectors.base.malformed_item), never a source down for a whole page.
        for name in ("id", "text", "title", "author", "author_name", "source", "source_type"):
            if type(getattr(self, name)) is not str:
                raise TypeError(f"{name} is {type(getattr(self, name)).__name__}, not text")
        for name in ("url", "language"):
            value = getattr(self, name)
            if value is not None and type(value) is not str:
                raise TypeError(f"{name} is {type(value).__name__}, not text")
        if not self.id:
            raise ValueError("an empty id")
        if not isinstance(self.published_at, datetime) or self.published_at.tzinfo is None:
            raise TypeError("published_at is not a time with its zone")
        if self.audience is not None and (type(self.audience) is not int or not 0 <= self.audience < 10**15):
            raise ValueError(f"audience {self.audience!r} is not a count")

    def evolve(self, **changes: Any) -> "Mention":
        """A copy with ``changes``: dataclasses.replace without its per-call introspection (three
        times as fast; the pipeline copies most mentions once or twice)."""
        values = list(_MENTION_VALUES(self))
        for name, value in changes.items():
            values[_MENTION_INDEX[name]] = value
        new = object.__new__(Mention)
        for set_slot, value in zip(_MENTION_SETTERS, values):
            set_slot(new, value)
        return new


_MENTION_FIELDS = tuple(Mention.__dataclass_fields__)
_MENTION_VALUES = operator.attrgetter(*_MENTION_FIELDS)
_MENTION_INDEX = {name: i for i, name in enumerate(_MENTION_FIELDS)}
_MENTION_SETTERS = tuple(Mention.__dict__[name].__set__ for name in _MENTION_FIELDS)  # the slots' own setters


@dataclass(frozen=True, slots=True)
class Refreshed:
    """A stored mention's engagement as its source reports it now (a connector's ``refresh``):
    the metrics it re-read (merged over the stored ones) and the author's audience if re-read."""

    metrics: Mapping[str, Any]
    audience: int | None = None


@dataclass(frozen=True, slots=True)
class SourceState:
    """What the store remembers of a source between runs, handed to its connector."""

    cursor: str | None = None
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class Spend:
    """What a paid source has spent of its budget this period, and the shares of it (0.8, 1.0)
    that this run crossed: each is alerted once."""

    spent_usd: float
    budget_usd: float
    period: str  # "2026-12": a calendar month, UTC
    resets: str  # the day it starts again, "2027-01-01"
    crossed: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one fetch produced, and the state to remember for the next one.

    ``skipped``: malformed items left out (``id: why``); ``warnings``: what was odd about a
    body that was still read (a truncated feed, undecodable bytes), shown by ``monitor status``;
    ``spend``: a paid source's budget (``budget_alert``).
    """

    mentions: list[Mention]
    state: SourceState
    not_modified: bool = False
    skipped: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    spend: Spend | None = None


@dataclass(frozen=True, slots=True)
class SearchTerm:
    """One positive term of a keyword rule, as a search API is asked for it."""

    text: str  # a word or phrase; for a prefix rule (``word*``) the word without its star
    phrase: bool = False  # several words that must stand together: quoted where the source has quotes
    prefix: bool = False  # the rule says ``word*``: no source documents a prefix operator, so the word is sent


@dataclass(frozen=True, slots=True)
class Query:
    """One keyword rule as a search API can be asked for it (its NOT parts are left to matching).

    ``anchor``: the terms every post the rule matches contains (the brand's required terms), so
    every search sent for the rule contains them; ``alternatives``: the rule's positive terms as
    an OR of AND groups, for sources with OR. ``"Acme" AND (outage OR down)`` is anchor
    ``("Acme",)``, alternatives ``(("Acme", "outage"), ("Acme", "down"))``.
    """

    anchor: tuple[SearchTerm, ...]
    alternatives: tuple[tuple[SearchTerm, ...], ...]


@dataclass(frozen=True, slots=True)
class Match:
    """Which brands a mention is about, and which of their keyword rules fired."""

    brands: tuple[str, ...]
    keywords: tuple[str, ...]

    @property
    def brand(self) -> str:
        """The first matching brand in config order: the one the mention is filed under."""
        return self.brands[0]


@dataclass(frozen=True, slots=True)
class Score:
    """Sentiment of a mention. ``compound`` and ``bucket`` are None when it was left unscored.

    ``speaker``: who the post is from, as the config tells (``customer``; ``brand``, its official
    sources and accounts; ``press``, a press source). Only a customer can be an assassin or an
    advocate, so for the others ``read_as`` keeps the bucket the call read in their words (a
    hostile article is ``read_as`` assassin, bucketed apathetic): what the PR team looks for."""

    compound: float | None
    bucket: str | None
    reasons: tuple[str, ...] = ()
    unscored_reason: str | None = None
    assassin_score: float | None = None
    speaker: str = "customer"
    read_as: str | None = None

    @property
    def call(self) -> str | None:
        """The bucket the call read in the words, whoever spoke them."""
        return self.bucket if self.speaker == "customer" else self.read_as

    @property
    def is_hostile_coverage(self) -> bool:
        """A press source's article the call read as an assassin's words ("Acme Cloud outage
        disrupts thousands of businesses", which VADER's words alone read as neutral): bucketed
        apathetic (the press is no customer), and the coverage a PR team wants to hear of."""
        return self.speaker == "press" and self.read_as == "assassin"


@dataclass(frozen=True, slots=True)
class Reach:
    """How many people a mention is likely to reach: always a range with the method used.

    ``likely`` is the model's central figure inside the range (what sorting and reach-weighted
    sums use); None only in alerts stored before it existed.
    """

    low: int
    high: int
    method: str
    likely: int | None = None


@dataclass(frozen=True, slots=True)
class Judged:
    """A mention with everything the monitor concluded about it."""

    mention: Mention
    match: Match
    score: Score
    reach: Reach


@dataclass(frozen=True, slots=True)
class Alert:
    """A notification to send. ``key`` is its idempotency key in the notification log."""

    key: str
    kind: str
    brand: str
    source: str
    severity: str
    reason: str
    mentions: tuple[Judged, ...] = ()
    created_at: datetime | None = None
    details: str = ""  # the numbers behind ``reason``, for a second line
    starts_at: datetime | None = None  # the period the alert is about (a storm's), as Alertmanager's startsAt/endsAt:
    ends_at: datetime | None = None  # the posts published then belong to it

    @property
    def labels(self) -> dict[str, str]:
        """The alert's labels, as routes and silences will match them."""
        bucket = self.mentions[0].score.bucket if self.mentions else None
        return {
            "kind": self.kind,
            "brand": self.brand,
            "source": self.source,
            "severity": self.severity,
            "bucket": bucket or "",
        }

    @property
    def fingerprint(self) -> str:
        """A short stable id of the alert's labels: alerts with the same labels are the same
        condition (what groups, silences and the notification log reason about)."""
        canonical = "\x1f".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


_DURATION_PART = re.compile(r"(\d+)\s*(s|m|h|d|w)")
_DURATION = re.compile(r"^\s*(?:\d+\s*[smhdw]\s*)+$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_DURATION_SECONDS = 36500 * 86400  # longer is a typo, and past what datetime arithmetic can take


def parse_duration(value: object) -> timedelta:
    """Read ``30s``, ``10m``, ``2h``, ``1d``, ``1w`` or a sum like ``1h30m`` into a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"bad duration {value!r} — write it like 30s, 10m, 2h or 1d")
    if isinstance(value, int) or not _DURATION.match(value):
        raise ValueError(f"bad duration {value!r} — write it like 30s, 10m, 2h or 1d")
    seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(value))
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(f"duration {value!r} is too long — at most {MAX_DURATION_SECONDS // 86400}d (a hundred years)")
    return timedelta(seconds=seconds)


def at_least(minimum: str, why: str):
    """A validator: a duration of at least ``minimum`` (``10s``), else the reason and the fix."""
    floor = parse_duration(minimum)

    def check(value: timedelta) -> timedelta:
        if value < floor:
            raise ValueError(f"{format_duration(value)} is too short: {why} — use {minimum} or more")
        return value

    return check


def doubling(first: timedelta, attempt: int, *, cap: timedelta, at_least_seconds: float | None = None) -> timedelta:
    """The wait before retry ``attempt`` (1, 2, …): ``first`` doubling each time, at most ``cap``,
    at least what the other side asked for (Retry-After). Sources and receivers back off alike."""
    wait = min(first * (2 ** max(0, attempt - 1)), cap)
    return max(wait, timedelta(seconds=at_least_seconds)) if at_least_seconds else wait


def format_duration(value: timedelta) -> str:
    """The shortest ``1h30m`` form of a timedelta, as config.yaml writes it."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    out = ""
    for unit in ("w", "d", "h", "m", "s"):
        n, seconds = divmod(seconds, _UNIT_SECONDS[unit])
        if n:
            out += f"{n}{unit}"
    return out


class Section(BaseModel):
    """A section of config.yaml: unknown keys refused (a typo is an error, not a silent default), immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": r"^\s*(\d+\s*[smhdw]\s*)+$", "examples": ["30s", "10m", "2h", "1d"]}
    ),
]
"""A config duration: ``10m`` in YAML, a timedelta inside."""


_SIZE = re.compile(r"^\s*(\d+)\s*(B|KB|MB|GB)?\s*$", re.IGNORECASE)
_SIZE_FACTOR = {"b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30}


def parse_size(value: object) -> int:
    """Read ``10MB``, ``512KB``, ``1GB`` (binary multiples) or a number of bytes."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"bad size {value!r} — write it like 512KB, 10MB or 1GB")
    found = _SIZE.match(str(value))
    if not found:
        raise ValueError(f"bad size {value!r} — write it like 512KB, 10MB or 1GB")
    return int(found.group(1)) * _SIZE_FACTOR[(found.group(2) or "b").lower()]


def format_size(size: int) -> str:
    """The shortest ``10MB`` form of a byte count, as config.yaml writes it."""
    for unit in ("GB", "MB", "KB"):
        factor = _SIZE_FACTOR[unit.lower()]
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


Size = Annotated[
    int,
    BeforeValidator(parse_size),
    PlainSerializer(format_size, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\s*\d+\s*([KMG]?B)?\s*$", "examples": ["512KB", "10MB"]}),
]
"""A config size: ``10MB`` in YAML, bytes inside."""


# --- value checks shared by the config's models and the connectors' options -----------------

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Shapes of real secrets (Slack tokens, webhook URLs), so a pasted one is refused, not stored in the file.
_LITERAL_SECRET = re.compile(r"^(xox[abposr]-|xapp-|https?://)", re.IGNORECASE)


def check_env_name(value: str) -> str:
    """Accept the name of an environment variable; refuse a pasted secret or anything else."""
    if _LITERAL_SECRET.match(value):
        raise ValueError(
            "looks like a literal secret — put it in an environment variable and write the variable's name here"
        )
    if not _ENV_NAME.match(value):
        raise ValueError(f"{value!r} is not an environment variable name — write a name like SLACK_BOT_TOKEN")
    return value


def check_http_url(value: str | None) -> str | None:
    """Refuse anything but an absolute http(s) URL: config URLs are fetched by the monitor."""
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{value!r} is not an http(s) URL — write it like https://example.com/path")
    return value.rstrip("/") if parts.path in ("", "/") else value
