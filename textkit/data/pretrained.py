"""Pretrained models that ship with textkit, by name, verified by sha256.

A shipped model is a folder ``models/<name>/`` holding one LM folder per direction
(``forward/``, ``backward/``) and a ``manifest.json``::

    {"name": "awd_lstm-en", "format_version": 1,
     "directions": {"forward": {"files": {"config.json": "<sha256>", "model.safetensors": "<sha256>", ...}},
                    "backward": {...}},
     "metrics": {...}, "card": "awd_lstm-en.md"}

``pretrained_folder(name, direction)`` checks every listed file against its sha256 before
anything reads it, so a truncated or swapped weight file is an error naming the file and both
hashes, never a model that silently predicts garbage.
"""

from __future__ import annotations

import os
from pathlib import Path

from textkit._io import read_json, sha256_file
from textkit.data.package_data import shipped_dir

__all__ = ["PretrainedChecksumError", "list_pretrained", "pretrained_folder", "pretrained_manifest"]

MANIFEST = "manifest.json"


class PretrainedChecksumError(ValueError):
    """A shipped model file is missing or does not match the sha256 its manifest records."""


def list_pretrained() -> dict[str, Path]:
    """Shipped pretrained model names -> their folders (those with a manifest.json)."""
    root = shipped_dir("models")
    if root is None:
        return {}
    return {path.parent.name: path.parent for path in sorted(root.glob(f"*/{MANIFEST}"))}


def pretrained_manifest(name: str) -> dict:
    models = list_pretrained()
    if name not in models:
        known = ", ".join(models) or "(none shipped)"
        raise KeyError(f"unknown pretrained model {name!r}. Shipped models: {known}; or give the path of an LM folder")
    return read_json(models[name] / MANIFEST, f"manifest of pretrained model {name!r}")


def pretrained_folder(name: str, direction: str | None = None, verify: bool = True) -> Path:
    """The verified folder of a shipped model: for a two-direction LM, its ``direction``
    ('forward', the default, or 'backward'); for a single-folder model (a translation model,
    whose manifest lists ``files``), the model's own folder."""
    manifest = pretrained_manifest(name)
    root = list_pretrained()[name]
    if "files" in manifest:
        if direction is not None:
            raise ValueError(f"pretrained model {name!r} has one folder, no {direction!r} direction")
        folder, files = root, manifest["files"]
    else:
        direction = direction or "forward"
        directions = manifest.get("directions", {})
        if direction not in directions:
            raise ValueError(f"pretrained model {name!r} has no {direction!r} direction; it has {sorted(directions)}")
        folder, files = root / direction, directions[direction]["files"]
    if verify:
        verify_files(folder, files, name)
    return folder


def verify_files(folder: Path, files: dict[str, str], name: str) -> None:
    """Every file a manifest lists is inside ``folder`` and matches its sha256."""
    from textkit._folders import confined

    for rel, expected in files.items():
        path = folder / rel
        if not path.is_file():
            raise PretrainedChecksumError(
                f"{path} is missing from the shipped model {name!r} (expected sha256 {expected}); "
                "restore it from the repository (git checkout -- models/) or reinstall textkit"
            )
        actual = sha256_file(confined(folder, rel))
        if actual != expected:
            raise PretrainedChecksumError(
                f"{path} does not match the shipped model {name!r}: sha256 {actual}, expected {expected} "
                f"({os.path.getsize(path):,} bytes; truncated or replaced?). Restore it from the repository "
                "(git checkout -- models/) or reinstall textkit"
            )
