"""Named ULMFiT recipes: the one place the transfer schedule's numbers live.

``models/transfer/<name>.json`` holds ``finetune`` and ``classifier`` settings (the keys of
:class:`~textkit.transfer.training.FineTuneSettings` and
:class:`~textkit.transfer.training.ClassifierSettings`), the ``pretrained`` LM they were chosen
for, and the results that chose them. ``textkit classify train --method ulmfit``,
``textkit reproduce ulmfit``, ``bench/`` and :func:`recipe_settings` all read these files, so a
schedule changed here changes everywhere at once.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

from textkit._io import read_json
from textkit.data.package_data import shipped_dir

__all__ = ["DEFAULT_RECIPE", "list_transfer_recipes", "load_transfer_recipe", "recipe_settings"]

DEFAULT_RECIPE = "ulmfit"
_REQUIRED = ("finetune", "classifier")
_MAX_RECIPE_BYTES = 1 << 20  # a recipe is a few hundred bytes of JSON


def _folder() -> Path | None:
    models = shipped_dir("models")
    return None if models is None else models / "transfer"


def list_transfer_recipes() -> dict[str, Path]:
    """Shipped recipe names -> their JSON files."""
    folder = _folder()
    if folder is None or not folder.is_dir():
        return {}
    return {path.stem: path for path in sorted(folder.glob("*.json"))}


def load_transfer_recipe(name_or_path: str | os.PathLike = DEFAULT_RECIPE) -> dict:
    """A recipe by shipped name (``"ulmfit"``) or JSON file path, checked: both settings blocks
    present and every key one the settings classes know (a typo fails here, not an hour in)."""
    from textkit.transfer.training import settings_from_dict

    text = os.fspath(name_or_path)
    recipes = list_transfer_recipes()
    if text in recipes:
        path = recipes[text]
    elif text.endswith(".json") or os.sep in text or "/" in text:
        path = Path(text).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"ULMFiT recipe file {path} does not exist; shipped recipes: {', '.join(recipes)}")
    else:
        raise KeyError(
            f"unknown ULMFiT recipe {text!r}; shipped recipes: {', '.join(recipes) or '(none found)'}, "
            "or give the path to a recipe JSON file"
        )
    if path.stat().st_size > _MAX_RECIPE_BYTES:
        raise ValueError(f"{path} is {path.stat().st_size:,} bytes; a ULMFiT recipe is a small JSON file")
    raw = read_json(path, "ULMFiT recipe")
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a ULMFiT recipe is a JSON object with {' and '.join(_REQUIRED)}")
    missing = [key for key in _REQUIRED if not isinstance(raw.get(key), dict)]
    if missing:
        raise ValueError(f"{path}: the recipe lacks {', '.join(missing)} (objects of settings)")
    settings_from_dict(raw)  # raises naming the unknown or mistyped key
    if "no_pretrain_classifier" in raw:
        settings_from_dict({"classifier": raw["no_pretrain_classifier"]})
    raw.setdefault("name", path.stem)
    return raw


def recipe_settings(name_or_path: str | os.PathLike = DEFAULT_RECIPE) -> dict:
    """A fresh copy of the recipe's ``finetune`` and ``classifier`` blocks (and
    ``no_pretrain_classifier`` when it has one), ready to merge into a settings dict."""
    raw = load_transfer_recipe(name_or_path)
    keys = [*_REQUIRED, *(["no_pretrain_classifier"] if "no_pretrain_classifier" in raw else [])]
    return {key: copy.deepcopy(raw[key]) for key in keys}
