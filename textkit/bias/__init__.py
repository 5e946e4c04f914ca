"""Bias audits of word embeddings: loaders, WEAT/SEAT, relative norm distance and friends, reports.

    >>> from textkit.bias import load_embeddings, weat
    >>> emb = load_embeddings("word2vec-weat")
    >>> r = weat(emb, X, Y, A, B)          # r.effect_size, r.p_value, r.p_value_method, r.missing

Torch is only imported by :func:`train_sgns`.
"""

from __future__ import annotations

from typing import Any

from textkit.bias.embeddings import (
    EMBEDDING_REGISTRY,
    Embeddings,
    EmbeddingsFormatError,
    from_spacy,
    load_embeddings,
)
from textkit.bias.metrics import (
    direct_bias,
    ect,
    gender_direction,
    project,
    relative_norm_distance,
    rnsb,
)
from textkit.bias.sanity import analogy_accuracy, sanity_benchmarks, word_similarity
from textkit.bias.weat import WeatResult, association_scores, seat, weat, weat_vectors
from textkit.bias.wordsets import (
    InsufficientWordsError,
    WeatTest,
    WordSet,
    WordSetFormatError,
    caliskan_tests,
    load_tests,
)

__all__ = [
    "EMBEDDING_REGISTRY",
    "Embeddings",
    "EmbeddingsFormatError",
    "InsufficientWordsError",
    "WeatResult",
    "WeatTest",
    "WordSet",
    "WordSetFormatError",
    "analogy_accuracy",
    "association_scores",
    "caliskan_tests",
    "direct_bias",
    "ect",
    "from_spacy",
    "gender_direction",
    "load_embeddings",
    "load_tests",
    "project",
    "relative_norm_distance",
    "rnsb",
    "run_audit",
    "sanity_benchmarks",
    "seat",
    "train_sgns",
    "weat",
    "weat_vectors",
    "word_similarity",
]


def __getattr__(name: str) -> Any:
    # lazily: train_sgns needs torch, run_audit needs matplotlib. (The audit function is not
    # exported as `audit`: that name belongs to the `textkit audit` command module
    # textkit.bias.audit, which the import system binds on this package when it loads.)
    if name == "train_sgns":
        from textkit.bias.sgns import train_sgns

        return train_sgns
    if name == "run_audit":
        from textkit.bias.report import audit

        return audit
    raise AttributeError(f"module 'textkit.bias' has no attribute {name!r}")
