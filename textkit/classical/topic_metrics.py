"""Reading and scoring topic models: top words, coherence (NPMI, UMass), agreement with labels."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, TypeAlias, runtime_checkable

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import normalized_mutual_info_score

__all__ = ["purity_score", "top_word_ids", "top_words", "topic_assignments", "topic_coherence", "topic_label_agreement"]

COHERENCE_MEASURES = ("npmi", "umass")


def _components(model: object) -> np.ndarray:
    components = getattr(model, "components_", model)
    components = np.asarray(components)
    if components.ndim != 2:
        raise ValueError(
            f"expected a fitted topic model (with components_) or a (k, n_terms) array, got shape {components.shape}"
        )
    return components


@runtime_checkable
class _FeatureNames(Protocol):
    """A fitted vectorizer: anything with scikit-learn's ``get_feature_names_out``."""

    def get_feature_names_out(self) -> Iterable[str]: ...


# The term list in column order, or the fitted vectorizer that made the columns.
Vocabulary: TypeAlias = "Iterable[str] | _FeatureNames"


def _vocabulary(vocab: Vocabulary) -> np.ndarray:
    """The terms of a term list or of a fitted vectorizer (``get_feature_names_out``)."""
    if isinstance(vocab, _FeatureNames):
        return np.asarray(vocab.get_feature_names_out(), dtype=object)
    return np.asarray(list(vocab), dtype=object)


def top_word_ids(model: object, n: int = 10) -> list[list[int]]:
    """Column ids of the ``n`` largest weights of each topic, largest first."""
    components = _components(model)
    n = min(int(n), components.shape[1])
    top = np.argsort(-components, axis=1, kind="stable")[:, :n]
    return top.tolist()


def top_words(model: object, vocab: Vocabulary, n: int = 10) -> list[list[str]]:
    """The ``n`` highest-weighted terms of each topic.

    ``model`` is a fitted ``SVDTopics`` / ``NMFTopics`` (anything with ``components_``) or a
    (k, n_terms) array; ``vocab`` is the term list in column order or a fitted vectorizer.
    For SVD topics, "highest" is the signed weight: ``SVDTopics`` orients each component so
    that its largest-magnitude weight is positive.
    """
    components = _components(model)
    terms = _vocabulary(vocab)
    if len(terms) != components.shape[1]:
        raise ValueError(
            f"vocab has {len(terms)} terms but the topics have {components.shape[1]} columns; "
            "pass the vectorizer the model was fitted on"
        )
    return [[str(terms[j]) for j in row] for row in top_word_ids(components, n)]


def _topic_ids(topics: Sequence[Sequence[int | str]], vocab: Vocabulary | None) -> list[list[int]]:
    index = None
    out = []
    for t, topic in enumerate(topics):
        ids = []
        for word in topic:
            if isinstance(word, (int, np.integer)):
                ids.append(int(word))
                continue
            if index is None:
                if vocab is None:
                    raise ValueError("topics are given as words: pass vocab (the term list or the fitted vectorizer)")
                index = {w: i for i, w in enumerate(_vocabulary(vocab).tolist())}
            if word not in index:
                raise ValueError(f"topic {t}: word {word!r} is not in the vocabulary of the reference corpus")
            ids.append(index[word])
        if len(ids) < 2:
            raise ValueError(f"topic {t} has {len(ids)} word(s); coherence needs at least 2")
        out.append(ids)
    return out


