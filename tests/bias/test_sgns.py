"""Skip-gram training: deterministic per seed, learns co-occurrence, validates input."""

from __future__ import annotations

import numpy as np
import pytest

from textkit.bias.sgns import SGNSConfig, build_vocab, train_sgns, word_tokenize


def _toy_corpus(n=600, seed=0):
    rng = np.random.default_rng(seed)
    animals, foods = ["cat", "dog", "cow", "horse"], ["bread", "rice", "soup", "cake"]
    sentences = []
    for _ in range(n):
        group = animals if rng.random() < 0.5 else foods
        verb = "runs" if group is animals else "tastes"
        sentences.append([str(rng.choice(group)), verb, str(rng.choice(group)), "and", str(rng.choice(group))])
    return sentences


def test_sgns_word_tokenize_lowercases_words_only():
    assert word_tokenize("The LORD's house, 1769: “Amen”!") == ["the", "lord's", "house", "amen"]


def test_sgns_build_vocab_orders_by_count_then_word():
    words, counts = build_vocab([["b", "a", "b", "c"], ["a", "b"]], min_count=2)
    assert words == ["b", "a"] and counts.tolist() == [3, 2]
    with pytest.raises(ValueError, match="min_count"):
        build_vocab([["a"]], min_count=2)


@pytest.mark.slow
def test_sgns_same_seed_same_vectors_and_learns_groups():
    cfg = SGNSConfig(dim=16, window=2, negative=3, min_count=1, epochs=3, batch_size=256, subsample=0)
    corpus = _toy_corpus()
    a = train_sgns(corpus, cfg, seed=0)
    b = train_sgns(corpus, cfg, seed=0)
    c = train_sgns(corpus, cfg, seed=1)
    np.testing.assert_array_equal(a.vectors, b.vectors)
    assert not np.allclose(a.vectors, c.vectors)
    m = a.normalize()
    within = float(m["cat"] @ m["dog"] + m["bread"] @ m["rice"])
    across = float(m["cat"] @ m["bread"] + m["dog"] @ m["rice"])
    assert within > across + 0.2
    assert "seed=0" in a.source


def test_sgns_too_little_text_is_an_error():
    with pytest.raises(ValueError, match="too little text"):
        train_sgns([["only"]], SGNSConfig(min_count=1, epochs=1))
