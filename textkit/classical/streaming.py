"""Out-of-core training: a two-pass vocabulary, count matrices in chunks, partial fits.

The in-memory path holds every text, every token list and every n-gram's column at once. The
streaming path reads the documents twice, one chunk at a time, and holds only counts:

1. **Vocabulary** (``count_terms`` per chunk, summed in ``TermCounts``; ``fit_vocabulary``):
   each chunk's n-grams are counted, and their document frequencies and total counts are added
   to running sums. ``min_df``, ``max_df`` and ``max_features`` then select terms exactly as
   ``TextVectorizer.fit`` does, from the same numbers, so the vocabulary, the columns' order and
   the idf are the ones ``fit`` learns on all the documents at once.
2. **Counts** (``transform_chunks``): each chunk becomes a CSR count matrix over that
   vocabulary, row for row the matrix ``fit_transform`` returns.

What is exact (``fit_streaming``):

- ``NaiveBayesClassifier``: learned by ``partial_fit`` from per-class sums of counts: the model
  equals ``fit``'s (to the last bit for counts and binary features), and memory holds only the
  vocabulary and the (n_classes, n_features) counts.
- ``NBSVMClassifier``, scikit-learn's ``LogisticRegression`` and other estimators: their solvers
  (liblinear, lbfgs) need every row at once, so the chunks' sparse matrices are stacked and fitted
  in one call. The model equals ``fit``'s; memory holds the sparse features, never the text.
  (``NBSVMClassifier.partial_fit`` bounds memory by fitting the linear step with SGD instead:
  exact counts and log-count ratios, approximate weights; see ``textkit.classical.nbsvm``.)

Sums of counts also merge across processes and machines: ``TermCounts.add`` and
``merge_naive_bayes`` are exact whatever the split (see ``textkit.classical.dask``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from textkit.classical.naive_bayes import NaiveBayesClassifier
from textkit.classical.vectorize import TextVectorizer

__all__ = [
    "CHUNK_ROWS",
    "TermCounts",
    "chunked",
    "count_terms",
    "fit_streaming",
    "fit_vocabulary",
    "merge_naive_bayes",
    "transform_chunks",
]

CHUNK_ROWS = 10_000  # documents per chunk: a few MB of text and token lists at a time

T = TypeVar("T")
Chunk = tuple[Sequence[str], Sequence[Any]]  # (texts, labels) of one chunk


def chunked(items: Iterable[T], size: int = CHUNK_ROWS) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last may be shorter); nothing is read ahead."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, got {size}")
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class TermCounts:
    """Pass 1's state: every term seen so far with its document frequency and total count.

    ``terms`` maps a term to its row in ``df`` and ``totals`` (rows in order of first sight).
    ``add`` merges another ``TermCounts`` by summing: exact, and independent of how the
    documents were split into chunks or in which order the chunks are added.
    """

    terms: dict[str, int] = field(default_factory=dict)
    df: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    totals: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    n_documents: int = 0

    def add(self, other: TermCounts) -> TermCounts:
        """Add ``other``'s counts to these (in place) and return self."""
        setdefault = self.terms.setdefault
        ids = np.fromiter(
            (setdefault(term, len(self.terms)) for term in other.terms), dtype=np.int64, count=len(other.terms)
        )
        if len(self.terms) > len(self.df):  # grow geometrically: adding many chunks stays linear
            capacity = max(len(self.terms), 2 * len(self.df))
            self.df = np.concatenate([self.df, np.zeros(capacity - len(self.df), dtype=np.int64)])
            self.totals = np.concatenate([self.totals, np.zeros(capacity - len(self.totals), dtype=np.float64)])
        order = np.fromiter(other.terms.values(), dtype=np.int64, count=len(other.terms))
        self.df[ids] += other.df[order]  # ids are distinct: plain fancy-index addition is exact
        self.totals[ids] += other.totals[order]
        self.n_documents += other.n_documents
        return self

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(terms, df, totals)`` with terms as an object array, rows in order of first sight."""
        terms = np.empty(len(self.terms), dtype=object)
        terms[list(self.terms.values())] = list(self.terms)
        n = len(self.terms)
        return terms, self.df[:n], self.totals[:n]


def count_terms(vectorizer: TextVectorizer, documents: Iterable[str]) -> TermCounts:
    """Document frequencies and total counts of ``vectorizer``'s terms in ``documents`` (one chunk)."""
    vectorizer._check_params()
    X, vocabulary = vectorizer._count(vectorizer._check_documents(documents), None)
    # after sum_duplicates each row lists a column once: bincount of indices is document frequency
    df = np.bincount(X.indices, minlength=len(vocabulary)).astype(np.int64)
    totals = np.bincount(X.indices, weights=X.data, minlength=len(vocabulary)).astype(np.float64)
    return TermCounts(vocabulary, df, totals, X.shape[0])


def fit_vocabulary(vectorizer: TextVectorizer, counts: TermCounts) -> TextVectorizer:
    """Fit ``vectorizer`` (in place; returned) from pass-1 counts: the ``vocabulary_``, ``idf_``
    and ``n_documents_`` that ``vectorizer.fit`` learns on the same documents."""
    vectorizer._check_params()
    n_docs = counts.n_documents
    if n_docs == 0:
        raise ValueError("TextVectorizer.fit got no documents")
    terms, df, totals = counts.arrays()
    if not len(terms):
        raise ValueError(
            f"empty vocabulary: all {n_docs} documents are empty or contain only stop words / "
            "tokens the analyzer drops; check the input or the analyzer"
        )
    order = np.argsort(terms, kind="stable")  # columns in alphabetical order of terms, as fit has them
    terms, df, totals = terms[order], df[order], totals[order]
    if vectorizer._selects(n_docs):
        keep = vectorizer._keep_terms(df, totals, n_docs)
        if not keep.any():
            raise ValueError(
                f"min_df={vectorizer.min_df!r} / max_df={vectorizer.max_df!r} / "
                f"max_features={vectorizer.max_features!r} left no terms (of {len(terms)}); loosen them"
            )
        terms, df = terms[keep], df[keep]
    vectorizer.vocabulary_ = dict(zip(terms.tolist(), range(len(terms)), strict=True))
    vectorizer.n_documents_ = n_docs
    if vectorizer.weighting == "tfidf":
        vectorizer.idf_ = vectorizer._idf(df, n_docs)
    return vectorizer


