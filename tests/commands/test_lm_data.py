"""`textkit lm pretrain --data FILE`: a language model on the user's own text, its split
recorded (paths, sha256, seed) so `textkit lm evaluate` can rebuild it."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from textkit.cli import main

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "models" / "tiny-test.json"
WORDS = "the cat dog sat ran on a mat rug and saw big red small old".split()


def sentences(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 12))) + "." for _ in range(n)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 2-step model on a 60-line text file (with blank lines, which are not documents)."""
    import torch

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("lm_data")
    lines = sentences(60, seed=0)
    lines[10:10] = ["", "   "]
    data = root / "my text.txt"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    recipe = json.loads(TINY.read_text())
    recipe["data"]["max_docs"] = None  # every document of the file
    recipe["model"]["n_layers"] = 1
    config = root / "recipe.json"
    config.write_text(json.dumps(recipe))
    out = root / "model"
    argv = ["lm", "pretrain", "--config", str(config), "--data", str(data), "--out", str(out), "--quiet"]
    assert main([*argv, "--max-steps", "2"]) == 0
    return {"data": data, "lines": lines, "out": out}


def expected_split(path: Path, lines: list[str], seed: int = 0) -> dict[str, list[str]]:
    """The documented split, computed independently: keys file:line, sorted, permuted, cut 80/10/10."""
    from textkit.data.lm import split_documents

    by_key = {f"{path.resolve()}:{n}": text for n, text in enumerate(lines, start=1) if text.strip()}
    parts = split_documents(list(by_key), [0.8, 0.1, 0.1], seed=seed)
    return {name: [by_key[k] for k in keys] for name, keys in zip(("train", "valid", "test"), parts, strict=True)}


@pytest.mark.slow
def test_lm_pretrain_data_records_files_sha256_and_a_reproducible_split(trained, capsys):
    from textkit._io import sha256_file
    from textkit.nn import load_language_model
    from textkit.recipes.language_model import DataSettings, corpus_splits

    data, out = trained["data"], trained["out"]
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    path = str(data.resolve())
    saved = config["data"]
    assert saved["files"] == [path] and saved["corpus"] == ""
    assert saved["files_sha256"] == {path: sha256_file(data)}
    assert config["recipe"]["data"]["files"] == [path]  # the recipe as run reproduces it
    expected = expected_split(data, trained["lines"])
    assert saved["documents"] == {name: len(texts) for name, texts in expected.items()}
    assert sum(saved["documents"].values()) == 60  # blank lines are not documents
    assert "valid_keys" not in saved  # counts, not one key per line of a possibly huge file

    # the recorded settings rebuild exactly that split, and training used it
    settings = {k: v for k, v in saved.items() if k not in ("files_sha256", "documents")}
    splits = corpus_splits(
        DataSettings(**{**settings, "files": tuple(settings["files"]), "fractions": (0.8, 0.1, 0.1)})
    )
    assert {name: splits[name] for name in expected} == expected
    _, pipeline = load_language_model(out)
    for name, texts in expected.items():
        assert config["metrics"]["tokens"][name] == sum(len(d) for d in pipeline.encode_documents(texts))

    card = (out / "README.md").read_text(encoding="utf-8")
    assert path in card and sha256_file(data) in card and "one document per line" in card


