"""Classification batches and label handling."""

from __future__ import annotations

import numpy as np
import pytest

from textkit.transfer import ClassificationBatches, LabelEncoder


def docs(n, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(2, 50, size=int(k)) for k in rng.integers(1, 80, size=n)]


def test_every_document_appears_once_per_epoch_with_its_label():
    data = docs(203)
    labels = np.arange(203) % 3
    batches = ClassificationBatches(data, labels, 16, pad_index=1, seed=3)
    seen = []
    for batch in batches.batches(0):
        for row, x, n, y in zip(batch.rows, batch.x, batch.lengths, batch.y, strict=True):
            assert n == len(data[row]) and np.array_equal(x[:n], data[row]) and (x[n:] == 1).all()
            assert y == labels[row]
        seen.extend(batch.rows.tolist())
    assert sorted(seen) == list(range(203))
    assert len(list(batches.batches(0))) == batches.n_batches(0)


def test_epochs_are_deterministic_different_and_resumable():
    batches = ClassificationBatches(docs(100), np.zeros(100), 8, pad_index=1, seed=0)
    rows = lambda epoch, start=0: [b.rows.tolist() for b in batches.batches(epoch, start)]  # noqa: E731
    assert rows(0) == rows(0)
    assert rows(0) != rows(1)
    assert rows(1, start=4) == rows(1)[4:]


def test_sortish_batches_waste_less_padding_than_random_ones():
    data = docs(800)
    sortish = ClassificationBatches(data, None, 32, pad_index=1, seed=0)
    padded = sum(b.x.size for b in sortish.batches(0))
    rng = np.random.default_rng(0)
    order = rng.permutation(800)
    random_padded = sum(32 * max(len(data[i]) for i in order[s : s + 32]) for s in range(0, 800, 32))
    assert padded < 0.7 * random_padded


def test_inference_order_is_longest_first_and_no_singleton_training_batch():
    data = docs(33)
    ordered = [b for b in ClassificationBatches(data, None, 8, pad_index=1, shuffle=False).batches(0)]
    lengths = np.concatenate([b.lengths for b in ordered])
    assert (np.diff(lengths) <= 0).all()
    sizes = [len(b.rows) for b in ClassificationBatches(data, np.zeros(33), 8, pad_index=1).batches(0)]
    assert 1 not in sizes and sum(sizes) == 33  # 33 = 4 * 8 + 1: the single one is merged


def test_bad_batches_are_refused():
    with pytest.raises(ValueError, match="no tokens"):
        ClassificationBatches([np.array([2]), np.array([], dtype=np.int64)], None, 2, pad_index=1)
    with pytest.raises(ValueError, match="2 documents but 1 labels"):
        ClassificationBatches(docs(2), [0], 2, pad_index=1)
    with pytest.raises(ValueError, match="no documents"):
        ClassificationBatches([], None, 2, pad_index=1)


def test_label_encoder_round_trip_and_errors():
    enc = LabelEncoder.fit(["pos", "neg", "pos"])
    assert enc.classes == ["neg", "pos"]
    assert enc.encode(["pos", "neg"]).tolist() == [1, 0]
    assert enc.decode(np.array([1, 0])).tolist() == ["pos", "neg"]
    with pytest.raises(ValueError, match=r"labels \['neutral'\] were not seen at training time"):
        enc.encode(["neutral"])
    with pytest.raises(TypeError, match="mix str and int"):
        LabelEncoder.fit(["pos", 1])
    with pytest.raises(ValueError, match="only one class"):
        LabelEncoder.fit(["pos", "pos"])
    with pytest.raises(TypeError, match="must be str or int"):
        LabelEncoder.fit([1.0, 2.0])
    assert LabelEncoder.fit([2, 0, 1]).decode(np.array([0])).tolist() == [0]
