"""The model-folder protocol's lowest part: what every textkit folder shares, whatever its kind.

A folder that textkit reads is untrusted input. Before anything is allocated:

- ``check_format_version``: an unknown or newer ``format_version`` is refused, for every kind;
- ``confined``: every file a folder refers to lies inside it (no absolute path, no ``..``, no
  symlink leaving it) and is a regular file;
- ``check_int``: config fields that size tensors or drive loops are integers in a range;
- ``safetensors_header``: tensor names, dtypes and shapes come from the header, checked against
  the file size, so a loader compares them with its config before building anything.

A folder that textkit writes never destroys what a user owns: ``check_output`` refuses an
``--out`` that is the current directory or one of its ancestors, an input, a file or a folder of
another kind, and asks for ``overwrite`` before replacing a folder of the same kind, which
``textkit._io.atomic_folder`` then swaps in atomically.

Every refusal is a ``FolderError`` (a ``ValueError``) with one message naming the folder, the
file and the field, and what to do; the CLI prints it without a traceback.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1  # the newest model-folder layout this textkit reads and writes
MAX_SAFETENSORS_HEADER = 100 << 20  # bytes; safetensors itself caps the header at 100 MB

__all__ = [
    "FORMAT_VERSION",
    "FolderError",
    "FolderKind",
    "KINDS",
    "check_format_version",
    "check_int",
    "check_output",
    "confined",
    "describe_folder",
    "folder_kind",
    "load_folder",
    "read_consistently",
    "register_kind",
    "safetensors_header",
]


class FolderError(ValueError):
    """A model folder, or an output path, that textkit refuses; the message says why and what to do."""


def check_format_version(raw: dict, where: str | os.PathLike) -> int:
    """The folder's ``format_version`` (1 when absent: folders written before it existed)."""
    version = raw.get("format_version", 1)
    if isinstance(version, bool) or not isinstance(version, int):
        raise FolderError(f"{where}: format_version must be an integer such as {FORMAT_VERSION}, got {version!r}")
    if version < 1:
        raise FolderError(f"{where}: format_version {version} is not a textkit format (they start at 1)")
    if version > FORMAT_VERSION:
        raise FolderError(
            f"{where}: format_version {version} is newer than this textkit reads ({FORMAT_VERSION}); "
            "upgrade textkit (pip install -U textkit)"
        )
    return version


