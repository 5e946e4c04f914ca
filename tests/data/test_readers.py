"""Loaders for user-brought benchmark formats, on small fixtures written in the real layout."""

import pytest

from textkit import data


def test_readers_imdb_layout(tmp_path):
    base = tmp_path / "aclImdb"
    for split, label, name, text in [
        ("train", "pos", "0_9.txt", "Great<br />film"),
        ("train", "neg", "1_2.txt", "Bad"),
        ("test", "pos", "10_8.txt", "Fine"),
        ("train", "unsup", "5_0.txt", "Unlabelled"),
    ]:
        (base / split / label).mkdir(parents=True, exist_ok=True)
        (base / split / label / name).write_text(text, encoding="utf-8")
    train = data.load("imdb", split="train", data_dir=tmp_path)
    assert [(r["label"], r["rating"]) for r in train] == [("neg", 2), ("pos", 9)]
    assert data.load("imdb", split="unsup", data_dir=base)[0]["label"] is None
    assert len(data.load("imdb", data_dir=tmp_path)) == 4


def test_readers_imdb_wrong_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="aclImdb"):
        data.load("imdb", split="train", data_dir=tmp_path)


def test_readers_newsgroups_layout_latin1(tmp_path):
    for split in ("train", "test"):
        folder = tmp_path / f"20news-bydate-{split}" / "sci.space"
        folder.mkdir(parents=True)
        (folder / "101").write_bytes("From: a\n\nCaf\xe9 orbit".encode("latin-1"))
    records = data.load("20newsgroups", data_dir=tmp_path)
    assert len(records) == 2 and records[0]["label"] == "sci.space"
    assert "Café orbit" in records[0]["text"]


def test_readers_wikitext_articles(tmp_path):
    (tmp_path / "wikitext-2").mkdir()
    (tmp_path / "wikitext-2" / "wiki.valid.tokens").write_text(
        " \n = Alpha = \n \n Alpha is a letter . \n = = Use = = \n It is used . \n = Beta = \n Beta too . \n", encoding="utf-8"
    )
    records = data.load("wikitext-2", split="valid", data_dir=tmp_path)
    assert [r["title"] for r in records] == ["Alpha", "Beta"]
    assert "= = Use = =" in records[0]["text"]


def test_readers_giga_fren_filters_questions(tmp_path):
    (tmp_path / "giga-fren.release2.fixed.en").write_text("What is it?\nNot a question.\nWhere are you?\n", encoding="utf-8")
    (tmp_path / "giga-fren.release2.fixed.fr").write_text("Qu'est-ce?\nPas une question.\nOù es-tu?\n", encoding="utf-8")
    records = data.load("giga-fren", data_dir=tmp_path)
    assert records == [{"source": "Qu'est-ce?", "target": "What is it?"}, {"source": "Où es-tu?", "target": "Where are you?"}]


def test_readers_decode_robustly_never_drops_bytes():
    assert data.decode_robustly("naïve".encode()) == ("naïve", "utf-8")
    assert data.decode_robustly(b"\xa315") == ("£15", "cp1252")
    text, encoding = data.decode_robustly(b"\x81\x8d")
    assert encoding == "latin-1" and len(text) == 2


def test_readers_zcom_blocks_round_trip_and_damaged_index(tmp_path):
    import struct
    import zlib

    from textkit.data.readers import iter_zcom_blocks

    blocks = ["<p>First psalm.</p>", "Second <hi>block</hi>."]
    data_bytes, index = b"", b""
    for text in blocks:
        packed = zlib.compress(text.encode("utf-8"))
        index += struct.pack("<III", len(data_bytes), len(packed), len(text.encode("utf-8")))
        data_bytes += packed
    (tmp_path / "ot.czs").write_bytes(index)
    (tmp_path / "ot.czz").write_bytes(data_bytes)
    assert [t for _, _, t in iter_zcom_blocks(tmp_path)] == blocks
    (tmp_path / "ot.czs").write_bytes(index[:-1])
    with pytest.raises(ValueError, match="multiple of 12"):
        list(iter_zcom_blocks(tmp_path))


def test_readers_composite_rejects_a_bad_weight(tmp_path, monkeypatch):
    manifest_dir = tmp_path / "manifests"
    manifest_dir.mkdir()
    (manifest_dir / "bad-mix.toml").write_text(
        'name = "bad-mix"\nkind = "plain"\nreader = "composite"\ndescription = "x"\nlicence = "x"\ncitation = "x"\n'
        'splits = ["train", "valid", "test"]\n[options]\nparts = [{ corpus = "sotu", document = "file", weight = 1.5 }]\n'
    )
    monkeypatch.setenv("TEXTKIT_CORPORA_PATH", str(manifest_dir))
    from textkit import data

    with pytest.raises(ValueError, match="weight 1.5"):
        data.load("bad-mix")
