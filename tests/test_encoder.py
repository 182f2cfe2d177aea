"""The sentence encoder (monitor/judgement/encoder.py): the real all-MiniLM-L6-v2 weights, checked
against their pins, in numpy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from monitor.judgement import encoder as encoders


@pytest.fixture(scope="module")
def encoder() -> encoders.Encoder:
    return encoders.load()


def test_sentences_that_mean_the_same_are_nearer_than_ones_that_do_not(encoder: encoders.Encoder) -> None:
    down, outage, praise, cat = encoder.encode(["Acme Cloud is down again, nothing loads", "Another Acme Cloud outage today",
                                                "I love Acme Cloud, it just works", "My cat sleeps all afternoon"])
    assert abs(float(down @ down) - 1.0) < 1e-5, "unit vectors"
    assert float(down @ outage) > float(down @ praise) > float(down @ cat)
    assert float(down @ outage) > 0.5 > float(down @ cat)


def test_a_batch_reads_each_text_as_alone(encoder: encoders.Encoder) -> None:
    """Texts of other lengths in the same batch (padding) change nothing."""
    texts = ["short", "Third Acme Cloud outage this month, I want a refund", "ok " * 200]
    together = encoder.encode(texts)
    for text, vector in zip(texts, together):
        assert float(abs(encoder.encode([text])[0] - vector).max()) < 1e-5


def test_copies_that_differ_in_numbers_or_links_are_the_same_vector(encoder: encoders.Encoder) -> None:
    copies = [f"Third Acme Cloud outage this month, I want a refund #{n}" for n in (7, 29, 143, 2026)]
    copies += ["Acme Cloud ate my files https://example.com/a?b=1", "Acme Cloud ate my files www.example.org/x"]
    vectors = encoder.encode(copies)
    assert float(abs(vectors[:4] - vectors[0]).max()) == 0.0
    assert float(abs(vectors[4] - vectors[5]).max()) == 0.0


def test_weights_other_than_the_pinned_ones_are_refused(tmp_path: Path) -> None:
    folder = encoders.locate()
    (tmp_path / "model.safetensors").symlink_to(folder / "model.safetensors")
    changed = (folder / "tokenizer.json").read_bytes().replace(b'"[UNK]"', b'"[UNX]"', 1)
    (tmp_path / "tokenizer.json").write_bytes(changed)
    with pytest.raises(encoders.EncoderUnavailable, match=r"tokenizer\.json is not all-MiniLM-L6-v2's"):
        encoders.load(tmp_path)
    shutil.copy(folder / "tokenizer.json", tmp_path / "tokenizer.json")
    assert encoders.load(tmp_path).encode(["fine"]).shape == (1, encoders.DIMENSIONS)


def test_missing_weights_say_how_to_install_them(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MONITOR_ENCODER_DIR", str(tmp_path))
    with pytest.raises(encoders.EncoderUnavailable, match="model.safetensors is missing"):
        encoders.load()
