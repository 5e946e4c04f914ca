"""LM stream: (B, T) batches of a shuffled document stream, random BPTT, resumable, sharded."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textkit.data.lm import LMStream, bptt_lengths, split_documents


def _docs(n_docs=12, seed=0):
    rng = np.random.default_rng(seed)
    return [np.arange(i * 1000, i * 1000 + int(n)) for i, n in enumerate(rng.integers(5, 80, size=n_docs))]


def test_lm_stream_targets_are_inputs_shifted_and_rows_are_contiguous():
    stream = LMStream(_docs(), batch_size=3, bptt=7, shuffle=False, random_bptt=False)
    batches = list(stream.batches(0))
    for b in batches:
        np.testing.assert_array_equal(b.x[:, 1:], b.y[:, :-1])
    rows = np.concatenate([b.x for b in batches], axis=1)  # (B, row_len - 1)
    flat = np.concatenate(_docs())
    for r in range(3):
        np.testing.assert_array_equal(rows[r], flat[r * stream.row_len : (r + 1) * stream.row_len - 1])
    assert sum(b.n_tokens for b in batches) == stream.tokens_per_epoch


def test_lm_stream_shuffles_documents_each_epoch_deterministically():
    stream = LMStream(_docs(), batch_size=2, bptt=10, seed=3)
    e0 = np.concatenate([b.x for b in stream.batches(0)], 1)
    e1 = np.concatenate([b.x for b in stream.batches(1)], 1)
    assert not np.array_equal(e0[:, :50], e1[:, :50])
    again = LMStream(_docs(), batch_size=2, bptt=10, seed=3)
    np.testing.assert_array_equal(np.concatenate([b.x for b in again.batches(1)], 1), e1)
    # each epoch still reads every document whole: a doc's tokens appear consecutively
    starts = set(np.where(np.diff(e0[0]) != 1)[0])
    assert len(starts) <= len(_docs())


def test_lm_stream_random_bptt_lengths():
    lengths = bptt_lengths(100_000, 70, np.random.default_rng(0))
    assert lengths.sum() == 100_000
    body = lengths[:-1]
    assert body.min() >= 5 and body.max() <= 90
    assert 0.02 < np.mean(body < 50) < 0.08  # about 5% of batches use bptt / 2
    assert abs(np.median(body) - 70) <= 2
    fixed = bptt_lengths(100, 30, np.random.default_rng(0), random_bptt=False)
    assert list(fixed) == [30, 30, 30, 10]


def test_lm_stream_resumes_mid_epoch_exactly():
    stream = LMStream(_docs(), batch_size=2, bptt=6, seed=1)
    full = list(stream.batches(2))
    tail = list(LMStream(_docs(), batch_size=2, bptt=6, seed=1).batches(2, start=5))
    assert len(tail) == len(full) - 5
    for a, b in zip(full[5:], tail, strict=True):
        np.testing.assert_array_equal(a.x, b.x)
        assert a.index == b.index


def test_lm_stream_backwards_reads_the_stream_reversed():
    fwd = LMStream(_docs(), batch_size=1, bptt=5, shuffle=False, random_bptt=False)
    bwd = LMStream(_docs(), batch_size=1, bptt=5, shuffle=False, random_bptt=False, backwards=True)
    f = np.concatenate([b.x for b in fwd.batches(0)], 1)[0]
    b = np.concatenate([b.x for b in bwd.batches(0)], 1)[0]
    flat = np.concatenate(_docs())
    np.testing.assert_array_equal(b, flat[::-1][: len(b)])
    np.testing.assert_array_equal(f, flat[: len(f)])


def test_lm_stream_shards_union_equals_the_combined_batch():
    single = LMStream(_docs(), batch_size=4, bptt=6, seed=2)
    shards = [LMStream(_docs(), batch_size=2, bptt=6, seed=2, rank=r, world_size=2) for r in range(2)]
    for whole, a, b in zip(single.batches(0), shards[0].batches(0), shards[1].batches(0), strict=True):
        np.testing.assert_array_equal(whole.x, np.concatenate([a.x, b.x]))
        np.testing.assert_array_equal(whole.y, np.concatenate([a.y, b.y]))


def test_lm_stream_reads_a_memmapped_numericalized_corpus(tmp_path):
    from textkit.text import Tokenizer, Vocab, numericalize_corpus

    texts = ["The cat sat on the mat.", "A dog barked at the cat!", "Birds sing."] * 4
    tokenizer = Tokenizer(add_bos=True)
    vocab = Vocab.build(tokenizer.tokenize_many(texts))
    corpus = numericalize_corpus(texts, tokenizer, vocab, cache_dir=tmp_path)
    assert isinstance(corpus.ids, np.memmap)
    stream = LMStream(corpus, batch_size=2, bptt=4, shuffle=False, random_bptt=False)
    first = next(iter(stream))
    np.testing.assert_array_equal(first.x[0], np.asarray(corpus.ids[:4]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"docs": [], "batch_size": 2, "bptt": 5}, "corpus is empty"),
        ({"docs": [np.array([], dtype=np.int64)], "batch_size": 2, "bptt": 5}, "corpus is empty"),
        ({"docs": [np.arange(10)], "batch_size": 2, "bptt": 0}, "bptt"),
        ({"docs": [np.arange(10)], "batch_size": 8, "bptt": 5}, "batch is larger than the data"),
        ({"docs": [np.arange(10)], "batch_size": 0, "bptt": 5}, "batch_size"),
    ],
)
def test_lm_stream_bad_input_is_a_clear_error(kwargs, message):
    docs = kwargs.pop("docs")
    with pytest.raises(ValueError, match=message):
        LMStream(docs, **kwargs)


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 40), min_size=1, max_size=15),
    batch_size=st.integers(1, 4),
    bptt=st.integers(1, 12),
    seed=st.integers(0, 5),
    backwards=st.booleans(),
)
def test_lm_stream_each_row_reads_its_slice_of_the_epoch_stream(lengths, batch_size, bptt, seed, backwards):
    docs = [np.arange(sum(lengths[:i]), sum(lengths[: i + 1])) for i in range(len(lengths))]
    if sum(lengths) < 2 * batch_size:
        return
    stream = LMStream(docs, batch_size=batch_size, bptt=bptt, seed=seed, backwards=backwards)
    xs = np.concatenate([b.x for b in stream.batches(1)], 1)
    ys = np.concatenate([b.y for b in stream.batches(1)], 1)
    assert xs.shape == (batch_size, stream.row_len - 1)
    np.testing.assert_array_equal(xs[:, 1:], ys[:, :-1])
    order = np.random.default_rng([seed, 1, 0]).permutation(len(docs))
    epoch_stream = np.concatenate([docs[i] for i in order])
    if backwards:
        epoch_stream = epoch_stream[::-1]
    for r in range(batch_size):
        np.testing.assert_array_equal(xs[r], epoch_stream[r * stream.row_len : (r + 1) * stream.row_len - 1])


def test_split_documents_is_deterministic_and_disjoint():
    keys = [f"c{i:03d}" for i in range(500)]
    train, valid, test = split_documents(keys, [0.8, 0.1, 0.1], seed=0)
    assert (len(train), len(valid), len(test)) == (400, 50, 50)
    assert not set(train) & set(valid) and not set(valid) & set(test)
    assert split_documents(keys, [0.8, 0.1, 0.1], seed=0) == [train, valid, test]
    assert split_documents(keys, [0.8, 0.1, 0.1], seed=1)[1] != valid


def test_lm_stream_module_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, textkit.data.lm; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
