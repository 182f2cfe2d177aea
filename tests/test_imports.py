"""Who may import whom, as ../shared/STYLE.md draws the house (an AST walk over the packages).

- judgement (monitor/judgement/) imports only monitor.models, monitor.errors and its own package;
- connectors/ and alerts/ import only monitor.models, monitor.errors and their own package;
- the store (monitor/store/) imports only monitor.models, monitor.errors and its own package:
  it keeps, it does not judge;
- the config schema (monitor.config, monitor.config_alerts, monitor.config_check) imports the
  connectors (each connector owns its options: one connector per module), alerts.router (the
  label and matcher syntax: the config refuses exactly what the router could not run) and
  judgement's value types (spike settings, the assassin threshold, the keyword syntax), never
  what runs: the store, the runtime, ingest, watch, pipeline, scheduler (the runtime builds
  parts from the config, not the other way round);
- nothing imports monitor.cli (the command line, a package of its own) but itself and ``python -m monitor``.

Third-party and standard-library imports are free, and so are imports only for type hints
(under ``if TYPE_CHECKING:``). A new exception is a design decision: change
the rule here, in the open, not in an allow-list.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import ROOT

SHARED = ("monitor.models", "monitor.errors")
RULES = {  # package → what of ours it may import besides itself
    "monitor.judgement": SHARED,
    "monitor.store": SHARED,
    "connectors": SHARED,
    "alerts": SHARED,
}
SCHEMA = SHARED + ("connectors", "alerts.router", "monitor.judgement", "monitor.config", "monitor.config_alerts")
for _schema in ("monitor.config", "monitor.config_alerts", "monitor.config_check"):
    RULES[_schema] = SCHEMA
OURS = ("monitor", "connectors", "alerts")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree: ast.AST):
    """Every node but those under ``if TYPE_CHECKING:`` (a name for a type hint is no dependency)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING":
                stack.extend(child.orelse)
                continue
            stack.append(child)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of ours, at any depth (function-level imports count; those
    only for type hints do not)."""
    found = []
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            found += [(node.lineno, name) for name in names]
    return [(line, name) for line, name in found if name.split(".")[0] in OURS]


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


FILES = sorted(p for top in OURS for p in (ROOT / top).rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_module_imports_only_what_its_layer_may(path: Path) -> None:
    module = module_name(path)
    package = next((p for p in RULES if within(module, p)), None)
    wrong = []
    for line, name in imports_of(path):
        if within(name, "monitor.cli") and not within(module, "monitor.cli") and module != "monitor.__main__":
            wrong.append(f"line {line}: {name} (nothing imports the command line)")
        if package and not (within(name, package) or any(within(name, allowed) for allowed in RULES[package])):
            wrong.append(f"line {line}: {name} ({package} may import only {', '.join(RULES[package])} and itself)")
    assert not wrong, f"{module}:\n  " + "\n  ".join(wrong)


def test_the_rule_sees_every_package() -> None:
    assert {module_name(p).split(".")[0] for p in FILES} == set(OURS)
    assert any(within(module_name(p), "monitor.judgement") for p in FILES)
