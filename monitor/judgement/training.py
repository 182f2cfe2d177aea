"""Fitting the learned layer's heads: NB-scaled logistic regression over per-word n-grams.

Texts and labels in, a head (as ``learned.Head`` stores it) out; numpy only (it is already here
for language detection), loaded only when a model is trained. The optimiser is L-BFGS with a fixed
iteration cap and no randomness, so the same data give the same weights (to the 1e-5 they are
rounded to). The objective is scikit-learn's ``LogisticRegression``: C × the weighted log-loss
plus half the squared weights (the bias is free), classes weighted to balance, so the result
matches its ``lbfgs`` solver to the optimiser's tolerance.

A head can also be refit *from* another (``prior``): the squared distance to the prior's weights
replaces the squared weights, so a site's few hundred labels move the shipped weights where they
disagree and leave the rest as the shipped data set them.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.judgement.learned import DENSE, word_grams

MIN_DF = 2  # an n-gram seen in one text only says nothing general
ROUND = 5  # weights are stored to 1e-5


@dataclass
class Matrix:
    """Texts as sparse per-word n-gram counts (CSR arrays) over a vocabulary."""

    vocab: dict[str, int]
    indptr: object  # numpy arrays
    indices: object
    data: object
    rows: object  # the row of each stored value

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.indptr) - 1, len(self.vocab)


def featurize(texts: list[list[str]], vocab: dict[str, int] | None = None, *, min_df: int = MIN_DF) -> Matrix:
    """Count each text's n-grams over its distinct words (``texts``: each its distinct words);
    a new vocabulary keeps the n-grams of at least ``min_df`` texts."""
    import numpy as np

    if vocab is None:
        df: dict[str, int] = {}
        for words in texts:
            for gram in {g for w in words for g in word_grams(w)}:
                df[gram] = df.get(gram, 0) + 1
        vocab = {g: i for i, g in enumerate(sorted(g for g, n in df.items() if n >= min_df))}
    indptr, indices, data = [0], [], []
    for words in texts:
        counts: dict[int, int] = {}
        for w in words:
            for gram in word_grams(w):
                j = vocab.get(gram)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
        for j in sorted(counts):
            indices.append(j)
            data.append(counts[j])
        indptr.append(len(indices))
    indptr_a = np.array(indptr, dtype=np.int64)
    rows = np.repeat(np.arange(len(texts)), np.diff(indptr_a))
    return Matrix(vocab, indptr_a, np.array(indices, dtype=np.int64), np.array(data, dtype=np.float64), rows)


def scaled(matrix: Matrix, lengths, length: int):
    """The counts scaled as the model reads them: a text with more distinct words than ``length``
    at the density of one with ``length``."""
    import numpy as np

    factor = np.minimum(1.0, length / np.maximum(1, np.asarray(lengths, dtype=np.float64)))
    return matrix.data * factor[matrix.rows]


def nb_ratio(matrix: Matrix, values, labels, weights):
    """Wang & Manning's log-count ratio of each n-gram between the two classes (add-one smoothed)."""
    import numpy as np

    n_features = matrix.shape[1]
    w = np.asarray(weights, dtype=np.float64)[matrix.rows] * values
    y = np.asarray(labels)[matrix.rows]
    pos = np.bincount(matrix.indices, weights=w * (y == 1), minlength=n_features) + 1.0
    neg = np.bincount(matrix.indices, weights=w * (y == 0), minlength=n_features) + 1.0
    return np.log((pos / pos.sum()) / (neg / neg.sum()))


