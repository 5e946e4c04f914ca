"""Fixtures for the neural tests: tiny seeded configs and a tiny token stream."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def tiny_awd_config():
    from textkit.nn import AWDLSTMConfig

    return AWDLSTMConfig(vocab_size=40, emb_size=8, hidden_size=12, n_layers=2, pad_index=1)


@pytest.fixture
def tiny_gru_config():
    from textkit.nn import GRUConfig

    return GRUConfig(vocab_size=40, emb_size=8, hidden_size=12, n_layers=2, pad_index=1)


@pytest.fixture
def tiny_docs():
    rng = np.random.default_rng(0)
    return [rng.integers(2, 40, size=int(n)) for n in rng.integers(20, 60, size=30)]
