"""`textkit translate train`: your own parallel data into a model folder that `textkit translate`
then uses; bad rows are named by file and line, and nothing is half-written."""

from __future__ import annotations

import csv
import json

import pytest

from textkit.cli import main

SPANISH = ["el perro come pan", "la casa es roja", "el gato duerme", "mi hermano lee un libro", "hace frío hoy"]
ENGLISH = ["the dog eats bread", "the house is red", "the cat sleeps", "my brother reads a book", "it is cold today"]
TINY = ["--vocab-size", "320", "--d-model", "16", "--layers", "1", "--max-steps", "6", "--eval-every", "3"]


def write_pairs(path, n=200, delimiter="\t"):
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(["es", "en"])
        for i in range(n):
            writer.writerow([f"{SPANISH[i % 5]} {i}", f"{ENGLISH[i % 5]} {i}"])
    return path


@pytest.mark.parametrize("suffix", [".tsv", ".csv"])
def test_translate_train_then_translate_with_the_best_folder(tmp_path, capsys, suffix):
    data = write_pairs(tmp_path / f"pairs{suffix}", delimiter="\t" if suffix == ".tsv" else ",")
    out = tmp_path / "run"
    argv = ["translate", "train", "--data", str(data), "--src-column", "es", "--tgt-column", "en", "--out", str(out)]
    assert main([*argv, *TINY, "--threads", "1"]) == 0
    printed = capsys.readouterr().out
    assert "best valid loss" in printed and str(out / "best") in printed
    assert json.loads((out / "best" / "config.json").read_text())["arch"] == "transformer"
    sources = tmp_path / "sources.txt"
    sources.write_text("el perro come pan 7\n\nla casa es roja 2\n", encoding="utf-8")
    target = tmp_path / "english.txt"
    assert main(["translate", str(out / "best"), "--data", str(sources), "--out", str(target), "--beam", "2"]) == 0
    lines = target.read_text(encoding="utf-8").split("\n")
    assert len(lines) == 4 and lines[1] == "" and lines[3] == ""


def test_translate_train_resume_continues_the_run(tmp_path, capsys):
    data = write_pairs(tmp_path / "pairs.tsv")
    argv = ["translate", "train", "--data", str(data), "--src-column", "es", "--tgt-column", "en"]
    argv += ["--out", str(tmp_path / "run"), *TINY]
    assert main(argv) == 0
    assert main(argv) == 1  # the run folder exists
    assert "--overwrite" in capsys.readouterr().err
    assert main([*argv, "--resume"]) == 0  # already at max steps: nothing more to do, the run is intact
    assert (tmp_path / "run" / "best" / "model.safetensors").is_file()


@pytest.mark.parametrize(
    ("content", "columns", "message"),
    [
        ("es\ten\nhola\thello\n\tvacío\n", ["es", "en"], "line 3"),
        ("es\ten\nhola\thello\n", ["es", "english"], "english"),
        ("es\ten\nhola\n", ["es", "en"], "line 2"),
        ("", ["es", "en"], "empty"),
    ],
)
def test_translate_train_bad_rows_are_named(tmp_path, capsys, content, columns, message):
    data = tmp_path / "pairs.tsv"
    data.write_text(content, encoding="utf-8")
    out = tmp_path / "run"
    argv = ["translate", "train", "--data", str(data), "--src-column", columns[0], "--tgt-column", columns[1]]
    assert main([*argv, "--out", str(out), *TINY]) == 1
    err = capsys.readouterr().err
    assert err.startswith("textkit: error:") and message in err and "Traceback" not in err
    assert not (out / "best").exists()


def test_translate_train_needs_columns_or_a_corpus(tmp_path, capsys):
    data = write_pairs(tmp_path / "pairs.tsv")
    assert main(["translate", "train", "--data", str(data), "--out", str(tmp_path / "run")]) == 1
    assert "--src-column" in capsys.readouterr().err
    assert main(["translate", "train", "--out", str(tmp_path / "run")]) == 1
    assert "--corpus" in capsys.readouterr().err