def fit_head(matrix: Matrix, values, dense, labels, *, weights=None, c: float, nb: bool = True,
             prior: dict | None = None, start: dict | None = None, iterations: int = 300) -> dict:
    """One head: {"bias", "dense": {name: w}, "grams": {gram: w}} with each gram's weight already
    multiplied by its NB ratio (so a text's logit is a plain sum over its counted grams).

    ``values``: the stored counts as scaled (see ``scaled``); ``dense``: rows of DENSE features;
    ``weights``: per-text sample weights (1 by default); ``prior``: a head to stay near;
    ``start``: a head to start the optimiser from (a warm start: the same optimum, sooner).
    """
    import numpy as np

    n, n_features = matrix.shape
    y = np.asarray(labels, dtype=np.float64)
    sample = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    counts = np.array([np.sum(y == 0), np.sum(y == 1)], dtype=np.float64)
    balance = np.where(y == 1, n / (2 * max(counts[1], 1)), n / (2 * max(counts[0], 1)))
    s = sample * balance
    ratio = nb_ratio(matrix, values, y, sample) if nb and prior is None else np.ones(n_features)
    x = values * ratio[matrix.indices]
    d = np.asarray(dense, dtype=np.float64).reshape(n, len(DENSE))
    sign = 2 * y - 1
    inverse = {j: g for g, j in matrix.vocab.items()}
    center = np.zeros(n_features + len(DENSE))
    if prior is not None:
        grams = prior["grams"]
        center[:n_features] = [grams.get(inverse[j], 0.0) for j in range(n_features)]
        center[n_features:] = [prior["dense"].get(k, 0.0) for k in DENSE]
    theta0 = np.concatenate([center, [prior["bias"] if prior else 0.0]])
    if start is not None:
        grams = start["grams"]
        theta0[:n_features] = [grams.get(inverse[j], 0.0) / ratio[j] for j in range(n_features)]
        theta0[n_features:-1] = [start["dense"].get(k, 0.0) for k in DENSE]
        theta0[-1] = start["bias"]

    def objective(theta):
        w, v, b = theta[:n_features], theta[n_features:-1], theta[-1]
        z = np.bincount(matrix.rows, weights=x * w[matrix.indices], minlength=n) + d @ v + b
        margin = sign * z
        loss = np.logaddexp(0.0, -margin)
        g = -sign * s * _sigmoid(-margin)
        grad_w = c * np.bincount(matrix.indices, weights=x * g[matrix.rows], minlength=n_features)
        grad_v = c * (d.T @ g)
        grad_b = c * g.sum()
        offset = theta[:-1] - center
        value = c * float(s @ loss) + 0.5 * float(offset @ offset)
        return value, np.concatenate([grad_w + offset[:n_features], grad_v + offset[n_features:], [grad_b]])

    theta = lbfgs(objective, theta0, iterations=iterations)
    w, v, b = theta[:n_features], theta[n_features:-1], theta[-1]
    combined = w * ratio
    return {
        "bias": round(float(b), ROUND),
        "dense": {k: round(float(x_), ROUND) for k, x_ in zip(DENSE, v)},
        "grams": {inverse[j]: round(float(combined[j]), ROUND) for j in np.flatnonzero(np.abs(combined) >= 10 ** -ROUND)},
    }


def _sigmoid(z):
    import numpy as np

    return 0.5 * (1.0 + np.tanh(0.5 * z))


def lbfgs(objective, start, *, iterations: int = 300, memory: int = 10, tolerance: float = 1e-5):
    """Minimise ``objective`` (value, gradient) from ``start``: L-BFGS with a backtracking
    (Armijo) line search; deterministic."""
    import numpy as np

    theta = start.astype(np.float64).copy()
    value, grad = objective(theta)
    steps: list[tuple] = []
    for _ in range(iterations):
        if np.max(np.abs(grad)) <= tolerance * max(1.0, abs(value)):
            break
        q = grad.copy()
        alphas = []
        for s_, y_, rho in reversed(steps):
            a = rho * (s_ @ q)
            alphas.append(a)
            q -= a * y_
        if steps:
            s_, y_, _ = steps[-1]
            q *= (s_ @ y_) / (y_ @ y_)
        else:
            q /= max(1.0, np.linalg.norm(grad))
        for (s_, y_, rho), a in zip(steps, reversed(alphas)):
            b = rho * (y_ @ q)
            q += s_ * (a - b)
        direction = -q
        slope = grad @ direction
        if slope >= 0:  # not a descent direction: start the memory over
            steps.clear()
            direction, slope = -grad, -(grad @ grad)
        step = 1.0
        while True:
            candidate = theta + step * direction
            new_value, new_grad = objective(candidate)
            if new_value <= value + 1e-4 * step * slope or step < 1e-10:
                break
            step *= 0.5
        s_, y_ = candidate - theta, new_grad - grad
        sy = s_ @ y_
        if sy > 1e-10:
            steps.append((s_, y_, 1.0 / sy))
            del steps[:-memory]
        theta, value, grad = candidate, new_value, new_grad
    return theta


