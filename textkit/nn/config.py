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
        _check_field(name, fields[name].type, value, where)
        default = fields[name].default
        if isinstance(default, tuple) and isinstance(value, list):
            value = tuple(value)
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        values[name] = value
    try:
        return cls(**values)
    except ValueError as exc:  # the config's own checks (__post_init__), told where they failed
        raise ValueError(f"{where}: {exc}") from exc


# Bounds on integer fields before anything is built from an untrusted config: sizes are checked
# again against the weight file's header, but counts that drive loops must be small up front.
MAX_INT_FIELD = 10_000_000
MAX_COUNT_FIELD = 256  # layers, heads


def _check_field(name: str, annotation: object, value: object, where: str) -> None:
    kind = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    if kind == "bool" and not isinstance(value, bool):
        raise ValueError(f"{where}: field {name!r} must be true or false, got {value!r}")
    if kind == "str" and not isinstance(value, str):
        raise ValueError(f"{where}: field {name!r} must be a string, got {value!r}")
    if kind == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ValueError(f"{where}: field {name!r} must be a number, got {value!r}")
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: field {name!r} must be an integer, got {value!r}")
        if name.endswith("seed"):
            return
        high = MAX_COUNT_FIELD if ("layer" in name or "head" in name) else MAX_INT_FIELD
        if not -1 <= value <= high:
            raise ValueError(f"{where}: field {name!r} = {value:,} is outside [-1, {high:,}]")


def save_config(config: Any, path: str | Path) -> Path:
    path = Path(path)
    atomic_write_json(path, config_to_dict(config))
    return path


def load_config(cls: type[C], path: str | Path) -> C:
    return config_from_dict(cls, read_json(path, f"{cls.__name__} file"), where=str(path))
