"""Loaders: every format round-trips, limits hold, and bad files fail with clear messages."""

from __future__ import annotations

import io
import json
import pickle
import sys
import types

import numpy as np
import pytest

from textkit.bias import Embeddings, EmbeddingsFormatError, from_spacy, load_embeddings
from textkit.bias.embeddings import RestrictedUnpickler, read_gensim_kv

from .conftest import write_text, write_word2vec_binary

WORDS = ["the", "king", "queen", "café", "new_york"]


@pytest.fixture
def vectors():
    return np.random.default_rng(3).normal(size=(len(WORDS), 7)).astype(np.float32)


def _same(emb, vectors, words=WORDS):
    assert emb.words == list(words)
    np.testing.assert_allclose(np.asarray(emb.vectors), vectors[: len(words)], rtol=1e-6)


def test_embeddings_lookup_contains_getitem(vectors):
    emb = Embeddings(WORDS, vectors, name="t")
    assert "king" in emb and "King" not in emb
    np.testing.assert_array_equal(emb["queen"], vectors[2])
    with pytest.raises(KeyError, match="case-sensitive"):
        emb["King"]
    found, missing = emb.split_known(["king", "nope", "the"])
    assert found == ["king", "the"] and missing == ["nope"]
    unit = emb.matrix(["king", "the"])
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0)
    np.testing.assert_allclose(np.linalg.norm(emb.normalize().vectors, axis=1), 1.0, rtol=1e-6)


def test_embeddings_duplicate_words_warn_and_keep_first(vectors):
    with pytest.warns(UserWarning, match="duplicate"):
        emb = Embeddings(["a", "b", "a", "c", "d"], vectors)
    np.testing.assert_array_equal(emb["a"], vectors[0])


def test_embeddings_zero_and_nan_vectors_raise_naming_words(vectors):
    vectors[1] = 0.0
    vectors[2, 3] = np.nan
    emb = Embeddings(WORDS, vectors)
    with pytest.raises(ValueError, match=r"NaN.*'queen'.*all-zero.*'king'"):
        emb.matrix(["the", "king", "queen"])
    assert emb.check() == {"zero": ["king"], "nonfinite": ["queen"]}
    with pytest.raises(ValueError, match="cannot normalize"):
        emb.normalize()


def test_embeddings_word2vec_binary_roundtrip_and_limit(tmp_path, vectors):
    for newline in (True, False):
        path = tmp_path / f"v{newline}.bin"
        write_word2vec_binary(path, WORDS, vectors, newline_after_vector=newline)
        _same(load_embeddings(path), vectors)
        _same(load_embeddings(path, limit=2), vectors, WORDS[:2])


def test_embeddings_truncated_binary_is_refused(tmp_path, vectors):
    path = tmp_path / "v.bin"
    write_word2vec_binary(path, WORDS, vectors)
    data = path.read_bytes()
    (tmp_path / "cut.bin").write_bytes(data[: len(data) - 20])
    with pytest.raises(EmbeddingsFormatError, match="truncated.*word 5"):
        load_embeddings(tmp_path / "cut.bin")
    (tmp_path / "bad.bin").write_bytes(b"not a header\n" + data[20:])
    with pytest.raises(EmbeddingsFormatError, match="header"):
        load_embeddings(tmp_path / "bad.bin", format="word2vec-binary")


def test_embeddings_text_with_windows_line_endings(tmp_path, vectors):
    path = tmp_path / "crlf.txt"
    write_text(path, WORDS, vectors, header=True)
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    _same(load_embeddings(path), vectors)


def test_embeddings_text_formats_roundtrip(tmp_path, vectors):
    write_text(tmp_path / "w2v.txt", WORDS, vectors, header=True)
    write_text(tmp_path / "ft.vec", WORDS, vectors, header=True)
    write_text(tmp_path / "glove.txt", WORDS, vectors, header=False)
    for name in ("w2v.txt", "ft.vec", "glove.txt"):
        _same(load_embeddings(tmp_path / name), vectors)
    _same(load_embeddings(tmp_path / "glove.txt", limit=3), vectors, WORDS[:3])
    _same(load_embeddings(tmp_path / "glove.txt", format="glove"), vectors)


