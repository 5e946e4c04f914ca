"""WEAT (Caliskan et al. 2017) and SEAT, with exact or true-permutation p-values and bootstrap CIs.

Definitions (Caliskan, Bryson & Narayanan, Science 2017):

- association ``s(w, A, B) = mean_a cos(w, a) - mean_b cos(w, b)``;
- statistic ``S = sum_x s(x) - sum_y s(y)``;
- effect size ``d = (mean_x s - mean_y s) / std_{w in X u Y} s(w)``, with the sample standard
  deviation (``std_ddof=1``), which is what reproduces the paper's numbers. WEFE uses
  ``ddof=0``; pass ``std_ddof=0`` to compare with it.
- one-sided p-value: the share of partitions of ``X u Y`` into sets of sizes ``|X|`` and ``|Y|``
  whose statistic is at least the observed one.

The p-value is **exact** (every partition enumerated) when there are at most ``exact_limit``
partitions (1e6 by default), otherwise it is a Monte-Carlo estimate over ``n_permutations``
uniformly random permutations of ``X u Y`` (each draw a true permutation, without replacement,
from a seeded ``numpy.random.Generator``), reported as ``(1 + hits) / (1 + draws)`` so it is
never 0. Both count ties with the observed partition as "at least as extreme" (the observed
partition is one of the exact ones), so p >= 1 / #partitions.

Every partition's statistic is an affine function of the sum of ``s`` over its first set, so
the test only gathers and sums precomputed scores: 100,000 permutations of a 25 + 25 test take
a fraction of a second.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from textkit.bias.embeddings import Embeddings
from textkit.bias.wordsets import InsufficientWordsError, WordSet, prepare_sets

__all__ = [
    "DEFAULT_MC_PERMUTATIONS",
    "SEAT_TEMPLATES",
    "WeatResult",
    "WeatStats",
    "association_scores",
    "bootstrap_effect_sizes",
    "count_partitions",
    "draw_permutations",
    "effect_size",
    "permutation_p_value",
    "seat",
    "weat",
    "weat_vectors",
]

DEFAULT_MC_PERMUTATIONS = 100_000
DEFAULT_EXACT_LIMIT = 1_000_000
_CHUNK = 20_000


def _unit(mat: np.ndarray, what: str) -> np.ndarray:
    mat = np.asarray(mat, dtype=np.float64)
    if mat.ndim != 2 or mat.shape[0] == 0:
        raise ValueError(f"{what}: expected a non-empty (n, dim) array, got shape {mat.shape}")
    norms = np.linalg.norm(mat, axis=1)
    if not np.all(np.isfinite(norms)) or np.any(norms == 0):
        raise ValueError(f"{what}: zero or non-finite vectors; cosine similarity is undefined for them")
    return mat / norms[:, None]


def association_scores(W: np.ndarray, A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``s(w, A, B)`` for every row of ``W`` (vectors need not be unit length). Shape ``(len(W),)``."""
    W, A, B = _unit(W, "W"), _unit(A, "A"), _unit(B, "B")
    return (W @ A.T).mean(axis=1) - (W @ B.T).mean(axis=1)


def effect_size(s_x: np.ndarray, s_y: np.ndarray, std_ddof: int = 1) -> float:
    """Caliskan's d from association scores of the two target sets."""
    pooled = np.concatenate([s_x, s_y])
    std = pooled.std(ddof=std_ddof)
    if not np.isfinite(std) or std == 0:
        return float("nan")
    return float((s_x.mean() - s_y.mean()) / std)


def count_partitions(n_x: int, n_y: int) -> int:
    """Number of ways to split ``n_x + n_y`` words into sets of sizes ``n_x`` and ``n_y``."""
    return math.comb(n_x + n_y, n_x)


def draw_permutations(rng: np.random.Generator, items: np.ndarray, n: int) -> np.ndarray:
    """``n`` independent uniformly random permutations of ``items`` as rows: shape ``(n, len(items))``.

    Every row holds each item exactly once (no sampling with replacement).
    """
    return rng.permuted(np.broadcast_to(items, (n, len(items))), axis=1)


