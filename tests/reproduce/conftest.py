"""Fixtures for the reproduce tests: the classical tests' seeded sentiment corpus maker."""

from __future__ import annotations

import pytest

from tests.classical.conftest import make_sentiment_corpus


@pytest.fixture
def make_corpus():
    """The corpus maker itself, for tests that need other sizes or more classes."""
    return make_sentiment_corpus
