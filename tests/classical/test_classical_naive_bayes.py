"""NaiveBayesClassifier: equal to MultinomialNB, stable in log space, the prior for unseen words, errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import make_pipeline

from textkit.classical import NaiveBayesClassifier, TextVectorizer, log_count_ratio


def _counts(seed: int, n: int = 80, m: int = 30, n_classes: int = 2) -> tuple[sp.csr_matrix, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, size=n)
    y[:n_classes] = np.arange(n_classes)
    rates = rng.gamma(0.5, 1.0, size=(n_classes, m))
    X = rng.poisson(rates[y])
    return sp.csr_matrix(X.astype(np.float64)), np.array(["c%d" % c for c in y])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n_classes=st.integers(2, 4), alpha=st.sampled_from([0.1, 0.5, 1.0, 2.0]))
def test_naive_bayes_equals_sklearn_multinomial_nb(seed, n_classes, alpha):
    X, y = _counts(seed, n_classes=n_classes)
    ours = NaiveBayesClassifier(alpha=alpha).fit(X, y)
    ref = MultinomialNB(alpha=alpha).fit(X, y)
    np.testing.assert_allclose(ours.feature_log_prob_, ref.feature_log_prob_, rtol=1e-10)
    np.testing.assert_allclose(ours.class_log_prior_, ref.class_log_prior_, rtol=1e-10)
    np.testing.assert_allclose(ours.predict_log_proba(X), ref.predict_log_proba(X), rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))


def test_naive_bayes_sample_weight_equals_sklearn():
    X, y = _counts(3)
    w = np.random.default_rng(0).uniform(0.1, 3.0, size=len(y))
    ours = NaiveBayesClassifier().fit(X, y, sample_weight=w)
    ref = MultinomialNB().fit(X, y, sample_weight=w)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-8)
    with pytest.raises(ValueError, match="sums to zero"):
        NaiveBayesClassifier().fit(X, y, sample_weight=np.zeros(len(y)))


def test_naive_bayes_binary_is_linear_in_the_log_count_ratio():
    X, y = _counts(7)
    model = NaiveBayesClassifier(alpha=1.0).fit(X, y)
    p = 1.0 + np.asarray(X[y == "c1"].sum(axis=0)).ravel()
    q = 1.0 + np.asarray(X[y == "c0"].sum(axis=0)).ravel()
    r = np.log(p / p.sum()) - np.log(q / q.sum())
    np.testing.assert_allclose(model.log_count_ratio_, r)
    np.testing.assert_allclose(log_count_ratio(X, y, alpha=1.0), r)
    b = np.log((y == "c1").sum() / (y == "c0").sum())
    np.testing.assert_allclose(model.decision_function(X), X @ r + b)


def test_naive_bayes_long_documents_do_not_underflow():
    X, y = _counts(1)
    model = NaiveBayesClassifier().fit(X, y)
    long_doc = sp.csr_matrix(np.asarray(X[:2].sum(axis=0)) * 5000)  # ~10^5 words
    joint = np.asarray(long_doc @ model.feature_log_prob_.T).ravel() + model.class_log_prior_
    assert np.all(np.exp(joint) == 0.0)  # the naive way gives 0 / 0
    log_proba = model.predict_log_proba(long_doc)
    assert np.all(np.isfinite(log_proba))
    np.testing.assert_allclose(np.logaddexp(*log_proba[0]), 0.0, atol=1e-12)
    np.testing.assert_allclose(log_proba[0, 1] - log_proba[0, 0], joint[1] - joint[0], rtol=1e-12)
    proba = model.predict_proba(long_doc)
    assert np.all(np.isfinite(proba)) and np.isclose(proba.sum(), 1.0)


def test_naive_bayes_binarize_uses_presence():
    X, y = _counts(5)
    binarized = NaiveBayesClassifier(binarize=True).fit(X, y)
    presence = NaiveBayesClassifier().fit((X > 0).astype(np.float64), y)
    np.testing.assert_allclose(binarized.feature_log_prob_, presence.feature_log_prob_)
    np.testing.assert_allclose(binarized.predict_proba(X * 7), presence.predict_proba((X > 0).astype(float)))


def test_naive_bayes_unseen_words_only_get_the_prior(sentiment_corpus):
    texts, labels = sentiment_corpus
    texts, labels = texts[:150], labels[:150]  # 75 / 75; make it unbalanced:
    texts, labels = texts + texts[:40:2], labels + labels[:40:2]
    model = make_pipeline(TextVectorizer(), NaiveBayesClassifier()).fit(texts, labels)
    nb = model[-1]
    proba = model.predict_proba(["zyzzyva quux xylophone", ""])
    np.testing.assert_allclose(proba, np.exp(np.tile(nb.class_log_prior_, (2, 1))))
    majority = nb.classes_[np.argmax(nb.class_count_)]
    assert list(model.predict(["zyzzyva quux"])) == [majority]


def test_naive_bayes_learns_the_toy_corpus(sentiment_corpus):
    texts, labels = sentiment_corpus
    model = make_pipeline(TextVectorizer(), NaiveBayesClassifier()).fit(texts[:160], labels[:160])
    assert np.mean(model.predict(texts[160:]) == np.array(labels[160:])) > 0.9


def test_naive_bayes_bad_input_errors():
    X, y = _counts(2)
    with pytest.raises(ValueError, match="only one class"):
        NaiveBayesClassifier().fit(X, np.array(["pos"] * X.shape[0]))
    with pytest.raises(ValueError, match="Negative values"):
        NaiveBayesClassifier().fit(-X, y)
    with pytest.raises(ValueError, match="alpha"):
        NaiveBayesClassifier(alpha=0).fit(X, y)
    with pytest.raises(NotFittedError):
        NaiveBayesClassifier().predict(X)
    model = NaiveBayesClassifier().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :10])
    with pytest.raises(ValueError, match="Negative values"):
        model.predict(-X)
