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
