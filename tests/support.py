"""Constants and helpers the tests share."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
# CI clones the repository with shared/ beside it; MONITOR_SHARED_DIR points elsewhere.
SHARED = Path(os.environ.get("MONITOR_SHARED_DIR", ROOT.parent / "shared"))
NOW = datetime(2026, 11, 23, 11, 0, tzinfo=timezone.utc)


def fixture_bytes(name: str) -> bytes:
    """A file from tests/fixtures."""
    return (FIXTURES / name).read_bytes()


def all_strings(value) -> list[str]:
    """Every string inside a JSON-like value (a Slack payload), depth first."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in all_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in all_strings(v)]
    return []
