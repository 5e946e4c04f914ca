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


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tests run two per core pair (pytest -n 2): one intra-op thread each avoids oversubscription."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
