"""The ``alerts:``, ``route:``, ``receivers:``, ``quiet_hours:`` and ``silences:`` sections of config.yaml.

Alertmanager's shapes: a route tree whose unset settings come from the parent, named receivers,
named quiet windows, silences that expire. The label and matcher syntax is the router's own
(``alerts.router``), so the config refuses exactly what the router could not run.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Annotated, Literal, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ConfigDict, Field, field_validator, model_validator

from alerts.router import check_label, check_matcher
from monitor.models import Duration, Section, check_env_name, check_http_url

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class QuietHours(Section):
    """A named time window in which routes that name it hold their notifications back."""

    name: str = Field(min_length=1)
    timezone: str = Field(default="UTC", description="IANA time zone, e.g. Europe/Paris.")
    start: str = Field(description='Local start time, "HH:MM".')
    end: str = Field(description='Local end time, "HH:MM" (before start: the window runs past midnight).')
    weekdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default=list(WEEKDAYS), description="Days on which the window starts."
    )
    allow_critical: bool = Field(default=True, description="Let critical alerts through.")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} — use an IANA name such as Europe/Paris or UTC") from exc
        return value

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", str(value)):
            raise ValueError(f"{value!r} is not a time of day — write it like \"22:00\" (quoted, 24-hour)")
        return value

    def quiet_until(self, now: datetime) -> datetime | None:
        """The end of the window ``now`` falls in (UTC), or None if it is not quiet now."""
        zone = ZoneInfo(self.timezone)
        local = now.astimezone(zone)
        sh, sm = map(int, self.start.split(":"))
        eh, em = map(int, self.end.split(":"))
        for days_back in (0, 1):  # a window that started yesterday may still run past midnight
            day = (local - timedelta(days=days_back)).date()
            if WEEKDAYS[day.weekday()] not in self.weekdays:
                continue
            begin = datetime(day.year, day.month, day.day, sh, sm, tzinfo=zone)
            finish = datetime(day.year, day.month, day.day, eh, em, tzinfo=zone)
            if finish <= begin:
                finish += timedelta(days=1)
            if begin <= local < finish:
                return finish.astimezone(timezone.utc)
        return None


def _check_matchers(value: list[str]) -> list[str]:
    for text in value:
        check_matcher(text)  # ValueError names the fix
    return value


def _check_labels(value: list[str] | None) -> list[str] | None:
    for label in value or []:
        check_label(label)
    return value


class SilenceConfig(Section):
    """A silence declared in config.yaml (like ``monitor silence add``): matchers, who, why, until when."""

    matchers: list[str] = Field(min_length=1, description="Label tests, all of which must hold.")
    author: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    expires: datetime = Field(description="When it ends (mandatory), e.g. 2026-12-01T09:00:00Z.")

    _matchers = field_validator("matchers")(classmethod(lambda cls, value: _check_matchers(value)))

    @field_validator("expires")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give the time zone, e.g. 2026-12-01T09:00:00Z")
        return value


class RouteConfig(Section):
    """A node of the routing tree (Alertmanager's shape); unset settings come from the parent."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    receiver: str | None = Field(default=None, description="Receiver name; required on the root route.")
    matchers: list[str] = Field(
        default=[], description='Label tests, all of which must hold: brand="Acme", kind!=digest, source=~"reddit|hn".'
    )
    group_by: list[str] | None = Field(default=None, description="Labels whose values split alerts into groups.")
    group_wait: Duration | None = Field(default=None, description="How long a new group waits for company.")
    group_interval: Duration | None = Field(default=None, description="Least time between two notifications of a group.")
    repeat_interval: Duration | None = Field(default=None, description="An alert raised again goes out again only after this.")
    continue_: bool = Field(default=False, alias="continue", description="Also try the next sibling routes.")
    quiet_hours: list[str] | None = Field(default=None, description="Names of quiet_hours windows this route keeps.")
    routes: list["RouteConfig"] = Field(default=[], description="Child routes, tried in order.")

    _matchers = field_validator("matchers")(classmethod(lambda cls, value: _check_matchers(value)))
    _group_by = field_validator("group_by")(classmethod(lambda cls, value: _check_labels(value)))


RouteConfig.model_rebuild()
ROOT_DEFAULTS = {"group_by": ["kind", "brand"], "group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h",
                 "quiet_hours": []}


class ConsoleReceiver(Section):
    """Prints alerts on the terminal: the default when nothing else is configured."""

    name: str = Field(min_length=1)
    type: Literal["console"] = "console"


class SlackReceiver(Section):
    """Posts to Slack through an incoming webhook, or a bot token and a channel."""

    name: str = Field(min_length=1)
    type: Literal["slack"] = "slack"
    webhook_url_env: str | None = Field(default=None, description="Environment variable holding the webhook URL.")
    token_env: str | None = Field(default=None, description="Environment variable holding a bot token (xoxb-…).")
    channel: str | None = Field(default=None, description="Channel ID or #name, with token_env.")
    base_url: str | None = Field(default=None, description="Slack Web API root, e.g. for GovSlack or a test server.")
    timeout: Duration = Field(
        default="15s", description="How long a send waits for Slack's answer; with none, the message is asked for in "
        "the channel before it is sent again (a webhook's is marked unconfirmed).")
    app_token_env: str | None = Field(
        default=None, description="Environment variable holding the Slack app's app-level token (xapp-…, scope "
        "connections:write): alerts carry buttons (acknowledge, label, silence, assign), received through Socket Mode.")

    _env = field_validator("webhook_url_env", "token_env", "app_token_env")(
        classmethod(lambda cls, v: v if v is None else check_env_name(v)))
    _url = field_validator("base_url")(classmethod(lambda cls, v: check_http_url(v)))

    @model_validator(mode="after")
    def _one_way_in(self) -> "SlackReceiver":
        if bool(self.webhook_url_env) == bool(self.token_env):
            raise ValueError(
                "set exactly one of webhook_url_env or token_env — e.g. webhook_url_env: SLACK_WEBHOOK_URL"
            )
        if self.token_env and not self.channel:
            raise ValueError("a bot token needs a channel — add channel: '#alerts' (or a channel ID)")
        if self.app_token_env and not self.token_env:
            raise ValueError("buttons (app_token_env) need a bot token to update the message — add token_env")
        if self.app_token_env and not re.fullmatch(r"[CG][A-Z0-9]{6,}", self.channel or ""):
            raise ValueError("buttons (app_token_env) need the channel's ID, not its name (a click is checked against "
                             "it) — e.g. channel: C0123456789 (Slack: the channel's details, at the bottom)")
        return self

    @property
    def secret_env(self) -> str:
        """The environment variable this receiver reads its secret from."""
        return self.webhook_url_env or self.token_env or ""


class WebhookReceiver(Section):
    """POSTs each notification as JSON (Alertmanager's webhook format and the monitor's words),
    signed with an HMAC the receiving service can check."""

    name: str = Field(min_length=1)
    type: Literal["webhook"] = "webhook"
    url_env: str = Field(description="Environment variable holding the URL to POST to (a secret: it often carries a token).")
    signing_secret_env: str | None = Field(
        default=None, description="Environment variable holding the key of the X-Monitor-Signature HMAC (SHA-256).")
    timeout: Duration = Field(default="15s", description="How long a send waits for an answer; with none, the alert is "
                              "marked unconfirmed rather than sent twice.")

    _env = field_validator("url_env", "signing_secret_env")(
        classmethod(lambda cls, v: v if v is None else check_env_name(v)))

    @property
    def secret_env(self) -> str:
        """The environment variable this receiver cannot send without."""
        return self.url_env

    @property
    def other_secret_envs(self) -> list[str]:
        return [self.signing_secret_env] if self.signing_secret_env else []


class EmailReceiver(Section):
    """Sends each notification as one e-mail (a text part and an HTML part) through an SMTP server."""

    name: str = Field(min_length=1)
    type: Literal["email"] = "email"
    host: str = Field(min_length=1, description="The SMTP server, e.g. smtp.example.com.")
    port: int = Field(default=587, ge=1, le=65535, description="587 with starttls, 465 with tls, 25 with none.")
    security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="starttls: upgrade the connection (port 587); tls: TLS from the start (465); "
        "none: plain (a relay on the same host only).")
    username_env: str | None = Field(default=None, description="Environment variable holding the login's user name.")
    password_env: str | None = Field(default=None, description="Environment variable holding the login's password.")
    from_: str = Field(alias="from", description="The sender address, e.g. 'Reputation monitor <monitor@example.com>'.")
    to: list[str] = Field(min_length=1, description="Recipient addresses.")
    ca_file: str | None = Field(default=None, description="A CA bundle to trust the server's certificate by "
                                "(a private CA); default: the system's.")
    timeout: Duration = Field(default="30s", description="How long a send waits for the server; with no answer during "
                              "the send, the alert is marked unconfirmed rather than sent twice.")

    _env = field_validator("username_env", "password_env")(
        classmethod(lambda cls, v: v if v is None else check_env_name(v)))

    @model_validator(mode="after")
    def _login_whole(self) -> "EmailReceiver":
        if bool(self.username_env) != bool(self.password_env):
            raise ValueError("a login needs both username_env and password_env (or neither, for a relay without one)")
        if self.security == "none" and self.password_env and self.host not in ("localhost", "127.0.0.1", "::1"):
            raise ValueError("a password is never sent in the clear: set security: starttls (or tls)")
        return self

    @property
    def secret_env(self) -> str:
        return self.password_env or ""

    @property
    def other_secret_envs(self) -> list[str]:
        return [self.username_env] if self.username_env else []


