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


def _load(name: str):
    path = ROOT / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_threshold_is_chosen_without_the_set_it_is_reported_on() -> None:
    evaluation = _load("sentiment_eval")
    low, high = evaluation.THRESHOLDS[2], evaluation.THRESHOLDS[-2]
    margins = {
        "a": {t: (0.05 if t == low else -0.2) for t in evaluation.THRESHOLDS},  # wants the low threshold
        "b": {t: (0.04 if t == high else -0.1) for t in evaluation.THRESHOLDS},  # wants the high one
        "c": {t: 0.0 for t in evaluation.THRESHOLDS},  # indifferent
    }
    assert evaluation.choose_threshold(margins, leave_out="a") == high  # a's own wish is not asked
    assert evaluation.choose_threshold(margins, leave_out="b") == low
    # with every set: the worst set's margin decides (b's -0.1 at low beats a's -0.2 at high)
    assert evaluation.choose_threshold(margins) == low
    # a tie goes to the threshold nearest even odds
    assert evaluation.choose_threshold({"c": margins["c"]}) == 0.5
