"""Bias audits of word embeddings: loaders, WEAT/SEAT, relative norm distance and friends, reports.

    >>> from textkit.bias import load_embeddings, weat
    >>> emb = load_embeddings("word2vec-weat")
    >>> r = weat(emb, X, Y, A, B)          # r.effect_size, r.p_value, r.p_value_method, r.missing

Torch is only imported by :func:`train_sgns`.
"""

from __future__ import annotations

from typing import Any

from textkit.bias.debias import (
    DebiasedEmbeddings,
    direction_from_pairs,
    gender_analogies,
    hard_debias,
    indirect_bias,
)
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
from textkit.bias.recoverability import cluster_recoverability, recoverability_audit, svm_recoverability
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
    "DebiasedEmbeddings",
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
    "cluster_recoverability",
    "direct_bias",
    "direction_from_pairs",
    "ect",
    "from_spacy",
    "gender_analogies",
    "gender_direction",
    "hard_debias",
    "indirect_bias",
    "load_embeddings",
    "load_tests",
    "project",
    "recoverability_audit",
    "relative_norm_distance",
    "rnsb",
    "run_audit",
    "sanity_benchmarks",
    "seat",
    "svm_recoverability",
    "train_sgns",
    "weat",
    "weat_vectors",
    "word_similarity",
]


def __getattr__(name: str) -> Any:
    # lazily: train_sgns needs torch, run_audit needs matplotlib. (The audit function is not
    # exported as `audit`: that name belongs to the `textkit audit` command module
    # textkit.commands.audit, which the import system binds on this package when it loads.)
    if name == "train_sgns":
        from textkit.bias.sgns import train_sgns

        return train_sgns
    if name == "run_audit":
        from textkit.bias.report import audit

        return audit
    raise AttributeError(f"module 'textkit.bias' has no attribute {name!r}")
