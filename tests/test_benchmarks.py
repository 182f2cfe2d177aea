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


def test_the_cascade_floor_keeps_the_call_and_the_order() -> None:
    train = _load("train_assassin")
    # Set "a": the four heads call the texts at fast 0.6 and above, and order every text as the
    # fast call does: the call's floor stands (nothing under it to mend).
    fast_a = [0.05, 0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.9]
    labels_a = [0, 0, 0, 1, 0, 1, 1, 1]
    assert train.floor_of(fast_a, fast_a, labels_a, ["a"] * 8) == 0.6
    # Set "b": its positives sit low in the fast call, and only the four heads lift them above its
    # negatives: lowered in steps of 0.01 until b's ROC-AUC is within 0.01 of the four heads' (at
    # 0.06 the positive at 0.05 is left tied with a negative the heads read down to 0.05: 0.967).
    fast_b = [0.05, 0.06, 0.12, 0.15, 0.22, 0.25, 0.27, 0.29]
    whole_b = [0.4, 0.45, 0.02, 0.03, 0.3, 0.01, 0.04, 0.05]
    labels_b = [1, 1, 0, 0, 1, 0, 0, 0]
    assert train.floor_of(fast_a + fast_b, fast_a + whole_b, labels_a + labels_b, ["a"] * 8 + ["b"] * 8) == 0.05
