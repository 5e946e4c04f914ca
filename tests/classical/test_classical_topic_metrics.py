"""top_words, coherence (NPMI, UMass) by hand, purity / NMI, scale-free topic assignment."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from textkit.classical import (
    NMFTopics,
    TextVectorizer,
    purity_score,
    top_word_ids,
    top_words,
    topic_assignments,
    topic_coherence,
    topic_label_agreement,
)

# 8 documents over 4 words. "a" and "b" always together; "c" never with "a"; "d" everywhere.
DOCS = np.array(
    [
        # a  b  c  d
        [1, 1, 0, 1],
        [1, 1, 0, 1],
        [1, 1, 0, 1],
        [1, 1, 0, 1],
        [0, 0, 1, 1],
        [0, 0, 1, 1],
        [0, 0, 1, 1],
        [0, 0, 0, 1],
    ]
)
VOCAB = ["a", "b", "c", "d"]


def test_top_words_orders_by_weight_and_checks_the_vocab():
    components = np.array([[0.1, 0.9, 0.5, 0.0], [3.0, -1.0, 0.0, 2.0]])
    assert top_words(components, VOCAB, 2) == [["b", "c"], ["a", "d"]]
    assert top_word_ids(components, 10) == [[1, 2, 0, 3], [0, 3, 2, 1]]
    vectorizer = TextVectorizer(analyzer="pretokenized").fit([["a", "b"], ["c", "d"]])
    assert top_words(components, vectorizer, 1) == [["b"], ["a"]]
    with pytest.raises(ValueError, match="vocab has 3 terms"):
        top_words(components, VOCAB[:3])


def test_npmi_by_hand():
    npmi = topic_coherence([["a", "b"], ["a", "c"], ["a", "d"], ["b", "c", "d"]], sp.csr_matrix(DOCS), vocab=VOCAB)
    assert npmi[0] == pytest.approx(1.0)  # always together
    assert npmi[1] == pytest.approx(-1.0)  # never together
    assert npmi[2] == pytest.approx(0.0)  # "d" is everywhere: P(a, d) = P(a) P(d), independent
    assert npmi[3] == pytest.approx(np.mean([-1.0, 0.0, 0.0]))  # (b, c), (b, d), (c, d)
    # a generic pair: P(x, y) = 2/8, P(x) = 4/8, P(y) = 3/8
    docs = np.array([[1, 1], [1, 1], [1, 0], [1, 0], [0, 1], [0, 0], [0, 0], [0, 0]])
    p_xy, p_x, p_y = 2 / 8, 4 / 8, 3 / 8
    assert topic_coherence([[0, 1]], docs)[0] == pytest.approx(np.log(p_xy / (p_x * p_y)) / -np.log(p_xy))


def test_umass_by_hand():
    umass = topic_coherence([[0, 1], [2, 0], [3, 2, 0]], DOCS, measure="umass")
    # pair (w1 ranked above w2): log((D(w1, w2) + 1) / D(w1))
    assert umass[0] == pytest.approx(np.log((4 + 1) / 4))
    assert umass[1] == pytest.approx(np.log((0 + 1) / 3))
    expected = np.mean([np.log((3 + 1) / 8), np.log((4 + 1) / 8), np.log((0 + 1) / 3)])
    assert umass[2] == pytest.approx(expected)


def test_coherence_errors():
    with pytest.raises(ValueError, match="measure"):
        topic_coherence([[0, 1]], DOCS, measure="cv")
    with pytest.raises(ValueError, match="pass vocab"):
        topic_coherence([["a", "b"]], DOCS)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        topic_coherence([["a", "zebra"]], DOCS, vocab=VOCAB)
    with pytest.raises(ValueError, match="never occur"):
        topic_coherence([[0, 1]], np.zeros((3, 4)))
    with pytest.raises(ValueError, match="at least 2"):
        topic_coherence([[0]], DOCS)


def test_purity_and_nmi():
    truth = ["x", "x", "x", "y", "y", "z"]
    assert purity_score(truth, [0, 0, 0, 1, 1, 2]) == 1.0
    assert purity_score(truth, [0, 0, 0, 0, 0, 0]) == pytest.approx(3 / 6)
    assert purity_score(truth, [0, 0, 1, 1, 2, 2]) == pytest.approx((2 + 1 + 1) / 6)
    agreement = topic_label_agreement(truth, [5, 5, 5, 7, 7, 9])
    assert agreement == {"nmi": pytest.approx(1.0), "purity": 1.0}
    assert topic_label_agreement(truth, [0] * 6)["nmi"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="same length"):
        purity_score(truth, [0, 1])


def test_topic_assignments_remove_nmf_scale_ambiguity():
    rng = np.random.default_rng(0)
    W, H = rng.random((50, 4)), rng.random((4, 30))
    D = np.diag([0.01, 1.0, 10.0, 100.0])
    np.testing.assert_array_equal(topic_assignments(W @ D, np.linalg.inv(D) @ H), topic_assignments(W, H))
    assert not np.array_equal(np.argmax(W @ D, axis=1), np.argmax(W, axis=1))  # the raw argmax is not invariant


def test_nmf_topics_on_a_planted_corpus_recover_the_labels():
    rng = np.random.default_rng(1)
    lexicons = {name: [f"{name}{i}" for i in range(30)] for name in ("sport", "tech", "food")}
    texts, labels = [], []
    for i in range(150):
        name = list(lexicons)[i % 3]
        texts.append(" ".join(rng.choice(lexicons[name], size=25)))
        labels.append(name)
    vectorizer = TextVectorizer(analyzer="regex-words", weighting="tfidf")
    X = vectorizer.fit_transform(texts)
    model = NMFTopics(n_components=3)
    W = model.fit_transform(X)
    assert topic_label_agreement(labels, topic_assignments(W, model.components_)) == {
        "nmi": pytest.approx(1.0),
        "purity": 1.0,
    }
    for words in top_words(model, vectorizer, 5):
        assert len({w.rstrip("0123456789") for w in words}) == 1  # each topic is one lexicon
    counts = TextVectorizer(analyzer="regex-words", weighting="binary").fit(texts)
    assert counts.vocabulary_ == vectorizer.vocabulary_
    planted = topic_coherence(top_words(model, vectorizer, 5), counts.transform(texts), vocab=vectorizer)
    mixed = topic_coherence(
        [["sport1", "tech1", "food1", "sport2", "tech2"]], counts.transform(texts), vocab=vectorizer
    )
    assert planted.min() > mixed.max()