def transform_chunks(vectorizer: TextVectorizer, chunks: Iterable[Sequence[str]]) -> Iterator[sp.csr_matrix]:
    """Pass 2: each chunk of documents as a CSR matrix over the fitted vocabulary."""
    for documents in chunks:
        yield vectorizer.transform(documents)


def merge_naive_bayes(models: Sequence[NaiveBayesClassifier]) -> NaiveBayesClassifier:
    """One model from naive Bayes models fitted (or partially fitted) on parts of the data, with
    one vocabulary and one ``classes_``: their counts are summed, so the result is the model
    ``fit`` gives on all the parts at once (exact for whole-number counts)."""
    if not models:
        raise ValueError("merge_naive_bayes needs at least one fitted model")
    first = models[0]
    for i, model in enumerate(models[1:], start=1):
        if not np.array_equal(model.classes_, first.classes_):
            raise ValueError(
                f"model {i} has classes {model.classes_.tolist()!r}, model 0 has {first.classes_.tolist()!r}; "
                "fit every part with the same classes= (all the labels of the data)"
            )
        if model.feature_count_.shape != first.feature_count_.shape:
            raise ValueError(
                f"model {i} has {model.feature_count_.shape[1]} features, model 0 has {first.feature_count_.shape[1]}; "
                "vectorize every part with one fitted vocabulary"
            )
    merged = clone(first)
    merged.classes_ = first.classes_
    merged.n_features_in_ = first.n_features_in_
    merged.feature_count_ = np.sum([m.feature_count_ for m in models], axis=0)
    merged.class_count_ = np.sum([m.class_count_ for m in models], axis=0)
    merged._update_log_probabilities()
    return merged


def _check_pipeline(pipeline: Pipeline) -> tuple[str, TextVectorizer, str, Any]:
    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
        raise TypeError("fit_streaming takes a two-step Pipeline: a TextVectorizer, then a classifier")
    (vec_name, vectorizer), (clf_name, classifier) = pipeline.steps
    if not isinstance(vectorizer, TextVectorizer):
        raise TypeError(f"the pipeline's first step must be a TextVectorizer, got {type(vectorizer).__name__}")
    return vec_name, vectorizer, clf_name, classifier


def fit_streaming(
    pipeline: Pipeline,
    chunks: Callable[[], Iterable[Chunk]],
    *,
    classes: Sequence[Any] | None = None,
) -> Pipeline:
    """Fit a ``Pipeline([(name, TextVectorizer), (name, classifier)])`` in two passes over chunks.

    ``chunks()`` returns a fresh iterable of ``(texts, labels)`` pairs on each call; it is called
    twice, and both passes must see the same documents in the same order. ``classes`` defaults
    to the sorted labels of pass 1. Returns a fitted clone of ``pipeline`` equal to
    ``pipeline.fit(all_texts, all_labels)`` (see the module docstring for what each classifier
    holds in memory). The labels become an object array, as ``np.asarray(labels, dtype=object)``.
    """
    vec_name, vectorizer, clf_name, classifier = _check_pipeline(pipeline)
    vectorizer, classifier = clone(vectorizer), clone(classifier)
    counts = TermCounts()
    seen: set[Any] = set()
    n_rows = 0
    for texts, labels in chunks():
        if len(texts) != len(labels):
            raise ValueError(f"a chunk holds {len(texts)} texts but {len(labels)} labels")
        counts.add(count_terms(vectorizer, texts))
        seen.update(labels)
        n_rows += len(texts)
    fit_vocabulary(vectorizer, counts)
    del counts
    known = np.asarray(sorted(seen if classes is None else classes), dtype=object)
    if len(known) < 2:
        raise ValueError(
            f"{type(classifier).__name__} needs at least two classes to learn from, but the data has only "
            f"{known.tolist()!r}; check the labels"
        )
    incremental = isinstance(classifier, NaiveBayesClassifier)  # exact by sums of counts
    blocks: list[sp.csr_matrix] = []
    codes: list[np.ndarray] = []
    position = {label: i for i, label in enumerate(known.tolist())}
    n_second = 0
    for texts, labels in chunks():
        X = vectorizer.transform(texts)
        n_second += X.shape[0]
        y = np.asarray(labels, dtype=object)
        if incremental:
            classifier.partial_fit(X, y, classes=known)
        else:
            unknown = sorted({str(label) for label in labels if label not in position})
            if unknown:
                raise ValueError(f"labels {unknown[:5]} are not among classes={known.tolist()!r}")
            blocks.append(X)
            codes.append(np.fromiter((position[label] for label in labels), dtype=np.int64, count=len(labels)))
    if n_second != n_rows:
        raise ValueError(
            f"the second pass read {n_second:,} documents, the first {n_rows:,}: the data changed while it was "
            "read; both passes must see the same documents"
        )
    if not incremental:
        X = sp.vstack(blocks, format="csr") if len(blocks) > 1 else blocks[0]
        blocks.clear()
        classifier.fit(X, known[np.concatenate(codes)])
    return Pipeline([(vec_name, vectorizer), (clf_name, classifier)])
