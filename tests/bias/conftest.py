"""Fixtures for bias tests: small seeded embeddings with planted structure, writers for every
file format, and the real word2vec slices (fetched through the corpus registry, once per session)."""

from __future__ import annotations

import numpy as np
import pytest

from textkit.bias import Embeddings

FLOWERS = ["rose", "tulip", "daisy", "lily", "iris", "poppy"]
INSECTS = ["ant", "wasp", "flea", "moth", "gnat", "roach"]
PLEASANT = ["love", "peace", "joy", "gift", "happy"]
UNPLEASANT = ["death", "filth", "grief", "agony", "poison"]


def planted_embeddings(dim: int = 16, seed: int = 0, strength: float = 1.0) -> Embeddings:
    """Flowers lean towards the pleasant direction and insects towards unpleasant ones."""
    rng = np.random.default_rng(seed)
    axis = rng.normal(size=dim)
    axis /= np.linalg.norm(axis)
    words, rows = [], []
    for group, sign in ((FLOWERS, 1), (INSECTS, -1), (PLEASANT, 1), (UNPLEASANT, -1)):
        for w in group:
            words.append(w)
            rows.append(rng.normal(size=dim) * 0.5 + sign * strength * axis)
    for i in range(20):
        words.append(f"filler{i}")
        rows.append(rng.normal(size=dim))
    return Embeddings(words, np.array(rows, dtype=np.float32), name="planted")


@pytest.fixture
def planted() -> Embeddings:
    return planted_embeddings()


@pytest.fixture(scope="session")
def word2vec_weat() -> Embeddings:
    from textkit.bias import load_embeddings

    return load_embeddings("word2vec-weat")


@pytest.fixture(scope="session")
def word2vec_bolukbasi() -> Embeddings:
    from textkit.bias import load_embeddings

    return load_embeddings("word2vec-bolukbasi")


def write_word2vec_binary(path, words, vectors, newline_after_vector: bool = True) -> None:
    with open(path, "wb") as handle:
        handle.write(f"{len(words)} {vectors.shape[1]}\n".encode())
        for w, v in zip(words, vectors, strict=True):
            handle.write(w.encode("utf-8") + b" " + np.asarray(v, dtype="<f4").tobytes())
            if newline_after_vector:
                handle.write(b"\n")


def write_text(path, words, vectors, header: bool = True) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        if header:
            handle.write(f"{len(words)} {vectors.shape[1]}\n")
        for w, v in zip(words, vectors, strict=True):
            handle.write(w + " " + " ".join(repr(float(x)) for x in v) + "\n")
