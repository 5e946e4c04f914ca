"""The classifier registry: one registration makes a method trainable, savable and loadable from
the CLI; the CLI choices and the docs table come from it; ULMFiT's settings live in one recipe."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from textkit.cli import main
from textkit.recipes import classifiers
from textkit.recipes.classifiers import CLASSIFIERS, ClassifierMethod, FitRequest, methods_table, register
from textkit.recipes.classify import load_classifier, save_classifier, train_classifier

ROOT = Path(__file__).resolve().parents[2]


def test_cli_choices_and_docs_table_come_from_the_registry(capsys):
    with pytest.raises(SystemExit):
        main(["classify", "train", "--help"])
    shown = " ".join(capsys.readouterr().out.split())  # argparse wraps long lines
    assert "--method {" + ",".join(CLASSIFIERS) + "}" in shown
    assert {"nb", "nbsvm", "lr", "ulmfit", "smollm2-135m", "minilm-l6"} <= set(CLASSIFIERS)
    assert methods_table() in (ROOT / "docs" / "own-data.md").read_text(encoding="utf-8")


class _Centroid:
    """A toy model: the class whose mean text length is nearest."""

    def __init__(self, means: dict[str, float]) -> None:
        self.means = means

    def predict_proba(self, texts):
        classes = sorted(self.means)
        distance = np.array([[abs(len(t) - self.means[c]) for c in classes] for t in texts], dtype=float)
        scores = np.exp(-distance)
        return scores / scores.sum(1, keepdims=True)


def _toy_method() -> ClassifierMethod:
    def fit(texts, labels, request: FitRequest):
        means = {
            c: float(np.mean([len(t) for t, lab in zip(texts, labels, strict=True) if lab == c])) for c in set(labels)
        }
        return _Centroid(means), {"means": means}

    def save(model, method, classes, info, staging):
        (staging / "classifier.json").write_text(
            json.dumps({"format": "toy-centroid", "format_version": 1, "classes": classes, "means": model.means}),
            encoding="utf-8",
        )

    return ClassifierMethod(
        name="toy-centroid",
        summary="test only",
        family="classical",
        fit=fit,
        predict_proba=lambda model, texts: model.predict_proba(texts),
        save=save,
        load=lambda folder, raw, device: _Centroid(raw["means"]),
        owns=lambda raw: raw.get("format") == "toy-centroid",
    )


def test_one_registration_makes_a_method_work_end_to_end(tmp_path):
    register(_toy_method())
    try:
        texts, labels = ["ab", "abc", "a" * 20, "a" * 22], ["short", "short", "long", "long"]
        saved = train_classifier(texts, labels, "toy-centroid", valid=(["b", "b" * 21], ["short", "long"]))
        assert saved.info["valid_accuracy"] == 1.0 and saved.info["valid_majority_baseline"] == 0.5
        save_classifier(saved, tmp_path / "model")
        loaded = load_classifier(tmp_path / "model")
        assert loaded.method == "toy-centroid"
        assert list(loaded.predict(["x", "y" * 30])) == ["short", "long"]
        with pytest.raises(ValueError, match="registered already"):
            register(_toy_method())
    finally:
        CLASSIFIERS.pop("toy-centroid")


def test_a_folder_no_method_claims_is_refused(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "classifier.json").write_text(json.dumps({"format": "someone-else", "method": "x"}), encoding="utf-8")
    with pytest.raises(ValueError, match="no classifier this textkit reads"):
        load_classifier(folder)


def test_a_model_no_better_than_the_majority_class_says_so(tmp_path, capsys):
    rows = [("good fun", "pos")] * 12 + [("bad mess", "neg")] * 8
    valid = tmp_path / "valid.csv"
    valid.write_text("text,label\n" + "bad mess,pos\n" * 6, encoding="utf-8")
    data = tmp_path / "train.csv"
    data.write_text("text,label\n" + "".join(f"{t},{lab}\n" for t, lab in rows), encoding="utf-8")
    out = tmp_path / "model"
    assert main(["classify", "train", "--data", str(data), "--valid", str(valid), "--out", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "no better than always answering the most frequent training class (1.0000)" in err
    assert "predicts one class for 6 of 6 rows" in err
    training = json.loads((out / "classifier.json").read_text(encoding="utf-8"))["training"]
    assert training["valid_accuracy"] == 0.0 and training["valid_majority_baseline"] == 1.0
    assert training["warnings"] and "most frequent" in training["warnings"][0]


def test_too_short_a_transfer_schedule_is_warned_about_with_its_steps():
    assert classifiers.transfer_steps_warning(300, 64, 3, "ulmfit").startswith(
        "warning: ulmfit will run only 15 optimizer steps (300 texts / batch 64 x 3 epochs)"
    )
    assert classifiers.transfer_steps_warning(11_525, 64, 3, "ulmfit") is None


def test_ulmfit_settings_come_from_the_one_recipe():
    from textkit.reproduce.ulmfit import FULL_SETTINGS, QUICK_SETTINGS
    from textkit.transfer.recipes import load_transfer_recipe

    recipe = load_transfer_recipe("ulmfit")
    assert FULL_SETTINGS["finetune"] == recipe["finetune"] and FULL_SETTINGS["classifier"] == recipe["classifier"]
    quick = load_transfer_recipe("ulmfit-quick")
    assert QUICK_SETTINGS["classifier"] == quick["classifier"]
    finetune, settings, _ = classifiers._ulmfit_settings(FitRequest())
    assert [s.lr for s in settings.stages] == [s["lr"] for s in recipe["classifier"]["stages"]]
    assert finetune.epochs == recipe["finetune"]["epochs"] and settings.batch_size == recipe["classifier"]["batch_size"]
    _, longer, _ = classifiers._ulmfit_settings(FitRequest(epochs=5, batch_size=16))
    assert [s.lr for s in longer.stages] == [0.005, 0.002, 0.001, 0.001, 0.001] and longer.batch_size == 16
    _, shorter, _ = classifiers._ulmfit_settings(FitRequest(epochs=1))
    assert [(s.groups, s.epochs, s.lr) for s in shorter.stages] == [("all", 1, 0.005)]


def test_a_recipe_with_a_typo_is_refused_naming_the_key(tmp_path):
    from textkit.transfer.recipes import load_transfer_recipe

    bad = tmp_path / "mine.json"
    bad.write_text(json.dumps({"finetune": {"epoch": 2}, "classifier": {}}), encoding="utf-8")
    with pytest.raises((ValueError, TypeError), match="epoch"):
        load_transfer_recipe(str(bad))
    with pytest.raises(KeyError, match="unknown ULMFiT recipe 'nope'"):
        load_transfer_recipe("nope")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--method", "nb", "--epochs", "2"], "--epochs is for transfer methods"),
        (["--method", "ulmfit", "--tune"], "--tune is for nb, nbsvm, lr"),
        (["--method", "ulmfit", "--epochs", "0"], "--epochs must be at least 1"),
    ],
)
def test_options_a_method_does_not_take_are_refused(tmp_path, capsys, options, message):
    data = tmp_path / "train.csv"
    data.write_text("text,label\n" + "good,pos\nbad,neg\n" * 5, encoding="utf-8")
    assert main(["classify", "train", "--data", str(data), "--out", str(tmp_path / "m"), *options]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