def prepare(scorer, texts: list[str], brands: list[str | None] | None = None,
            rule: list[float] | None = None, vader: list[float] | None = None) -> tuple[list[list[str]], list[list[float]]]:
    """Each text as the learned layer reads it: its distinct words and its DENSE features, through
    the stages a post takes (HTML to plain text, then VADER and the cues, as ``score_all`` does);
    ``rule``, when given, collects the cue rule's score of each (what the layer replaces), ``vader``
    VADER's own compound (the layer reads it as the text means it: ``Reading.meant``)."""
    import re

    from monitor.judgement.assassin import cues, features, score_features
    from monitor.judgement.sentiment import layer_features
    from monitor.judgement.text import html_to_text

    words, dense = [], []
    for n, raw in enumerate(texts):
        text = html_to_text(raw)
        brand = brands[n] if brands else None
        about = re.compile(rf"\b{re.escape(brand)}", re.IGNORECASE) if brand else None
        reading = scorer.analyse(text, about)
        values = features(text, reading.compound, brand_compound=reading.about, found=cues(text), tone=reading.tone)
        row = layer_features(values, reading)
        if rule is not None:
            rule.append(score_features(values))
        if vader is not None:
            vader.append(reading.compound)
        words.append(reading.read_words(scorer.vader.lexicon))
        dense.append([row[k] for k in DENSE])
    return words, dense


def fit_model(words: list[list[str]], dense: list[list[float]], labels: list[int], heads: list[str], groups: list[str],
              *, c: dict[str, float], length: int, version: str, threshold: float = 0.5, meta: dict | None = None,
              iterations: int = 300, start: dict | None = None) -> dict:
    """Both heads on their texts (``heads``: which head each text teaches; ``groups``: its set,
    each set weighing the same within a head) into a model dict (see ``learned.Model``)."""
    import numpy as np

    out = {"version": version, "length": length, "threshold": threshold, "meta": meta or {}, "heads": {}}
    for head in sorted(set(heads)):
        idx = [i for i, h in enumerate(heads) if h == head]
        sizes: dict[str, int] = {}
        for i in idx:
            sizes[groups[i]] = sizes.get(groups[i], 0) + 1
        weights = np.array([len(idx) / (len(sizes) * sizes[groups[i]]) for i in idx])
        matrix = featurize([words[i] for i in idx])
        values = scaled(matrix, [len(words[i]) for i in idx], length)
        warm = (start or {}).get("heads", {}).get(head)
        out["heads"][head] = fit_head(matrix, values, [dense[i] for i in idx], [labels[i] for i in idx],
                                      weights=weights, c=c[head], iterations=iterations, start=warm)
    return out


SITE_C = 1.0  # how far a site's labels may pull the shipped weights (C of the refit, the prior's pull is 1)


def refit_sentence(head: dict, vectors, dense: list[list[float]], labels: list[int], *, c: float = SITE_C) -> dict:
    """A sentence head refit on a site's labelled texts, held near ``head`` (the shipped one) as the
    word head's refit is: in the site texts' standardised units, C × the class-balanced log-loss
    plus half the squared distance to the shipped coefficients."""
    import numpy as np

    features = tuple(head["dense"])
    x, mean, scale = _sentence_features(vectors, dense, features)
    shipped = np.r_[np.asarray(head["vector"], dtype=np.float64), [head["dense"][k] for k in features]]
    weights = set_weights(["site"] * len(labels), labels) * c
    coef, bias = fit_logistic((x - mean) / scale, np.asarray(labels, dtype=np.float64), weights, 1.0,
                              center=shipped * scale)
    return _sentence_head(coef, bias, mean, scale, features, "site")


