"""textkit.classical.dask on a dask.distributed LocalCluster of two worker processes: the fitted
model equals the single-process one, predictions come back in input order, and a bad row in
one partition fails with its file and line."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from textkit.classical import NaiveBayesClassifier, NBSVMClassifier, TextVectorizer, fit_streaming
from textkit.classical.streaming import chunked
from textkit.data.tables import DataFileError

distributed = pytest.importorskip("distributed", reason="Dask is an optional extra: pip install 'textkit[dask]'")

from textkit.classical.dask import fit_bag, predict_bag, read_bag  # noqa: E402 -- after the importorskip

pytestmark = pytest.mark.slow

SIZES = (120, 100, 80)  # rows per file: one partition each


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None, memory_limit=None
    )
    with cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture
def partitions(tmp_path, make_corpus):
    texts, labels = make_corpus(n=sum(SIZES), n_classes=3)
    folder = tmp_path / "partitions"
    folder.mkdir()
    files, start = [], 0
    for i, size in enumerate(SIZES):
        path = folder / f"part-{i}.csv"
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows(zip(texts[start : start + size], labels[start : start + size], strict=True))
        files.append(path)
        start += size
    return files, texts, labels


@pytest.mark.parametrize(
    "classifier",
    [NaiveBayesClassifier(binarize=True), NBSVMClassifier(classifier="logistic")],
    ids=["nb", "nbsvm"],
)
def test_dask_fit_bag_equals_the_single_process_fit(client, partitions, classifier):
    files, texts, labels = partitions
    pipeline = Pipeline([("vectorizer", TextVectorizer(ngram_range=(1, 2), min_df=2)), ("classifier", classifier)])
    fitted = fit_bag(pipeline, read_bag(files), chunk_rows=32)
    reference = clone(pipeline).fit(texts, np.asarray(labels, dtype=object))
    streamed = fit_streaming(pipeline, lambda: zip(chunked(texts, 50), chunked(labels, 50), strict=True))
    for other in (reference, streamed):
        assert fitted.named_steps["vectorizer"].vocabulary_ == other.named_steps["vectorizer"].vocabulary_
        model, expected = fitted.named_steps["classifier"], other.named_steps["classifier"]
        np.testing.assert_array_equal(model.classes_, expected.classes_)
        for name in ("feature_log_prob_", "class_log_prior_", "coef_", "intercept_", "r_"):
            if hasattr(expected, name):
                assert np.max(np.abs(getattr(model, name) - getattr(expected, name))) <= 1e-6, name
    predicted = predict_bag(fitted, read_bag(files), chunk_rows=16).compute()
    assert predicted == reference.predict(texts).tolist()  # identical, in input order


def test_dask_bad_row_in_one_partition_names_its_file_and_line(client, partitions, tmp_path):
    files, _, _ = partitions
    bad = tmp_path / "part-bad.csv"
    bad.write_text("text,label\ngreat fun,pos\nboring,neg\ndull and flat,\nsmart,pos\n", encoding="utf-8")
    pipeline = Pipeline([("vectorizer", TextVectorizer()), ("classifier", NaiveBayesClassifier())])
    with pytest.raises(DataFileError, match=rf"{bad}, line 4: the row has no label"):
        fit_bag(pipeline, read_bag([files[0], bad, files[1]]))


def test_dask_partitions_travel_between_workers_as_file_names(partitions):
    """Regression: read_bag's partitions were generators, which cannot be pickled; when the task
    consuming a partition ran on the other worker, the fit hung in gather."""
    import pickle

    files, texts, _ = partitions
    (partition,) = (
        read_bag(files[:1]).map_partitions(lambda rows: [pickle.loads(pickle.dumps(rows))]).compute(scheduler="sync")
    )
    assert [row.text for row in partition] == texts[: SIZES[0]]
    assert [row.text for row in partition] == texts[: SIZES[0]]  # re-iterable: read again from the file
