"""TextVectorizer: equal to scikit-learn where they overlap, textkit tokenizers, regex extractors, errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from textkit.classical import NaiveBayesClassifier, TextVectorizer
from textkit.text import RuleTokenizer, Tokenizer

DOCS = [
    "The movie was great, GREAT fun. Great cast!",
    "A dull, dull film; the plot was dull and the cast was bored.",
    "Great plot, dull ending: the film was fine.",
    "Not a great movie, not a bad movie either.",
    "the the the film",
]


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ({}, {}),
        ({"ngram_range": (1, 3)}, {"ngram_range": (1, 3)}),
        ({"ngram_range": (2, 2)}, {"ngram_range": (2, 2)}),
        ({"weighting": "binary"}, {"binary": True}),
        ({"min_df": 2, "max_df": 0.7}, {"min_df": 2, "max_df": 0.7}),
        ({"max_features": 7, "ngram_range": (1, 2)}, {"max_features": 7, "ngram_range": (1, 2)}),
        ({"stop_words": "english", "ngram_range": (1, 2)}, {"stop_words": "english", "ngram_range": (1, 2)}),
    ],
)
def test_vectorizer_counts_equal_sklearn_count_vectorizer(ours, theirs):
    mine = TextVectorizer(analyzer="regex-words", **ours)
    ref = CountVectorizer(**theirs)
    X, R = mine.fit_transform(DOCS), ref.fit_transform(DOCS)
    assert sp.isspmatrix_csr(X)
    assert list(mine.get_feature_names_out()) == list(ref.get_feature_names_out())
    assert abs(X - R).max() == 0
    new = ["great great unseen words", ""]
    assert abs(mine.transform(new) - ref.transform(new)).max() == 0


@pytest.mark.parametrize("sublinear", [False, True])
@pytest.mark.parametrize("norm", ["l2", "l1", None])
def test_vectorizer_tfidf_equals_sklearn_tfidf_vectorizer(sublinear, norm):
    mine = TextVectorizer(
        analyzer="regex-words", weighting="tfidf", sublinear_tf=sublinear, norm=norm, ngram_range=(1, 2)
    )
    ref = TfidfVectorizer(sublinear_tf=sublinear, norm=norm, ngram_range=(1, 2))
    np.testing.assert_allclose(
        mine.fit_transform(DOCS).toarray(), ref.fit_transform(DOCS).toarray(), rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(mine.idf_, ref.idf_)


def test_vectorizer_default_analyzer_is_the_textkit_rule_tokenizer():
    text = "I didn't like it... at ALL!!! Mr. Smith's U.S. debut"
    vectorizer = TextVectorizer().fit([text])
    expected = {t.lower() for t in RuleTokenizer().tokenize(text)}
    assert set(vectorizer.vocabulary_) == expected
    assert "n't" in vectorizer.vocabulary_ and "!!!" in vectorizer.vocabulary_


def test_vectorizer_named_and_callable_analyzers():
    text = "Don't SHOUT at the Movie!!!"
    fastai = TextVectorizer(analyzer="textkit", lowercase=False).fit([text])
    assert set(fastai.vocabulary_) == set(Tokenizer().tokenize(text))
    assert "xxmaj" in fastai.vocabulary_ and "xxup" in fastai.vocabulary_
    spacy_vocab = TextVectorizer(analyzer="spacy").fit([text]).vocabulary_
    assert "shout" in spacy_vocab and "n't" in spacy_vocab
    words = TextVectorizer(analyzer=str.split, lowercase=False).fit([text]).vocabulary_
    assert set(words) == set(text.split())
    pre = TextVectorizer(analyzer="pretokenized", ngram_range=(1, 2)).fit([["a", "b", "c"]])
    assert set(pre.vocabulary_) == {"a", "b", "c", "a b", "b c"}
    with pytest.raises(ValueError, match="unknown analyzer"):
        TextVectorizer(analyzer="nope").fit(DOCS)


def test_vectorizer_regex_extractors_make_emoticon_url_and_number_tokens():
    docs = ["Loved it :) 10/10 see http://example.com/a:)", "meh :-( 2 stars www.x.org", "no features here"]
    vectorizer = TextVectorizer(extractors=("emoticons", "urls", "numbers"), ngram_range=(1, 2))
    X = vectorizer.fit_transform(docs)
    vocab = vectorizer.vocabulary_
    assert {":)", ":(", "xxurl", "xxnum"} <= set(vocab)
    assert "xxnum stars" in vocab  # numbers are replaced in place, so they take part in n-grams
    assert not any(t.startswith("http") or "example" in t for t in vocab)  # the URL became one token
    row0 = X[0].toarray().ravel()
    assert row0[vocab[":)"]] == 1  # the smiley glued to the URL is not counted: it is part of the URL
    assert row0[vocab["xxnum"]] == 2  # "10/10" -> two numbers
    plain = TextVectorizer().fit(docs).vocabulary_
    assert (
        "xxurl" not in plain and "xxnum" not in plain and ":(" not in plain
    )  # ":-(" is normalized only by the extractor
    with pytest.raises(ValueError, match="unknown regex extractors"):
        TextVectorizer(extractors=("hashtags",)).fit(docs)


def test_vectorizer_columns_do_not_depend_on_document_order():
    a = TextVectorizer(ngram_range=(1, 2)).fit(DOCS)
    b = TextVectorizer(ngram_range=(1, 2)).fit(DOCS[::-1])
    assert a.vocabulary_ == b.vocabulary_
    assert list(a.get_feature_names_out()) == sorted(a.vocabulary_)


def test_vectorizer_empty_documents_and_bad_input_give_clear_errors():
    vectorizer = TextVectorizer().fit(DOCS + [""])
    assert vectorizer.transform([""]).nnz == 0
    assert vectorizer.transform(["zzz qqq unseen"]).nnz == 0
    with pytest.raises(ValueError, match="empty vocabulary"):
        TextVectorizer().fit(["", "   "])
    with pytest.raises(ValueError, match="empty vocabulary"):
        TextVectorizer(stop_words="english").fit(["the", "and of"])
    with pytest.raises(ValueError, match="single string"):
        TextVectorizer().fit("one document")
    with pytest.raises(ValueError, match="document 1 is"):
        TextVectorizer().fit(["ok", None])
    with pytest.raises(ValueError, match="no documents"):
        TextVectorizer().fit([])
    with pytest.raises(ValueError, match="left no terms"):
        TextVectorizer(min_df=50).fit(DOCS)
    with pytest.raises(ValueError, match="ngram_range"):
        TextVectorizer(ngram_range=(2, 1)).fit(DOCS)
    with pytest.raises(ValueError, match="weighting"):
        TextVectorizer(weighting="bm25").fit(DOCS)


def test_vectorizer_transform_before_fit_raises_not_fitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        TextVectorizer().transform(DOCS)


def test_vectorizer_is_a_sklearn_estimator_clone_pickle_pipeline_gridsearch(sentiment_corpus):
    texts, labels = sentiment_corpus
    vectorizer = TextVectorizer(ngram_range=(1, 2), weighting="tfidf", min_df=2)
    assert vectorizer.get_params()["ngram_range"] == (1, 2)
    assert clone(vectorizer).set_params(min_df=3).min_df == 3
    X = vectorizer.fit_transform(texts)
    restored = pickle.loads(pickle.dumps(vectorizer))
    assert abs(restored.transform(texts) - X).max() == 0
    pipe = Pipeline([("vec", TextVectorizer()), ("clf", NaiveBayesClassifier())])
    search = GridSearchCV(pipe, {"vec__ngram_range": [(1, 1), (1, 2)], "clf__alpha": [0.5, 1.0]}, cv=3).fit(
        texts, labels
    )
    assert search.best_score_ > 0.9
    assert set(search.cv_results_["param_vec__ngram_range"]) == {(1, 1), (1, 2)}


def test_vectorizer_trigrams_on_many_documents_stay_sparse():
    """~200k trigram features from 3,000 documents: CSR with int32 indices, a few MB."""
    rng = np.random.default_rng(0)
    words = np.array([f"w{i}" for i in range(5000)])
    docs = [" ".join(rng.choice(words, size=40)) for _ in range(3000)]
    X = TextVectorizer(analyzer="regex-words", ngram_range=(1, 3)).fit_transform(docs)
    assert sp.isspmatrix_csr(X)
    assert X.shape[1] > 200_000
    assert X.nnz <= 3000 * (40 + 39 + 38)
    assert X.data.nbytes + X.indices.nbytes + X.indptr.nbytes < 20 * 2**20
    assert X.indices.dtype == np.int32


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["a", "b", "c", "dd", "e"]), min_size=0, max_size=12), min_size=1, max_size=8))
def test_vectorizer_count_rows_sum_to_the_number_of_ngrams(docs):
    if not any(docs):
        return
    X = TextVectorizer(analyzer="pretokenized", ngram_range=(1, 3)).fit_transform(docs)
    expected = np.array([sum(max(len(d) - n + 1, 0) for n in (1, 2, 3)) for d in docs])
    np.testing.assert_array_equal(np.asarray(X.sum(axis=1)).ravel(), expected)
    binary = TextVectorizer(analyzer="pretokenized", ngram_range=(1, 3), weighting="binary").fit_transform(docs)
    assert (binary > X).nnz == 0 and set(np.unique(binary.data)) <= {1.0}
    tfidf = TextVectorizer(analyzer="pretokenized", ngram_range=(1, 3), weighting="tfidf").fit_transform(docs)
    norms = np.sqrt(np.asarray(tfidf.multiply(tfidf).sum(axis=1)).ravel())
    np.testing.assert_allclose(norms[expected > 0], 1.0)
    np.testing.assert_array_equal(norms[expected == 0], 0.0)
