"""WordPiece (``textkit.text.wordpiece``): BERT's pipeline from a Hugging Face tokenizer.json,
framed as [CLS] ... [SEP], cut at max_length with a notice, empty texts reported, batches padded
on the right, one JSON file that loads back identically."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("tokenizers")

from tests.data.test_encoders import VOCAB, hf_tokenizer_json
from textkit.text.wordpiece import EmptyTextError, TruncationWarning, WordPieceTokenizer

CLS, SEP, PAD = VOCAB.index("[CLS]"), VOCAB.index("[SEP]"), VOCAB.index("[PAD]")


@pytest.fixture
def tokenizer() -> WordPieceTokenizer:
    return WordPieceTokenizer.from_hf_json(hf_tokenizer_json())


def test_wordpiece_frames_each_text_and_splits_unknown_words_into_pieces(tokenizer):
    encoded = tokenizer.encode("The movie was GREAT, lovedit!")
    # greedy longest match: "lovedit" is "loved" then the continuations "##i", "##t"
    assert encoded.tokens == ["[CLS]", "the", "movie", "was", "great", ",", "loved", "##i", "##t", "!", "[SEP]"]
    assert encoded.ids == [VOCAB.index(t) for t in encoded.tokens]
    assert tokenizer.special_ids == {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}
    assert len(tokenizer) == len(VOCAB) and tokenizer.decode(encoded.ids) == "the movie was great, lovedit!"


def test_wordpiece_ignores_the_files_own_padding_and_truncation(tokenizer):
    # the shipped tokenizer.json pads and truncates to 128; textkit's rules replace both
    batch = tokenizer.encode_batch(["the movie", "a " * 200])
    assert batch.lengths.tolist() == [4, 202]


def test_wordpiece_cuts_long_texts_with_a_notice_naming_them(tokenizer):
    long = "the " * 600
    with pytest.warns(TruncationWarning, match=r"1 of 3 texts have more than 510 word pieces.*texts\[1\]") as caught:
        batch = tokenizer.encode_batch(["a film", long, "it was bad"])
    assert caught[0].message.indices == (1,)
    assert batch.truncated == (1,) and batch.n_pieces.tolist() == [2, 600, 3]
    row = batch.ids[1]
    assert len(row) == 512 and row[0] == CLS and row[-1] == SEP and (row[1:-1] == VOCAB.index("the")).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tokenizer.encode_batch([long], warn=False).truncated == (0,)  # warn=False: no warning
    with pytest.warns(TruncationWarning):
        assert len(tokenizer.encode(long).ids) == 512


def test_wordpiece_a_text_of_exactly_510_pieces_is_not_cut(tokenizer):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batch = tokenizer.encode_batch(["the " * 510])
    assert batch.truncated == () and batch.lengths.tolist() == [512]


def test_wordpiece_empty_texts_are_cls_sep_and_reported(tokenizer):
    batch = tokenizer.encode_batch(["", "the", "   \t", "\x00"])
    assert batch.empty == (0, 2, 3)
    assert [row.tolist() for row in batch.ids] == [[CLS, SEP], [CLS, VOCAB.index("the"), SEP], [CLS, SEP], [CLS, SEP]]
    assert issubclass(EmptyTextError, ValueError)


def test_wordpiece_pads_on_the_right_in_the_rows_order(tokenizer):
    batch = tokenizer.encode_batch(["the movie was great", "a", "bad plot"])
    padded = batch.pad([1, 0])
    assert padded.input_ids.tolist() == [
        [CLS, VOCAB.index("a"), SEP, PAD, PAD, PAD],
        [CLS, *(VOCAB.index(w) for w in "the movie was great".split()), SEP],
    ]
    assert padded.attention_mask.tolist() == [[1, 1, 1, 0, 0, 0], [1] * 6]
    assert padded.input_ids.dtype == np.int64 and padded.lengths.tolist() == [3, 6]


def test_wordpiece_saves_to_one_json_file_and_loads_back(tokenizer, tmp_path):
    tokenizer.save(tmp_path)
    loaded = WordPieceTokenizer.load(tmp_path)
    texts = ["The plot!", "", "lovedit " * 300]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)
        assert [r.tolist() for r in loaded.encode_batch(texts).ids] == [
            r.tolist() for r in tokenizer.encode_batch(texts).ids
        ]
    assert loaded.max_length == 512 and loaded.special_ids == tokenizer.special_ids


def test_wordpiece_refuses_non_wordpiece_and_bad_input(tokenizer, tmp_path):
    from tokenizers import Tokenizer, models

    with pytest.raises(ValueError, match="holds a 'BPE' model, not a WordPiece one"):
        WordPieceTokenizer.from_hf_json(Tokenizer(models.BPE()).to_str())
    with pytest.raises(ValueError, match="is not a Hugging Face tokenizer pipeline"):
        WordPieceTokenizer.from_hf_json("{not json")
    with pytest.raises(TypeError, match=r"texts\[1\] is None"):
        tokenizer.encode_batch(["fine", None])  # type: ignore[list-item]
    (tmp_path / "tokenizer.json").write_text('{"type": "byte_bpe"}')
    with pytest.raises(ValueError, match="not a 'wordpiece' one"):
        WordPieceTokenizer.load(tmp_path)