RECEIVERS = (ConsoleReceiver, SlackReceiver, WebhookReceiver, EmailReceiver)
Receiver = Annotated[Union[RECEIVERS], Field(discriminator="type")]  # type: ignore[valid-type]


class Alerts(Section):
    """Which mentions alert, and where they go."""

    buckets: list[Literal["assassin", "advocate", "apathetic"]] = Field(
        default=["assassin"], description="Mention buckets that raise an alert."
    )
    press: bool = Field(
        default=True, description="A press source's article the assassin call reads as hostile raises a press alert "
                                  "(negative coverage, with its reach); false: stored and counted only.")
    receivers: list[str] | None = Field(default=None, description="Receiver names to notify (default: every receiver).")
    web_url: str | None = Field(
        default=None, description="Where people open monitor serve (its --base-url, e.g. https://monitor.example.com): "
        "an alert's 'and 4 more posts' links to the page that lists them all.")
    _web_url = field_validator("web_url")(classmethod(lambda cls, v: check_http_url(v)))
    backfill: Duration = Field(
        default="0s",
        description="On a source's first run, alert only on posts younger than this; older ones are stored quietly.",
    )
    max_age: Duration = Field(
        default="2d", description="Never alert on a post older than this, however late it is first seen."
    )
    critical_reach: int = Field(
        default=10000, ge=0, description="An alert whose reach range tops this is critical rather than a warning."
    )
    source_down_after: int = Field(
        default=3, ge=1, description="A source failing this many times in a row raises a source_down alert."
    )
    silent_after: float = Field(
        default=10.0, gt=1,
        description="A source that answers but brings no mention for this many times its usual gap (and 6 h) is source_down.",
    )
    digest_at: str | None = Field(
        default="09:00", description='Local time of the daily digest per brand, "HH:MM"; null turns it off.'
    )
    digest_timezone: str = Field(default="UTC", description="IANA time zone of digest_at.")

    _digest_clock = field_validator("digest_at")(classmethod(lambda cls, v: v if v is None else QuietHours._clock(v)))
    _digest_zone = field_validator("digest_timezone")(classmethod(lambda cls, v: QuietHours._zone(v)))
