"""`textkit topics`: NMF/SVD topics of a user's own file or folder, end to end through the CLI."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

from textkit.cli import main

THEMES = {
    "sport": "football goal match referee striker league stadium penalty coach season".split(),
    "cooking": "recipe oven flour butter garlic simmer sauce pastry onion roast".split(),
    "space": "rocket orbit planet telescope galaxy astronaut nebula comet launch lunar".split(),
}


def themed_documents(per_theme: int = 12, seed: int = 0) -> list[tuple[str, str]]:
    """(text, theme) pairs: each text draws its words from one theme, plus stop words."""
    rng = random.Random(seed)
    docs = []
    for i in range(per_theme):
        for theme, words in THEMES.items():
            picked = rng.sample(words, 6)
            docs.append((f"The {picked[0]} and the {' '.join(picked[1:])} were in it, doc {i}.", theme))
    return docs


def write_csv(path: Path, docs: list[tuple[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(docs)
    return path


def read_doc_topics(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def theme_of_topic(words: list[str]) -> str:
    """The one theme all of a topic's words come from (fails if they mix)."""
    themes = {theme for theme, pool in THEMES.items() for w in words if w in pool}
    assert len(themes) == 1, f"topic mixes themes: {words}"
    return themes.pop()


def test_topics_command_nmf_recovers_themes_and_writes_every_output(tmp_path, capsys):
    docs = themed_documents()
    data = write_csv(tmp_path / "docs.csv", docs)
    out = tmp_path / "topics"
    argv = ["topics", "--data", str(data), "--k", "3", "--out", str(out), "--top-words", "5", "--seed", "0"]
    assert main(argv) == 0
    printed = capsys.readouterr().out

    summary = json.loads((out / "topics.json").read_text(encoding="utf-8"))
    assert summary["method"] == "nmf" and summary["k"] == 3 and summary["documents"] == len(docs)
    assert summary["settings"]["vectorizer"]["min_df"] == 2 and summary["settings"]["vectorizer"]["stop_words"]
    assert summary["settings"]["model"]["n_components"] == 3 and summary["settings"]["model"]["random_state"] == 0
    assert {"python", "numpy", "torch"} <= set(summary["versions"]) and len(summary["data_sha256"]) == 64
    topics = summary["topics"]
    assert [t["topic"] for t in topics] == [0, 1, 2] and all(len(t["top_words"]) == 5 for t in topics)
    topic_theme = [theme_of_topic(t["top_words"]) for t in topics]
    assert sorted(topic_theme) == sorted(THEMES)  # each theme is exactly one topic
    assert all(-1.0 <= t["coherence_npmi"] <= 1.0 for t in topics)
    assert summary["coherence_npmi_mean"] == pytest.approx(sum(t["coherence_npmi"] for t in topics) / 3)
    assert [t["documents"] for t in topics] == [12, 12, 12]
    agreement = summary["label_agreement"]
    assert agreement["purity"] == pytest.approx(1.0) and agreement["nmi"] == pytest.approx(1.0)
    assert agreement["documents"] == len(docs) and agreement["classes"] == 3

    header, rows = read_doc_topics(out / "doc_topics.csv")
    assert header == ["line", "dominant_topic", "topic_0", "topic_1", "topic_2"]
    assert [int(r[0]) for r in rows] == list(range(2, len(docs) + 2))  # file order, header on line 1
    for row, (_, theme) in zip(rows, docs, strict=True):
        weights = [float(w) for w in row[2:]]
        assert int(row[1]) == weights.index(max(weights)) and min(weights) >= 0
        assert topic_theme[int(row[1])] == theme
    assert (out / "top_words.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    for t in topics:  # stdout lists every topic with its words and coherence
        assert " ".join(t["top_words"]) in printed and f"{t['coherence_npmi']:+.3f}" in printed
    assert "purity 1.000" in printed

    # replacing the folder needs --overwrite; the seeded run again gives the same topics and weights
    assert main(argv) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert main([*argv, "--overwrite"]) == 0
    again = json.loads((out / "topics.json").read_text(encoding="utf-8"))
    assert again["topics"] == topics
    assert read_doc_topics(out / "doc_topics.csv")[1] == rows


def test_topics_command_svd_on_plain_text_keeps_line_numbers(tmp_path, capsys):
    docs = [text for text, _ in themed_documents(per_theme=6)]
    lines = docs[:5] + ["", "   "] + docs[5:]  # blank lines are skipped, line numbers stay the file's
    data = tmp_path / "docs.txt"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "svd"
    assert main(["topics", "--data", str(data), "--k", "2", "--method", "svd", "--out", str(out)]) == 0
    summary = json.loads((out / "topics.json").read_text(encoding="utf-8"))
    assert summary["method"] == "svd" and summary["empty_rows_skipped"] == 2
    assert "label_agreement" not in summary and "agreement" not in capsys.readouterr().out
    assert summary["settings"]["model"]["n_components"] == 2
    header, rows = read_doc_topics(out / "doc_topics.csv")
    assert header == ["line", "dominant_topic", "topic_0", "topic_1"]
    expected = [n for n, text in enumerate(lines, start=1) if text.strip()]
    assert [int(r[0]) for r in rows] == expected and len(rows) == len(docs)
    for row in rows:
        weights = [float(w) for w in row[2:]]
        assert int(row[1]) == weights.index(max(weights))


def test_topics_command_reads_a_folder_of_class_subfolders(tmp_path, capsys):
    root = tmp_path / "corpus"
    for i, (text, theme) in enumerate(themed_documents(per_theme=5)):
        folder = root / theme
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"doc{i:02d}.txt").write_text(text, encoding="utf-8")
    out = tmp_path / "folder-topics"
    assert main(["topics", "--data", str(root), "--k", "3", "--out", str(out)]) == 0
    header, rows = read_doc_topics(out / "doc_topics.csv")
    assert header[0] == "file" and len(rows) == 15
    assert all(r[0].split("/")[0] in THEMES and r[0].endswith(".txt") for r in rows)
    summary = json.loads((out / "topics.json").read_text(encoding="utf-8"))
    assert summary["label_agreement"]["classes"] == 3 and summary["label_agreement"]["purity"] == pytest.approx(1.0)
    by_topic = {}
    for row in rows:
        by_topic.setdefault(row[1], set()).add(row[0].split("/")[0])
    assert all(len(themes) == 1 for themes in by_topic.values())  # a topic's documents share their subfolder


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--k", "0"], "--k must be at least 1, got 0"),
        (["--k", "9"], "--k 9 needs more documents than topics: "),
        (["--k", "2", "--top-words", "1"], "--top-words must be at least 2"),
        (["--k", "2", "--min-df", "5"], "no terms are left to model"),
        (["--k", "7", "--min-df", "1"], "--k 7 is more than the "),
    ],
)
def test_topics_command_bad_requests_are_clear_errors(tmp_path, capsys, extra, message):
    # 9 documents, each term in at most 2 of them: --min-df 5 leaves nothing
    words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()
    docs = [f"{words[i % 6]} {words[(i + 1) % 6]}" for i in range(9)]
    data = tmp_path / "docs.txt"
    data.write_text("\n".join(docs) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["topics", "--data", str(data), "--out", str(out), *extra]) == 1
    err = capsys.readouterr().err
    assert err.startswith("textkit: error: ") and message in err
    if "needs more documents" in message:
        assert "9 non-empty document(s); ask for at most 8 topics" in err
    if "no terms" in message:
        assert str(data) in err and "--min-df 1" in err
    assert not out.exists()  # nothing half-written


