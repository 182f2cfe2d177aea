"""Every benchmark script still imports what it uses (they are not run by the suite: they time)."""

from __future__ import annotations

import importlib.util

import pytest

from tests.support import ROOT

SCRIPTS = sorted((ROOT / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_benchmark_imports(path) -> None:
    spec = importlib.util.spec_from_file_location(f"benchmark_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # module level only defines; main() runs under __name__ == "__main__"
    assert hasattr(module, "main") or any(callable(v) for v in vars(module).values())
