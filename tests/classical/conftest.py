"""Fixtures for the classical tests: a tiny seeded sentiment corpus and small topic matrices."""

from __future__ import annotations

import numpy as np
import pytest

POSITIVE = "great wonderful superb moving charming brilliant delightful fun smart touching".split()
NEGATIVE = "boring awful dull tedious bland clumsy silly lifeless flat messy".split()
NEUTRAL = "the a film movie plot story actor scene director it is was this and of with".split()


def make_sentiment_corpus(n: int = 240, seed: int = 0, n_classes: int = 2) -> tuple[list[str], list[str]]:
    """Reviews of 8-20 words: neutral filler plus words of the review's class (and some noise).

    Separable but not trivially: each review holds 2-4 class words and 0-2 words of another class.
    """
    rng = np.random.default_rng(seed)
    lexicons = (
        [POSITIVE, NEGATIVE] if n_classes == 2 else [POSITIVE, NEGATIVE, "plot twist ending sequel remake".split()]
    )
    names = ["pos", "neg", "other"][:n_classes]
    texts, labels = [], []
    for i in range(n):
        c = i % n_classes
        own = rng.choice(lexicons[c], size=rng.integers(2, 5))
        other = rng.choice(lexicons[(c + 1) % n_classes], size=rng.integers(0, 3))
        filler = rng.choice(NEUTRAL, size=rng.integers(4, 14))
        words = np.concatenate([own, other, filler])
        rng.shuffle(words)
        text = " ".join(words)
        texts.append(text[0].upper() + text[1:] + rng.choice([".", "!", "..."]))
        labels.append(names[c])
    return texts, labels


@pytest.fixture
def sentiment_corpus() -> tuple[list[str], list[str]]:
    return make_sentiment_corpus()


@pytest.fixture
def make_corpus():
    """The corpus maker itself, for tests that need other sizes or more classes."""
    return make_sentiment_corpus


@pytest.fixture
def low_rank_nonnegative() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X = W0 H0 exactly, (60, 40), rank 4, non-negative."""
    rng = np.random.default_rng(0)
    W0 = rng.random((60, 4))
    H0 = rng.random((4, 40)) * (rng.random((4, 40)) < 0.5)
    return W0 @ H0, W0, H0
