"""Shared fixtures: a tiny corpus, a tiny vocab, and an isolated TEXTKIT_HOME for fetch tests."""

from __future__ import annotations

import pytest

TINY_CORPUS = [
    "The movie was GREAT!!! I loved it.",
    "Don't waste your time... it's boring, boring, boring.",
    "An uneven but charming film &amp; a fine cast.",
    "Mr. Smith's U.S. debut: well-known, well-made.",
    "",
]


@pytest.fixture
def tiny_corpus() -> list[str]:
    return list(TINY_CORPUS)


@pytest.fixture
def tiny_vocab():
    from textkit.text import Tokenizer, Vocab

    tokenizer = Tokenizer()
    return Vocab.build([tokenizer.tokenize(t) for t in TINY_CORPUS])


@pytest.fixture
def isolated_home(tmp_path, monkeypatch):
    """A fresh, empty TEXTKIT_HOME so fetch tests never touch the user's cache."""
    home = tmp_path / "textkit-home"
    monkeypatch.setenv("TEXTKIT_HOME", str(home))
    return home
