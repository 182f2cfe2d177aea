"""The sentence encoder (monitor/judgement/encoder.py): the real all-MiniLM-L6-v2 weights, checked
against their pins, read in int8 by onnxruntime and by numpy."""

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
    monkeypatch.setattr(encoder, "_states", None)  # any encoding now would fail
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


def test_a_batch_keeps_each_texts_words_as_read_alone(encoder: encoders.Encoder) -> None:
    """``read`` hands back each text's token states (a batch of other lengths: padding), so naming
    its words needs no second pass, and they are the words of the text read alone; a text
    remembered from an earlier call has none (``words`` encodes it then)."""
    encoder.forget()
    texts = ["Acme Cloud ate my invoices again, ticket #4412", "short", "ok " * 200, "Great, Acme is down. Just great."]
    vectors, tokens = encoder.read(texts)
    assert float(abs(vectors - encoder.encode(texts)).max()) == 0.0
    for text, read_as in zip(texts, tokens):
        assert read_as is not None and read_as.text == encoders.steady_text(text)
        for (word, share), (same, alone) in zip(encoder.words(text, read_as), encoder.words(text), strict=True):
            assert word == same and float(abs(share - alone).max()) < 1e-5
    assert encoder.read(texts[:1])[1] == [None]  # remembered: not encoded again


def test_onnxruntime_runs_the_same_graph_as_numpy(encoder: encoders.Encoder) -> None:
    """The graph built from the pinned weights (encoder_graph) computes numpy's int8 reading: the
    same vectors and word shares, to the rounding of each token's activations (a last-bit
    difference in a float sum can move a value across a rounding step, and six layers carry it on);
    it is kept in the cache folder under the weights' sha256 and read from there."""
    assert encoder.backend == "onnxruntime"
    by_numpy = encoders.load(backend="numpy")
    assert by_numpy.backend == "numpy"
    texts = ["Acme Cloud ate my invoices again, ticket #4412", "short", "ok " * 200, "Great, Acme is down. Just great."]
    assert float(((encoder.encode(texts) * by_numpy.encode(texts)).sum(1)).min()) > 0.98
    for (word, share), (same, other) in zip(encoder.words(texts[0]), by_numpy.words(texts[0]), strict=True):
        assert word == same and float(abs(share - other).max()) < 0.02
    from monitor.judgement.language import cache_folder

    assert (cache_folder() / encoders.GRAPH_FILE).is_file()
    assert encoders.GRAPH_FILE.startswith(f"all-MiniLM-L6-v2-{encoders.FILES_SHA256['model.safetensors'][:16]}")


def test_the_int8_reading_sums_exactly_and_stays_near_the_float_product() -> None:
    """Each product's weights in 7 bits per column and each token's activations in 8 bits: the
    integer sums are exact (float32 holds them: under 2**24), and each token's product stays within
    cosine 0.999 of the float one (six layers of it keep the vectors within 0.99 of float32's)."""
    import numpy as np
    from safetensors.numpy import load_file

    weights = load_file(str(encoders.locate() / "model.safetensors"))
    name = next(k for k in weights if k.endswith("encoder.layer.0.intermediate.dense.weight"))
    matrix = np.ascontiguousarray(weights[name].T)  # 384 × 1536: the largest product
    steps, scales = encoders._quantized(np, matrix)
    assert steps.dtype == np.int8 and int(abs(steps).max()) == encoders.WEIGHT_STEPS
    x = np.random.default_rng(1).standard_normal((40, 384)).astype(np.float32) * 3
    x[0] = 0.0  # a token of zeros has a product of zeros
    got = encoders._product(np, x, steps, scales)
    scale = np.maximum(abs(x).max(1, keepdims=True), encoders.TINY) / encoders.ACTIVATION_STEPS
    exact = (np.rint(x / scale).astype(np.int64) @ steps.astype(np.int64)).astype(np.float32) * scale * scales
    assert float(abs(got - exact).max()) == 0.0
    assert float(abs(got[0]).max()) == 0.0
    true = (x @ matrix)[1:]
    cosines = (got[1:] * true).sum(1) / np.linalg.norm(got[1:], axis=1) / np.linalg.norm(true, axis=1)
    assert float(cosines.min()) > 0.999


def test_the_word_table_is_read_in_8_bits_per_word_and_the_graph_stays_small(encoder: encoders.Encoder) -> None:
    """The word-embedding table (30,522 × 384, 45 MB in float32: half the model) in 8-bit integers
    per row with the row's scale: every value within half a step of its word's scale, and the graph
    in the cache folder under 30 MB (59 MB with the table in float32)."""
    import numpy as np
    from safetensors.numpy import load_file

    from monitor.judgement.language import cache_folder

    weights = load_file(str(encoders.locate() / "model.safetensors"))
    table = weights[next(k for k in weights if k.endswith("embeddings.word_embeddings.weight"))]
    steps, scales = encoders._rows(np, table)
    assert steps.dtype == np.int8 and int(abs(steps).max()) == encoders.WORD_STEPS
    assert float((abs(steps * scales[:, None] - table) / scales[:, None]).max()) <= 0.5 + 1e-3
    encoder.encode(["Acme Cloud lost my files"])
    assert (cache_folder() / encoders.GRAPH_FILE).stat().st_size < 30_000_000


def test_a_damaged_copy_of_the_graph_is_built_again(encoder: encoders.Encoder) -> None:
    from monitor.judgement.language import cache_folder

    kept = cache_folder() / encoders.GRAPH_FILE
    good = kept.read_bytes()
    kept.write_bytes(good[: len(good) // 2])  # a disk that filled up half-way
    stale = cache_folder() / f"all-MiniLM-L6-v2-{encoders.FILES_SHA256['model.safetensors'][:16]}.onnx"
    stale.write_bytes(b"an earlier reading's graph")  # the float32 one of earlier versions
    again = encoders.load()
    assert again.backend == "onnxruntime" and kept.read_bytes() == good
    assert not stale.exists()  # the cache folder keeps the graph in use only
    text = ["Acme Cloud lost my files"]
    encoder.forget()
    assert float(abs(again.encode(text) - encoder.encode(text)).max()) == 0.0
