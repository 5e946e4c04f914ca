"""Every name `textkit models list` shows, in every verb that takes a model: the right kind works,
another kind is refused in one line naming the verbs that take it, before anything is fetched."""

from __future__ import annotations

import pytest

from textkit.cli import main
from textkit.data.resolver import MODEL_KINDS, model_kind, model_names

SHIPPED = {"awd_lstm-en": "language_model", "transformer-es-en": "translation"}
FETCHED = {"smollm2-135m": "language_model", "minilm-l6": "encoder"}
RECIPES = {"awd_lstm-small": "recipe", "gru-small": "recipe"}
NAMES = {**SHIPPED, **FETCHED, **RECIPES}


def test_every_listed_name_has_a_kind():
    from textkit.data.catalog import list_models

    listed = {entry.name for entry in list_models()}
    assert set(NAMES) <= listed
    for name in listed:
        assert model_kind(name) in MODEL_KINDS, name
    assert {n: model_kind(n) for n in NAMES} == NAMES
    assert set(model_names()) >= set(SHIPPED) | set(FETCHED)


# verb -> (argv with NAME, the kinds it takes)
VERBS = {
    "lm generate": (["lm", "generate", "NAME", "--prompt", "The jury", "--max-new-tokens", "3"], ("language_model",)),
    "lm evaluate": (["lm", "evaluate", "NAME", "--data", "TEXT"], ("language_model",)),
    "translate": (["translate", "NAME", "--data", "TEXT"], ("translation",)),
    "classify train --pretrained": (
        ["classify", "train", "--data", "LABELLED", "--method", "ulmfit", "--pretrained", "NAME", "--out", "OUT"],
        ("language_model",),
    ),
}
# the pairs that run for real: cheap, and with weights that ship in the repository
RUNS = {("lm generate", "awd_lstm-en"), ("lm evaluate", "awd_lstm-en"), ("translate", "transformer-es-en")}


@pytest.mark.parametrize("verb", list(VERBS))
@pytest.mark.parametrize("name", list(NAMES))
def test_name_by_verb(verb, name, tmp_path, capsys):
    argv, takes = VERBS[verb]
    text = tmp_path / "text.txt"
    text.write_text("The jury said the city was fine .\nLa casa es roja .\n", encoding="utf-8")
    labelled = tmp_path / "train.csv"
    labelled.write_text("text,label\n" + "good film,pos\nbad film,neg\n" * 4, encoding="utf-8")
    replace = {"NAME": name, "TEXT": str(text), "LABELLED": str(labelled), "OUT": str(tmp_path / "out")}
    argv = [replace.get(arg, arg) for arg in argv]
    kind = NAMES[name]
    if kind in takes:
        if (verb, name) in RUNS:
            assert main(argv) == 0, capsys.readouterr().err
            assert capsys.readouterr().out.strip()
        return  # the other matching pairs are the slow tests' (and the benchmarks') business
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert f"{name} is {MODEL_KINDS[kind][0]}" in err, err
    assert MODEL_KINDS[kind][1].replace("NAME", name).split(",")[0] in err, err
    assert not (tmp_path / "out").exists()


def test_a_folder_of_another_kind_is_refused_like_a_name(tmp_path, capsys):
    from textkit.data.pretrained import pretrained_folder

    folder = pretrained_folder("transformer-es-en")
    text = tmp_path / "t.txt"
    text.write_text("hello\n", encoding="utf-8")
    assert main(["lm", "evaluate", str(folder), "--data", str(text)]) == 1
    assert "is a translation model, not a language model" in capsys.readouterr().err
