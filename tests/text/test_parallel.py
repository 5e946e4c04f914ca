import numpy as np
import pytest

from textkit.text import Tokenizer, Vocab, iter_tokenized, numericalize_corpus

TEXTS = [f"Document {i}: {'GOOD ' * (i % 4)}movie, isn't it?!!!" for i in range(300)] + ["", "last one"]


def test_parallel_tokenization_keeps_input_order_and_matches_serial():
    tok = Tokenizer()
    serial = [tok.tokenize(t) for t in TEXTS]
    assert list(iter_tokenized(TEXTS, tok, n_workers=2, batch_size=7)) == serial


def test_parallel_tokenization_streams_a_generator():
    tok = Tokenizer()
    generated = (t for t in TEXTS)
    assert sum(1 for _ in iter_tokenized(generated, tok, n_workers=2, batch_size=16)) == len(TEXTS)


def test_parallel_tokenization_reports_none_with_its_index():
    with pytest.raises(TypeError, match=r"texts\[2\] is None"):
        list(iter_tokenized(["a", "b", None], Tokenizer(), n_workers=1))


def test_numericalize_corpus_round_trips_and_caches(tmp_path):
    tok = Tokenizer()
    vocab = Vocab.build([tok.tokenize(t) for t in TEXTS])
    corpus = numericalize_corpus(TEXTS, tok, vocab, cache_dir=tmp_path, n_workers=2, batch_size=50)
    assert len(corpus) == len(TEXTS)
    assert isinstance(corpus.ids, np.memmap)
    for i in (0, 17, len(TEXTS) - 2, len(TEXTS) - 1):
        assert vocab.decode(corpus[i]) == tok.tokenize(TEXTS[i])
    again = numericalize_corpus(lambda: iter(TEXTS), tok, vocab, cache_dir=tmp_path)
    assert again.folder == corpus.folder
    assert len(list(tmp_path.iterdir())) == 1


def test_numericalize_corpus_key_changes_with_tokenizer_config(tmp_path):
    vocab = Vocab.build([Tokenizer().tokenize(t) for t in TEXTS])
    a = numericalize_corpus(TEXTS, Tokenizer(), vocab, cache_dir=tmp_path)
    b = numericalize_corpus(TEXTS, Tokenizer(add_bos=True), vocab, cache_dir=tmp_path)
    assert a.folder != b.folder
    assert b.n_tokens == a.n_tokens + len(TEXTS)


def test_numericalize_corpus_refuses_one_shot_iterators(tmp_path):
    vocab = Vocab.build([["a"]])
    with pytest.raises(TypeError, match="one-shot iterator"):
        numericalize_corpus(iter(TEXTS), Tokenizer(), vocab, cache_dir=tmp_path)


def test_numericalize_corpus_damaged_cache_is_a_clear_error(tmp_path):
    tok = Tokenizer()
    vocab = Vocab.build([tok.tokenize(t) for t in TEXTS])
    corpus = numericalize_corpus(TEXTS, tok, vocab, cache_dir=tmp_path)
    ids_file = corpus.folder / "ids.npy"
    ids_file.write_bytes(ids_file.read_bytes()[:200])
    with pytest.raises(ValueError, match="delete the folder"):
        numericalize_corpus(TEXTS, tok, vocab, cache_dir=tmp_path)
