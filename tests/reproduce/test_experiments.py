"""The experiment functions behind `textkit reproduce`: leak-free folds and reproducible results."""

from __future__ import annotations

import numpy as np
import pytest

from textkit.reproduce.experiments import SENTIMENT_METHODS, grouped_stratified_folds, sentiment_cross_validation


def test_grouped_folds_keep_duplicates_together_and_stratify():
    rng = np.random.default_rng(0)
    groups = np.concatenate([np.arange(300), rng.integers(0, 300, size=60)])  # 60 duplicated texts
    y = np.where(groups % 10 < 6, "fresh", "rotten")  # a group's label is its text's label
    folds = grouped_stratified_folds(y, groups, 10, seed=0)
    tests = np.concatenate([test for _, test in folds])
    assert sorted(tests) == list(range(len(y)))  # a partition
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])  # no text on both sides
        assert abs(np.mean(y[test] == "fresh") - 0.6) < 0.1
    assert [t.tolist() for _, t in folds] == [t.tolist() for _, t in grouped_stratified_folds(y, groups, 10, seed=0)]


@pytest.mark.slow
def test_sentiment_cross_validation_is_reproducible_and_parallel_safe(make_corpus):
    texts, labels = make_corpus(n=180, seed=3)
    texts, labels = texts + texts[:20], labels + labels[:20]  # duplicates, grouped into one fold
    serial = sentiment_cross_validation(texts, labels, n_folds=3, quick=True, n_jobs=1)
    parallel = sentiment_cross_validation(texts, labels, n_folds=3, quick=True, n_jobs=2)
    assert set(serial["metrics"]) == set(SENTIMENT_METHODS)
    for key in SENTIMENT_METHODS:
        assert serial["metrics"][key]["fold_accuracies"] == parallel["metrics"][key]["fold_accuracies"], key
    m = serial["metrics"]
    assert m["mnb-bi"]["fold_accuracies"] == m["sklearn-mnb"]["fold_accuracies"]  # same maths, same features
    assert m["mnb-uni"]["accuracy"] > 0.85
    assert serial["config"]["n_duplicate_texts_grouped"] == 20
    assert all(0.0 < h["beta"] <= 1.0 for h in m["nbsvm-bi"]["hyperparameters"])
