"""The runtime: everything a run needs, built once per config from it (compiled rules, the
scorer, the shared HTTP client, the receivers with their secrets read from the environment,
the routing tree and delivery policy), and the glue that hands alerts to ``alerts/``.

Swapped whole when config.yaml changes; the config schema itself never builds these parts.
"""

from __future__ import annotations

import os
from pathlib import Path
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone

import httpx

from alerts import dispatch, notify
from alerts.base import DeliveryPolicy, Notifier
from alerts.console import ConsoleNotifier
from alerts.notify import DeliveryReport
from alerts.router import Route, parse_matcher, resolve
from alerts.mail import EmailNotifier
from alerts.webhook import WebhookNotifier
from monitor.config import Config, unavailable_receivers
from monitor.config_alerts import (ROOT_DEFAULTS, ConsoleReceiver, EmailReceiver, RouteConfig, SlackReceiver,
                                  WebhookReceiver)
from monitor.assassin_model import ModelSource
from monitor.judgement.language import LanguageDetector
from monitor.judgement.matching import Matcher, compile_brand
from monitor.judgement.sentiment import Scorer
from monitor.logs import SECRETS
from monitor.models import Alert, is_postgres
from monitor.store import Store


@dataclass
class Runtime:
    """Everything a run needs, built once per config: swapped whole when config.yaml changes."""

    config: Config
    matcher: Matcher
    scorer: Scorer
    client: httpx.Client
    notifiers: dict[str, Notifier]
    detector: LanguageDetector | None = None
    models: ModelSource = field(default_factory=ModelSource)  # the assassin call's learned layer
    unavailable: dict[str, str] = field(default_factory=dict)
    delivery_lock: threading.Lock = field(default_factory=threading.Lock)
    router: Route | None = None  # the config's routing tree, resolved once
    policy: DeliveryPolicy | None = None  # what delivery follows besides the tree

    def __post_init__(self) -> None:
        if self.router is None:
            self.router = routing_tree(self.config)
        if self.policy is None:
            self.policy = delivery_policy(self.config)
        limits = getattr(self.client, "body_limits", None)  # the shared client caps each source's bodies
        if limits is not None:
            limits.update({s.name: s.max_body for s in self.config.sources})

    @classmethod
    def build(
        cls,
        config: Config,
        *,
        client: httpx.Client,
        scorer: Scorer | None = None,
        detector: LanguageDetector | None = None,
        models: ModelSource | None = None,
        notifiers: dict[str, Notifier] | None = None,
        delivery_lock: threading.Lock | None = None,
    ) -> "Runtime":
        """Compile the config's rules and build its receivers (reading their secrets from the environment)."""
        if notifiers is not None:  # build_notifiers registers them otherwise
            SECRETS.add(*(os.environ.get(name) for name in secret_names(config)))  # before anything can log them
        built, unavailable = build_notifiers(config) if notifiers is None else (notifiers, {})
        return cls(
            config=config,
            matcher=keyword_matcher(config),
            scorer=scorer or Scorer(),
            detector=detector or LanguageDetector(),
            models=models or ModelSource(),
            client=client,
            notifiers=built,
            unavailable=unavailable,
            delivery_lock=delivery_lock or threading.Lock(),
        )


def secret_names(config: Config) -> list[str]:
    """Every environment variable the config reads a secret from (sources' and receivers')."""
    names = [name for source in config.sources for name in source.credential_envs()]
    return names + [name for r in config.receivers for name in [getattr(r, "secret_env", ""),
                    *getattr(r, "other_secret_envs", []), getattr(r, "app_token_env", None)] if name]