def permutation_p_value(
    scores: np.ndarray,
    n_x: int,
    *,
    n_permutations: int = DEFAULT_MC_PERMUTATIONS,
    exact_limit: int = DEFAULT_EXACT_LIMIT,
    seed: int | np.random.Generator | None = 0,
) -> tuple[float, str, int]:
    """One-sided p-value of ``sum(scores[:n_x]) - sum(scores[n_x:])`` under random partitions.

    Returns ``(p_value, method, n)`` where method is ``"exact"`` (n = every partition) or
    ``"monte-carlo"`` (n = draws). Ties with the observed value count as extreme, with a
    relative tolerance of 1e-10 against floating-point noise in the summation order.
    """
    scores = np.asarray(scores, dtype=np.float64)
    total_n = scores.shape[0]
    if not 0 < n_x < total_n:
        raise ValueError(f"need words in both target sets, got {n_x} and {total_n - n_x}")
    observed = scores[:n_x].sum()
    tol = 1e-10 * max(1.0, float(np.abs(scores).sum()))
    threshold = observed - tol
    n_partitions = count_partitions(n_x, total_n - n_x)
    if n_partitions <= exact_limit:
        hits = 0
        combos = itertools.combinations(range(total_n), n_x)
        while True:
            block = np.fromiter(itertools.chain.from_iterable(itertools.islice(combos, _CHUNK)), dtype=np.int32)
            if block.size == 0:
                break
            sums = scores[block.reshape(-1, n_x)].sum(axis=1)
            hits += int(np.count_nonzero(sums >= threshold))
        return hits / n_partitions, "exact", n_partitions
    if n_permutations <= 0:
        raise ValueError("n_permutations must be positive for a Monte-Carlo p-value")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    base = np.arange(total_n, dtype=np.int16 if total_n < 32_000 else np.int64)
    hits = 0
    done = 0
    while done < n_permutations:
        size = min(_CHUNK, n_permutations - done)
        perms = draw_permutations(rng, base, size)  # (size, N)
        sums = scores[perms[:, :n_x]].sum(axis=1)
        hits += int(np.count_nonzero(sums >= threshold))
        done += size
    return (hits + 1) / (n_permutations + 1), "monte-carlo", n_permutations


def _bootstrap_effect_sizes(
    cos_xa: np.ndarray,
    cos_xb: np.ndarray,
    cos_ya: np.ndarray,
    cos_yb: np.ndarray,
    *,
    n_bootstrap: int,
    rng: np.random.Generator,
    resample_attributes: bool,
    std_ddof: int,
) -> np.ndarray:
    """Effect sizes of ``n_bootstrap`` resamples (with replacement) of the words of each set."""
    n_x, n_a = cos_xa.shape
    n_y, n_b = cos_yb.shape[0], cos_xb.shape[1]
    out = np.empty(n_bootstrap)
    for start in range(0, n_bootstrap, 500):
        k = min(500, n_bootstrap - start)
        if resample_attributes:
            wa = np.zeros((k, n_a))
            np.add.at(wa, (np.repeat(np.arange(k), n_a), rng.integers(0, n_a, k * n_a)), 1.0 / n_a)
            wb = np.zeros((k, n_b))
            np.add.at(wb, (np.repeat(np.arange(k), n_b), rng.integers(0, n_b, k * n_b)), 1.0 / n_b)
        else:
            wa = np.full((k, n_a), 1.0 / n_a)
            wb = np.full((k, n_b), 1.0 / n_b)
        s_x = wa @ cos_xa.T - wb @ cos_xb.T  # (k, n_x)
        s_y = wa @ cos_ya.T - wb @ cos_yb.T  # (k, n_y)
        ix = rng.integers(0, n_x, (k, n_x))
        iy = rng.integers(0, n_y, (k, n_y))
        sx = np.take_along_axis(s_x, ix, axis=1)
        sy = np.take_along_axis(s_y, iy, axis=1)
        pooled = np.concatenate([sx, sy], axis=1)
        std = pooled.std(axis=1, ddof=std_ddof)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start : start + k] = np.where(std > 0, (sx.mean(axis=1) - sy.mean(axis=1)) / std, np.nan)
    return out


def bootstrap_effect_sizes(
    X: np.ndarray,
    Y: np.ndarray,
    A: np.ndarray,
    B: np.ndarray,
    *,
    n_bootstrap: int = 2000,
    seed: int | np.random.Generator | None = 0,
    resample_attributes: bool = True,
    std_ddof: int = 1,
) -> np.ndarray:
    """Effect sizes of ``n_bootstrap`` word resamples (with replacement within each set).

    Degenerate resamples (zero pooled deviation) give NaN. This is the distribution behind
    :func:`weat_vectors`'s percentile CI; it is public so intervals can be pooled across models.
    """
    Xu, Yu, Au, Bu = _unit(X, "X"), _unit(Y, "Y"), _unit(A, "A"), _unit(B, "B")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return _bootstrap_effect_sizes(
        Xu @ Au.T,
        Xu @ Bu.T,
        Yu @ Au.T,
        Yu @ Bu.T,
        n_bootstrap=n_bootstrap,
        rng=rng,
        resample_attributes=resample_attributes,
        std_ddof=std_ddof,
    )


@dataclass(frozen=True)
class WeatStats:
    """WEAT numbers from vectors alone (no words): see :func:`weat_vectors`."""

    statistic: float
    effect_size: float
    p_value: float | None
    p_value_method: str
    n_permutations: int
    n_partitions: int
    ci: tuple[float, float] | None
    ci_level: float
    n_bootstrap: int
    scores_x: np.ndarray
    scores_y: np.ndarray


