"""Bias measures beyond WEAT: relative norm distance (Garg et al. 2018), ECT (Dev & Phillips
2019), RNSB (Sweeney & Najafian 2019), and Bolukbasi et al.'s gender direction, projections and
direct bias. Each reports the words it could not find.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from textkit.bias.embeddings import Embeddings
from textkit.bias.wordsets import prepare_sets

__all__ = [
    "DirectionResult",
    "ECTResult",
    "RNDResult",
    "RNSBResult",
    "direct_bias",
    "ect",
    "gender_direction",
    "project",
    "relative_norm_distance",
    "relative_norm_distance_vectors",
    "rnsb",
]


@dataclass(frozen=True)
class RNDResult:
    """``value = sum_v (||v - mean(group1)|| - ||v - mean(group2)||)``: negative when the neutral
    words sit closer to group 1. ``per_word`` holds each neutral word's term."""

    value: float
    per_word: dict[str, float]
    missing: dict[str, list[str]]
    normalized: bool

    @property
    def mean(self) -> float:
        return self.value / max(1, len(self.per_word))

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "mean": self.mean,
            "normalized": self.normalized,
            "per_word": self.per_word,
            "missing": self.missing,
        }


def relative_norm_distance_vectors(
    G1: np.ndarray, G2: np.ndarray, V: np.ndarray, *, normalize: bool = True
) -> np.ndarray:
    """Per-neutral-word terms ``||v - mean(G1)|| - ||v - mean(G2)||`` (rows unit-scaled first
    when ``normalize``, as Garg et al. do)."""

    def prep(m: np.ndarray) -> np.ndarray:
        m = np.asarray(m, dtype=np.float64)
        if normalize:
            norms = np.linalg.norm(m, axis=1, keepdims=True)
            if np.any(norms == 0) or not np.all(np.isfinite(norms)):
                raise ValueError("zero or non-finite vectors cannot be normalized")
            m = m / norms
        return m

    G1, G2, V = prep(G1), prep(G2), prep(V)
    m1, m2 = G1.mean(axis=0), G2.mean(axis=0)
    return np.linalg.norm(V - m1, axis=1) - np.linalg.norm(V - m2, axis=1)


def relative_norm_distance(
    emb: Embeddings,
    group1: Sequence[str],
    group2: Sequence[str],
    neutral_words: Sequence[str],
    *,
    normalize: bool = True,
    min_size: int = 1,
    max_missing_fraction: float | None = 0.5,
) -> RNDResult:
    """Garg et al.'s relative norm distance of ``neutral_words`` between two groups.

    With group1 = men's words and group2 = women's words, a neutral word's term is negative
    when it is closer to the men's average vector. Missing words are reported per set; too few
    present raises :class:`~textkit.bias.wordsets.InsufficientWordsError`.
    """
    sets = prepare_sets(
        emb,
        {"group1": group1, "group2": group2, "neutral": neutral_words},
        min_size=min_size,
        max_missing_fraction=max_missing_fraction,
        target_keys=None,
        exclusive_pairs=(("group1", "group2"),),
        test_name="relative norm distance",
    )
    g1, g2, v = (sets.words[k] for k in ("group1", "group2", "neutral"))
    terms = relative_norm_distance_vectors(
        emb.matrix(g1, unit=False), emb.matrix(g2, unit=False), emb.matrix(v, unit=False), normalize=normalize
    )
    return RNDResult(float(terms.sum()), {w: float(t) for w, t in zip(v, terms, strict=True)}, sets.missing, normalize)


@dataclass(frozen=True)
class ECTResult:
    """Spearman correlation between the attribute words' similarities to the two groups'
    mean vectors: 1 means no difference in how attributes relate to the groups."""

    rho: float
    p_value: float
    similarities: dict[str, tuple[float, float]]
    missing: dict[str, list[str]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rho": self.rho,
            "p_value": self.p_value,
            "similarities": {k: list(v) for k, v in self.similarities.items()},
            "missing": self.missing,
        }


def ect(
    emb: Embeddings,
    group1: Sequence[str],
    group2: Sequence[str],
    attributes: Sequence[str],
    *,
    min_size: int = 2,
    max_missing_fraction: float | None = 0.5,
) -> ECTResult:
    """Embedding Coherence Test (Dev & Phillips 2019)."""
    from scipy.stats import spearmanr

    sets = prepare_sets(
        emb,
        {"group1": group1, "group2": group2, "attributes": attributes},
        min_size=min_size,
        max_missing_fraction=max_missing_fraction,
        target_keys=None,
        exclusive_pairs=(("group1", "group2"),),
        test_name="ECT",
    )
    g1, g2, at = (sets.words[k] for k in ("group1", "group2", "attributes"))
    if len(at) < 3:
        raise ValueError(f"ECT needs at least 3 attribute words present, got {at}")
    m1, m2 = emb.matrix(g1).mean(axis=0), emb.matrix(g2).mean(axis=0)
    m1, m2 = m1 / np.linalg.norm(m1), m2 / np.linalg.norm(m2)
    W = emb.matrix(at)
    s1, s2 = W @ m1, W @ m2
    rho, p = spearmanr(s1, s2)
    return ECTResult(
        float(rho), float(p), {w: (float(a), float(b)) for w, a, b in zip(at, s1, s2, strict=True)}, sets.missing
    )


@dataclass(frozen=True)
class RNSBResult:
    """KL divergence of the normalized negative-sentiment probabilities of the identity groups
    from the uniform distribution (0 = no group singled out)."""

    kl_divergence: float
    probabilities: dict[str, float]
    negative_probability: dict[str, float]
    missing: dict[str, list[str]]
    classifier_accuracy: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "kl_divergence": self.kl_divergence,
            "probabilities": self.probabilities,
            "negative_probability": self.negative_probability,
            "missing": self.missing,
            "classifier_accuracy": self.classifier_accuracy,
        }


