"""Is debiasing lipstick? Gonen & Goldberg's (2019) tests of whether the bias of "neutral" words
can still be recovered from debiased embeddings.

Both tests label words by their projection on a bias direction in the **original** embeddings,
then ask the **debiased** embeddings to recover the labels without that direction:

- :func:`cluster_recoverability`: the ``n_per_side`` most positive and most negative words, two
  k-means clusters of their debiased vectors; accuracy of the best matching of clusters to labels
  (50% is chance, 100% full recovery).
- :func:`svm_recoverability`: the ``n_per_side`` most biased words of each side, an RBF-kernel
  SVM trained on ``n_train`` of them (random, seeded) and scored on the rest.

:func:`recoverability_audit` runs both, before and after debiasing, for any embeddings (this is
``textkit audit --recoverability``). :func:`neutral_vocabulary` applies Gonen & Goldberg's
vocabulary filter.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from textkit.bias.embeddings import Embeddings
from textkit.bias.metrics import DirectionResult

__all__ = [
    "ClusterResult",
    "RecoverabilityReport",
    "SVMResult",
    "cluster_recoverability",
    "most_biased_words",
    "neutral_vocabulary",
    "recoverability_audit",
    "svm_recoverability",
]

_PUNCT = set(string.punctuation)


def neutral_vocabulary(emb: Embeddings, exclude: Iterable[str] = (), *, limit: int | None = 50_000) -> list[str]:
    """Gonen & Goldberg's candidate words: the first ``limit`` words (frequency order), lower-case,
    shorter than 20 characters, no digits, no punctuation except ``_`` joining the parts of a
    phrase, and not in ``exclude`` (the gender-specific words)."""
    excluded = set(exclude)
    out = []
    for w in emb.words[: len(emb) if limit is None else limit]:
        if w != w.lower() or len(w) >= 20 or any(c.isdigit() for c in w) or w in excluded:
            continue
        parts = w.split("_")
        if any(not p or any(c in _PUNCT for c in p) for p in parts):
            continue
        out.append(w)
    return out


def most_biased_words(
    emb: Embeddings, words: Sequence[str], direction: DirectionResult | np.ndarray, n_per_side: int
) -> tuple[list[str], list[str], dict[str, float]]:
    """``(positive, negative, projections)``: the ``n_per_side`` words of ``words`` with the largest
    and the smallest cosine with the direction in ``emb``, most extreme first. Missing words are
    ignored; too few words is an error."""
    from textkit.bias.debias import unit_direction

    g = unit_direction(direction, emb.dim)
    found, _ = emb.split_known(dict.fromkeys(words))
    if len(found) < 2 * n_per_side:
        raise ValueError(
            f"need at least {2 * n_per_side} candidate words in the embeddings for {n_per_side} per side, "
            f"got {len(found)}; lower n_per_side"
        )
    proj = emb.matrix(found) @ g  # (N,)
    order = np.argsort(-proj, kind="stable")
    pos = [found[i] for i in order[:n_per_side]]
    neg = [found[i] for i in order[::-1][:n_per_side]]
    return pos, neg, {w: float(p) for w, p in zip(found, proj, strict=True)}


@dataclass(frozen=True)
class ClusterResult:
    accuracy: float
    n_words: int
    n_init: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "n_words": self.n_words, "n_init": self.n_init, "seed": self.seed}


def _cluster_accuracy(X: np.ndarray, y: np.ndarray, *, seed: int, n_init: int) -> float:
    from sklearn.cluster import KMeans

    pred = KMeans(n_clusters=2, n_init=n_init, random_state=seed).fit_predict(X)
    agree = float(np.mean(pred == y))
    return max(agree, 1.0 - agree)


def cluster_recoverability(
    original: Embeddings,
    debiased: Embeddings,
    direction: DirectionResult | np.ndarray,
    words: Sequence[str],
    *,
    n_per_side: int = 500,
    seed: int = 0,
    n_init: int = 10,
) -> ClusterResult:
    """Gonen & Goldberg's clustering test: label the ``n_per_side`` most positive and most negative
    ``words`` by their projection in ``original``, cluster their ``debiased`` vectors (unit length)
    into two with k-means, and return the accuracy of the better cluster-to-label matching.
    Pass ``debiased=original`` for the "before" figure."""
    pos, neg, _ = most_biased_words(original, words, direction, n_per_side)
    chosen = pos + neg
    y = np.r_[np.ones(len(pos), dtype=int), np.zeros(len(neg), dtype=int)]
    _require(debiased, chosen)
    acc = _cluster_accuracy(debiased.matrix(chosen), y, seed=seed, n_init=n_init)
    return ClusterResult(acc, len(chosen), n_init, seed)


@dataclass(frozen=True)
class SVMResult:
    accuracy: float
    n_train: int
    n_test: int
    kernel: str
    C: float
    gamma: float | str
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "kernel": self.kernel,
            "C": self.C,
            "gamma": self.gamma,
            "seed": self.seed,
        }


def svm_recoverability(
    original: Embeddings,
    debiased: Embeddings,
    direction: DirectionResult | np.ndarray,
    words: Sequence[str],
    *,
    n_per_side: int = 2500,
    n_train: int = 1000,
    seed: int = 0,
    C: float = 1.0,
    gamma: float | str = "scale",
) -> SVMResult:
    """Gonen & Goldberg's classification test: the ``n_per_side`` most biased ``words`` of each side
    (by projection in ``original``), an RBF-SVM on the ``debiased`` vectors of a seeded random
    ``n_train`` of them, accuracy on the others. ``gamma`` is scikit-learn's (``"scale"``, the
    default since 0.22, or ``"auto"`` = 1/dim, the default when the paper was written)."""
    from sklearn.svm import SVC

    pos, neg, _ = most_biased_words(original, words, direction, n_per_side)
    chosen = pos + neg
    if not 0 < n_train < len(chosen):
        raise ValueError(f"n_train must be between 1 and {len(chosen) - 1} (2 × n_per_side − 1), got {n_train}")
    _require(debiased, chosen)
    y = np.r_[np.ones(len(pos), dtype=int), np.zeros(len(neg), dtype=int)]
    X = debiased.matrix(chosen)
    perm = np.random.default_rng(seed).permutation(len(chosen))
    tr, te = perm[:n_train], perm[n_train:]
    clf = SVC(kernel="rbf", C=C, gamma=gamma).fit(X[tr], y[tr])
    return SVMResult(float(clf.score(X[te], y[te])), len(tr), len(te), "rbf", C, gamma, seed)


def _require(emb: Embeddings, words: Sequence[str]) -> None:
    _, missing = emb.split_known(words)
    if missing:
        raise KeyError(
            f"{len(missing)} of the selected words are not in the debiased embeddings "
            f"{emb.name or emb.source!r}: {missing[:20]}; both embeddings must share these words"
        )


@dataclass
class RecoverabilityReport:
    """Before/after figures of both tests, with everything needed to rerun them."""

    original: str
    debiased: str
    debiased_by: str
    n_candidates: int
    clustering: dict[str, Any]
    svm: dict[str, Any]
    projection_after: dict[str, float]  # on the label direction
    config: dict[str, Any]
    examples: dict[str, list[str]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "original": self.original,
            "debiased": self.debiased,
            "debiased_by": self.debiased_by,
            "n_candidates": self.n_candidates,
            "clustering": self.clustering,
            "svm": self.svm,
            "projection_after": self.projection_after,
            "config": self.config,
            "examples": self.examples,
        }

    def to_markdown(self, paper: bool = True) -> str:
        c, s = self.clustering, self.svm
        lines = [
            f"Recoverability of bias (Gonen & Goldberg 2019): original `{self.original}`, debiased `{self.debiased}` "
            f"({self.debiased_by}); {self.n_candidates} candidate neutral words.",
            "",
            "| test | before debiasing | after debiasing |",
            "|---|---|---|",
            f"| k-means, {c['n_words']} most biased words, 2 clusters | {c['before']:.1%} | {c['after']:.1%} |",
            f"| RBF-SVM ({s['n_train']} train / {s['n_test']} test, {s['n_words']} words), mean of {len(s['seeds'])} "
            f"seeds | {s['before_mean']:.1%} | {s['after_mean']:.1%} (min {min(s['after']):.1%}, max "
            f"{max(s['after']):.1%}) |",
            "",
            f"Mean |projection| of the clustered words on the labelling direction after debiasing: "
            f"{self.projection_after['mean_abs_after']:.2g} (before {self.projection_after['mean_abs_before']:.3f}).",
        ]
        if paper:
            lines += [
                "",
                "Gonen & Goldberg's figures, as quoted in textkit issue 18 (not in docs' REFERENCES, not "
                "re-checked): clustering 99.9% → 92.5% for Bolukbasi's hard-debiased word2vec, 100% → 85.6% for "
                "Zhao et al.'s GN-GloVe; SVM 88.88% and 96.53% after debiasing.",
            ]
        return "\n".join(lines)


def recoverability_audit(
    emb: Embeddings,
    *,
    debiased: Embeddings | None = None,
    definitional_pairs: Sequence[Sequence[str]] | None = None,
    gender_specific: Sequence[str] | None = None,
    equalize_pairs: Sequence[Sequence[str]] | None = None,
    direction: DirectionResult | np.ndarray | None = None,
    label_direction: DirectionResult | np.ndarray | None = None,
    vocab_limit: int | None = 50_000,
    n_cluster: int = 500,
    n_svm: int = 2500,
    n_train: int = 1000,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    gamma: float | str = "scale",
    missing: str = "skip",
) -> RecoverabilityReport:
    """Gonen & Goldberg's two tests on any embeddings.

    ``emb`` are the original embeddings: they define the words' bias labels. ``debiased`` are
    the debiased embeddings to test; when omitted, textkit hard-debiases ``emb`` itself
    (:func:`~textkit.bias.debias.hard_debias`, neutralizing every candidate word). Word lists
    default to Bolukbasi et al.'s (definitional pairs, the full gender-specific list, the
    equalize pairs in three cases). ``direction`` (used to debias) defaults to the PCA direction
    of the definitional pairs; ``label_direction`` (used to label words male / female by their
    original projection) defaults to ``direction``. Gonen & Goldberg label by he − she on vectors
    Bolukbasi et al. debiased with the PCA direction: pass ``label_direction=emb["she"] - emb["he"]``.
    """
    from textkit.bias.debias import (
        bolukbasi_lists,
        direction_from_pairs,
        expand_case_variants,
        hard_debias,
        unit_direction,
    )

    if debiased is not None and debiased.dim != emb.dim:
        raise ValueError(
            f"original embeddings have {emb.dim} dimensions, debiased ones {debiased.dim}: "
            "they must be the same vectors before and after debiasing"
        )
    lists = bolukbasi_lists() if None in (definitional_pairs, gender_specific, equalize_pairs) else {}
    pairs = list(definitional_pairs if definitional_pairs is not None else lists["definitional_pairs"])
    specific = list(gender_specific if gender_specific is not None else lists["gender_specific"])
    equalize = expand_case_variants(equalize_pairs if equalize_pairs is not None else lists["equalize_pairs"])
    if direction is None:
        direction = direction_from_pairs(emb, pairs, missing=missing)
    g = unit_direction(direction, emb.dim)
    gl = g if label_direction is None else unit_direction(label_direction, emb.dim)
    exclude = set(specific) | {w for p in equalize for w in p} | {w for p in pairs for w in p}
    candidates = neutral_vocabulary(emb, exclude, limit=vocab_limit)
    if debiased is None:
        neutral = [w for w in emb.words if w not in exclude]
        debiased = hard_debias(emb, g, neutral, equalize, missing="skip")
        debiased_by = (
            "textkit hard_debias (Bolukbasi et al.), neutralizing every word outside the gender-specific lists"
        )
    else:
        debiased_by = "given"
    candidates = [w for w in candidates if w in debiased]
    cl_before = cluster_recoverability(emb, emb, gl, candidates, n_per_side=n_cluster, seed=seeds[0])
    cl_after = cluster_recoverability(emb, debiased, gl, candidates, n_per_side=n_cluster, seed=seeds[0])
    svm_before, svm_after = [], []
    for s in seeds:
        svm_before.append(
            svm_recoverability(emb, emb, gl, candidates, n_per_side=n_svm, n_train=n_train, seed=s, gamma=gamma)
        )
        svm_after.append(
            svm_recoverability(emb, debiased, gl, candidates, n_per_side=n_svm, n_train=n_train, seed=s, gamma=gamma)
        )
    pos, neg, proj = most_biased_words(emb, candidates, gl, n_cluster)
    chosen = pos + neg
    after = debiased.matrix(chosen) @ g
    report = RecoverabilityReport(
        original=emb.name or emb.source,
        debiased=debiased.name or debiased.source,
        debiased_by=debiased_by,
        n_candidates=len(candidates),
        clustering={
            "n_words": cl_after.n_words,
            "before": cl_before.accuracy,
            "after": cl_after.accuracy,
            "n_init": cl_after.n_init,
            "seed": cl_after.seed,
        },
        svm={
            "n_words": 2 * n_svm,
            "n_train": svm_after[0].n_train,
            "n_test": svm_after[0].n_test,
            "gamma": gamma,
            "C": svm_after[0].C,
            "seeds": list(seeds),
            "before": [r.accuracy for r in svm_before],
            "after": [r.accuracy for r in svm_after],
            "before_mean": float(np.mean([r.accuracy for r in svm_before])),
            "after_mean": float(np.mean([r.accuracy for r in svm_after])),
        },
        projection_after={
            "mean_abs_before": float(np.mean(np.abs([proj[w] for w in chosen]))),
            "mean_abs_after": float(np.mean(np.abs(after))),
        },
        config={
            "vocab_limit": vocab_limit,
            "n_cluster_per_side": n_cluster,
            "n_svm_per_side": n_svm,
            "n_train": n_train,
            "kernel": "rbf",
            "labels": "the most positive / most negative projections on label_direction in the original embeddings",
            "label_direction_is_debias_direction": label_direction is None,
        },
        examples={"positive": pos[:15], "negative": neg[:15]},
    )
    return report
