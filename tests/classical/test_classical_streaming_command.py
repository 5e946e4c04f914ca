"""`textkit classify train` switches to streaming by itself over --memory-budget: it says so on
stderr, never loads the table, and saves the model the in-memory path saves."""

from __future__ import annotations

import argparse
import csv

import numpy as np
import pytest

from textkit.classical import streaming
from textkit.cli import main
from textkit.commands.classify import MEMORY_BUDGET, parse_memory_budget
from textkit.recipes.classify import load_classifier

SWITCH = "over the memory budget of"


@pytest.fixture
def corpus_csv(tmp_path, make_corpus):
    texts, labels = make_corpus(n=300, n_classes=3)
    path = tmp_path / "train.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(zip(texts, labels, strict=True))
    return path


def _stream_in_small_chunks_without_read_table(monkeypatch) -> None:
    """Small chunks, so the file spans several; and read_table fails if anything calls it."""
    import textkit.data.tables as tables

    monkeypatch.setattr(streaming, "CHUNK_ROWS", 64)

    def refuse(*args, **kwargs):
        raise AssertionError("the streaming path loaded the whole table")

    monkeypatch.setattr(tables, "read_table", refuse)


@pytest.fixture
def no_whole_table(monkeypatch):
    _stream_in_small_chunks_without_read_table(monkeypatch)


@pytest.mark.parametrize("method", ["nb", "nbsvm", "lr"])
def test_classify_train_streams_over_the_budget_into_the_in_memory_model(
    corpus_csv, tmp_path, capsys, monkeypatch, make_corpus, method
):
    in_memory, streamed = tmp_path / "in_memory", tmp_path / "streamed"
    assert main(["classify", "train", "--data", str(corpus_csv), "--method", method, "--out", str(in_memory)]) == 0
    assert SWITCH not in capsys.readouterr().err  # a 30 KB file is far below the default budget
    with monkeypatch.context() as patch:
        _stream_in_small_chunks_without_read_table(patch)
        argv = ["classify", "train", "--data", str(corpus_csv), "--method", method, "--out", str(streamed)]
        assert main([*argv, "--memory-budget", "10KB"]) == 0
    captured = capsys.readouterr()
    size = corpus_csv.stat().st_size / 1e3
    assert (
        f"{corpus_csv} is {size:.1f} KB, over the memory budget of 10.0 KB (--memory-budget): training by "
        "streaming, two passes over 64-row chunks, without loading the table"
    ) in captured.err
    assert "(streamed)" in captured.out
    a, b = load_classifier(streamed), load_classifier(in_memory)
    assert a.info["streaming"] == {"chunk_rows": 64, "passes": 2} and "streaming" not in b.info
    assert a.classes == b.classes and a.info["features"] == b.info["features"]
    assert a.model.named_steps["vectorizer"].vocabulary_ == b.model.named_steps["vectorizer"].vocabulary_
    # the same model to the bit: the weights files are identical
    assert (streamed / "estimators.safetensors").read_bytes() == (in_memory / "estimators.safetensors").read_bytes()
    texts, _ = make_corpus(n=120, seed=7, n_classes=3)
    np.testing.assert_array_equal(a.predict(texts), b.predict(texts))
    np.testing.assert_array_equal(a.predict_proba(texts), b.predict_proba(texts))


def test_classify_train_streaming_scores_valid_and_respects_the_budget_option(corpus_csv, tmp_path, capsys):
    model = tmp_path / "model"
    argv = ["classify", "train", "--data", str(corpus_csv), "--valid", str(corpus_csv), "--out", str(model)]
    assert main([*argv, "--memory-budget", "0.01MiB", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "over the memory budget of 10.5 KB" in captured.err
    assert "valid accuracy" in captured.out and load_classifier(model).info["valid_rows"] == 300


def _fails(argv, capsys, message):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err, err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("text,label\na,pos\nb,pos\n", "only one class ('pos', 2 rows)"),
        ("text,label\na,pos\nb,neg\nc,\n", "train.csv, line 4: the row has no label"),
        ("text,label\na,1\nb,2\nc,1.0\n", "the labels '1' (first at "),
        ('text,label\na,pos\nb,neg\n"c,pos\n', "line 4: malformed CSV row"),
        ("text,label\n", "holds no rows"),
    ],
)
def test_classify_train_streaming_refuses_bad_data_by_line_and_writes_nothing(
    tmp_path, capsys, no_whole_table, content, message
):
    path = tmp_path / "train.csv"
    path.write_text(content, encoding="utf-8")
    model = tmp_path / "model"
    _fails(["classify", "train", "--data", str(path), "--out", str(model), "--memory-budget", "0"], capsys, message)
    assert not model.exists() and not list(tmp_path.glob(".model*"))


def test_classify_train_streaming_refuses_tune_and_unknown_valid_labels(corpus_csv, tmp_path, capsys):
    model = tmp_path / "model"
    base = ["classify", "train", "--data", str(corpus_csv), "--out", str(model), "--memory-budget", "1KB"]
    _fails([*base, "--tune"], capsys, "--tune cross-validates in memory: drop --tune")
    valid = tmp_path / "valid.csv"
    valid.write_text("text,label\nfine,pos\nodd,neutral\n", encoding="utf-8")
    _fails([*base, "--valid", str(valid)], capsys, "never saw in training ('neutral'; first at")
    assert not model.exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("512MB", 512 * 10**6), ("2GB", 2 * 10**9), ("1.5GiB", 3 * 2**29), ("64 kib", 65536), ("0", 0), ("100", 100)],
)
def test_parse_memory_budget_reads_decimal_and_binary_units(text, expected):
    assert parse_memory_budget(text) == expected
    assert parse_memory_budget(MEMORY_BUDGET) == 100 * 10**6


@pytest.mark.parametrize("text", ["", "lots", "-1GB", "5 parsecs", "1e9"])
def test_parse_memory_budget_refuses_what_is_not_a_size(text):
    with pytest.raises(argparse.ArgumentTypeError, match="write a size such as 512MB"):
        parse_memory_budget(text)
