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
    """Texts of other lengths in the same batch (padding) change nothing (each read alone by an
    encoder that has not seen it)."""
    texts = ["short", "Third Acme Cloud outage this month, I want a refund", "ok " * 200]
    together = encoder.encode(texts)
    for text, vector in zip(texts, together):
        assert float(abs(encoders.load().encode([text])[0] - vector).max()) < 1e-5


def test_a_text_read_lately_is_not_encoded_again_and_the_memory_is_bounded(encoder: encoders.Encoder,
                                                                           monkeypatch) -> None:
    first = encoder.encode(["Acme Cloud lost my invoices #12", "another post"])
    monkeypatch.setattr(encoder, "_forward", None)  # any encoding now would fail
    again = encoder.encode(["Acme Cloud lost my invoices #99"])  # the same text as read (numbers as 0)
    assert float(abs(again[0] - first[0]).max()) == 0.0
    monkeypatch.undo()
    monkeypatch.setattr(encoders, "REMEMBERED", 3)
    encoder.encode([f"post number {w}" for w in ("one", "two", "three", "four", "five")])
    assert len(encoder._seen) == 3


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


def test_a_vector_is_taken_apart_by_word(encoder: encoders.Encoder) -> None:
    """Each word's share of the pooled vector (its tokens' states over the count and the norm):
    the shares of the words, with the two marker tokens', add up to the unit vector."""
    text = "Acme Cloud ate my invoices again, ticket #4412"
    words = encoder.words(text)
    assert [w for w, _ in words] == ["Acme", "Cloud", "ate", "my", "invoices", "again", ",", "ticket", "#", "0"]
    (vector,) = encoder.encode([text])
    total = sum(share for _, share in words)
    cosine = float(total @ vector) / float((total @ total) ** 0.5)
    assert cosine > 0.95 and 0.7 < float(total @ vector) < 1.0  # the markers hold the rest


def test_onnxruntime_runs_the_same_graph_as_numpy(encoder: encoders.Encoder) -> None:
    """The graph built from the pinned weights (encoder_graph) gives numpy's vectors, and its word
    shares; it is kept in the cache folder under the weights' sha256 and read from there."""
    assert encoder.backend == "onnxruntime"
    by_numpy = encoders.load(backend="numpy")
    assert by_numpy.backend == "numpy"
    texts = ["Acme Cloud ate my invoices again, ticket #4412", "short", "ok " * 200, "Great, Acme is down. Just great."]
    assert float(abs(encoder.encode(texts) - by_numpy.encode(texts)).max()) < 1e-5
    for (word, share), (same, other) in zip(encoder.words(texts[0]), by_numpy.words(texts[0])):
        assert word == same and float(abs(share - other).max()) < 1e-5
    from monitor.judgement.language import cache_folder

    (kept,) = cache_folder().glob("all-MiniLM-L6-v2-*.onnx")
    assert kept.name == f"all-MiniLM-L6-v2-{encoders.FILES_SHA256['model.safetensors'][:16]}.onnx"


def test_a_damaged_copy_of_the_graph_is_built_again(encoder: encoders.Encoder) -> None:
    from monitor.judgement.language import cache_folder

    (kept,) = cache_folder().glob("all-MiniLM-L6-v2-*.onnx")
    good = kept.read_bytes()
    kept.write_bytes(good[: len(good) // 2])  # a disk that filled up half-way
    again = encoders.load()
    assert again.backend == "onnxruntime" and kept.read_bytes() == good
    text = ["Acme Cloud lost my files"]
    assert float(abs(again.encode(text) - encoders.load(backend="numpy").encode(text)).max()) < 1e-5