def test_topics_command_will_not_replace_a_folder_it_did_not_write(tmp_path, capsys):
    data = write_csv(tmp_path / "docs.csv", themed_documents(per_theme=4))
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me", encoding="utf-8")
    assert main(["topics", "--data", str(data), "--k", "2", "--out", str(precious)]) == 1
    assert "not a topic-model report; textkit will not replace it" in capsys.readouterr().err
    assert (precious / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_topics_command_missing_file_and_bad_column_name_the_file(tmp_path, capsys):
    assert main(["topics", "--data", str(tmp_path / "nope.csv"), "--k", "2", "--out", str(tmp_path / "o")]) == 1
    assert "nope.csv does not exist" in capsys.readouterr().err
    data = write_csv(tmp_path / "docs.csv", themed_documents(per_theme=4))
    argv = ["topics", "--data", str(data), "--k", "2", "--out", str(tmp_path / "o"), "--text-column", "body"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "docs.csv: no text column 'body'" in err and "--text-column" in err


# -- issue 29, item 5: topics in any language ---------------------------------------------------

FRENCH_THEMES = {
    "cuisine": "recette four farine beurre ail sauce pâtisserie oignon rôti poivre".split(),
    "football": "football match arbitre attaquant championnat stade pénalty entraîneur saison gardien".split(),
    "espace": "fusée orbite planète télescope galaxie astronaute nébuleuse comète lancement lunaire".split(),
}
FRENCH_FILLER = (
    "il est qu que pas le la les ne un une des du au aux et mais ou donc car nous vous ils elle on ce cette "
    "son sa ses sur dans pour avec sans très plus tout"
).split()


def french_documents(per_theme: int = 15, seed: int = 0) -> list[str]:
    """Short French "reviews": five words of one theme among fourteen function words, so stop words
    are most of the text but (unlike a fixed sentence frame) not in every document."""
    rng = random.Random(seed)
    docs = []
    for _ in range(per_theme):
        for words in FRENCH_THEMES.values():
            doc = rng.sample(words, 5) + rng.choices(FRENCH_FILLER, k=14)
            rng.shuffle(doc)
            docs.append(" ".join(doc))
    return docs


def run_topics(tmp_path: Path, data: Path, name: str, *extra: str) -> tuple[dict, str]:
    out = tmp_path / name
    assert main(["topics", "--data", str(data), "--k", "3", "--out", str(out), "--top-words", "8", *extra]) == 0
    return json.loads((out / "topics.json").read_text(encoding="utf-8")), out


def test_topics_command_detects_french_and_drops_its_stop_words(tmp_path, capsys):
    from spacy.lang.fr.stop_words import STOP_WORDS

    data = tmp_path / "avis.txt"
    data.write_text("\n".join(french_documents()) + "\n", encoding="utf-8")

    # before: the English list left French function words among the top words
    english, _ = run_topics(tmp_path, data, "english", "--stop-words", "english")
    assert {w for t in english["topics"] for w in t["top_words"]} & STOP_WORDS
    assert english["stop_words"]["source"] == "scikit-learn english"
    capsys.readouterr()

    summary, _ = run_topics(tmp_path, data, "detected")
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].startswith("language: fr (detected: ") and "spaCy's fr list" in printed
    top = [w for t in summary["topics"] for w in t["top_words"]]
    assert not set(top) & STOP_WORDS, top
    assert sorted(theme_of_french_topic(t["top_words"]) for t in summary["topics"]) == sorted(FRENCH_THEMES)
    record = summary["stop_words"]
    assert record["detected"] == "fr" and record["source"] == "spacy fr" and record["words"] >= len(STOP_WORDS)
    assert max(record["stop_word_shares"], key=record["stop_word_shares"].get) == "fr"

    chosen, _ = run_topics(tmp_path, data, "lang", "--lang", "fr")
    assert "language: fr (--lang)" in capsys.readouterr().out
    assert [t["top_words"] for t in chosen["topics"]] == [t["top_words"] for t in summary["topics"]]


def theme_of_french_topic(words: list[str]) -> str:
    themes = {theme for theme, pool in FRENCH_THEMES.items() for w in words if w in pool}
    assert len(themes) == 1, f"topic mixes themes: {words}"
    return themes.pop()


def test_topics_command_stop_words_none_file_and_english_detection(tmp_path, capsys):
    english = write_csv(tmp_path / "docs.csv", themed_documents())
    summary, _ = run_topics(tmp_path, english, "en")
    assert capsys.readouterr().out.startswith("language: en (detected: ")
    # English text keeps the reference setting: scikit-learn's list, recorded by name
    assert summary["settings"]["vectorizer"]["stop_words"] == "english" and summary["stop_words"]["detected"] == "en"

    french = tmp_path / "avis.txt"
    french.write_text("\n".join(french_documents()) + "\n", encoding="utf-8")
    kept, _ = run_topics(tmp_path, french, "none", "--stop-words", "none", "--min-df", "1", "--max-df", "1.0")
    assert capsys.readouterr().out.startswith("stop words: none")
    assert kept["stop_words"] == {"source": "none", "words": 0}
    assert {w for t in kept["topics"] for w in t["top_words"]} & set(FRENCH_FILLER)  # nothing was dropped
    words = tmp_path / "mots.txt"
    words.write_text("# mes mots vides\nil est\nqu que pas le la les ne un une des du au aux et\n", encoding="utf-8")
    mine, _ = run_topics(tmp_path, french, "file", "--stop-words", str(words))
    assert f"stop words: 16 from {words}" in capsys.readouterr().out
    assert not {"il", "est", "le"} & {w for t in mine["topics"] for w in t["top_words"]}

    assert main(["topics", "--data", str(french), "--k", "3", "--out", str(tmp_path / "x"), "--lang", "xx"]) == 1
    err = capsys.readouterr().err
    assert "no stop words for --lang 'xx'" in err and " fr, " in err
    argv = ["topics", "--data", str(french), "--k", "3", "--out", str(tmp_path / "y")]
    assert main([*argv, "--stop-words", str(tmp_path / "missing.txt")]) == 1
    assert "--stop-words" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # one source of stop words at a time
        main([*argv, "--lang", "fr", "--stop-words", "none"])


def test_topics_command_file_names_never_become_spreadsheet_formulas(tmp_path, capsys):
    docs = themed_documents(per_theme=4)
    folder = tmp_path / "docs"
    folder.mkdir()
    for i, (text, _) in enumerate(docs):
        (folder / f"{'=' if i == 0 else ''}doc{i}.txt").write_text(text, encoding="utf-8")
    out = tmp_path / "topics"
    assert main(["topics", "--data", str(folder), "--k", "2", "--out", str(out), "--stop-words", "english"]) == 0
    header, rows = read_doc_topics(out / "doc_topics.csv")
    names = [row[0] for row in rows]
    assert "'=doc0.txt" in names and not any(name.startswith("=") for name in names)
