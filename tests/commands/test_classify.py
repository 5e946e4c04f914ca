"""`textkit classify train | evaluate | predict` on files made in the test: the README's
three-command flow, pickle-free folders that predict identically in a fresh process, and
every bad input refused with its place named and no folder written."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from textkit.cli import main
from textkit.recipes.classify import classical_pipeline, load_classifier

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def review_files(tmp_path_factory):
    """Train/test CSVs of real rotten-tomatoes snippets (1,500 / 400 rows)."""
    from textkit import data

    records = data.load("rotten-tomatoes")
    rng = np.random.default_rng(0)
    order = rng.permutation(len(records))
    folder = tmp_path_factory.mktemp("reviews")

    def write(name, rows):
        with open(folder / name, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows((records[i]["text"], records[i]["label"]) for i in rows)
        return folder / name

    return write("train.csv", order[:1500]), write("test.csv", order[1500:1900])


def read_csv(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_readme_flow_train_evaluate_predict(review_files, tmp_path, capsys):
    train, test = review_files
    model = tmp_path / "model"
    assert main(["classify", "train", "--data", str(train), "--method", "nbsvm", "--out", str(model), "--quiet"]) == 0
    assert main(["classify", "evaluate", str(model), "--data", str(test)]) == 0
    metrics = json.loads((model / "evaluation" / "metrics.json").read_text())
    assert (model / "evaluation" / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    assert metrics["rows"] == 400 and sorted(metrics["classes"]) == metrics["classes"]
    assert np.sum(metrics["confusion_matrix"]) == 400
    assert np.trace(metrics["confusion_matrix"]) / 400 == pytest.approx(metrics["accuracy"])
    assert metrics["accuracy"] > 0.65  # real signal from 1,500 snippets (NBSVM reaches ~0.7 here)
    assert set(metrics["per_class"]) == set(metrics["classes"])
    out = tmp_path / "predictions.jsonl"
    assert main(["classify", "predict", str(model), "--data", str(test), "--out", str(out), "--proba"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["line"] for r in rows] == [r["line"] for r in rows if True] and len(rows) == 400
    assert [r["line"] for r in rows] == sorted(r["line"] for r in rows)  # input order
    truth = [r["label"] for r in read_csv(test)]
    agreement = np.mean([r["label"] == t for r, t in zip(rows, truth, strict=True)])
    assert agreement == pytest.approx(metrics["accuracy"])
    for r in rows:
        assert sum(r["proba"].values()) == pytest.approx(1.0, abs=1e-5)
        assert max(r["proba"], key=r["proba"].get) == r["label"]


@pytest.mark.parametrize("method", ["nb", "nbsvm", "lr"])
def test_folder_holds_no_pickle_and_predicts_identically_in_a_fresh_process(review_files, tmp_path, method):
    train, test = review_files
    model = tmp_path / method
    assert main(["classify", "train", "--data", str(train), "--method", method, "--out", str(model), "--quiet"]) == 0
    assert {p.suffix for p in model.iterdir()} == {".json", ".safetensors"}
    rows = read_csv(train)
    reference = classical_pipeline(method).fit([r["text"] for r in rows], np.array([r["label"] for r in rows], object))
    test_texts = [r["text"] for r in read_csv(test)]
    expected = reference.predict_proba(test_texts)
    script = (
        "import sys, json\n"
        "from textkit.recipes.classify import load_classifier\n"
        "m = load_classifier(sys.argv[1])\n"
        "texts = [json.loads(l) for l in sys.stdin]\n"
        "print(json.dumps(m.predict_proba(texts).tolist()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(model)],
        input="\n".join(json.dumps(t) for t in test_texts),
        capture_output=True,
        text=True,
        check=True,
    )
    fresh = np.array(json.loads(done.stdout))
    order = [list(reference.classes_).index(c) for c in load_classifier(model).classes]
    np.testing.assert_allclose(fresh, expected[:, order], rtol=0, atol=1e-12)


def test_predict_streams_stdin_to_stdout_and_flags_empty_texts(review_files, tmp_path):
    train, _ = review_files
    model = tmp_path / "model"
    assert main(["classify", "train", "--data", str(train), "--method", "nb", "--out", str(model), "--quiet"]) == 0
    lines = "a gorgeous , witty film\n\nan unbearable mess\n"
    done = subprocess.run(
        [sys.executable, "-m", "textkit.cli", "classify", "predict", str(model), "--data", "-", "--format", "text"],
        input=lines,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["line"] for r in rows] == [1, 2, 3]
    assert [r.get("empty", False) for r in rows] == [False, True, False]
    expected = load_classifier(model).predict(["a gorgeous , witty film", "", "an unbearable mess"])
    assert [r["label"] for r in rows] == list(expected)
    assert "1 empty" in done.stderr
    failed = subprocess.run(
        [sys.executable, "-m", "textkit.cli", "classify", "predict", str(model), "--data", "-", "--format", "text"]
        + ["--on-empty", "error"],
        input=lines,
        capture_output=True,
        text=True,
    )
    assert failed.returncode == 1 and "<stdin>, line 2: the text is empty" in failed.stderr


def test_predict_csv_output_is_written_only_when_complete(review_files, tmp_path):
    train, test = review_files
    model = tmp_path / "model"
    assert main(["classify", "train", "--data", str(train), "--method", "nb", "--out", str(model), "--quiet"]) == 0
    out = tmp_path / "labels.csv"
    assert main(["classify", "predict", str(model), "--data", str(test), "--out", str(out)]) == 0
    rows = read_csv(out)
    assert len(rows) == 400 and list(rows[0]) == ["line", "label", "empty"]
    broken = tmp_path / "broken.csv"
    broken.write_bytes(test.read_bytes() + b'"never closed,fresh\n')
    out2 = tmp_path / "partial.csv"
    assert main(["classify", "predict", str(model), "--data", str(broken), "--out", str(out2)]) == 1
    assert not out2.exists() and not list(tmp_path.glob(".partial.csv*"))


def test_tune_records_the_chosen_setting(review_files, tmp_path):
    train, _ = review_files
    model = tmp_path / "model"
    args = ["classify", "train", "--data", str(train), "--method", "nb", "--tune", "--cv", "3", "--out", str(model)]
    assert main([*args, "--quiet"]) == 0
    training = json.loads((model / "classifier.json").read_text())["training"]
    assert training["tuned"]["chosen"]["alpha"] in (0.1, 0.5, 1.0) and training["tuned"]["cv"] == 3
    assert load_classifier(model).model.named_steps["classifier"].alpha == training["tuned"]["chosen"]["alpha"]


def test_ulmfit_from_a_pretrained_lm_folder(tmp_path):
    """The ULMFiT path end to end on a tiny LM saved in the test (plumbing, not accuracy)."""
    import torch

    from textkit.nn import AWDLSTMConfig, AWDLSTMLanguageModel, save_language_model
    from textkit.text import TextPipeline, Tokenizer, Vocab

    rng = np.random.default_rng(0)
    good, bad, filler = ["great", "lovely", "fun"], ["awful", "dull", "mess"], ["a", "film", "the", "story", "was"]
    rows = []
    for i in range(60):
        label = ["pos", "neg"][i % 2]
        words = list(rng.choice(filler, 4)) + [str(rng.choice(good if label == "pos" else bad))]
        rows.append((" ".join(rng.permutation(words)), label))
    data_file = tmp_path / "train.tsv"
    data_file.write_text("text\tlabel\n" + "".join(f"{t}\t{lab}\n" for t, lab in rows), encoding="utf-8")
    tokenizer = Tokenizer(add_bos=True)
    pipeline = TextPipeline(tokenizer, Vocab.build(tokenizer.tokenize_many([t for t, _ in rows])))
    torch.manual_seed(0)
    config = AWDLSTMConfig(
        vocab_size=len(pipeline), emb_size=8, hidden_size=16, n_layers=2, pad_index=pipeline.pad_index
    )
    save_language_model(AWDLSTMLanguageModel(config), pipeline, tmp_path / "lm")
    model = tmp_path / "clf"
    args = ["classify", "train", "--data", str(data_file), "--method", "ulmfit", "--pretrained", str(tmp_path / "lm")]
    assert main([*args, "--out", str(model), "--lm-out", str(model), "--quiet"]) == 1  # the same folder twice
    assert not model.exists()
    assert main([*args, "--out", str(model), "--lm-out", str(tmp_path / "tuned-lm"), "--quiet"]) == 0  # device auto
    loaded = load_classifier(model)
    assert loaded.method == "ulmfit" and loaded.classes == ["neg", "pos"]
    assert loaded.info["recipe"] == "ulmfit" and len(loaded.info["settings"]["classifier"]["stages"]) == 3
    from textkit.nn import load_language_model

    tuned = load_language_model(tmp_path / "tuned-lm")
    assert tuned.model.config.vocab_size == loaded.model.members["forward"].encoder_config.vocab_size
    proba = loaded.predict_proba(["a lovely film", ""])
    assert proba.shape == (2, 2) and np.allclose(proba.sum(1), 1.0)


def _fails(argv, capsys, message):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err, err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("text,label\na,pos\nb,pos\n", "only one class ('pos', 2 rows)"),
        ("text,label\na,\nb,\n", "the row has no label"),
        ("review,stars\na,1\n", "no label column found"),
        ("", "is empty"),
        ('text,label\n"a,pos\n', "line 2: malformed CSV row"),
    ],
)
def test_bad_training_data_writes_no_folder(tmp_path, capsys, content, message):
    path = tmp_path / "train.csv"
    path.write_text(content, encoding="utf-8")
    model = tmp_path / "model"
    _fails(["classify", "train", "--data", str(path), "--out", str(model), "--quiet"], capsys, message)
    assert not model.exists() and not list(tmp_path.glob(".model*"))


def test_non_utf8_training_file_names_line_and_offset(tmp_path, capsys):
    path = tmp_path / "train.csv"
    path.write_bytes(b"text,label\ngood,pos\nna\xefve,neg\n")
    _fails(
        ["classify", "train", "--data", str(path), "--out", str(tmp_path / "m")],
        capsys,
        "line 3: byte b'\\xef' at byte offset 22 is not valid utf-8",
    )
    assert main(["classify", "train", "--data", str(path), "--out", str(tmp_path / "m"), "--encoding", "latin-1"]) == 0


def test_evaluation_labels_unseen_in_training_are_refused(review_files, tmp_path, capsys):
    train, _ = review_files
    model = tmp_path / "model"
    assert main(["classify", "train", "--data", str(train), "--method", "nb", "--out", str(model), "--quiet"]) == 0
    test = tmp_path / "test.csv"
    test.write_text("text,label\nfine,fresh\nodd,neutral\n", encoding="utf-8")
    _fails(["classify", "evaluate", str(model), "--data", str(test)], capsys, "never saw in training ('neutral'")


def test_folders_of_another_kind_or_a_newer_format_are_refused(review_files, tmp_path, capsys):
    train, test = review_files
    lm = tmp_path / "lm"
    lm.mkdir()
    (lm / "config.json").write_text(json.dumps({"arch": "awd_lstm", "model": {}}))
    _fails(
        ["classify", "predict", str(lm), "--data", str(test)],
        capsys,
        "it holds a language model (written by textkit lm pretrain)",
    )
    model = tmp_path / "model"
    assert main(["classify", "train", "--data", str(train), "--method", "nb", "--out", str(model), "--quiet"]) == 0
    config = json.loads((model / "classifier.json").read_text())
    (model / "classifier.json").write_text(json.dumps({**config, "format_version": 99}))
    _fails(["classify", "predict", str(model), "--data", str(test)], capsys, "format_version 99 is newer than")
    _fails(["classify", "predict", str(tmp_path / "missing"), "--data", str(test)], capsys, "does not exist")
