"""Model recipes by name (``textkit.data.models``): the name of a shipped recipe or a path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from textkit.data.models import find_recipe, list_recipes, models_dir

ROOT = Path(__file__).resolve().parents[2]


def test_models_lists_every_shipped_recipe():
    # in a checkout the shipped recipes are the repository's models/*.json
    assert models_dir() == ROOT / "models"
    assert set(list_recipes()) == {p.stem for p in (ROOT / "models").glob("*.json")}
    assert "tiny-test" in list_recipes()


def test_models_find_recipe_by_name_and_by_path(tmp_path, monkeypatch):
    assert find_recipe("tiny-test") == ROOT / "models" / "tiny-test.json"
    assert find_recipe(ROOT / "models" / "tiny-test.json") == ROOT / "models" / "tiny-test.json"
    # an existing file wins over a shipped name
    local = tmp_path / "tiny-test"
    local.write_text(json.dumps({"name": "mine"}))
    monkeypatch.chdir(tmp_path)
    assert find_recipe("tiny-test") == Path("tiny-test")


def test_models_find_recipe_errors_name_the_shipped_recipes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(KeyError, match="awd_lstm-small"):
        find_recipe("no-such-recipe")
    # a README path run outside the checkout: point at the name
    with pytest.raises(FileNotFoundError, match="'tiny-test' is available by name"):
        find_recipe("models/tiny-test.json")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_recipe("elsewhere/nothing.json")


@pytest.mark.slow  # the lm command imports torch
def test_models_lm_pretrain_config_unknown_name_is_an_error(tmp_path, monkeypatch, capsys):
    from textkit.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["lm", "pretrain", "--config", "no-such-recipe", "--out", str(tmp_path / "x")]) == 1
    assert "unknown recipe 'no-such-recipe'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
