"""The alert router, in Prometheus Alertmanager's shape: a tree of routes, groups and silences.

An alert carries labels (kind, brand, source, bucket, severity). The routing tree decides who
hears it: the root matches everything; each child route has matchers (``label=value``, ``!=``,
``=~`` regex, ``!~``), the alert descends into the first child that matches (and on to the next
siblings too when that child says ``continue``), and the deepest routes reached notify their
receiver. A child inherits every setting it does not set. Alerts of one route with the same
``group_by`` label values form a group: the group waits ``group_wait`` for company, then goes
out as one notification; later alerts of the group go out together at most every
``group_interval``; an alert raised again goes out again only after ``repeat_interval``.
A silence (matchers, author, reason, a mandatory expiry) holds back the alerts it matches.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.models import Alert

_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")
LABELS = ("kind", "brand", "source", "bucket", "severity")


@dataclass(frozen=True)
class LabelMatcher:
    """One ``label op value`` test; regexes match the whole value, as in Alertmanager."""

    label: str
    op: str
    value: str
    pattern: re.Pattern | None = None

    def matches(self, labels: dict[str, str]) -> bool:
        actual = labels.get(self.label, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        hit = self.pattern.fullmatch(actual) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        return f'{self.label}{self.op}"{self.value}"'


def parse_matcher(text: str) -> LabelMatcher:
    """``brand="Acme Cloud"``, ``kind!=digest``, ``source=~"reddit|hn"``; ValueError says the fix."""
    found = _MATCHER.match(text if isinstance(text, str) else "")
    if not found:
        raise ValueError(f"{text!r} is not a matcher — write label=value, label!=value, label=~regex or label!~regex, "
                         f"e.g. brand=\"Acme Cloud\"")
    label, op, value = found.groups()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].replace('\\"', '"')
    pattern = None
    if op in ("=~", "!~"):
        try:
            pattern = re.compile(value)
        except re.error as exc:
            raise ValueError(f"bad regular expression {value!r} in {text!r}: {exc} — fix the pattern") from exc
    return LabelMatcher(label, op, value, pattern)


def check_label(label: str) -> str:
    """Accept a label alerts carry; ValueError with a did-you-mean for any other."""
    if label not in LABELS:
        close = difflib.get_close_matches(label, LABELS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"unknown label {label!r} — {hint}alerts carry: {', '.join(LABELS)}")
    return label


def check_matcher(text: str) -> LabelMatcher:
    """``parse_matcher``, refusing labels no alert carries (``brnd="X"`` would never match)."""
    matcher = parse_matcher(text)
    check_label(matcher.label)
    return matcher


def matches_all(matchers: tuple[LabelMatcher, ...] | list[LabelMatcher], labels: dict[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


@dataclass(frozen=True)
class Route:
    """A resolved route: every setting filled in from its ancestors."""

    path: str  # its key path in config.yaml, e.g. route.routes[0]
    receiver: str
    matchers: tuple[LabelMatcher, ...]
    group_by: tuple[str, ...]
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta
    continue_: bool = False
    quiet_hours: tuple[str, ...] = ()
    children: tuple["Route", ...] = field(default=())

    def group_key(self, labels: dict[str, str]) -> str:
        """The group an alert joins on this route: the route and its group_by label values."""
        return self.path + "{" + ",".join(f"{k}={labels.get(k, '')}" for k in self.group_by) + "}"


def resolve(node, parent: Route | None = None, path: str = "route") -> Route:
    """Build the tree from config models (``monitor.config.RouteConfig``), inheriting settings."""
    def pick(name: str):
        value = getattr(node, name)
        return value if value is not None else getattr(parent, name)

    shell = Route(
        path=path,
        receiver=pick("receiver"),
        matchers=tuple(parse_matcher(m) for m in node.matchers),
        group_by=tuple(pick("group_by")),
        group_wait=pick("group_wait"),
        group_interval=pick("group_interval"),
        repeat_interval=pick("repeat_interval"),
        continue_=node.continue_,
        quiet_hours=tuple(pick("quiet_hours")),
    )
    children = tuple(resolve(child, shell, f"{path}.routes[{i}]") for i, child in enumerate(node.routes))
    return Route(**{**shell.__dict__, "children": children})


def by_path(root: Route) -> dict[str, Route]:
    """Every route of the tree by its key path (a group key starts with its route's path)."""
    out = {root.path: root}
    for child in root.children:
        out.update(by_path(child))
    return out


def routes_for(root: Route, labels: dict[str, str]) -> list[Route]:
    """The routes that notify for ``labels``: Alertmanager's depth-first walk."""
    def walk(node: Route) -> list[Route]:
        found: list[Route] = []
        for child in node.children:
            if matches_all(child.matchers, labels):
                found.extend(walk(child))
                if not child.continue_:
                    break
        return found or [node]

    return walk(root)


def merge(alerts: list[Alert], *, key: str, absorbed: list[Alert] | None = None) -> Alert:
    """One notification for a group: the posts of every alert, widest reach first. ``absorbed``
    alerts (a spike's brand's assassins) ride inside it, after the spike's own posts."""
    absorbed = absorbed or []
    if len(alerts) == 1 and not absorbed:
        return alerts[0]
    # A storm's sentence stands for a mixed group: it says the most; each post carries its own why.
    alerts = sorted(alerts, key=lambda a: a.kind not in ("spike", "drop"))
    first = alerts[0]
    kinds = sorted({a.kind for a in alerts})
    sources = sorted({a.source for a in alerts if a.source})
    by_reach = lambda js: sorted(js, key=lambda j: -j.reach.high)  # noqa: E731
    mentions, seen = [], set()
    for j in by_reach([j for a in alerts for j in a.mentions]) + by_reach([j for a in absorbed for j in a.mentions]):
        if (j.mention.source, j.mention.id) not in seen:  # a storm's own post may also be an absorbed assassin's
            seen.add((j.mention.source, j.mention.id))
            mentions.append(j)
    severity = "critical" if any(a.severity == "critical" for a in alerts + absorbed) else first.severity
    if len(alerts) == 1:
        reason = first.reason
    elif kinds == ["assassin"]:
        reason = f"{len(mentions)} assassin posts about {first.brand}"
    else:
        reason = first.reason + f" (and {len(alerts) - 1} more {'/'.join(kinds)} alert{'s' if len(alerts) > 2 else ''})"
    if absorbed:
        reason += f" (with {len(absorbed)} assassin post{'s' if len(absorbed) > 1 else ''} of {first.brand} inside)"
    return Alert(
        key=key, kind=kinds[0] if len(kinds) == 1 else "group", brand=first.brand,
        source=sources[0] if len(sources) == 1 else f"{len(sources)} sources",
        severity=severity, reason=reason, mentions=tuple(mentions), created_at=first.created_at,
        details=first.details,
        starts_at=min((a.starts_at for a in alerts if a.starts_at), default=None),
        ends_at=max((a.ends_at for a in alerts if a.ends_at), default=None),
    )


def silenced_by(labels: dict[str, str], silences: list[dict], now: datetime) -> dict | None:
    """The active silence matching ``labels``, if any (``silences``: rows with parsed matchers)."""
    for silence in silences:
        if silence["starts_at"] <= now < silence["expires_at"] and matches_all(silence["matchers"], labels):
            return silence
    return None
