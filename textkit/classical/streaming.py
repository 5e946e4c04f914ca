"""Out-of-core training: a two-pass vocabulary, count matrices in chunks, partial fits.

The in-memory path holds every text, every token list and every n-gram's column at once. The
streaming path reads the documents twice, one chunk at a time, and holds only counts:

1. **Vocabulary** (``fit_vocabulary`` from a ``TermCounts``): each chunk's n-grams are counted
   into one vocabulary grown over all chunks, and their document frequencies and total counts
   are added to running sums (``count_terms`` per chunk, summed with ``TermCounts.add``, gives
   the same sums; ``textkit.classical.dask`` merges those). ``min_df``, ``max_df`` and
   ``max_features`` then select terms exactly as ``TextVectorizer.fit`` does, from the same
   numbers, so the vocabulary, the columns' order and the idf are the ones ``fit`` learns on all
   the documents at once.
2. **Counts** (``transform_chunks``): each chunk becomes a CSR count matrix over that
   vocabulary, row for row the matrix ``fit_transform`` returns.

In both passes a document met again anywhere in the stream copies its first occurrence's term
ids instead of being tokenized again (up to ``MEMO_DOCUMENTS`` documents remembered, in
``textkit.classical.vectorize``): streams that repeat lines pay for their distinct lines.

What is exact (``fit_streaming``):

- ``NaiveBayesClassifier``: learned by ``partial_fit`` from per-class sums of counts: the model
  equals ``fit``'s (to the last bit for counts and binary features), and memory holds only the
  vocabulary and the (n_classes, n_features) counts.
- ``NBSVMClassifier``: liblinear needs every row at once, but ``fit`` solves for each distinct
  (row, label) once, weighted by its copies; pass 2 keeps only the distinct rows and their
  counts (``DistinctRows``) and fits them in one call: the same input ``fit`` hands liblinear, so
  the same model, bit for bit. Memory holds the distinct rows, never the text (a corpus that
  repeats its lines costs only its distinct ones).
- scikit-learn's ``LogisticRegression`` and other estimators: their solvers need every row at
  once, so the chunks' sparse matrices are stacked and fitted in one call. The model equals
  ``fit``'s; memory holds the sparse features, never the text.
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
from textkit.classical.nbsvm import NBSVMClassifier
from textkit.classical.vectorize import TextVectorizer, growing_vocabulary

__all__ = [
    "CHUNK_ROWS",
    "DistinctRows",
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
    vectorizer._check_params()
    # pass 1 grows one vocabulary over all chunks (the sum of count_terms' per-chunk counts, with
    # no merging), and a document repeated anywhere in the stream is analyzed once (memo)
    terms = growing_vocabulary()
    df, totals = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    memo: dict = {}
    seen: set[Any] = set()
    n_rows = 0
    for texts, labels in chunks():
        if len(texts) != len(labels):
            raise ValueError(f"a chunk holds {len(texts)} texts but {len(labels)} labels")
        X, _ = vectorizer._count(vectorizer._check_documents(texts), terms, grow=True, memo=memo)
        if len(terms) > len(df):  # grow geometrically: many chunks stay linear
            extra = max(len(terms), 2 * len(df)) - len(df)
            df, totals = np.concatenate([df, np.zeros(extra, np.int64)]), np.concatenate([totals, np.zeros(extra)])
        df[: X.shape[1]] += np.bincount(X.indices, minlength=X.shape[1])  # rows list a column once
        totals[: X.shape[1]] += np.bincount(X.indices, weights=X.data, minlength=X.shape[1])
        seen.update(labels)
        n_rows += len(texts)
    memo.clear()
    fit_vocabulary(vectorizer, TermCounts(dict(terms), df[: len(terms)], totals[: len(terms)], n_rows))
    del terms, df, totals
    known = np.asarray(sorted(seen if classes is None else classes), dtype=object)
    if len(known) < 2:
        raise ValueError(
            f"{type(classifier).__name__} needs at least two classes to learn from, but the data has only "
            f"{known.tolist()!r}; check the labels"
        )
    incremental = isinstance(classifier, NaiveBayesClassifier)  # exact by sums of counts
    # NBSVM fits each distinct (row, label) once, weighted by its copies: hold only those rows
    distinct = None if incremental or not isinstance(classifier, NBSVMClassifier) else DistinctRows(classifier.binarize)
    blocks: list[sp.csr_matrix] = []
    codes: list[np.ndarray] = []
    position = {label: i for i, label in enumerate(known.tolist())}
    n_second = 0
    for texts, labels in chunks():  # vectorizer.transform, remembering repeated documents across chunks
        X = vectorizer._weight(
            vectorizer._count(vectorizer._check_documents(texts), vectorizer.vocabulary_, memo=memo)[0]
        )
        n_second += X.shape[0]
        y = np.asarray(labels, dtype=object)
        if incremental:
            classifier.partial_fit(X, y, classes=known)
            continue
        unknown = sorted({str(label) for label in labels if label not in position})
        if unknown:
            raise ValueError(f"labels {unknown[:5]} are not among classes={known.tolist()!r}")
        chunk_codes = np.fromiter((position[label] for label in labels), dtype=np.int64, count=len(labels))
        if distinct is not None:
            distinct.add(X, chunk_codes)
        else:
            blocks.append(X)
            codes.append(chunk_codes)
    if n_second != n_rows:
        raise ValueError(
            f"the second pass read {n_second:,} documents, the first {n_rows:,}: the data changed while it was "
            "read; both passes must see the same documents"
        )
    if distinct is not None:
        X, y_codes, weights = distinct.arrays(len(vectorizer.vocabulary_))
        del distinct
        classifier.fit(X, known[y_codes], sample_weight=weights)
    elif not incremental:
        X = sp.vstack(blocks, format="csr") if len(blocks) > 1 else blocks[0]
        blocks.clear()
        classifier.fit(X, known[np.concatenate(codes)])
    return Pipeline([(vec_name, vectorizer), (clf_name, classifier)])


class DistinctRows:
    """The distinct (row, label) pairs of chunks of a CSR matrix, in order of first sight, and
    how many times each occurs: what ``NBSVMClassifier.fit`` reduces its input to (see
    ``textkit.classical.nbsvm.distinct_rows``), gathered chunk by chunk so that only the
    distinct rows are ever held. ``binary=True`` compares rows by their columns alone (the
    classifier binarizes; the rows come back with values 1).
    """

    def __init__(self, binary: bool) -> None:
        self.binary = binary
        self.index: dict[tuple, int] = {}
        self.counts: list[int] = []

    def add(self, X: sp.csr_matrix, codes: np.ndarray) -> None:
        X = X if X.has_sorted_indices else X.sorted_indices()
        bounds = X.indptr.tolist()
        columns = np.ascontiguousarray(X.indices, dtype=np.int64).data.cast("B")
        data = None if self.binary else np.ascontiguousarray(X.data, dtype=np.float64).data.cast("B")
        index, counts = self.index, self.counts
        for i, code in enumerate(codes.tolist()):
            a, b = bounds[i], bounds[i + 1]
            if data is None:
                key: tuple = (code, bytes(columns[8 * a : 8 * b]))
            else:
                key = (code, bytes(columns[8 * a : 8 * b]), bytes(data[8 * a : 8 * b]))
            k = index.setdefault(key, len(counts))
            if k == len(counts):
                counts.append(1)
            else:
                counts[k] += 1

    def arrays(self, n_features: int) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray | None]:
        """``(X, codes, weights)``: the distinct rows, their labels' codes, and their counts
        (``None`` when every row is distinct, so the fit is the unweighted one)."""
        keys = list(self.index)  # dicts keep insertion order: the order of first sight
        indices = np.frombuffer(b"".join(key[1] for key in keys), dtype=np.int64)
        lengths = np.fromiter((len(key[1]) // 8 for key in keys), dtype=np.int64, count=len(keys))
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        if self.binary:
            data = np.ones(len(indices))
        else:
            data = np.frombuffer(b"".join(key[2] for key in keys), dtype=np.float64)
        index_dtype = np.int32 if max(len(indices), n_features) < np.iinfo(np.int32).max else np.int64
        X = sp.csr_matrix(
            (data, indices.astype(index_dtype), indptr.astype(index_dtype)), shape=(len(keys), n_features)
        )
        codes = np.fromiter((key[0] for key in keys), dtype=np.int64, count=len(keys))
        weights = np.asarray(self.counts, dtype=np.float64)
        return X, codes, (None if weights.max(initial=1.0) == 1.0 else weights)