def check_int(raw: dict, field: str, low: int, high: int, where: str | os.PathLike, *, required: bool = False) -> None:
    """``raw[field]``, when present (or ``required``), is an integer in ``[low, high]``."""
    if field not in raw:
        if required:
            raise FolderError(f"{where}: field {field!r} is missing")
        return
    value = raw[field]
    if isinstance(value, bool) or not isinstance(value, int):
        raise FolderError(f"{where}: field {field!r} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise FolderError(f"{where}: field {field!r} = {value:,} is outside [{low:,}, {high:,}]")


def confined(folder: str | os.PathLike, name: str, what: str = "file") -> Path:
    """``folder/name`` as a regular file that stays inside ``folder`` once symlinks are resolved."""
    folder = Path(folder)
    if not isinstance(name, str) or not name or "\x00" in name:
        raise FolderError(f"{folder}: {what} name {name!r} is not a file name")
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise FolderError(f"{folder}: {what} {name!r} must be a path inside the folder (no absolute path, no '..')")
    path = folder / relative
    root = folder.resolve()
    resolved = path.resolve()
    if resolved != root and root not in resolved.parents:
        raise FolderError(f"{path}: {what} is a link to {resolved}, outside the folder {folder}; copy the file in")
    if not resolved.exists():
        raise FolderError(f"{path} is missing (the {what}); the folder is incomplete: copy it again or re-save it")
    if not resolved.is_file():
        raise FolderError(f"{path}: {what} is not a regular file")
    return path


_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def safetensors_header(path: str | os.PathLike) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Tensor name -> (dtype, shape) from a safetensors file's header, read without the data and
    checked against the file: every tensor's bytes lie inside it and match its shape."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise FolderError(f"{path}: not a safetensors file ({size} bytes): corrupted or truncated")
        (length,) = struct.unpack("<Q", head)
        if length > min(MAX_SAFETENSORS_HEADER, size - 8):
            raise FolderError(
                f"{path}: header of {length:,} bytes does not fit the {size:,}-byte file: corrupted or truncated"
            )
        try:
            header = json.loads(handle.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise FolderError(f"{path}: the safetensors header is not JSON ({exc}); the file is damaged") from exc
    if not isinstance(header, dict):
        raise FolderError(f"{path}: the safetensors header is not an object")
    data_bytes = size - 8 - length
    out: dict[str, tuple[str, tuple[int, ...]]] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = entry["dtype"], tuple(entry["shape"]), entry["data_offsets"]
            ok = dtype in _DTYPE_BYTES and all(isinstance(d, int) and d >= 0 for d in shape)
            ok = ok and isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end <= data_bytes
            ok = ok and end - begin == math.prod(shape) * _DTYPE_BYTES[dtype]
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise FolderError(
                f"{path}: tensor {name!r} has a bad header entry or lies past the end of the "
                f"{size:,}-byte file: corrupted or truncated; re-save the model"
            )
        out[name] = (dtype, shape)
    return out


def _identity(folder: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(folder)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def read_consistently(folder: str | os.PathLike, load: Callable[[], Any], attempts: int = 5) -> Any:
    """``load()`` a folder that a writer may replace meanwhile (``textkit._io.replace_folder``
    swaps whole folders): when the folder was swapped during the read, read it again, so the
    result is all old folder or all new, never a mix of two saves."""
    from textkit._io import folder_lock

    folder = Path(folder)
    for _ in range(attempts):
        with folder_lock(folder, shared=True):  # writers swap only while no reader holds it
            before = _identity(folder)
            try:
                result = load()
            except (OSError, ValueError):
                if _identity(folder) != before:
                    continue
                raise
            if _identity(folder) == before:
                return result
    raise FolderError(f"{folder} kept being replaced while it was read ({attempts} tries); try again")


# -- kinds --------------------------------------------------------------------------------------


def _config(folder: Path) -> dict:
    try:
        with open(folder / "config.json", encoding="utf-8") as handle:
            raw = json.load(handle)
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


@dataclass(frozen=True)
class FolderKind:
    """One kind of folder textkit writes: how to recognise it, what writes it, what loads it.

    ``loader`` is ``"module:function"``, imported only when a folder of this kind is loaded, so
    this lowest layer names the upper layers' loaders without importing them. Each loader checks
    its own files as untrusted input (config fields, shapes from the safetensors header, paths)."""

    name: str
    what: str  # "a classifier": the phrase refusals use
    detect: Callable[[Path], bool]
    written_by: str
    loader: str | None = None  # None: a report or a run, nothing to load as a model


KINDS: dict[str, FolderKind] = {}


def register_kind(kind: FolderKind) -> FolderKind:
    """Add a kind; the order of registration is the order of detection (first match wins)."""
    if kind.name in KINDS:
        raise ValueError(f"a folder kind named {kind.name!r} is registered already")
    KINDS[kind.name] = kind
    return kind


for _kind in (
    FolderKind(
        "classifier",
        "a classifier",
        lambda f: (f / "classifier.json").is_file(),
        "textkit classify train",
        "textkit.recipes.classify:load_classifier",
    ),
    FolderKind("topics", "a topic-model report", lambda f: (f / "topics.json").is_file(), "textkit topics"),
    FolderKind(
        "translation_run",
        "a translation training run",
        lambda f: (f / "run_config.json").is_file(),
        "textkit translate train (resume it with --resume)",
    ),
    FolderKind(
        "translation",
        "a translation model",
        lambda f: "joint_vocabulary" in _config(f),
        "textkit translate train",
        "textkit.recipes.translation:load_translator",
    ),
    FolderKind(
        "pretrained",
        "a shipped two-direction language model",
        lambda f: (f / "manifest.json").is_file(),
        "textkit's release (load it by its name, e.g. awd_lstm-en)",
    ),
    FolderKind(
        "encoder",
        "a sentence encoder",
        lambda f: _config(f).get("arch") == "bert",
        "textkit models get NAME (converted once)",
        "textkit.nn.sentence:load_encoder",
    ),
    # a finished LM folder, or a run that has checkpoints but no weights yet (interrupted)
    FolderKind(
        "language_model",
        "a language model",
        lambda f: "arch" in _config(f) or (f / "checkpoints" / "latest.json").is_file(),
        "textkit lm pretrain",
        "textkit.nn.serialization:load_language_model",
    ),
):
    register_kind(_kind)


def folder_kind(folder: str | os.PathLike) -> str | None:
    """The kind of a textkit folder (a key of ``KINDS``), or None for anything else."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    return next((name for name, kind in KINDS.items() if kind.detect(folder)), None)


def describe_folder(folder: str | os.PathLike) -> str:
    """``"a classifier (written by textkit classify train)"``, or ``"not a textkit folder"``."""
    found = folder_kind(folder)
    if found is None:
        return "not a textkit folder"
    return f"{KINDS[found].what} (written by {KINDS[found].written_by})"


def load_folder(folder: str | os.PathLike, **options: Any) -> Any:
    """Load any textkit model folder with its kind's own loader (``options`` go to it, e.g.
    ``device="cpu"``): one entry point for a folder whose kind the caller does not know."""
    import importlib

    folder = Path(folder)
    if not folder.is_dir():
        raise FolderError(f"{folder} is not a folder")
    found = folder_kind(folder)
    if found is None:
        raise FolderError(f"{folder} is not a textkit folder: none of {', '.join(KINDS)} matches its files")
    kind = KINDS[found]
    if kind.loader is None:
        raise FolderError(f"{folder} is {kind.what}, written by {kind.written_by}; it holds no model to load")
    module, function = kind.loader.split(":")
    return getattr(importlib.import_module(module), function)(folder, **options)


def _same_or_ancestor(path: Path, other: Path) -> bool:
    """Whether ``path`` is ``other`` or a folder holding it."""
    return path == other or path in other.parents


def check_output(
    out: str | os.PathLike,
    *,
    kind: str | None,
    inputs: Iterable[str | os.PathLike | None] = (),
    overwrite: bool = False,
    flag: str = "--out",
) -> Path:
    """Refuse an output path that would destroy something the user owns; returns it.

    ``kind``: the kind of folder to be written (a key of ``KINDS``), or None for a file.
    Refused always: the current directory or any of its ancestors, the home directory, an
    input or a folder holding one, and for a folder, an existing file or a non-empty folder
    that is not a textkit folder of the same kind. Refused without ``overwrite``: an existing
    file (for a file output) or an existing folder of the same kind."""
    path = Path(out).expanduser()
    resolved = path.resolve()
    cwd = Path.cwd().resolve()
    if _same_or_ancestor(resolved, cwd) or resolved == Path.home().resolve():
        raise FolderError(
            f"{flag} {out} is the current directory, your home or one of their ancestors; name a new folder"
        )
    for given in inputs:
        if given is None or str(given) == "-":
            continue
        source = Path(given).expanduser().resolve()
        if _same_or_ancestor(resolved, source):
            raise FolderError(f"{flag} {out} is also an input ({given}); write somewhere else")
    existing = next((p for p in (resolved, *resolved.parents) if p.exists()), None)
    if existing is not None and not os.access(existing if existing.is_dir() else existing.parent, os.W_OK):
        raise FolderError(f"{flag} {out}: {existing} is not writable; choose a folder you can write to")
    if kind is None:  # a file
        if resolved.is_dir():
            raise FolderError(f"{flag} {out} is a folder; name a file")
        if path.exists() and not overwrite:
            raise FolderError(f"{flag} {out} exists; pass --overwrite to replace it, or name a new file")
        return path
    if path.exists() and not path.is_dir():
        raise FolderError(f"{flag} {out} is a file, not a folder; name a new folder")
    if path.is_dir() and any(path.iterdir()):
        found = folder_kind(path)
        wanted = KINDS[kind].what if kind in KINDS else f"a {kind.replace('_', ' ')}"
        if found != kind:
            what = f"a textkit folder holding {KINDS[found].what}" if found else "a folder that is not textkit's"
            raise FolderError(f"{flag} {out} is {what}, not {wanted}; textkit will not replace it. Name a new folder")
        if not overwrite:
            raise FolderError(f"{flag} {out} already holds {wanted}; pass --overwrite to replace it")
    return path
