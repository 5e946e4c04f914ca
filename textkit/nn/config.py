"""JSON round trip for frozen dataclass configs, with errors that name the bad key."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, TypeVar

from textkit._io import atomic_write_json, read_json

C = TypeVar("C")


def config_to_dict(config: Any) -> dict:
    """A plain dict of the config's fields (tuples become lists, as JSON does)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_from_dict(cls: type[C], raw: dict, *, where: str = "config") -> C:
    """Build ``cls`` from ``raw``; unknown keys and wrong types raise a ValueError saying which."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be a JSON object, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ValueError(f"{where} has unknown keys {unknown} for {cls.__name__}; valid keys: {sorted(fields)}")
    missing = sorted(
        name
        for name, f in fields.items()
        if name not in raw and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )
    if missing:
        raise ValueError(f"{where} is missing required keys {missing} for {cls.__name__}")
    values = {}
    for name, value in raw.items():
        default = fields[name].default
        if isinstance(default, tuple) and isinstance(value, list):
            value = tuple(value)
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        values[name] = value
    return cls(**values)


def save_config(config: Any, path: str | Path) -> Path:
    path = Path(path)
    atomic_write_json(path, config_to_dict(config))
    return path


def load_config(cls: type[C], path: str | Path) -> C:
    return config_from_dict(cls, read_json(path, f"{cls.__name__} file"), where=str(path))
