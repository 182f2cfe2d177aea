"""`monitor alerts test|preview`, `monitor digest`, `monitor silence add|list|expire`."""

from __future__ import annotations

import json
from datetime import timedelta

import click

from monitor.cli.common import (
    _clean,
    _database,
    _duration,
    _load,
)
from monitor.errors import NotifyError
from monitor.models import (
    Alert,
    Judged,
    Match,
    Mention,
    Reach,
    Score,
    to_iso,
)


@click.group("alerts")
def alerts_group() -> None:
    """Check the receivers' wiring, and see what would be sent."""


def _sample_alert(now) -> Alert:
    mention = Mention(
        source="sample", id="sample-1", url="https://example.com/monitor-test", published_at=now,
        title="Test alert from the reputation monitor", text="If you can read this, the receiver works. <!channel> stays text.",
        author="monitor", author_name="Reputation monitor", source_type="rss",
    )
    judged = Judged(mention, Match(("(test)",), ("test",)), Score(-0.5, "assassin", ("a test, not a real post",), None, 0.9),
                    Reach(1, 19, "test: no real audience", 3))
    return Alert(f"test:{to_iso(now)}", "test", "(test)", "sample", "warning", "a test sent by monitor alerts test",
                 (judged,), now)


@alerts_group.command("test")
@click.argument("receiver")
@click.pass_context
def alerts_test(ctx: click.Context, receiver: str) -> None:
    """Send a sample alert to RECEIVER now (not through the outbox), to check its wiring."""
    from monitor.runtime import build_notifiers
    from monitor.models import utcnow
    config = _load(ctx)
    names = [r.name for r in config.receivers]
    if receiver not in names:
        raise click.BadParameter(f"unknown receiver {receiver!r} — use one of: {', '.join(names)}")
    notifiers, unavailable = build_notifiers(config)
    if receiver not in notifiers:
        raise click.ClickException(f"receiver {receiver} cannot send: {unavailable.get(receiver, 'not configured')}")
    try:
        notifiers[receiver].send(_sample_alert(utcnow()))
    except NotifyError as exc:
        raise click.ClickException(f"receiver {receiver}: {exc}") from exc
    click.echo(f"sent a test alert to {receiver}")


@alerts_group.command("preview")
@click.option("--slack", "as_slack", is_flag=True, help="Print the Slack payload (fallback text and Block Kit) instead.")
@click.pass_context
def alerts_preview(ctx: click.Context, as_slack: bool) -> None:
    """Render what the outbox would send next, one message per waiting group, without sending it."""
    from alerts.console import render_text
    from alerts.router import merge
    from alerts.slack import render as render_slack
    from monitor.store import Store, row_alert
    with Store(_database(ctx), readonly=True) as store:
        groups = store.due_groups(now=None)
        previews = []
        for group in groups:
            rows = store.group_pending(group["receiver"], group["group_key"], now=None)
            if rows:
                alerts = [row_alert(r) for r in rows]
                previews.append((group, merge(alerts, key=group["group_key"])))
    if not previews:
        click.echo("nothing waiting to be sent", err=True)
        return
    for group, alert in previews:
        click.echo(f"--- to {group['receiver']}, group {group['group_key']}, due {group['next_flush_at']}")
        if as_slack:
            text, blocks = render_slack(alert)
            click.echo(json.dumps({"text": text, "blocks": blocks}, ensure_ascii=False, indent=2))
        else:
            click.echo(render_text(alert))


@click.command("digest")
@click.option("--period", default="1d", show_default=True, help="The period summed up, against the one before it.")
@click.option("--send", is_flag=True, help="Send it through the routes now instead of printing it.")
@click.pass_context
def digest_command(ctx: click.Context, period: str, send: bool) -> None:
    """Each brand's digest: buckets and net score against the previous period, top assassins and advocates."""
    from alerts.console import render_text
    from connectors.http import make_client
    from monitor.runtime import Runtime, deliver, enqueue
    from monitor.models import utcnow
    from monitor.store import Store
    from monitor.watch import digest_alert
    config = _load(ctx)
    span = _duration(period)
    now = utcnow()
    with Store(_database(ctx, config), readonly=not send) as store:
        alerts = [digest_alert(store, b.name, now=now, period=span) for b in config.brands]
        if not send:
            for alert in alerts:
                click.echo(render_text(alert) + "\n")
            return
        with make_client(contact=config.contact) as client:
            runtime = Runtime.build(config, client=client)
            queued = enqueue(alerts, runtime, store, now=now)
            report = deliver(runtime, store, now=now, flush=True)
    click.echo(f"{queued} digests queued, {report.sent} sent, {report.retrying} to retry, {report.failed} failed")


@click.group()
def silence() -> None:
    """Hold back alerts that match, for a while: add, list, expire (stored in the database)."""


@silence.command("add")
@click.argument("matchers", nargs=-1, required=True)
@click.option("--for", "duration", required=True, help="How long it lasts (mandatory): 30m, 2h, 1d.")
@click.option("--author", required=True, help="Who silenced it.")
@click.option("--reason", required=True, help="Why, for whoever wonders where the alerts went.")
@click.pass_context
def silence_add(ctx: click.Context, matchers: tuple[str, ...], duration: str, author: str, reason: str) -> None:
    """Silence alerts matching every MATCHER (brand="Acme Cloud", kind=assassin, source=~"reddit.*")."""
    from alerts.router import check_matcher
    from monitor.models import utcnow
    from monitor.store import Store
    try:
        for text in matchers:
            check_matcher(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    length = _duration(duration)
    if length <= timedelta(0):
        raise click.BadParameter("a silence must last a while — e.g. --for 2h")
    now = utcnow()
    with Store(_database(ctx)) as store:
        ident = store.add_silence(list(matchers), author=author, reason=reason, starts_at=now, expires_at=now + length, now=now)
    click.echo(f"silence {ident}: {' '.join(matchers)} until {to_iso(now + length)}")


@silence.command("list")
@click.option("--all", "show_all", is_flag=True, help="Expired ones too.")
@click.pass_context
def silence_list(ctx: click.Context, show_all: bool) -> None:
    """The active silences (with --all, the expired ones too)."""
    from monitor.models import utcnow
    from monitor.store import Store, from_iso
    from tabulate import tabulate
    now = utcnow()
    with Store(_database(ctx), readonly=True) as store:
        rows = store.silences(now=None if show_all else now)
    if not rows:
        click.echo("no silences", err=True)
        return
    click.echo(tabulate(
        [[r["id"], " ".join(r["matchers"]), _clean(r["author"], 20), _clean(r["reason"], 40), r["expires_at"],
          "active" if from_iso(r["expires_at"]) > now else "expired"] for r in rows],
        headers=["id", "matchers", "author", "reason", "expires (UTC)", "state"],
    ))


@silence.command("expire")
@click.argument("silence_id", type=int)
@click.pass_context
def silence_expire(ctx: click.Context, silence_id: int) -> None:
    """End silence SILENCE_ID now."""
    from monitor.models import utcnow
    from monitor.store import Store
    with Store(_database(ctx)) as store:
        if not store.expire_silence(silence_id, now=utcnow()):
            raise click.ClickException(f"no active silence {silence_id} (see monitor silence list)")
    click.echo(f"silence {silence_id} expired")