def rnsb(
    emb: Embeddings,
    groups: Mapping[str, Sequence[str]],
    positive: Sequence[str],
    negative: Sequence[str],
    *,
    seed: int = 0,
    test_size: float = 0.2,
    max_missing_fraction: float | None = None,
) -> RNSBResult:
    """Relative Negative Sentiment Bias (Sweeney & Najafian 2019).

    A logistic regression learns negative (1) vs positive (0) sentiment words; each identity
    group's probability of being negative is the mean over its words, normalized over groups;
    the result is the KL divergence from uniform. Held-out accuracy is reported so a useless
    classifier is visible. ``positive`` / ``negative`` default in reports to Hu & Liu's opinion
    lexicon (``wefe-data``).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    if len(groups) < 2:
        raise ValueError("RNSB needs at least two identity groups")
    named = {"positive": positive, "negative": negative, **{f"group:{k}": v for k, v in groups.items()}}
    sets = prepare_sets(
        emb,
        named,
        min_size=1,
        max_missing_fraction=max_missing_fraction,
        target_keys=None,
        exclusive_pairs=(("positive", "negative"),),
        test_name="RNSB",
    )
    pos, neg = sets.words["positive"], sets.words["negative"]
    if len(pos) < 5 or len(neg) < 5:
        raise ValueError(f"RNSB needs at least 5 positive and 5 negative words present, got {len(pos)} and {len(neg)}")
    X = np.vstack([emb.matrix(pos), emb.matrix(neg)])
    y = np.r_[np.zeros(len(pos)), np.ones(len(neg))]
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)
    clf = LogisticRegression(max_iter=2000, random_state=seed).fit(Xtr, ytr)
    acc = float(clf.score(Xte, yte))
    neg_prob = {}
    for key in groups:
        words = sets.words[f"group:{key}"]
        neg_prob[key] = float(clf.predict_proba(emb.matrix(words))[:, 1].mean())
    total = sum(neg_prob.values())
    probs = {k: v / total for k, v in neg_prob.items()}
    p = np.array(list(probs.values()))
    kl = float(np.sum(p * np.log(p * len(p))))
    missing = {k.removeprefix("group:"): v for k, v in sets.missing.items()}
    return RNSBResult(kl, probs, neg_prob, missing, acc)


@dataclass(frozen=True)
class DirectionResult:
    """A unit bias direction (e.g. gender) and the share of variance its principal component explains."""

    direction: np.ndarray
    explained_variance_ratio: np.ndarray
    pairs_used: list[tuple[str, str]]
    missing: list[str] = field(default_factory=list)


def gender_direction(
    emb: Embeddings, pairs: Sequence[Sequence[str]], *, method: str = "pca", n_components: int = 10
) -> DirectionResult:
    """Bolukbasi et al.'s gender direction from definitional pairs like ``("she", "he")``.

    ``method="pca"``: the first principal component of the pair-centred unit vectors (each
    pair's mean is subtracted from both its words), oriented so that the first word of the
    pairs projects positively. ``method="mean"``: the normalized mean of first-minus-second
    differences. Pairs with a missing word are skipped and listed in ``missing``.
    """
    used, missing = [], []
    for pair in pairs:
        if len(pair) != 2:
            raise ValueError(f"definitional pairs must have two words, got {pair!r}")
        absent = [w for w in pair if w not in emb]
        if absent:
            missing.extend(absent)
        else:
            used.append((pair[0], pair[1]))
    if len(used) < 2:
        raise ValueError(f"need at least 2 definitional pairs present, got {used}; missing {missing}")
    first = emb.matrix([a for a, _ in used])
    second = emb.matrix([b for _, b in used])
    if method == "mean":
        d = (first - second).mean(axis=0)
        ratio = np.array([1.0])
    elif method == "pca":
        centre = (first + second) / 2
        stacked = np.vstack([first - centre, second - centre])  # (2 * pairs, dim)
        _, sing, vt = np.linalg.svd(stacked, full_matrices=False)  # pairs centred: no extra mean removal needed
        var = sing**2
        ratio = (var / var.sum())[:n_components]
        d = vt[0]
        if np.mean((first - second) @ d) < 0:
            d = -d
    else:
        raise ValueError(f"method must be 'pca' or 'mean', got {method!r}")
    return DirectionResult(d / np.linalg.norm(d), ratio, used, missing)


def project(
    emb: Embeddings, words: Sequence[str], direction: np.ndarray | DirectionResult
) -> tuple[dict[str, float], list[str]]:
    """Cosine of each present word with ``direction``; returns ``(projections, missing)``."""
    d = direction.direction if isinstance(direction, DirectionResult) else np.asarray(direction, dtype=np.float64)
    d = d / np.linalg.norm(d)
    found, missing = emb.split_known(dict.fromkeys(words))
    if not found:
        return {}, missing
    proj = emb.matrix(found) @ d
    return {w: float(p) for w, p in zip(found, proj, strict=True)}, missing


def direct_bias(
    emb: Embeddings, neutral_words: Sequence[str], direction: np.ndarray | DirectionResult, c: float = 1.0
) -> tuple[float, list[str]]:
    """Bolukbasi et al.'s DirectBias_c = mean over neutral words of |cos(w, g)|^c; returns ``(value, missing)``."""
    proj, missing = project(emb, neutral_words, direction)
    if not proj:
        raise ValueError(f"none of the {len(missing)} neutral words are in the embeddings: {missing[:20]}")
    return float(np.mean(np.abs(np.array(list(proj.values()))) ** c)), missing
