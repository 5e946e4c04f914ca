"""NBSVMClassifier: Wang & Manning's construction, its limits (beta), multiclass, sparsity, errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from textkit.classical import NaiveBayesClassifier, NBSVMClassifier, TextVectorizer, log_count_ratio


@pytest.fixture
def features(sentiment_corpus):
    texts, labels = sentiment_corpus
    vectorizer = TextVectorizer(ngram_range=(1, 2))
    X = vectorizer.fit_transform(texts)
    return X, np.array(labels)


def test_nbsvm_r_is_the_log_count_ratio_of_binarized_features(features):
    X, y = features
    model = NBSVMClassifier().fit(X, y)
    Xb = (X > 0).astype(np.float64)
    np.testing.assert_allclose(model.r_[0], log_count_ratio(Xb, y, alpha=1.0, positive="pos"))


@pytest.mark.parametrize("classifier", ["svm", "logistic"])
def test_nbsvm_beta_one_is_the_linear_model_on_scaled_features(features, classifier):
    X, y = features
    model = NBSVMClassifier(classifier=classifier, beta=1.0, C=0.5).fit(X, y)
    Xb = (X > 0).astype(np.float64)
    scaled = Xb @ sp.diags(model.r_[0])
    if classifier == "svm":
        ref = LinearSVC(C=0.5, dual="auto", random_state=0).fit(scaled, y)
    else:
        ref = LogisticRegression(C=0.5, solver="liblinear", dual=False, random_state=0).fit(scaled, y)
    np.testing.assert_allclose(model.coef_[0], model.r_[0] * ref.coef_[0], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(model.decision_function(X), ref.decision_function(scaled), rtol=1e-6, atol=1e-9)


def test_nbsvm_beta_zero_is_binarized_naive_bayes(features):
    X, y = features
    nbsvm = NBSVMClassifier(beta=0.0).fit(X, y)
    nb = NaiveBayesClassifier(binarize=True).fit(X, y)
    # the score is mean|w| times NB's log-odds: same sign, same ranking
    ratio = nbsvm.decision_function(X) / nb.decision_function(X)
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-9)
    assert ratio[0] > 0
    np.testing.assert_array_equal(nbsvm.predict(X), nb.predict(X))


def test_nbsvm_learns_and_generalizes_in_a_pipeline(sentiment_corpus):
    texts, labels = sentiment_corpus
    # the toy reviews are shuffled bags of words: unigrams carry the signal, bigrams are noise
    pipe = Pipeline([("vec", TextVectorizer()), ("clf", NBSVMClassifier())])
    pipe.fit(texts[:160], labels[:160])
    assert np.mean(pipe.predict(texts[160:]) == np.array(labels[160:])) > 0.9
    grid = {"vec__ngram_range": [(1, 1), (1, 2)], "clf__C": [0.1, 1.0], "clf__beta": [0.25, 1.0]}
    search = GridSearchCV(pipe, grid, cv=3).fit(texts, labels)
    assert search.best_score_ > 0.88
    assert search.best_params_["vec__ngram_range"] == (1, 1)


def test_nbsvm_multiclass_is_one_vs_rest(make_corpus):
    texts, labels = make_corpus(n=300, n_classes=3)
    X = TextVectorizer().fit_transform(texts)
    y = np.array(labels)
    model = NBSVMClassifier(classifier="logistic").fit(X[:240], y[:240])
    assert model.coef_.shape == (3, X.shape[1]) and model.r_.shape == (3, X.shape[1])
    scores = model.decision_function(X[240:])
    assert scores.shape == (60, 3)
    np.testing.assert_array_equal(model.predict(X[240:]), model.classes_[scores.argmax(axis=1)])
    assert np.mean(model.predict(X[240:]) == y[240:]) > 0.85
    proba = model.predict_proba(X[240:])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    for c, cls in enumerate(model.classes_):  # task c is "cls vs rest"
        np.testing.assert_allclose(
            model.r_[c], log_count_ratio((X[:240] > 0).astype(float), y[:240] == cls, positive=True)
        )


def test_nbsvm_predict_proba_only_with_logistic(features):
    X, y = features
    assert not hasattr(NBSVMClassifier(classifier="svm"), "predict_proba")
    model = NBSVMClassifier(classifier="logistic").fit(X, y)
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.classes_[proba.argmax(axis=1)], model.predict(X))


def test_nbsvm_sparse_input_is_never_densified():
    """2 million columns: a dense copy would need 16 GB; the sparse fit takes a moment."""
    rng = np.random.default_rng(0)
    n, m = 400, 2_000_000
    y = np.repeat([0, 1], n // 2)
    cols = np.where(y[:, None] == 1, rng.integers(0, 50, size=(n, 5)), rng.integers(50, 100, size=(n, 5)))
    noise = rng.integers(100, m, size=(n, 20))
    indices = np.concatenate([cols, noise], axis=1)
    X = sp.csr_matrix(
        (np.ones(indices.size), (np.repeat(np.arange(n), indices.shape[1]), indices.ravel())), shape=(n, m)
    )
    model = NBSVMClassifier().fit(X, y)
    assert model.coef_.shape == (1, m)
    assert np.mean(model.predict(X) == y) == 1.0


def test_nbsvm_bad_input_errors(features):
    X, y = features
    with pytest.raises(ValueError, match="only one class"):
        NBSVMClassifier().fit(X, np.array(["pos"] * X.shape[0]))
    with pytest.raises(ValueError, match="Negative values"):
        NBSVMClassifier().fit(-X, y)
    with pytest.raises(ValueError, match="beta"):
        NBSVMClassifier(beta=1.5).fit(X, y)
    with pytest.raises(ValueError, match="classifier"):
        NBSVMClassifier(classifier="tree").fit(X, y)
    with pytest.raises(NotFittedError):
        NBSVMClassifier().predict(X)
    model = NBSVMClassifier().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :5])
