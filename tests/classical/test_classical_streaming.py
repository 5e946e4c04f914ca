"""Out-of-core training: the two-pass vocabulary, partial_fit and fit_streaming against the
in-memory fit. What is exact is tested as equal (to 1e-6, and in fact to the bit); what is not
(NBSVM's SGD step under partial_fit) is tested for what it promises."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from textkit.classical import NaiveBayesClassifier, NBSVMClassifier, TextVectorizer
from textkit.classical.persist import load_estimators, save_estimators
from textkit.classical.streaming import (
    TermCounts,
    chunked,
    count_terms,
    fit_streaming,
    fit_vocabulary,
    merge_naive_bayes,
    transform_chunks,
)

TOLERANCE = 1e-6


def _chunks(texts, labels, size):
    return lambda: zip(chunked(texts, size), chunked(labels, size), strict=True)


def _max_difference(a, b) -> float:
    """The largest absolute difference of every learned array the two estimators share."""
    worst = 0.0
    for key, value in vars(b).items():
        if key.endswith("_") and isinstance(value, np.ndarray) and value.dtype.kind == "f":
            other = getattr(a, key)
            assert other.shape == value.shape, key
            worst = max(worst, float(np.max(np.abs(other - value), initial=0.0)))
    return worst


# -- the vocabulary ---------------------------------------------------------------------------


@pytest.mark.parametrize("ngram_range", [(1, 1), (1, 2), (1, 3), (2, 2)])
@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"min_df": 2},
        {"min_df": 0.02, "max_df": 0.5},
        {"max_features": 40},
        {"weighting": "tfidf", "sublinear_tf": True, "min_df": 2},
        {"weighting": "binary", "stop_words": "english"},
    ],
    ids=["plain", "min_df", "df_fractions", "max_features", "tfidf", "binary_stop"],
)
def test_streaming_vocabulary_and_matrices_equal_fit_transform(sentiment_corpus, ngram_range, settings):
    texts, _ = sentiment_corpus
    vectorizer = TextVectorizer(ngram_range=ngram_range, **settings)
    reference = clone(vectorizer)
    X_ref = reference.fit_transform(texts)
    counts = TermCounts()
    for chunk in chunked(texts, 37):
        counts.add(count_terms(vectorizer, chunk))
    fitted = fit_vocabulary(clone(vectorizer), counts)
    assert fitted.vocabulary_ == reference.vocabulary_
    assert list(fitted.vocabulary_) == list(reference.vocabulary_)  # same column order too
    assert fitted.n_documents_ == reference.n_documents_ == len(texts)
    if settings.get("weighting") == "tfidf":
        np.testing.assert_array_equal(fitted.idf_, reference.idf_)
    X = sp.vstack(list(transform_chunks(fitted, chunked(texts, 37))), format="csr")
    assert (X_ref != X).nnz == 0
    np.testing.assert_allclose(X.toarray(), X_ref.toarray(), rtol=0, atol=TOLERANCE)


def test_streaming_term_counts_do_not_depend_on_chunking_or_order(sentiment_corpus):
    texts, _ = sentiment_corpus
    vectorizer = TextVectorizer(ngram_range=(1, 2), max_features=25)
    vocabularies = []
    for size, reverse in [(1, False), (50, False), (50, True), (len(texts), False)]:
        chunks = list(chunked(texts, size))
        counts = TermCounts()
        for chunk in reversed(chunks) if reverse else chunks:
            counts.add(count_terms(vectorizer, chunk))
        vocabularies.append(fit_vocabulary(clone(vectorizer), counts).vocabulary_)
    assert all(v == vocabularies[0] for v in vocabularies)


def test_streaming_vocabulary_errors_match_fit():
    vectorizer = TextVectorizer(min_df=5)
    with pytest.raises(ValueError, match="no documents"):
        fit_vocabulary(clone(vectorizer), TermCounts())
    with pytest.raises(ValueError, match="empty vocabulary"):
        fit_vocabulary(clone(vectorizer), count_terms(vectorizer, ["", " "]))
    with pytest.raises(ValueError, match="left no terms"):
        fit_vocabulary(clone(vectorizer), count_terms(vectorizer, ["one two", "three"]))


# -- fit_streaming equals fit -----------------------------------------------------------------

METHODS = {
    "nb": lambda: NaiveBayesClassifier(binarize=True),
    "nb-counts": lambda: NaiveBayesClassifier(alpha=0.5),
    "nbsvm-svm": lambda: NBSVMClassifier(),
    "nbsvm-logistic": lambda: NBSVMClassifier(classifier="logistic"),
    "lr": lambda: LogisticRegression(C=4.0, max_iter=1000),
}


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("ngram_range", [(1, 1), (1, 2), (1, 3)])
@pytest.mark.parametrize("method", list(METHODS))
def test_fit_streaming_equals_the_in_memory_fit(make_corpus, method, ngram_range, n_classes):
    texts, labels = make_corpus(n=300, n_classes=n_classes)
    weighting = {"weighting": "tfidf", "sublinear_tf": True} if method == "lr" else {}
    pipeline = Pipeline(
        [
            ("vectorizer", TextVectorizer(ngram_range=ngram_range, min_df=2, **weighting)),
            ("classifier", METHODS[method]()),
        ]
    )
    reference = clone(pipeline).fit(texts, np.asarray(labels, dtype=object))
    streamed = fit_streaming(pipeline, _chunks(texts, labels, 41))
    assert streamed.named_steps["vectorizer"].vocabulary_ == reference.named_steps["vectorizer"].vocabulary_
    model, expected = streamed.named_steps["classifier"], reference.named_steps["classifier"]
    np.testing.assert_array_equal(model.classes_, expected.classes_)
    assert _max_difference(model, expected) <= TOLERANCE
    coefficients = "feature_log_prob_" if isinstance(expected, NaiveBayesClassifier) else "coef_"
    np.testing.assert_allclose(getattr(model, coefficients), getattr(expected, coefficients), rtol=0, atol=TOLERANCE)
    np.testing.assert_array_equal(streamed.predict(texts), reference.predict(texts))


def test_fit_streaming_naive_bayes_is_bit_identical_and_never_stacks(sentiment_corpus, monkeypatch):
    texts, labels = sentiment_corpus
    pipeline = Pipeline([("v", TextVectorizer(ngram_range=(1, 2))), ("c", NaiveBayesClassifier(binarize=True))])
    monkeypatch.setattr(sp, "vstack", lambda *a, **k: pytest.fail("naive Bayes must not hold the feature matrix"))
    streamed = fit_streaming(pipeline, _chunks(texts, labels, 16))
    reference = clone(pipeline).fit(texts, np.asarray(labels, dtype=object))
    assert _max_difference(streamed.named_steps["c"], reference.named_steps["c"]) == 0.0


def test_fit_streaming_refuses_a_source_that_changes_between_passes(sentiment_corpus):
    texts, labels = sentiment_corpus
    calls = []

    def chunks():
        calls.append(1)
        n = len(texts) if len(calls) == 1 else len(texts) - 10
        return zip(chunked(texts[:n], 50), chunked(labels[:n], 50), strict=True)

    pipeline = Pipeline([("v", TextVectorizer()), ("c", NBSVMClassifier())])
    with pytest.raises(ValueError, match="changed while it was read"):
        fit_streaming(pipeline, chunks)


def test_fit_streaming_needs_two_classes_and_a_vectorizer_first(sentiment_corpus):
    texts, _ = sentiment_corpus
    pipeline = Pipeline([("v", TextVectorizer()), ("c", NaiveBayesClassifier())])
    with pytest.raises(ValueError, match="at least two classes"):
        fit_streaming(pipeline, _chunks(texts, ["pos"] * len(texts), 50))
    with pytest.raises(TypeError, match="TextVectorizer"):
        fit_streaming(Pipeline([("c", NaiveBayesClassifier()), ("v", TextVectorizer())]), _chunks(texts, texts, 5))


# -- partial_fit: naive Bayes -----------------------------------------------------------------


@pytest.fixture
def counts_3(make_corpus):
    texts, labels = make_corpus(n=240, n_classes=3)
    X = TextVectorizer(ngram_range=(1, 2)).fit_transform(texts)
    return X, np.asarray(labels, dtype=object)


@pytest.mark.parametrize("binarize", [False, True])
def test_naive_bayes_partial_fit_in_any_chunks_equals_fit(counts_3, binarize):
    X, y = counts_3
    reference = NaiveBayesClassifier(binarize=binarize).fit(X, y)
    rng = np.random.default_rng(0)
    for size in (1, 17, X.shape[0]):
        starts = rng.permutation(np.arange(0, X.shape[0], size))  # chunks in a shuffled order
        model = NaiveBayesClassifier(binarize=binarize)
        for i, start in enumerate(starts):
            model.partial_fit(
                X[start : start + size], y[start : start + size], classes=np.unique(y) if i == 0 else None
            )
        assert _max_difference(model, reference) == 0.0
        np.testing.assert_array_equal(model.predict_proba(X), reference.predict_proba(X))


def test_naive_bayes_partial_fit_with_weights_equals_fit(counts_3):
    X, y = counts_3
    weights = np.random.default_rng(1).uniform(0.1, 2.0, size=X.shape[0])
    reference = NaiveBayesClassifier().fit(X, y, sample_weight=weights)
    model = NaiveBayesClassifier()
    for start in range(0, X.shape[0], 50):
        part = slice(start, start + 50)
        model.partial_fit(X[part], y[part], classes=np.unique(y), sample_weight=weights[part])
    assert _max_difference(model, reference) <= 1e-12  # fractional weights: float64 rounding only


def test_naive_bayes_partial_fit_follows_sklearns_classes_convention(counts_3):
    X, y = counts_3
    model = NaiveBayesClassifier()
    with pytest.raises(ValueError, match="classes= on its first call"):
        model.partial_fit(X[:10], y[:10])
    with pytest.raises(ValueError, match="at least two classes"):
        model.partial_fit(X[:10], y[:10], classes=["pos"])
    with pytest.raises(ValueError, match="not among classes"):  # a refused first chunk leaves it unfitted
        model.partial_fit(X[:10], y[:10], classes=["pos", "neg"])
    assert not hasattr(model, "classes_")
    model.partial_fit(X[:10], y[:10], classes=np.unique(y))
    model.partial_fit(X[10:20], y[10:20])  # later calls may leave classes out
    with pytest.raises(ValueError, match="not the same as on the first call"):
        model.partial_fit(X[20:30], y[20:30], classes=["neg", "pos"])
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(X[20:30, :-1], y[20:30])
    model.partial_fit(X[20:], y[20:], classes=np.unique(y))  # the same classes again are fine
    np.testing.assert_array_equal(model.feature_count_, NaiveBayesClassifier().fit(X, y).feature_count_)


def test_naive_bayes_partial_fit_after_fit_keeps_counting(counts_3):
    X, y = counts_3
    model = NaiveBayesClassifier().fit(X[:100], y[:100])
    model.partial_fit(X[100:], y[100:])
    assert _max_difference(model, NaiveBayesClassifier().fit(X, y)) == 0.0


def test_merge_naive_bayes_sums_counts_exactly(counts_3):
    X, y = counts_3
    classes = np.unique(y)
    parts = [
        NaiveBayesClassifier(binarize=True).partial_fit(X[s : s + 70], y[s : s + 70], classes=classes)
        for s in (0, 70, 140, 210)
    ]
    merged = merge_naive_bayes(parts)
    assert _max_difference(merged, NaiveBayesClassifier(binarize=True).fit(X, y)) == 0.0
    with pytest.raises(ValueError, match="same classes"):
        merge_naive_bayes([parts[0], NaiveBayesClassifier().fit(X[:20], np.where(y[:20] == "pos", "a", "b"))])


# -- partial_fit: NBSVM -----------------------------------------------------------------------


@pytest.fixture
def binary_split(make_corpus):
    texts, labels = make_corpus(n=1200)
    test_texts, test_labels = make_corpus(n=400, seed=1)
    vectorizer = TextVectorizer(ngram_range=(1, 2)).fit(texts)
    return (
        vectorizer.transform(texts),
        np.asarray(labels, dtype=object),
        vectorizer.transform(test_texts),
        np.asarray(test_labels, dtype=object),
    )


@pytest.mark.parametrize("classifier", ["svm", "logistic"])
def test_nbsvm_partial_fit_counts_and_ratios_are_exact(binary_split, classifier):
    X, y, X_test, y_test = binary_split
    reference = NBSVMClassifier(classifier=classifier).fit(X, y)
    model = NBSVMClassifier(classifier=classifier)
    for start in range(0, X.shape[0], 100):
        model.partial_fit(X[start : start + 100], y[start : start + 100], classes=np.unique(y))
    for exact in ("feature_count_", "class_count_", "r_", "log_prior_"):
        np.testing.assert_array_equal(getattr(model, exact), getattr(reference, exact), err_msg=exact)
    # the SGD step is not liblinear's optimum: its weights differ, its accuracy stays close
    relative = np.linalg.norm(model.linear_coef_ - reference.linear_coef_) / np.linalg.norm(reference.linear_coef_)
    assert 0.0 < relative < 1.5
    accuracy, expected = np.mean(model.predict(X_test) == y_test), np.mean(reference.predict(X_test) == y_test)
    assert accuracy > expected - 0.03
    assert model.n_iter_.tolist() == [12]


def test_nbsvm_partial_fit_at_beta_zero_predicts_exactly_naive_bayes(counts_3):
    X, y = counts_3
    model = NBSVMClassifier(beta=0.0)
    for start in range(0, X.shape[0], 60):
        model.partial_fit(X[start : start + 60], y[start : start + 60], classes=np.unique(y))
    nb = NBSVMClassifier(beta=0.0).fit(X, y)
    np.testing.assert_array_equal(model.predict(X), nb.predict(X))
    np.testing.assert_array_equal(model.r_, nb.r_)


def test_nbsvm_partial_fit_convention_and_resume(binary_split, tmp_path):
    X, y, X_test, _ = binary_split
    model = NBSVMClassifier()
    with pytest.raises(ValueError, match="classes= on its first call"):
        model.partial_fit(X[:10], y[:10])
    sorted_rows = np.argsort(y, kind="stable")  # a chunk of one class
    model.partial_fit(X[sorted_rows[:50]], y[sorted_rows[:50]], classes=np.unique(y))
    # a class no chunk has shown yet has prior 0 (an infinite log prior): every prediction is the seen class, no NaN
    assert not np.isnan(model.intercept_).any()
    assert set(model.predict(X_test)) == {y[sorted_rows[0]]}
    model.partial_fit(X[sorted_rows[-50:]], y[sorted_rows[-50:]])
    # a saved model predicts the same; the SGD state is process-local and never saved
    loaded = load_estimators(tmp_path, save_estimators({"c": model}, tmp_path), "test")["c"]
    np.testing.assert_array_equal(loaded.decision_function(X_test), model.decision_function(X_test))
    assert not hasattr(loaded, "_sgd")
    # after fit (or loading), SGD starts from the stored weights and needs both sides in its first chunk
    fitted = NBSVMClassifier().fit(X[:600], y[:600])
    with pytest.raises(ValueError, match="Shuffle the rows"):
        fitted.partial_fit(X[sorted_rows[:50]], y[sorted_rows[:50]])
    np.testing.assert_array_equal(fitted.feature_count_, NBSVMClassifier().fit(X[:600], y[:600]).feature_count_)
    fitted.partial_fit(X[600:], y[600:])
    np.testing.assert_array_equal(fitted.r_, NBSVMClassifier().fit(X, y).r_)


# -- repeated lines: fitted once each, weighted by their copies -------------------------------


@pytest.fixture
def repeated_corpus(make_corpus):
    """A corpus whose lines repeat (a few times each, interleaved), as big files built from
    boilerplate, retweets or a repeated bench corpus do; one line repeats under two labels."""
    texts, labels = make_corpus(n=120, n_classes=3)
    order = np.random.default_rng(3).integers(0, len(texts), size=600)
    texts, labels = [texts[i] for i in order], [labels[i] for i in order]
    texts[7], labels[7] = texts[0], ("pos" if labels[0] != "pos" else "neg")
    return texts, labels


@pytest.mark.parametrize("classifier", ["svm", "logistic"])
@pytest.mark.parametrize("binarize", [True, False])
def test_fit_streaming_nbsvm_on_repeated_lines_is_bit_identical_and_holds_only_distinct_rows(
    repeated_corpus, monkeypatch, classifier, binarize
):
    texts, labels = repeated_corpus
    pipeline = Pipeline(
        [("v", TextVectorizer(ngram_range=(1, 2))), ("c", NBSVMClassifier(classifier=classifier, binarize=binarize))]
    )
    reference = clone(pipeline).fit(texts, np.asarray(labels, dtype=object))
    with monkeypatch.context() as patch:
        patch.setattr(sp, "vstack", lambda *a, **k: pytest.fail("NBSVM must hold only the distinct rows"))
        streamed = fit_streaming(pipeline, _chunks(texts, labels, 41))
    model, expected = streamed.named_steps["c"], reference.named_steps["c"]
    assert _max_difference(model, expected) == 0.0
    np.testing.assert_array_equal(model.coef_, expected.coef_)


def test_nbsvm_fit_on_repeated_rows_is_the_weighted_fit_of_the_distinct_ones(repeated_corpus):
    from textkit.classical.nbsvm import distinct_rows

    texts, labels = repeated_corpus
    X = TextVectorizer(ngram_range=(1, 2)).fit_transform(texts)
    y = np.asarray(labels, dtype=object)
    _, y_index = np.unique(y, return_inverse=True)
    rows, group = distinct_rows(X, y_index)
    assert len(rows) < X.shape[0] and np.all(np.diff(rows) > 0)
    for i in range(X.shape[0]):  # each row equals its group's first row, with the same label
        assert (X[i] != X[rows[group[i]]]).nnz == 0 and y_index[i] == y_index[rows[group[i]]]
    assert len({(X[r].indices.tobytes(), y_index[r]) for r in rows}) == len(rows)  # and the groups are distinct
    repeated = NBSVMClassifier(classifier="logistic", tol=1e-10).fit(X, y)
    weighted = NBSVMClassifier(classifier="logistic", tol=1e-10).fit(
        X[rows], y[rows], sample_weight=np.bincount(group).astype(float)
    )
    np.testing.assert_array_equal(repeated.coef_, weighted.coef_)  # the very same liblinear input
    np.testing.assert_array_equal(repeated.feature_count_, NBSVMClassifier().fit(X, y).feature_count_)
    assert repeated.class_count_.sum() == X.shape[0]


def test_vectorizer_reuses_repeated_documents_exactly(repeated_corpus, monkeypatch):
    import textkit.classical.vectorize as vectorize

    texts, _ = repeated_corpus
    memoized = TextVectorizer(ngram_range=(1, 3))
    X = memoized.fit_transform(texts)
    monkeypatch.setattr(vectorize, "MEMO_DOCUMENTS", 0)  # nothing remembered: every document analyzed
    plain = TextVectorizer(ngram_range=(1, 3))
    X_plain = plain.fit_transform(texts)
    assert memoized.vocabulary_ == plain.vocabulary_ and list(memoized.vocabulary_) == list(plain.vocabulary_)
    assert (X_plain != X).nnz == 0 and X.dtype == X_plain.dtype
    assert (memoized.transform(texts) != plain.transform(texts)).nnz == 0