def test_embeddings_text_word_with_space_is_kept(tmp_path, vectors):
    path = tmp_path / "g.txt"
    write_text(path, ["first", "new york", "x", "y", "z"], vectors, header=False)
    assert load_embeddings(path).words[1] == "new york"


def test_embeddings_text_mixed_dimensions_name_the_line(tmp_path, vectors):
    path = tmp_path / "mixed.txt"
    write_text(path, WORDS, vectors, header=True)
    lines = path.read_text().splitlines()
    lines[3] = lines[3] + " 0.5"  # word 3 gets an extra value
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(EmbeddingsFormatError, match="line 4 has 8 values.*7"):
        load_embeddings(path)
    lines = path.read_text().splitlines()
    lines[3] = " ".join(lines[3].split()[:-3])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(EmbeddingsFormatError, match="line 4 has 5 values"):
        load_embeddings(path)


def test_embeddings_text_header_count_mismatch_is_truncation(tmp_path, vectors):
    path = tmp_path / "short.txt"
    write_text(path, WORDS, vectors, header=True)
    path.write_text("\n".join(path.read_text().splitlines()[:-2]) + "\n")
    with pytest.raises(EmbeddingsFormatError, match="promises 5 words but the file has 3"):
        load_embeddings(path)


def test_embeddings_npy_with_vocab_is_memory_mapped(tmp_path, vectors):
    np.save(tmp_path / "m.npy", vectors)
    (tmp_path / "m.vocab").write_text("\n".join(WORDS) + "\n")
    emb = load_embeddings(tmp_path / "m.npy")
    _same(emb, vectors)
    assert isinstance(emb.vectors, np.memmap)
    (tmp_path / "j.json").write_text(json.dumps(WORDS))
    _same(load_embeddings(tmp_path / "m.npy", vocab=tmp_path / "j.json", limit=4), vectors, WORDS[:4])
    np.save(tmp_path / "lonely.npy", vectors)
    with pytest.raises(FileNotFoundError, match="vocabulary"):
        load_embeddings(tmp_path / "lonely.npy")


def _fake_gensim_pickle(words, vectors, layout: int, side_file: bool = False) -> bytes:
    """Pickle objects whose classes claim to be gensim's, as KeyedVectors.save() writes them."""
    mod = types.ModuleType("gensim.models.keyedvectors")

    class KeyedVectors:
        pass

    class Vocab:
        pass

    KeyedVectors.__module__ = Vocab.__module__ = "gensim.models.keyedvectors"
    KeyedVectors.__qualname__, Vocab.__qualname__ = "KeyedVectors", "Vocab"
    mod.KeyedVectors, mod.Vocab = KeyedVectors, Vocab
    saved = {k: sys.modules.get(k) for k in ("gensim", "gensim.models", "gensim.models.keyedvectors")}
    sys.modules.update({"gensim": types.ModuleType("gensim"), "gensim.models": types.ModuleType("gensim.models"),
                        "gensim.models.keyedvectors": mod})
    try:
        kv = KeyedVectors()
        if side_file:  # KeyedVectors.save() keeps big arrays in <file>.vectors.npy
            kv.__dict__["__numpys"] = ["vectors"]
        else:
            kv.vectors = vectors
        if layout == 4:
            kv.index_to_key = list(words)
            kv.key_to_index = {w: i for i, w in enumerate(words)}
        else:
            kv.index2word = list(words)
            kv.vocab = {}
            for i, w in enumerate(words):
                v = Vocab()
                v.index, v.count = i, np.int64(10 - i)
                kv.vocab[w] = v
        return pickle.dumps(kv, protocol=4)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


@pytest.mark.parametrize("layout", [3, 4])
def test_embeddings_gensim_kv_without_gensim(tmp_path, vectors, layout):
    path = tmp_path / "m.kv"
    path.write_bytes(_fake_gensim_pickle(WORDS, vectors, layout))
    _same(load_embeddings(path), vectors)
    _same(load_embeddings(path, limit=2), vectors, WORDS[:2])


def test_embeddings_gensim_kv_side_file_vectors(tmp_path, vectors):
    path = tmp_path / "m.kv"
    path.write_bytes(_fake_gensim_pickle(WORDS, None, 4, side_file=True))
    with pytest.raises(FileNotFoundError, match="m.kv.vectors.npy"):
        read_gensim_kv(path)
    np.save(tmp_path / "m.kv.vectors.npy", vectors)
    emb = read_gensim_kv(path)
    _same(emb, vectors)
    assert isinstance(emb.vectors, np.memmap)


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned > /dev/null",))