def refit(model: dict, words: list[list[str]], dense: list[list[float]], labels: list[int], *, c: float = SITE_C,
          meta: dict | None = None) -> dict:
    """The model with its complaint head refit on a site's labelled texts, starting from and held
    near the shipped head (the shipped data's summary); the negative head is kept as it is."""
    prior = model["heads"]["complaint"]
    matrix = featurize(words, min_df=1)
    values = scaled(matrix, [len(w) for w in words], model["length"])
    moved = fit_head(matrix, values, dense, labels, c=c, prior=prior)
    grams = dict(prior["grams"])
    grams.update(moved["grams"])
    for gram in matrix.vocab:  # a weight the refit drove to zero is zero now
        if gram not in moved["grams"]:
            grams.pop(gram, None)
    head = {"bias": moved["bias"], "dense": moved["dense"], "grams": grams}
    return {**model, "heads": {**model["heads"], "complaint": head}, "meta": {**model.get("meta", {}), **(meta or {})}}


def refit_all(model: dict, words: list[list[str]], dense: list[list[float]], labels: list[int], vectors=None, *,
              c: float = SITE_C, meta: dict | None = None) -> dict:
    """``refit``, and with ``vectors`` (the texts' sentence vectors) the sentence complaint head
    refit the same way; the negative heads are kept as they are."""
    out = refit(model, words, dense, labels, c=c, meta=meta)
    if vectors is not None and out.get("sentence"):
        sentence = out["sentence"]
        head = refit_sentence(sentence["heads"]["complaint"], vectors, dense, labels, c=c)
        out["sentence"] = {**sentence, "heads": {**sentence["heads"], "complaint": head}}
    return out


def call_all(model, words: list[list[str]], dense: list[list[float]], vectors=None, *, mode: str = "auto") -> list[float]:
    """The call's probability for each text as the monitor makes it: the word heads, and with
    ``vectors`` the sentence heads where the cascade (``mode``) would read the text."""
    from monitor.judgement.sentence import is_read

    calls = [model.call_words(w, dict(zip(DENSE, d))) for w, d in zip(words, dense)]
    if vectors is None or model.sentence is None or mode == "off":
        return [call.probability for call in calls]
    logits = model.sentence.logits(vectors, [call.dense for call in calls])
    return [model.cascade(call, heads, model.threshold).probability if is_read(call, model, mode) else call.probability
            for call, heads in zip(calls, logits)]


def cross_validate(model: dict, words: list[list[str]], dense: list[list[float]], labels: list[int], *,
                   folds: int = 10, c: float = SITE_C, vectors=None, mode: str = "auto") -> list[float]:
    """Each labelled text's probability from a refit on the other folds (stratified, in order);
    with ``vectors``, the sentence complaint head refit too and the call made as the monitor makes it."""
    import numpy as np

    from monitor.judgement.learned import Model

    out = [0.0] * len(labels)
    order = [i for i in range(len(labels)) if labels[i]] + [i for i in range(len(labels)) if not labels[i]]
    for k in range(folds):
        held = sorted(order[k::folds])
        kept = set(held)
        train = [i for i in range(len(labels)) if i not in kept]
        fitted = Model.from_dict(refit_all(model, [words[i] for i in train], [dense[i] for i in train],
                                           [labels[i] for i in train],
                                           None if vectors is None else np.asarray(vectors)[train], c=c))
        scores = call_all(fitted, [words[i] for i in held], [dense[i] for i in held],
                          None if vectors is None else np.asarray(vectors)[held], mode=mode)
        for i, score in zip(held, scores):
            out[i] = score
    return out


SENTENCE_STRENGTHS = (1.0, 10.0, 100.0, 1000.0)  # L2 strengths a sentence head chooses among (5-fold ROC-AUC)
SENTENCE_FOLDS = 5


def set_weights(groups: list[str], labels: list[int]):
    """Sample weights with each set weighing the same and each class half of its set (as the
    word heads are trained), summing to the number of texts."""
    import numpy as np

    groups_a, labels_a = np.asarray(groups), np.asarray(labels)
    out = np.zeros(len(labels_a))
    names = sorted(set(groups))
    for name in names:
        for label in (0, 1):
            chosen = (groups_a == name) & (labels_a == label)
            if chosen.any():
                out[chosen] = 1.0 / (2 * len(names) * chosen.sum())
    return out * len(labels_a)