@pytest.mark.slow
def test_lm_evaluate_rebuilds_the_file_split_or_reads_other_files(trained, tmp_path, capsys):
    out = trained["out"]
    saved = json.loads((out / "config.json").read_text(encoding="utf-8"))["metrics"]
    capsys.readouterr()
    assert main(["lm", "evaluate", str(out), "--json", "--batch-size", "8", "--bptt", "20"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["corpus"] == "my text.txt" and metrics["split"] == "test"
    assert metrics["perplexity"] == pytest.approx(saved["test_perplexity"], rel=1e-3)

    held_out = tmp_path / "held_out.txt"
    held_out.write_text("\n".join(sentences(20, seed=1)) + "\n", encoding="utf-8")
    assert main(["lm", "evaluate", str(out), "--data", str(held_out), "--json"]) == 0
    other = json.loads(capsys.readouterr().out)
    assert other["corpus"] == "held_out.txt" and other["split"] == "all" and other["tokens"] > 0
    assert 1.0 < other["perplexity"] < float("inf")

    # a changed or missing training file: its recorded split no longer applies
    changed = tmp_path / "changed"
    shutil.copytree(out, changed)
    config = json.loads((changed / "config.json").read_text(encoding="utf-8"))
    path = config["data"]["files"][0]
    config["data"]["files_sha256"][path] = "0" * 64
    (changed / "config.json").write_text(json.dumps(config), encoding="utf-8")
    assert main(["lm", "evaluate", str(changed)]) == 1
    err = capsys.readouterr().err
    assert f"{path} has changed since {changed} was trained on it" in err and "--data FILE" in err
    config["data"]["files"] = [str(tmp_path / "gone.txt")]
    (changed / "config.json").write_text(json.dumps(config), encoding="utf-8")
    assert main(["lm", "evaluate", str(changed)]) == 1
    assert "gone.txt, which" in capsys.readouterr().err


def test_lm_file_splits_read_csv_columns_and_folders_deterministically(tmp_path):
    from textkit.recipes.language_model import DataSettings, corpus_splits

    texts = sentences(12, seed=2)
    csv_file = tmp_path / "docs.csv"
    csv_file.write_text("id,body,label\n" + "".join(f'{i},"{t}",x\n' for i, t in enumerate(texts)), encoding="utf-8")
    data = DataSettings(corpus="", files=(str(csv_file),), text_column="body")
    splits = corpus_splits(data)
    assert sorted(splits["train"] + splits["valid"] + splits["test"]) == sorted(texts)
    assert all(k.startswith(f"{csv_file}:") for k in splits["train_keys"])
    assert corpus_splits(data) == splits  # deterministic
    reseeded = corpus_splits(DataSettings(corpus="", files=(str(csv_file),), text_column="body", split_seed=1))
    assert reseeded["test"] != splits["test"]

    folder = tmp_path / "docs"
    folder.mkdir()
    for i, text in enumerate(texts[:4]):
        (folder / f"{i}.txt").write_text(text + "\n", encoding="utf-8")
    by_file = corpus_splits(DataSettings(corpus="", files=(str(folder),)))
    assert sorted(by_file["train"] + by_file["valid"] + by_file["test"]) == sorted(texts[:4])


def test_lm_pretrain_data_bad_input_is_a_clear_error(tmp_path, capsys):
    out = tmp_path / "out"
    base = ["lm", "pretrain", "--config", str(TINY), "--out", str(out), "--quiet", "--max-steps", "1"]
    with pytest.raises(SystemExit) as exc:
        main([*base, "--corpus", "brown", "--data", "x.txt"])
    assert exc.value.code == 2 and "not allowed with argument" in capsys.readouterr().err

    two = tmp_path / "two.txt"
    two.write_text("one line of text\n\nanother line\n", encoding="utf-8")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    cases = [
        (["--data", "-"], "--data - (stdin) cannot be used here"),
        (["--data", str(tmp_path / "missing.txt")], "missing.txt does not exist"),
        (["--text-column", "body"], "--text-column describe(s) --data files"),
        (["--data", str(two)], "2 non-empty document(s), but splitting into train/valid/test needs at least 3"),
        (["--data", str(empty)], "empty.txt holds no text"),
        (["--data", str(two), str(two)], "is given twice"),
    ]
    for extra, message in cases:
        assert main([*base, *extra]) == 1, extra
        err = capsys.readouterr().err
        assert err.startswith("textkit: error: ") and message in err, (extra, err)
    assert not out.exists()