def weat_vectors(
    X: np.ndarray,
    Y: np.ndarray,
    A: np.ndarray,
    B: np.ndarray,
    *,
    n_permutations: int | None = None,
    seed: int = 0,
    exact_limit: int = DEFAULT_EXACT_LIMIT,
    n_bootstrap: int = 2000,
    ci_level: float = 0.95,
    resample_attributes: bool = True,
    std_ddof: int = 1,
) -> WeatStats:
    """WEAT on arrays of vectors (rows need not be unit length).

    ``n_permutations``: ``None`` means exact when possible, else 100,000 Monte-Carlo draws;
    an int sets the number of draws when the test is too large for the exact count; ``0``
    skips the p-value. ``n_bootstrap=0`` skips the confidence interval. The bootstrap
    resamples words with replacement within X and Y (and within A and B when
    ``resample_attributes``) and gives a percentile interval of the effect size.
    """
    Xu, Yu, Au, Bu = _unit(X, "X"), _unit(Y, "Y"), _unit(A, "A"), _unit(B, "B")
    cos_xa, cos_xb, cos_ya, cos_yb = Xu @ Au.T, Xu @ Bu.T, Yu @ Au.T, Yu @ Bu.T
    s_x = cos_xa.mean(axis=1) - cos_xb.mean(axis=1)
    s_y = cos_ya.mean(axis=1) - cos_yb.mean(axis=1)
    statistic = float(s_x.sum() - s_y.sum())
    d = effect_size(s_x, s_y, std_ddof)
    rng = np.random.default_rng(seed)
    n_parts = count_partitions(len(s_x), len(s_y))
    if n_permutations == 0:
        p, method, n_used = None, "none", 0
    else:
        p, method, n_used = permutation_p_value(
            np.concatenate([s_x, s_y]),
            len(s_x),
            n_permutations=DEFAULT_MC_PERMUTATIONS if n_permutations is None else n_permutations,
            exact_limit=exact_limit,
            seed=rng,
        )
    ci = None
    if n_bootstrap:
        boot = _bootstrap_effect_sizes(
            cos_xa,
            cos_xb,
            cos_ya,
            cos_yb,
            n_bootstrap=n_bootstrap,
            rng=rng,
            resample_attributes=resample_attributes,
            std_ddof=std_ddof,
        )
        boot = boot[np.isfinite(boot)]
        if boot.size:
            alpha = (1 - ci_level) / 2
            ci = (float(np.quantile(boot, alpha)), float(np.quantile(boot, 1 - alpha)))
    return WeatStats(statistic, d, p, method, n_used, n_parts, ci, ci_level, n_bootstrap, s_x, s_y)


@dataclass(frozen=True)
class WeatResult:
    """A WEAT run on named word sets: numbers plus everything needed to trust them.

    ``scores`` maps each target word to ``s(w, A, B)``; ``missing`` maps each set's name to its
    words absent from the embeddings; ``dropped`` lists words removed to equalize target sizes
    (``unequal="equalize"``) and ``duplicates`` words removed because they repeat (see
    :func:`textkit.bias.wordsets.prepare_sets`).
    """

    name: str
    statistic: float
    effect_size: float
    p_value: float | None
    p_value_method: str
    n_permutations: int
    n_partitions: int
    ci: tuple[float, float] | None
    ci_level: float
    n_bootstrap: int
    scores: dict[str, float]
    missing: dict[str, list[str]]
    sizes: dict[str, int]
    set_names: tuple[str, str, str, str]
    dropped: dict[str, list[str]] = field(default_factory=dict)
    duplicates: dict[str, list[str]] = field(default_factory=dict)
    std_ddof: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sets": dict(zip(("X", "Y", "A", "B"), self.set_names, strict=True)),
            "statistic": self.statistic,
            "effect_size": self.effect_size,
            "p_value": self.p_value,
            "p_value_method": self.p_value_method,
            "n_permutations": self.n_permutations,
            "n_partitions": self.n_partitions,
            "ci": list(self.ci) if self.ci else None,
            "ci_level": self.ci_level,
            "n_bootstrap": self.n_bootstrap,
            "std_ddof": self.std_ddof,
            "sizes": self.sizes,
            "missing": self.missing,
            "dropped": self.dropped,
            "duplicates": self.duplicates,
            "scores": self.scores,
        }


