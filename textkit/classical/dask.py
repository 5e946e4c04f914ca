"""The streaming fit over Dask: partitions of text, exact merges (``pip install 'textkit[dask]'``).

``textkit.classical.streaming`` reads chunks in one process. Here the same two passes are mapped
over the partitions of a ``dask.bag`` (any scheduler: threads, processes, or a
``dask.distributed`` cluster; whichever is the default when ``fit_bag`` runs):

1. each partition counts its n-grams (``TermCounts``); the counts are summed in a tree, and the
   client selects the vocabulary from the sums: the ``vocabulary_`` and ``idf_`` of one fit;
2. naive Bayes: each partition runs ``partial_fit`` over its chunks and the models are summed
   (``merge_naive_bayes``): exact, whatever the partitioning, and only counts travel. NBSVM and
   logistic regression: each partition returns its sparse count matrix, and the client stacks
   them in partition order and fits once (liblinear and lbfgs need every row): exact, with the
   features, not the texts, on the client.

So the fitted model equals the single-process one (``fit_streaming``, or ``Pipeline.fit`` on the
rows in partition order). ``read_bag`` makes one partition per data file, read where the
partition runs by ``textkit.data.tables.iter_table``: a bad row raises the reader's error, which
names the partition's file and line. Workers must see the files at the same paths.

``map_in_order`` is the client-side alternative for prediction (``textkit classify predict
--dask``): the client reads the file in batches, the workers label them, the results come back
in input order; only the batches' texts and the model travel, so workers need no shared files.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from textkit.classical.naive_bayes import NaiveBayesClassifier
from textkit.classical.streaming import (
    CHUNK_ROWS,
    TermCounts,
    _check_pipeline,
    chunked,
    count_terms,
    fit_vocabulary,
    merge_naive_bayes,
)
from textkit.classical.vectorize import TextVectorizer

if TYPE_CHECKING:
    import dask.bag

__all__ = ["connect", "fit_bag", "map_in_order", "predict_bag", "read_bag"]

SPLIT_EVERY = 8  # partitions merged per step of the tree reductions
T = TypeVar("T")


def _dask_bag() -> Any:
    try:
        import dask.bag
    except ImportError:
        raise ImportError(
            "textkit.classical.dask needs Dask: pip install 'textkit[dask]' (or pip install 'dask[distributed]')"
        ) from None
    return dask.bag


class _FileRows:
    """One partition's rows, read lazily from its files each time it is iterated.

    A partition must be a picklable iterable, not a generator: a task that consumes it may run on
    another worker than the task that made it, so it travels as its file names and reader options.
    """

    def __init__(self, paths: list[str], options: dict) -> None:
        self.paths = paths
        self.options = options

    def __iter__(self) -> Iterator[Any]:
        from textkit.data.tables import iter_table

        for path in self.paths:
            yield from iter_table(path, **self.options)


def _read_partition(paths: Iterable[str], options: dict) -> _FileRows:
    return _FileRows(list(paths), options)


def read_bag(paths: Sequence[str | os.PathLike], *, table_options: dict | None = None) -> dask.bag.Bag:
    """A ``dask.bag`` of ``textkit.data.tables.Row`` s, one partition per file, in file order.

    Each partition reads its file lazily with ``iter_table`` (``table_options``: its keyword
    arguments; labels default to ``"required"``), so a bad row fails the partition with the
    reader's ``DataFileError``, which names the file and the line.
    """
    if isinstance(paths, (str, os.PathLike)) or not paths:
        raise ValueError("read_bag takes a non-empty list of data files (one partition each)")
    db = _dask_bag()
    options = {"labels": "required", **(table_options or {})}
    files = [os.fspath(path) for path in paths]
    return db.from_sequence(files, npartitions=len(files)).map_partitions(_read_partition, options)


def _texts_and_labels(rows: Sequence[Any]) -> tuple[list[str], list[Any]]:
    """Rows (``Row`` or any ``(text, label)`` pair) as two lists."""
    return [row[0] for row in rows], [row[1] for row in rows]


# -- pass 1: counts ---------------------------------------------------------------------------


def _count_partition(rows: Iterable[Any], vectorizer: TextVectorizer, chunk_rows: int) -> tuple[TermCounts, set, int]:
    counts, labels, n_rows = TermCounts(), set(), 0
    for chunk in chunked(rows, chunk_rows):
        texts, chunk_labels = _texts_and_labels(chunk)
        counts.add(count_terms(vectorizer, texts))
        labels.update(chunk_labels)
        n_rows += len(chunk)
    return counts, labels, n_rows


def _merge_counts(parts: Iterable[tuple[TermCounts, set, int]]) -> tuple[TermCounts, set, int]:
    counts, labels, n_rows = TermCounts(), set(), 0
    for part_counts, part_labels, part_rows in parts:
        counts.add(part_counts)  # sums: exact in any order
        labels |= part_labels
        n_rows += part_rows
    return counts, labels, n_rows


# -- pass 2: naive Bayes counts, or matrices --------------------------------------------------


def _naive_bayes_partition(
    rows: Iterable[Any],
    vectorizer: TextVectorizer,
    classifier: NaiveBayesClassifier,
    classes: np.ndarray,
    chunk_rows: int,
) -> list[tuple[NaiveBayesClassifier | None, int]]:
    model, n_rows = clone(classifier), 0
    for chunk in chunked(rows, chunk_rows):
        texts, labels = _texts_and_labels(chunk)
        model.partial_fit(vectorizer.transform(texts), np.asarray(labels, dtype=object), classes=classes)
        n_rows += len(chunk)
    return [(model if n_rows else None, n_rows)]


def _merge_naive_bayes(
    parts: Iterable[tuple[NaiveBayesClassifier | None, int]],
) -> tuple[NaiveBayesClassifier | None, int]:
    parts = list(parts)
    models = [model for model, _ in parts if model is not None]
    return (merge_naive_bayes(models) if models else None), sum(n for _, n in parts)


def _matrix_partition(rows: Iterable[Any], vectorizer: TextVectorizer, chunk_rows: int) -> list[tuple[Any, list]]:
    blocks, labels = [], []
    for chunk in chunked(rows, chunk_rows):
        texts, chunk_labels = _texts_and_labels(chunk)
        blocks.append(vectorizer.transform(texts))
        labels.extend(chunk_labels)
    if not blocks:
        return []
    return [(sp.vstack(blocks, format="csr") if len(blocks) > 1 else blocks[0], labels)]


def fit_bag(
    pipeline: Pipeline,
    bag: dask.bag.Bag,
    *,
    classes: Sequence[Any] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Pipeline:
    """Fit ``Pipeline([(name, TextVectorizer), (name, classifier)])`` on a bag of ``(text, label)``
    rows (``read_bag``'s ``Row`` s, or pairs), two passes over its partitions; returns a fitted
    clone equal to the single-process fit on the rows in partition order (see the module docstring).

    ``classes`` defaults to the sorted labels of pass 1. Partitions are read in chunks of
    ``chunk_rows`` rows, so a worker holds one chunk of text at a time.
    """
    import dask

    vec_name, vectorizer, clf_name, classifier = _check_pipeline(pipeline)
    vectorizer, classifier = clone(vectorizer), clone(classifier)
    vectorizer._check_params()
    counts, seen, n_rows = bag.reduction(
        partial(_count_partition, vectorizer=vectorizer, chunk_rows=chunk_rows),
        _merge_counts,
        split_every=SPLIT_EVERY,
    ).compute()
    fit_vocabulary(vectorizer, counts)
    del counts
    known = np.asarray(sorted(seen if classes is None else classes), dtype=object)
    if len(known) < 2:
        raise ValueError(
            f"{type(classifier).__name__} needs at least two classes to learn from, but the data has only "
            f"{known.tolist()!r}; check the labels"
        )
    # one task holds the fitted vectorizer: the vocabulary travels once to each worker, not once per
    # partition (named, so dask does not hash the whole vocabulary to name it)
    fitted = dask.delayed(vectorizer, name=f"textkit-vectorizer-{uuid.uuid4().hex}")
    if isinstance(classifier, NaiveBayesClassifier):  # partial fits per partition, summed in a tree
        per_partition = bag.map_partitions(_naive_bayes_partition, fitted, classifier, known, chunk_rows)
        merged = per_partition.reduction(_merge_naive_bayes, _merge_naive_bayes, split_every=SPLIT_EVERY)
        model, n_second = merged.compute()
    else:
        parts = bag.map_partitions(_matrix_partition, fitted, chunk_rows).compute()
        n_second = sum(X.shape[0] for X, _ in parts)
        position = {label: i for i, label in enumerate(known.tolist())}
        codes = [position.get(label, -1) for _, labels in parts for label in labels]
        if min(codes, default=0) < 0:
            unknown = sorted({str(label) for _, labels in parts for label in labels if label not in position})
            raise ValueError(f"labels {unknown[:5]} are not among classes={known.tolist()!r}")
        X = sp.vstack([X for X, _ in parts], format="csr") if len(parts) > 1 else parts[0][0]
        del parts
        model = classifier.fit(X, known[np.asarray(codes, dtype=np.int64)])
    if n_second != n_rows:
        raise ValueError(
            f"the second pass read {n_second:,} rows, the first {n_rows:,}: the data changed while it was read"
        )
    return Pipeline([(vec_name, vectorizer), (clf_name, model)])


def _predict_partition(rows: Iterable[Any], model: Pipeline, chunk_rows: int) -> list[Any]:
    out: list[Any] = []
    for chunk in chunked(rows, chunk_rows):
        texts = [row if isinstance(row, str) else row[0] for row in chunk]
        out.extend(model.predict(texts).tolist())
    return out


def predict_bag(model: Pipeline, bag: dask.bag.Bag, *, chunk_rows: int = CHUNK_ROWS) -> dask.bag.Bag:
    """A bag of ``model``'s predicted labels, one per row of ``bag`` (texts, ``Row`` s or
    ``(text, ...)`` tuples), in input order, partition for partition."""
    import dask

    return bag.map_partitions(
        _predict_partition, dask.delayed(model, name=f"textkit-model-{uuid.uuid4().hex}"), chunk_rows
    )


# -- prediction over a dask.distributed cluster, batch by batch ------------------------------


def connect(address: str, *, timeout: float = 30.0) -> Any:
    """A ``dask.distributed.Client`` of the scheduler at ``address`` (``tcp://host:8786``), not
    made the default client; close it when done. Errors say what to install or start."""
    try:
        import distributed
    except ImportError:
        raise ImportError(
            "--dask needs Dask's distributed scheduler: pip install 'textkit[dask]' (or pip install "
            "'dask[distributed]') on the client and on every worker"
        ) from None
    try:
        return distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ConnectionError(
            f"no Dask scheduler answered at {address} within {timeout:.0f} s ({exc}); start one with "
            "`dask scheduler` and its workers with `dask worker ADDRESS`, then pass the address it prints"
        ) from None


def _apply(function: Any, item: Any) -> Any:
    return function(item)


def map_in_order(
    client: Any,
    function: Any,
    items: Iterable[T],
    *,
    project: Any = None,
    in_flight: int | None = None,
) -> Iterator[tuple[T, Any]]:
    """``(item, function(project(item)))`` for each item, computed on ``client``'s workers and
    yielded in input order.

    ``function`` is sent to the workers once (scattered, so a model travels once per worker, not
    once per item); ``project`` picks what of each item travels (default: the item). At most
    ``in_flight`` items (default: two per worker thread) are out at once, so the client holds a
    bounded number of items and results however long the input. An error in a task is raised
    here, the remaining tasks are cancelled, and nothing after the failed item is yielded.
    """
    from collections import deque

    if in_flight is None:
        in_flight = 2 * max(1, sum(client.nthreads().values()))
    shipped = client.scatter(function, broadcast=True, hash=False)
    pending: deque[tuple[T, Any]] = deque()
    try:
        for item in items:
            payload = item if project is None else project(item)
            pending.append((item, client.submit(_apply, shipped, payload, pure=False)))
            if len(pending) >= in_flight:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()
    finally:
        for _, future in pending:
            future.cancel()
        shipped.cancel()
