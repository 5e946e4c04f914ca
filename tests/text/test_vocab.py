import json

import numpy as np
import pytest

from textkit.text import PAD, SPECIAL_TOKENS, UNK, Vocab


def test_vocab_specials_first_then_by_frequency():
    vocab = Vocab.build([["b", "a", "a"], ["c", "a", "b"]])
    assert vocab.itos[: len(SPECIAL_TOKENS)] == list(SPECIAL_TOKENS)
    assert vocab.itos[len(SPECIAL_TOKENS) :] == ["a", "b", "c"]


def test_vocab_min_freq_and_max_size():
    tokens = [["a"] * 5 + ["b"] * 3 + ["c"] * 2 + ["d"]]
    assert "d" not in Vocab.build(tokens, min_freq=2)
    small = Vocab.build(tokens, max_size=len(SPECIAL_TOKENS) + 2)
    assert small.itos[len(SPECIAL_TOKENS) :] == ["a", "b"]


def test_vocab_unknown_tokens_map_to_the_explicit_unk_index():
    vocab = Vocab.build([["a", "b"]])
    assert vocab.unk_index == vocab.itos.index(UNK)
    assert vocab.encode(["a", "zzz"]) == [vocab.stoi["a"], vocab.unk_index]


def test_vocab_unk_index_need_not_be_zero():
    vocab = Vocab(["xxpad", "hello", "xxunk"])
    assert vocab.encode(["nope"]) == [2]


def test_vocab_decode_rejects_out_of_range_ids():
    vocab = Vocab.build([["a"]])
    with pytest.raises(IndexError, match="outside the vocabulary"):
        vocab.decode([len(vocab)])


def test_vocab_batches_pad_and_strip():
    vocab = Vocab.build([["a", "b"]])
    padded = vocab.encode_batch([["a"], ["a", "b", "a"]], pad=True)
    assert padded.shape == (2, 3) and padded.dtype == np.int64
    assert padded[0, 1] == vocab.stoi[PAD]
    assert vocab.decode_batch(padded) == [["a"], ["a", "b", "a"]]


def test_vocab_batch_with_none_names_the_index():
    vocab = Vocab.build([["a"]])
    with pytest.raises(TypeError, match=r"batch\[1\] is None"):
        vocab.encode_batch([["a"], None])


def test_vocab_encode_rejects_a_plain_string():
    with pytest.raises(TypeError, match="tokenize the text first"):
        Vocab.build([["a"]]).encode("abc")


def test_vocab_save_load_round_trip(tmp_path):
    vocab = Vocab.build([["héllo", "東京", "a", "a"]])
    path = vocab.save(tmp_path / "vocab.json")
    assert json.loads(path.read_text(encoding="utf-8"))["itos"] == vocab.itos
    assert Vocab.load(path) == vocab


def test_vocab_load_truncated_file_is_a_clear_error(tmp_path):
    path = Vocab.build([["a"]]).save(tmp_path / "vocab.json")
    path.write_text(path.read_text()[:20])
    with pytest.raises(ValueError, match="truncated or corrupted"):
        Vocab.load(path)


def test_vocab_rejects_duplicates_and_missing_unk():
    with pytest.raises(ValueError, match="duplicate"):
        Vocab(["xxunk", "a", "a"])
    with pytest.raises(ValueError, match="unknown token"):
        Vocab(["a", "b"])