def test_embeddings_malicious_pickle_is_refused(tmp_path):
    path = tmp_path / "evil.kv"
    path.write_bytes(pickle.dumps({"vectors": _Evil()}))
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load (posix|os)\.system"):
        load_embeddings(path)
    for payload in (pickle.dumps(eval), pickle.dumps(getattr)):
        with pytest.raises(pickle.UnpicklingError, match="refusing"):
            RestrictedUnpickler(io.BytesIO(payload)).load()
    obj_array = pickle.dumps(np.array([{"a": 1}], dtype=object))
    with pytest.raises(pickle.UnpicklingError, match="object"):
        RestrictedUnpickler(io.BytesIO(obj_array)).load()


def test_embeddings_restricted_unpickler_reads_numpy_pickles_of_any_protocol():
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    for protocol in (2, 4, 5):
        out = RestrictedUnpickler(io.BytesIO(pickle.dumps({"v": arr, "w": [np.str_("a")]}, protocol=protocol))).load()
        np.testing.assert_array_equal(out["v"], arr)
        assert out["w"] == ["a"]


def test_embeddings_real_wefe_kv_loads(word2vec_weat):
    assert (len(word2vec_weat), word2vec_weat.dim) == (13013, 300)
    assert "aster" in word2vec_weat and "Lakisha" in word2vec_weat


def test_embeddings_registry_text_and_kv_agree(word2vec_weat):
    text = load_embeddings("word2vec-weat-text")
    assert len(text) == 347
    common = [w for w in text.words if w in word2vec_weat]
    assert len(common) > 250 and "lamar" in text and "Lamar" not in text  # names lowercased in this file
    for w in common:
        np.testing.assert_allclose(text[w], word2vec_weat[w], atol=1e-6)


def test_embeddings_registry_binary_limit():
    emb = load_embeddings("word2vec-bolukbasi", limit=1000)
    assert (len(emb), emb.dim) == (1000, 300)


def test_embeddings_textkit_lm_folder(tmp_path, vectors):
    from safetensors.numpy import save_file

    folder = tmp_path / "lm"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "vocab.json").write_text(json.dumps({"itos": WORDS}))
    padded = np.vstack([vectors, np.zeros((3, vectors.shape[1]), np.float32)])  # rows padded to a multiple of 8
    save_file({"encoder.embedding.weight": padded, "decoder.bias": np.zeros(8, np.float32)}, str(folder / "model.safetensors"))
    _same(load_embeddings(folder), vectors)
    (folder / "vocab.json").write_text(json.dumps(WORDS + ["a", "b", "c", "d"]))
    with pytest.raises(EmbeddingsFormatError, match="8 rows but vocab.json lists 9"):
        load_embeddings(folder)
    (folder / "vocab.json").write_text(json.dumps(WORDS))
    save_file({"rnn.weight": padded}, str(folder / "model.safetensors"))
    with pytest.raises(EmbeddingsFormatError, match="embedding_key"):
        load_embeddings(folder)
    _same(load_embeddings(folder, embedding_key="rnn.weight"), vectors)


@pytest.mark.slow  # importing spaCy dominates
def test_embeddings_spacy_vectors(vectors):
    import spacy

    nlp = spacy.blank("en")
    for w, v in zip(WORDS, vectors):
        nlp.vocab.set_vector(w, v)
    emb = from_spacy(nlp)
    assert sorted(emb.words) == sorted(WORDS)
    np.testing.assert_allclose(emb["queen"], vectors[2])
    with pytest.raises(ValueError, match="no vectors"):
        from_spacy(spacy.blank("en"))


def test_embeddings_unknown_name_or_path_lists_registry(tmp_path):
    with pytest.raises(FileNotFoundError, match="word2vec-weat"):
        load_embeddings("no-such-embeddings")
    (tmp_path / "x.bin").write_bytes(b"")
    with pytest.raises(ValueError, match="unknown embeddings format"):
        load_embeddings(tmp_path / "x.bin", format="parquet")
