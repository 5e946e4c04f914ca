"""Fixtures for trainer tests: a tiny seeded AWD-LSTM, token streams and a trainer factory."""

from __future__ import annotations

import numpy as np
import pytest


def tiny_docs(seed: int = 0, n_docs: int = 30):
    rng = np.random.default_rng(seed)
    return [rng.integers(2, 40, size=int(n)) for n in rng.integers(20, 60, size=n_docs)]


@pytest.fixture
def make_trainer():
    """make_trainer(**overrides) -> Trainer over a tiny AWD-LSTM with every regularizer on."""
    import torch

    from textkit.data.lm import LMStream
    from textkit.nn import AWDLSTMConfig, AWDLSTMLanguageModel
    from textkit.train import GradientClipping, LanguageModelTask, OneCycle, ProgressBar, RNNRegularizer, Trainer

    def make(callbacks=(), model_seed=0, batch_size=4, bptt=8, config=None, **kwargs):
        torch.manual_seed(model_seed)
        config = config or AWDLSTMConfig(vocab_size=40, emb_size=8, hidden_size=12, n_layers=2, pad_index=1)
        model = AWDLSTMLanguageModel(config)
        train = LMStream(tiny_docs(), batch_size=batch_size, bptt=bptt, seed=1)
        valid = LMStream(tiny_docs(seed=1, n_docs=6), batch_size=2, bptt=8, shuffle=False, random_bptt=False)
        options = {"lr": 3e-3, "schedule": OneCycle(), "seed": 0, "device": "cpu"}
        options.update(kwargs)
        base = [GradientClipping(0.4), RNNRegularizer(alpha=2.0, beta=1.0), ProgressBar(quiet=True)]
        return Trainer(model, LanguageModelTask(), train, valid, callbacks=[*base, *callbacks], **options)

    return make
