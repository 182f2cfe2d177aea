"""What each source's runs will ask of its API, against the limit the API documents.

``monitor check-config`` prints it, so an admin learns before the first run that a source's
rules would spend an API's hour in a minute (and what to change), not from a day of 429s.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Sequence

from connectors import REGISTRY
from connectors.quota import Cost
from monitor.config import Config
from monitor.judgement.matching import check_rule
from monitor.models import Query, format_duration


def source_costs(config: Config, queries: Sequence[Query] | None = None) -> tuple[list[str], list[str]]:
    """A line per searched source that says its cost (feeds, whose cost the rules do not change,
    are left out), and a warning per source whose runs would spend more than its limit.
    ``queries``: the brands' rules as searches (read from ``config`` when not given)."""
    if queries is None:  # each rule read, not compiled: what the connectors are given, in seconds
        queries = tuple(dict.fromkeys(check_rule(rule)[2] for brand in config.brands for rule in brand.keywords))
    lines, warnings = [], []
    for options in config.sources:
        cost_of = getattr(REGISTRY[options.type], "cost", None)
        if cost_of is None:
            continue
        cost: Cost = cost_of(options, queries)
        unit = cost.quota.unit if cost.quota else "requests"
        line = (f"  {options.name} ({options.type}, every {format_duration(options.every)}): "
                f"{cost.amount:,} {unit[:-1] if cost.amount == 1 else unit} a run ({cost.how})")
        spent = cost.per_period(options.every)
        if cost.quota is not None and spent is not None:
            line += f"; {spent:,.{1 if spent < 10 else 0}f} of {cost.quota}"
            if spent > cost.quota.amount:
                warnings.append(_over(options.name, options.every, cost, spent))
        if cost.warning:
            warnings.append(f"source {options.name}: {cost.warning}")
        lines.append(line)
    return lines, warnings


def _over(name: str, every: timedelta, cost: Cost, spent: float) -> str:
    quota = cost.quota
    assert quota is not None
    fits = quota.per * cost.amount / quota.amount
    fix = (f"set every: {format_duration(timedelta(minutes=math.ceil(fits.total_seconds() / 60)))} or more, or give it fewer rules (brands: binds it to some)"
           if cost.amount <= quota.amount else
           "one run alone is more than the limit: give it fewer rules (brands: binds it to some)")
    return (f"source {name}: its runs every {format_duration(every)} would ask {spent:,.0f} {quota.unit} where the API allows "
            f"{quota}: {fix}")

