"""Checkpoint folders, written atomically and verified on load.

A checkpoint is a folder ``step-00000120/``::

    model.safetensors     model weights (tied parameters once)
    tensors.safetensors   RNG states and the task's carried state (e.g. LSTM hidden state)
    optimizer.pt          optimizer (+ grad scaler) state; loaded with weights_only=True
    trainer_state.json    step, epoch, data position, history, callback states, model config
    manifest.json         sha256 of every file above; written last

It is built in a hidden temporary folder and renamed into place, and ``latest.json`` in the
parent is updated atomically afterwards, so a crash mid-write leaves the previous checkpoint
as the latest. Loading checks the manifest and every hash: a truncated or corrupted
checkpoint raises ``CheckpointError`` (it never silently restarts from scratch).
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from textkit._io import atomic_write_bytes, atomic_write_json, read_json, sha256_file

FORMAT_VERSION = 1
FILES = ("model.safetensors", "tensors.safetensors", "optimizer.pt", "trainer_state.json")


class CheckpointError(ValueError):
    """A checkpoint is missing, incomplete, corrupted or does not fit the model."""


def step_folder_name(step: int) -> str:
    return f"step-{step:08d}"


def write_checkpoint(
    root: str | os.PathLike,
    step: int,
    model_tensors: dict[str, torch.Tensor],
    extra_tensors: dict[str, torch.Tensor],
    optimizer_state: dict,
    trainer_state: dict,
    keep_last: int | None = 2,
) -> Path:
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / step_folder_name(step)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=root))
    try:
        atomic_write_bytes(staging / "model.safetensors", save(model_tensors))
        atomic_write_bytes(
            staging / "tensors.safetensors", save({k: v.detach().cpu().contiguous() for k, v in extra_tensors.items()})
        )
        buffer = io.BytesIO()
        torch.save(optimizer_state, buffer)
        atomic_write_bytes(staging / "optimizer.pt", buffer.getvalue())
        atomic_write_json(staging / "trainer_state.json", trainer_state)
        manifest = {
            "format": FORMAT_VERSION,
            "step": step,
            "files": {name: sha256_file(staging / name) for name in FILES},
        }
        atomic_write_json(staging / "manifest.json", manifest)
        os.chmod(staging, 0o755)  # mkdtemp makes it private
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    atomic_write_json(root / "latest.json", {"checkpoint": final.name, "step": step})
    if keep_last:
        done = sorted(p for p in root.glob("step-*") if p.is_dir() and p != final)
        for old in done[: max(0, len(done) - (keep_last - 1))]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint folder, or a root holding ``latest.json`` -> the checkpoint folder."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if (path / "latest.json").exists():
        latest = read_json(path / "latest.json", "latest-checkpoint pointer")
        return path / latest["checkpoint"]
    if path.is_dir() and (
        path.name.startswith("step-") or any((path / name).exists() for name in ("manifest.json", *FILES))
    ):
        return path
    steps = sorted(p for p in path.glob("step-*") if p.is_dir()) if path.is_dir() else []
    if steps:
        return steps[-1]
    raise CheckpointError(f"{path} is neither a checkpoint folder (step-*) nor a folder of checkpoints")


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Verify and read a checkpoint. Returns a dict with ``model``, ``tensors``, ``optimizer``,
    ``trainer_state`` and ``path``."""
    folder = resolve_checkpoint(path)
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        raise CheckpointError(
            f"checkpoint {folder} has no manifest.json: it is incomplete (the write was interrupted?)"
        )
    try:
        manifest = read_json(manifest_path, "checkpoint manifest")
    except ValueError as exc:
        raise CheckpointError(str(exc)) from exc
    if manifest.get("format") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {folder} has format {manifest.get('format')!r}; this textkit reads format {FORMAT_VERSION}"
        )
    for name in FILES:
        file = folder / name
        if not file.exists():
            raise CheckpointError(f"checkpoint {folder} is missing {name}; it cannot be resumed")
        if sha256_file(file) != manifest["files"].get(name):
            raise CheckpointError(
                f"checkpoint {folder}: {name} does not match its sha256 in manifest.json (truncated or corrupted)"
            )
    try:
        model = load_file(str(folder / "model.safetensors"))
        tensors = load_file(str(folder / "tensors.safetensors"))
        optimizer = torch.load(folder / "optimizer.pt", map_location="cpu", weights_only=True)
        trainer_state = read_json(folder / "trainer_state.json", "trainer state")
    except (SafetensorError, OSError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {folder} could not be read: {exc}") from exc
    return {"model": model, "tensors": tensors, "optimizer": optimizer, "trainer_state": trainer_state, "path": folder}
