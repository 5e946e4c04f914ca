"""The chunked concat-pooling classifier: exactness against a one-pass reference, padding and
batch invariance, the max_len window, truncated gradients and long documents."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from textkit.nn import AWDLSTMConfig
from textkit.transfer import AWDLSTMClassifier, ClassifierConfig
from textkit.transfer.data import pad_batch

ENC = AWDLSTMConfig(vocab_size=30, emb_size=6, hidden_size=10, n_layers=2, pad_index=1, drop_mult=0.0)


def make(bptt=5, max_len=1000, seed=0):
    torch.manual_seed(seed)
    return AWDLSTMClassifier(ENC, ClassifierConfig(n_classes=3, bptt=bptt, max_len=max_len)).eval()


def reference_pool(model, doc: np.ndarray) -> torch.Tensor:
    """One document, one pass, no chunks: [last, max, mean] of the last max_len outputs."""
    raw, _, _ = model.encoder(torch.as_tensor(doc)[None])
    out = raw[0, -model.config.max_len :]
    return torch.cat([out[-1], out.max(0).values, out.mean(0)])


def docs(lengths, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(2, 30, size=n) for n in lengths]


def test_chunked_pooling_equals_one_pass_reference():
    model = make(bptt=4)
    batch = docs([13, 4, 9, 1, 21])
    x, lengths = pad_batch(batch, 1)
    with torch.no_grad():
        pooled = model.pool(torch.as_tensor(x), torch.as_tensor(lengths))
        for i, doc in enumerate(batch):
            torch.testing.assert_close(pooled[i], reference_pool(model, doc), rtol=1e-5, atol=1e-6)


def test_max_len_keeps_only_the_last_positions():
    model = make(bptt=3, max_len=5)
    batch = docs([17, 5, 2, 12])
    x, lengths = pad_batch(batch, 1)
    with torch.no_grad():
        pooled = model.pool(torch.as_tensor(x), torch.as_tensor(lengths))
        for i, doc in enumerate(batch):
            torch.testing.assert_close(pooled[i], reference_pool(model, doc), rtol=1e-5, atol=1e-6)


def test_prediction_does_not_depend_on_batch_neighbours_or_padding():
    model = make(bptt=4)
    batch = docs([6, 30, 11])
    x, lengths = pad_batch(batch, 1)
    with torch.no_grad():
        together = model(torch.as_tensor(x), torch.as_tensor(lengths))
        for i, doc in enumerate(batch):
            alone = model(torch.as_tensor(doc)[None], torch.tensor([len(doc)]))
            torch.testing.assert_close(together[i], alone[0], rtol=1e-5, atol=1e-6)


def test_gradients_reach_only_chunks_that_are_pooled():
    model = make(bptt=4, max_len=4).train()
    model.head.eval()  # batchnorm needs batches; this test looks at the encoder only
    early, late = 5, 6  # token 5 only in the first chunk (outside the window), 6 only in the last
    doc = np.array([early] * 8 + [7] * 4 + [late] * 4)
    logits = model(torch.as_tensor(doc)[None], torch.tensor([len(doc)]))
    logits.sum().backward()
    grad = model.encoder.embedding.weight.grad
    assert grad[late].abs().sum() > 0
    assert grad[early].abs().sum() == 0


def test_a_100k_token_document_is_classified_in_bounded_memory():
    model = make(bptt=200, max_len=50)
    doc = np.random.default_rng(0).integers(2, 30, size=100_000)
    with torch.inference_mode():
        pooled = model.pool(torch.as_tensor(doc)[None], torch.tensor([len(doc)]))
        expected = reference_pool(model, doc)
    assert torch.isfinite(pooled).all()
    torch.testing.assert_close(pooled[0], expected, rtol=1e-4, atol=1e-5)


def test_bad_shapes_and_empty_documents_are_refused():
    model = make()
    with pytest.raises(ValueError, match="at least one token"):
        model(torch.tensor([[1, 1]]), torch.tensor([0]))
    with pytest.raises(ValueError, match="lengths must have shape"):
        model(torch.tensor([[2, 3]]), torch.tensor([2, 2]))
    with pytest.raises(ValueError, match="n_classes"):
        ClassifierConfig(n_classes=1)
    with pytest.raises(ValueError, match="head_dropout"):
        ClassifierConfig(n_classes=2, head_hidden=(50, 20), head_dropout=(0.1, 0.1))


def test_layer_groups_cover_every_parameter_once():
    model = make()
    groups = model.layer_groups()
    assert len(groups) == ENC.n_layers + 2  # embedding, each LSTM, head
    flat = [id(p) for g in groups for p in g]
    assert sorted(flat) == sorted(id(p) for p in model.parameters())


def test_mixed_precision_autocast_keeps_state_and_pooling_in_float32():
    # the CUDA AMP path, exercised on CPU with bfloat16 autocast
    model = make(bptt=4)
    batch = docs([9, 3, 14])
    x, lengths = pad_batch(batch, 1)
    with torch.no_grad():
        exact = model.pool(torch.as_tensor(x), torch.as_tensor(lengths))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            pooled = model.pool(torch.as_tensor(x), torch.as_tensor(lengths))
            logits = model(torch.as_tensor(x), torch.as_tensor(lengths))
    assert pooled.dtype == torch.float32 and torch.isfinite(logits).all()
    torch.testing.assert_close(pooled, exact, rtol=0.05, atol=0.02)