def fit_logistic(x, y, weights, strength: float, center=None):
    """A weighted, L2-penalised logistic regression (the bias free) by Newton's method: a few
    hundred features, exact in about ten steps, deterministic. ``center``: coefficients to stay
    near (the penalty is on the distance to them; zero by default). Returns (coefficients, bias)."""
    import numpy as np

    xb = np.hstack([x, np.ones((len(x), 1))])
    middle = np.zeros(xb.shape[1]) if center is None else np.r_[center, 0.0]
    theta = middle.copy()
    penalty = np.r_[np.full(x.shape[1], strength), 0.0]
    for _ in range(50):
        p = _sigmoid(xb @ theta)
        gradient = xb.T @ (weights * (p - y)) + penalty * (theta - middle)
        hessian = (xb * (weights * p * (1 - p))[:, None]).T @ xb + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.abs(step).max() < 1e-9:
            break
    return theta[:-1], theta[-1]


def fit_sentence_head(vectors, dense: list[list[float]], labels: list[int], groups: list[str], *,
                      strength: float | None = None) -> dict:
    """A head on the sentence encoder's vector and the DENSE features (rows of ``dense``): a
    logistic regression on the standardised features, class-balanced and each set weighing the
    same, its L2 ``strength`` chosen among ``SENTENCE_STRENGTHS`` by 5-fold ROC-AUC on these texts
    alone when not given. Stored with the standardisation folded in: {"bias", "dense": {name:
    weight}, "vector", "strength"}, so a text's log-odds is one dot product."""
    import numpy as np

    x, mean, scale = _sentence_features(vectors, dense, DENSE)
    z = (x - mean) / scale
    y = np.asarray(labels, dtype=np.float64)
    weights = set_weights(groups, labels)
    if strength is None:
        fold = np.arange(len(y)) % SENTENCE_FOLDS
        np.random.default_rng(0).shuffle(fold)
        scores = {}
        for candidate in SENTENCE_STRENGTHS:
            out = np.zeros(len(y))
            for k in range(SENTENCE_FOLDS):
                coef, bias = fit_logistic(z[fold != k], y[fold != k], weights[fold != k], candidate)
                out[fold == k] = z[fold == k] @ coef + bias
            scores[candidate] = auc(out.tolist(), y.astype(int).tolist())
        strength = max(SENTENCE_STRENGTHS, key=lambda c: (scores[c], c))
    coef, bias = fit_logistic(z, y, weights, strength)
    return _sentence_head(coef, bias, mean, scale, DENSE, strength)


def _sentence_features(vectors, dense: list[list[float]], features: tuple[str, ...]):
    """[vector, the named DENSE features] per text, with the columns' means and spreads."""
    import numpy as np

    columns = [DENSE.index(name) for name in features]
    x = np.hstack([np.asarray(vectors, dtype=np.float64), np.asarray(dense, dtype=np.float64)[:, columns]])
    return x, x.mean(0), x.std(0) + 1e-6


def _sentence_head(coef, bias: float, mean, scale, features: tuple[str, ...], strength) -> dict:
    """A head as stored: the standardisation folded into its weights, rounded to ``ROUND``."""
    folded = coef / scale
    width = len(folded) - len(features)
    return {"bias": round(float(bias - mean @ folded), ROUND),
            "dense": {name: round(float(w), ROUND) for name, w in zip(features, folded[width:])},
            "vector": [round(float(v), ROUND) for v in folded[:width]], "strength": strength}


def auc(scores: list[float], labels: list[int]) -> float:
    """ROC-AUC by ranks (ties share their mean rank); NaN with one class only."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    pos = sum(labels)
    neg = len(labels) - pos
    if not pos or not neg:
        return float("nan")
    return (sum(r for r, y in zip(ranks, labels) if y) - pos * (pos + 1) / 2) / (pos * neg)


def f1(scores: list[float], labels: list[int], threshold: float) -> float:
    """F1 of calling ``scores`` ≥ ``threshold`` positive."""
    tp = sum(1 for s, y in zip(scores, labels) if s >= threshold and y)
    fp = sum(1 for s, y in zip(scores, labels) if s >= threshold and not y)
    fn = sum(1 for s, y in zip(scores, labels) if s < threshold and y)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0