def topic_coherence(
    topics: Sequence[Sequence[int | str]],
    X: np.ndarray | sp.spmatrix,
    *,
    vocab: Vocabulary | None = None,
    measure: str = "npmi",
) -> np.ndarray:
    """Coherence of each topic on a reference corpus, from document co-occurrence.

    ``topics``: per topic, its top words (strings, with ``vocab``) or column ids, best first.
    ``X``: the reference corpus's (n_docs, n_terms) document-term matrix; only whether a term
    occurs in a document matters.

    - ``"npmi"`` (Bouma 2009; Lau et al. 2014): mean over word pairs of
      ``log(P(wi, wj) / (P(wi) P(wj))) / -log P(wi, wj)``, in [-1, 1]; pairs that never
      co-occur score -1.
    - ``"umass"`` (Mimno et al. 2011): mean over pairs, ``w_m`` ranked below ``w_l``, of
      ``log((D(w_m, w_l) + 1) / D(w_l))``; at most ``log 2``, higher is more coherent.

    Returns an array with one value per topic.
    """
    if measure not in COHERENCE_MEASURES:
        raise ValueError(f"measure must be one of {COHERENCE_MEASURES}, got {measure!r}")
    ids = _topic_ids(topics, vocab)
    X = sp.csc_matrix(X)
    n_docs = X.shape[0]
    scores = []
    for t, topic in enumerate(ids):
        if max(topic) >= X.shape[1]:
            raise ValueError(f"topic {t} has column id {max(topic)} but X has {X.shape[1]} columns")
        B = X[:, topic]
        B.data = (B.data != 0).astype(np.float64)
        B.eliminate_zeros()
        co = np.asarray((B.T @ B).toarray())  # (N, N) document co-occurrence counts; diagonal = df
        df = np.diag(co).copy()
        if np.any(df == 0):
            missing = [topic[i] for i in np.flatnonzero(df == 0)]
            raise ValueError(
                f"topic {t}: column(s) {missing} never occur in the reference corpus; coherence is undefined"
            )
        i, j = np.triu_indices(len(topic), k=1)  # i ranked above j
        if measure == "umass":
            values = np.log((co[j, i] + 1.0) / df[i])
        else:
            p_ij = co[i, j] / n_docs
            p_i, p_j = df[i] / n_docs, df[j] / n_docs
            with np.errstate(divide="ignore", invalid="ignore"):
                pmi = np.log(p_ij) - np.log(p_i) - np.log(p_j)
                values = np.where(p_ij == 0, -1.0, np.where(p_ij >= 1.0, 1.0, pmi / -np.log(p_ij)))
        scores.append(float(np.mean(values)))
    return np.asarray(scores)


def topic_assignments(W: np.ndarray, H: np.ndarray | None = None) -> np.ndarray:
    """Each document's dominant topic: ``argmax_j W_ij * ||H_j||_2``.

    Scaling ``W`` by the norms of H's rows removes NMF's scale ambiguity (``W D, D^-1 H``
    fit equally well), so two solvers that reach the same factorization assign documents
    alike. Without ``H``: plain ``argmax_j W_ij``.
    """
    W = np.asarray(W, dtype=np.float64)
    if H is not None:
        W = W * np.linalg.norm(np.asarray(H, dtype=np.float64), axis=1)
    return np.argmax(W, axis=1)


def purity_score(labels_true: Sequence, labels_pred: Sequence) -> float:
    """Share of documents whose topic's most common label is their own label."""
    true, pred = np.asarray(labels_true), np.asarray(labels_pred)
    if true.shape != pred.shape or true.ndim != 1:
        raise ValueError(
            f"labels_true and labels_pred must be 1-d and the same length, got {true.shape} and {pred.shape}"
        )
    if true.size == 0:
        raise ValueError("purity of an empty labelling is undefined")
    _, true_ids = np.unique(true, return_inverse=True)
    _, pred_ids = np.unique(pred, return_inverse=True)
    table = np.zeros((pred_ids.max() + 1, true_ids.max() + 1), dtype=np.int64)
    np.add.at(table, (pred_ids, true_ids), 1)
    return float(table.max(axis=1).sum() / true.size)


def topic_label_agreement(labels_true: Sequence, labels_pred: Sequence) -> dict[str, float]:
    """``{"nmi", "purity"}`` between gold labels and topic assignments (NMI: arithmetic mean normalization)."""
    return {
        "nmi": float(normalized_mutual_info_score(labels_true, labels_pred)),
        "purity": purity_score(labels_true, labels_pred),
    }
