"""A classifier folder is untrusted input: every hostile case is refused with one line naming the
file and field, before anything large is built, and `classify predict` exits 1 without a traceback."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from textkit._folders import FolderError
from textkit.cli import main
from textkit.recipes.classify import load_classifier, save_classifier, train_classifier

TEXTS = ["a lovely fun film", "great story", "dull and awful", "a boring mess"] * 5
LABELS = ["pos", "pos", "neg", "neg"] * 5


@pytest.fixture(scope="module")
def classical_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("classifiers")
    for method in ("nb", "nbsvm", "lr"):
        save_classifier(train_classifier(TEXTS, LABELS, method, log=lambda _m: None), root / method)
    return root


def _copy(classical_folders: Path, method: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(classical_folders / method, tmp_path / method))


def _edit(folder: Path, change) -> None:
    path = folder / "classifier.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    change(raw)
    path.write_text(json.dumps(raw), encoding="utf-8")


def _vectorizer(raw: dict) -> dict:
    return raw["estimators"]["vectorizer"]


@pytest.mark.parametrize("method", ["nb", "nbsvm", "lr"])
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: _vectorizer(r)["params"].update(ngram_range=[1, 1_000_000_000]), "field 'ngram_range'"),
        (lambda r: _vectorizer(r)["params"].update(ngram_range=[0, 2]), "field 'ngram_range'"),
        (lambda r: _vectorizer(r)["params"].update(surprise=1), "has no setting 'surprise'"),
        (lambda r: r.update(weights="../elsewhere.safetensors"), "must be a path inside the folder"),
        (lambda r: r.update(weights="/etc/passwd"), "must be a path inside the folder"),
        (lambda r: r.update(format_version=99), "format_version 99 is newer"),
        (lambda r: r.update(classes="pos"), "'classes' must be a list"),
        (lambda r: _vectorizer(r)["attributes"]["vocabulary_"]["terms"].append("extra"), "the two files come from"),
    ],
)
def test_hostile_classifier_config_is_refused(classical_folders, tmp_path, method, change, message):
    folder = _copy(classical_folders, method, tmp_path)
    _edit(folder, change)
    with pytest.raises((FolderError, ValueError), match=message):
        load_classifier(folder)


@pytest.mark.parametrize("keep", [4, 100, -10])
def test_truncated_weights_name_the_file(classical_folders, tmp_path, keep):
    folder = _copy(classical_folders, "nbsvm", tmp_path)
    weights = folder / "estimators.safetensors"
    weights.write_bytes(weights.read_bytes()[:keep])
    with pytest.raises(FolderError, match="estimators.safetensors"):
        load_classifier(folder)


def test_weights_linked_from_outside_the_folder_are_refused(classical_folders, tmp_path):
    folder = _copy(classical_folders, "lr", tmp_path)
    outside = tmp_path / "outside.safetensors"
    (folder / "estimators.safetensors").rename(outside)
    os.symlink(outside, folder / "estimators.safetensors")
    with pytest.raises(FolderError, match="outside the folder"):
        load_classifier(folder)


def test_predict_on_a_hostile_folder_exits_1_with_one_line(classical_folders, tmp_path, capsys):
    folder = _copy(classical_folders, "nb", tmp_path)
    _edit(folder, lambda r: _vectorizer(r)["params"].update(ngram_range=[1, 10**9]))
    data = tmp_path / "new.txt"
    data.write_text("a lovely film\n", encoding="utf-8")
    assert main(["classify", "predict", str(folder), "--data", str(data)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ngram_range" in err and "Traceback" not in err
