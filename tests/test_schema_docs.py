"""monitor/schema.md is the store's documentation: every table, view and column in it, every example query runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor.store import Store
from tests.support import ROOT

DOC = (ROOT / "monitor" / "schema.md").read_text(encoding="utf-8")


def sections() -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r"^## `([a-z_]+)`\n(.*?)(?=^## |\Z)", DOC, re.M | re.S)}


def test_every_table_view_and_column_is_documented(tmp_path: Path) -> None:
    documented = sections()
    missing = []
    with Store(tmp_path / "m.db") as store:
        names = [row[0] for row in store.db.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'"
            " AND name NOT LIKE 'mentions_fts_%' ORDER BY name")]
        for name in names:
            columns = [row[1] for row in store.db.execute(f"PRAGMA table_info({name})")]
            if name not in documented:
                missing.append(f"{name} (no section)")
                continue
            missing += [f"{name}.{column}" for column in columns if f"`{column}`" not in documented[name]]
    assert missing == [], "document these in monitor/schema.md"
    assert set(documented) <= set(names), "monitor/schema.md names a table the store does not have"


@pytest.mark.parametrize("query", [q.strip() for q in re.split(r";\s*\n", DOC.split("## Examples")[1].split("```sql")[1]
                                                                   .split("```")[0]) if q.strip()],
                         ids=lambda q: q.splitlines()[0][3:40])
def test_every_example_query_runs(tmp_path: Path, query: str) -> None:
    from tests.test_store import _mixed

    with Store(tmp_path / "m.db") as store:
        store.save_mentions(_mixed(12), fetched_at=_mixed(1)[0].mention.published_at)
        store.db.execute(query).fetchall()