def build_notifiers(config: Config) -> tuple[dict[str, Notifier], dict[str, str]]:
    """Receivers that can send, and why each other one cannot (a secret not set)."""
    SECRETS.add(*(os.environ.get(name) for name in secret_names(config)))  # before anything can log them
    notifiers: dict[str, Notifier] = {}
    unavailable = unavailable_receivers(config)
    # monitor serve's page for an alert's posts: its address and the database's name (the file's stem)
    links = (f"{config.alerts.web_url.rstrip('/')}/{Path(config.database).stem}" if config.alerts.web_url
             and not is_postgres(config.database) else None)
    for receiver in config.receivers:
        if isinstance(receiver, ConsoleReceiver):
            notifiers[receiver.name] = ConsoleNotifier(receiver.name)
        elif isinstance(receiver, SlackReceiver) and receiver.name not in unavailable:
            from alerts.slack import SlackNotifier  # slack-sdk's import (50 ms) only where Slack is a receiver

            secret = os.environ[receiver.secret_env]
            notifiers[receiver.name] = SlackNotifier(
                receiver.name,
                webhook_url=secret if receiver.webhook_url_env else None,
                token=secret if receiver.token_env else None,
                channel=receiver.channel,
                base_url=receiver.base_url,
                timeout_seconds=max(1, int(receiver.timeout.total_seconds())),
                links=links,
                buttons=bool(receiver.app_token_env and os.environ.get(receiver.app_token_env)),
            )
        elif isinstance(receiver, WebhookReceiver) and receiver.name not in unavailable:
            notifiers[receiver.name] = WebhookNotifier(
                receiver.name, url=os.environ[receiver.url_env],
                secret=os.environ.get(receiver.signing_secret_env) if receiver.signing_secret_env else None,
                timeout_seconds=max(1.0, receiver.timeout.total_seconds()))
        elif isinstance(receiver, EmailReceiver) and receiver.name not in unavailable:
            notifiers[receiver.name] = EmailNotifier(
                receiver.name, host=receiver.host, port=receiver.port, sender=receiver.from_, to=receiver.to,
                security=receiver.security, ca_file=receiver.ca_file, timeout_seconds=receiver.timeout.total_seconds(),
                username=os.environ.get(receiver.username_env) if receiver.username_env else None,
                password=os.environ.get(receiver.password_env) if receiver.password_env else None)
    return notifiers, unavailable


def routing_tree(config: Config) -> Route:
    """The resolved routing tree: the configured one, or one route per receiver."""
    receivers = config.alerts.receivers if config.alerts.receivers is not None else [r.name for r in config.receivers]
    root = config.route or RouteConfig(
        receiver=receivers[0] if receivers else "console",
        routes=[RouteConfig(receiver=name, continue_=True) for name in receivers],
    )
    defaults = {k: v for k, v in ROOT_DEFAULTS.items() if getattr(root, k) is None}
    return resolve(RouteConfig.model_validate({**root.model_dump(by_alias=True, exclude_none=True), **defaults}))


def keyword_matcher(config: Config) -> Matcher:
    """Every brand's keyword rules, compiled (once per config)."""
    return Matcher([compile_brand(b.name, b.keywords, b.exclude, languages=b.languages, case_sensitive=b.case_sensitive)
                    for b in config.brands])


def delivery_policy(config: Config) -> DeliveryPolicy:
    """What delivery follows besides the routing tree: the config's silences (matchers parsed),
    its quiet-hours windows, how long a spike fires, when a source counts as down."""
    silences = tuple(
        {"id": f"config.silences[{i}]", "matchers": [parse_matcher(m) for m in silence.matchers],
         "starts_at": datetime.min.replace(tzinfo=timezone.utc), "expires_at": silence.expires}
        for i, silence in enumerate(config.silences)
    )
    return DeliveryPolicy(silences=silences, quiet_hours={w.name: w for w in config.quiet_hours},
                          spike_rearm=config.spikes.rearm, source_down_after=config.alerts.source_down_after)


def enqueue(alerts: list[Alert], runtime: Runtime, store: Store, *, now: datetime) -> int:
    """Route each alert into the outbox (see ``alerts.dispatch``); how many were queued."""
    return dispatch.enqueue(alerts, runtime.router, store, now=now)


def deliver(runtime: Runtime, store: Store, *, now: datetime, flush: bool = False) -> DeliveryReport:
    """Send what is due from the outbox (see ``alerts.notify``), one pass at a time per process."""
    return notify.deliver(store, runtime.notifiers, runtime.router, runtime.policy, now=now, flush=flush,
                          lock=runtime.delivery_lock, unavailable=runtime.unavailable)
