"""Model recipes by name: ``models/<name>.json`` in the repository, package data in a wheel.

``find_recipe("awd_lstm-small")`` and ``find_recipe("models/awd_lstm-small.json")`` give the same
file in a checkout; only the name works from an installed textkit run elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

from textkit.data.package_data import shipped_dir

__all__ = ["find_recipe", "list_recipes", "models_dir"]


def models_dir() -> Path | None:
    """The folder of shipped recipes, model cards and model folders (None if there is none)."""
    return shipped_dir("models")


def list_recipes() -> dict[str, Path]:
    """Shipped recipe names (file stems, e.g. ``"awd_lstm-small"``) -> their JSON files."""
    folder = models_dir()
    return {} if folder is None else {path.stem: path for path in sorted(folder.glob("*.json"))}


def find_recipe(name_or_path: str | os.PathLike) -> Path:
    """The recipe file for a shipped recipe's name or for a path to a recipe JSON file.

    An existing file wins over a shipped name, so a local file is always the one used. Raises
    FileNotFoundError for a path that does not exist and KeyError for an unknown name, both
    naming the shipped recipes.
    """
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    text = os.fspath(name_or_path)
    recipes = list_recipes()
    known = ", ".join(recipes) or "(none found)"
    if path.suffix == ".json" or "/" in text or os.sep in text:
        hint = f"; the shipped recipe {path.stem!r} is available by name" if path.stem in recipes else ""
        raise FileNotFoundError(f"recipe file {path} does not exist{hint}. Shipped recipes: {known}")
    if text not in recipes:
        raise KeyError(f"unknown recipe {text!r}. Shipped recipes: {known}; or give the path to a recipe JSON file")
    return recipes[text]