def weat(
    emb: Embeddings,
    X: Sequence[str] | WordSet,
    Y: Sequence[str] | WordSet,
    A: Sequence[str] | WordSet,
    B: Sequence[str] | WordSet,
    n_permutations: int | None = None,
    seed: int = 0,
    *,
    name: str = "",
    min_size: int = 2,
    max_missing_fraction: float | None = 0.2,
    unequal: str = "keep",
    exact_limit: int = DEFAULT_EXACT_LIMIT,
    n_bootstrap: int = 2000,
    ci_level: float = 0.95,
    resample_attributes: bool = True,
    std_ddof: int = 1,
) -> WeatResult:
    """WEAT of targets X, Y against attributes A, B in ``emb``.

    Words absent from ``emb`` are listed per set in ``result.missing``; a set left with fewer
    than ``min_size`` words, or missing more than ``max_missing_fraction`` of its words, makes
    the test refuse to run (:class:`InsufficientWordsError`, naming the missing words).
    ``unequal`` is the policy when the target sets end up with different sizes:
    ``"keep"`` (default) permutes into partitions of the observed sizes, which is Caliskan's
    test when sizes are equal and gives the same p-value for the sum or the mean statistic;
    ``"equalize"`` drops randomly chosen (seeded) words from the larger set, as Caliskan et al.
    did for their name lists, and lists them in ``result.dropped``; ``"error"`` refuses.
    """
    sets = prepare_sets(
        emb,
        {"X": X, "Y": Y, "A": A, "B": B},
        min_size=min_size,
        max_missing_fraction=max_missing_fraction,
        unequal=unequal,
        seed=seed,
        test_name=name,
    )
    x, y, a, b = (sets.words[k] for k in ("X", "Y", "A", "B"))
    stats = weat_vectors(
        emb.matrix(x),
        emb.matrix(y),
        emb.matrix(a),
        emb.matrix(b),
        n_permutations=n_permutations,
        seed=seed,
        exact_limit=exact_limit,
        n_bootstrap=n_bootstrap,
        ci_level=ci_level,
        resample_attributes=resample_attributes,
        std_ddof=std_ddof,
    )
    scores = {w: float(v) for w, v in zip(x, stats.scores_x, strict=True)}
    scores.update({w: float(v) for w, v in zip(y, stats.scores_y, strict=True)})
    return WeatResult(
        name=name,
        statistic=stats.statistic,
        effect_size=stats.effect_size,
        p_value=stats.p_value,
        p_value_method=stats.p_value_method,
        n_permutations=stats.n_permutations,
        n_partitions=stats.n_partitions,
        ci=stats.ci,
        ci_level=ci_level,
        n_bootstrap=n_bootstrap,
        scores=scores,
        missing=sets.missing,
        sizes={sets.names[k]: len(sets.words[k]) for k in "XYAB"},
        set_names=tuple(sets.names[k] for k in "XYAB"),
        dropped=sets.dropped,
        duplicates=sets.duplicates,
        std_ddof=std_ddof,
    )


# ---------------------------------------------------------------------- SEAT
SEAT_TEMPLATES: tuple[str, ...] = (
    "This is {}.",
    "That is {}.",
    "There is {}.",
    "Here is {}.",
    "{} is here.",
    "{} is there.",
    "This is a {}.",
    "It is {}.",
)


def seat(
    encode: Callable[[list[str]], np.ndarray],
    X: Sequence[str],
    Y: Sequence[str],
    A: Sequence[str],
    B: Sequence[str],
    *,
    templates: Sequence[str] | None = SEAT_TEMPLATES,
    n_permutations: int | None = None,
    seed: int = 0,
    exact_limit: int = DEFAULT_EXACT_LIMIT,
    n_bootstrap: int = 2000,
    std_ddof: int = 1,
) -> WeatStats:
    """SEAT (May et al. 2019): WEAT over sentence encodings.

    Each word is put into every template (``"This is {}."``) and ``encode(list_of_sentences)``
    must return one vector per sentence; pass ``templates=None`` when X, Y, A, B already are
    sentences. Each sentence is one unit of the test, as in May et al.
    """

    def expand(items: Sequence[str], what: str) -> list[str]:
        items = list(items)
        if not items:
            raise InsufficientWordsError(f"SEAT set {what} is empty")
        return items if templates is None else [t.format(w) for w in items for t in templates]

    vecs = []
    for items, what in ((X, "X"), (Y, "Y"), (A, "A"), (B, "B")):
        sentences = expand(items, what)
        mat = np.asarray(encode(sentences), dtype=np.float64)
        if mat.ndim != 2 or mat.shape[0] != len(sentences):
            raise ValueError(
                f"encode returned shape {mat.shape} for {len(sentences)} sentences of set {what}; "
                "it must return one vector per sentence"
            )
        vecs.append(mat)
    if len({v.shape[1] for v in vecs}) != 1:
        raise ValueError("encode returned vectors of different dimensions for different sets")
    return weat_vectors(
        *vecs,
        n_permutations=n_permutations,
        seed=seed,
        exact_limit=exact_limit,
        n_bootstrap=n_bootstrap,
        std_ddof=std_ddof,
    )
