"""Pretrained encoders by name: fetched like a corpus, converted once, verified on every load.

An encoder is a corpus manifest (``corpora/<name>.toml``) whose ``[options]`` name it and its
files, all pinned by sha256 in the manifest's ``[files]``::

    [options]
    model = "minilm-l6"                 # the name textkit loads it by
    arch = "bert"                       # what the files hold (the only one so far)
    weights = "model.safetensors"       # Hugging Face BertModel weights
    tokenizer = "tokenizer.json"        # Hugging Face tokenizer pipeline (WordPiece)
    config = "config.json"              # Hugging Face BertConfig
    pooling = "1_Pooling/config.json"   # sentence-transformers pooling (optional)

:func:`pretrained_encoder_folder` fetches and verifies them (the corpora's cache) and converts
them once into ``$TEXTKIT_HOME/models/<name>/``: ``model.safetensors`` (float32, textkit's
tensor names: :class:`textkit.nn.bert.BertModel`, query/key/value stacked into one matrix),
``tokenizer.json`` (a :class:`textkit.text.wordpiece.WordPieceTokenizer`) and ``config.json``
(``format_version``, the model config, the pooling, the sha256 of every source file and of
both converted files). :func:`verify_converted` checks the converted files against those
sha256 on every load and on ``textkit models get``. This module needs numpy only, never torch.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from textkit._io import (
    atomic_folder,
    atomic_write_bytes,
    atomic_write_json,
    read_json,
    sha256_file,
    textkit_home,
    versions,
)
from textkit.data.cache import ChecksumError, fetch, file_lock
from textkit.data.registry import Manifest, list_manifests
from textkit.text.wordpiece import MAX_LENGTH, WordPieceTokenizer

__all__ = [
    "ENCODER_ARCHS",
    "FORMAT_VERSION",
    "ConvertedChecksumError",
    "EncoderConversionError",
    "bert_config_from_hf",
    "bert_tensors_from_hf",
    "convert_bert",
    "encoder_manifest",
    "find_encoder",
    "is_current",
    "list_encoders",
    "pretrained_encoder_folder",
    "verify_converted",
]

# bump when the converted folder's layout or numbers change: older folders are converted again
FORMAT_VERSION = 1
ENCODER_ARCHS = ("bert",)
CONVERTED_FILES = ("model.safetensors", "tokenizer.json")
ROLES = ("weights", "tokenizer", "config", "pooling")  # the manifest's [options] naming the source files
POOLINGS = ("mean", "cls")
_POOLING_KEYS = ("pooling_mode_mean_tokens", "pooling_mode_cls_token")  # sentence-transformers' names


class EncoderConversionError(ValueError):
    """The source files hold a model textkit cannot convert (not a BERT, an unknown activation, ...)."""


class ConvertedChecksumError(ChecksumError):
    """A converted model file no longer matches the sha256 recorded when it was converted."""


# ---------------------------------------------------------------------------------------------
# Names


def list_encoders() -> dict[str, Manifest]:
    """Encoder names -> the manifests that fetch them."""
    return {
        str(m.options["model"]): m
        for m in list_manifests().values()
        if "model" in m.options and m.options.get("arch") in ENCODER_ARCHS
    }


def find_encoder(name: str) -> Manifest | None:
    """The manifest of pretrained encoder ``name``, or None when no manifest names it."""
    return list_encoders().get(name)


def encoder_manifest(name: str) -> Manifest:
    encoders = list_encoders()
    if name not in encoders:
        known = ", ".join(sorted(encoders)) or "(none found)"
        raise KeyError(
            f"unknown encoder {name!r}. Known pretrained encoders: {known} (`textkit models list`); "
            "or give the path of a converted encoder folder"
        )
    return encoders[name]


# ---------------------------------------------------------------------------------------------
# Conversion (Hugging Face BertModel files -> a textkit encoder folder)

_HF_CONFIG_KEYS = {  # Hugging Face BertConfig key -> textkit.nn.bert.BertConfig field
    "vocab_size": "vocab_size",
    "hidden_size": "d_model",
    "num_hidden_layers": "n_layers",
    "num_attention_heads": "n_heads",
    "intermediate_size": "d_ff",
    "max_position_embeddings": "max_len",
    "type_vocab_size": "type_vocab_size",
    "layer_norm_eps": "norm_eps",
    "hidden_dropout_prob": "dropout",
    "attention_probs_dropout_prob": "attn_dropout",
    "pad_token_id": "pad_id",
}


def bert_config_from_hf(raw: dict[str, Any], *, pooler: bool, where: str = "config.json") -> dict[str, Any]:
    """textkit's BertConfig fields from a Hugging Face BERT ``config.json``; what textkit's
    BertModel does not compute (another activation, relative positions) is refused."""
    if raw.get("model_type", "bert") != "bert":
        raise EncoderConversionError(f"{where}: model_type {raw.get('model_type')!r} is not 'bert'")
    if raw.get("hidden_act", "gelu") != "gelu":
        raise EncoderConversionError(f"{where}: hidden_act {raw['hidden_act']!r}; textkit's BERT computes 'gelu'")
    if raw.get("position_embedding_type", "absolute") != "absolute":
        raise EncoderConversionError(
            f"{where}: position_embedding_type {raw['position_embedding_type']!r}; "
            "textkit's BERT has absolute positions"
        )
    missing = [
        key for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads") if key not in raw
    ]
    if missing:
        raise EncoderConversionError(f"{where} lacks {missing}")
    config = {field: raw[key] for key, field in _HF_CONFIG_KEYS.items() if key in raw and raw[key] is not None}
    return config | {"pooler": pooler}


def _layer_norm(prefix: str, tensors: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A LayerNorm's weight and bias (older checkpoints spell them gamma and beta)."""
    weight = tensors.get(f"{prefix}.weight", tensors.get(f"{prefix}.gamma"))
    bias = tensors.get(f"{prefix}.bias", tensors.get(f"{prefix}.beta"))
    if weight is None or bias is None:
        raise EncoderConversionError(f"the weights lack the LayerNorm {prefix}")
    return weight, bias


def bert_tensors_from_hf(tensors: dict[str, np.ndarray], n_layers: int) -> dict[str, np.ndarray]:
    """Hugging Face ``BertModel`` tensors (with or without a ``bert.`` prefix) -> float32
    tensors named as :class:`textkit.nn.bert.BertModel`'s state dict. Query, key and value are
    stacked (in that order) into ``attn.qkv``; ``position_ids`` (a buffer) is dropped."""
    if any(k.startswith("bert.") for k in tensors):
        tensors = {k[len("bert.") :]: v for k, v in tensors.items() if k.startswith("bert.")}

    def get(name: str) -> np.ndarray:
        if name not in tensors:
            raise EncoderConversionError(f"the weights lack {name}")
        return tensors[name]

    out: dict[str, np.ndarray] = {
        "embed.word.weight": get("embeddings.word_embeddings.weight"),
        "embed.position.weight": get("embeddings.position_embeddings.weight"),
        "embed.token_type.weight": get("embeddings.token_type_embeddings.weight"),
    }
    out["embed.norm.weight"], out["embed.norm.bias"] = _layer_norm("embeddings.LayerNorm", tensors)
    for i in range(n_layers):
        hf, tk = f"encoder.layer.{i}", f"blocks.{i}"
        for part in ("weight", "bias"):
            out[f"{tk}.attn.qkv.{part}"] = np.concatenate(
                [get(f"{hf}.attention.self.{name}.{part}") for name in ("query", "key", "value")], axis=0
            )
            out[f"{tk}.attn.out.{part}"] = get(f"{hf}.attention.output.dense.{part}")
            out[f"{tk}.ff.up.{part}"] = get(f"{hf}.intermediate.dense.{part}")
            out[f"{tk}.ff.down.{part}"] = get(f"{hf}.output.dense.{part}")
        out[f"{tk}.attn_norm.weight"], out[f"{tk}.attn_norm.bias"] = _layer_norm(
            f"{hf}.attention.output.LayerNorm", tensors
        )
        out[f"{tk}.ff_norm.weight"], out[f"{tk}.ff_norm.bias"] = _layer_norm(f"{hf}.output.LayerNorm", tensors)
    if f"encoder.layer.{n_layers}.attention.self.query.weight" in tensors:
        raise EncoderConversionError(f"the weights have more than the config's {n_layers} layers")
    if "pooler.dense.weight" in tensors:
        out["pooler.dense.weight"], out["pooler.dense.bias"] = get("pooler.dense.weight"), get("pooler.dense.bias")
    return {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in out.items()}


def _pooling(path: Path | None) -> dict[str, Any]:
    """The sentence pooling from a sentence-transformers ``1_Pooling/config.json`` (mean
    without one), always followed by L2 normalization (the ``Normalize`` module)."""
    if path is None:
        return {"mode": "mean", "normalize": True}
    raw = read_json(path, "pooling config")
    modes = [
        mode for mode, key in (("mean", "pooling_mode_mean_tokens"), ("cls", "pooling_mode_cls_token")) if raw.get(key)
    ]
    others = [k for k, v in raw.items() if k.startswith("pooling_mode_") and v and k not in _POOLING_KEYS]
    if len(modes) != 1 or others:
        raise EncoderConversionError(f"{path}: textkit pools by exactly one of {POOLINGS}; got {raw}")
    return {"mode": modes[0], "normalize": True}


def convert_bert(
    source: str | os.PathLike,
    folder: str | os.PathLike,
    *,
    files: dict[str, str],
    expected: dict[str, str] | None = None,
    name: str = "",
    licence: str = "",
) -> Path:
    """Convert a Hugging Face BERT (``files`` maps the roles ``weights``, ``tokenizer``,
    ``config`` and optionally ``pooling`` to paths under ``source``) into a textkit encoder
    folder, atomically: ``model.safetensors`` (float32), ``tokenizer.json`` and ``config.json``,
    which records the sha256 of every source file and of both converted files. ``expected``
    (relative path -> sha256) refuses source files that are not the pinned ones."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file, save

    source = Path(source)
    paths = {role: source / rel for role, rel in files.items()}
    missing = [role for role in ("weights", "tokenizer", "config") if role not in paths]
    if missing:
        raise EncoderConversionError(f"an encoder needs the files {missing}")
    digests = {}
    for role, path in paths.items():
        digest = sha256_file(path)
        want = (expected or {}).get(files[role])
        if want and digest != want:
            raise ChecksumError(f"{path} has sha256 {digest}, expected {want}: delete it and fetch it again")
        digests[files[role]] = digest
    try:
        raw_tensors = load_file(str(paths["weights"]))
    except (SafetensorError, OSError) as exc:
        raise EncoderConversionError(f"cannot read {paths['weights']}: {exc}") from exc
    hf_config = read_json(paths["config"], "encoder config")
    if not isinstance(hf_config, dict):
        raise EncoderConversionError(f"{paths['config']} must hold a JSON object")
    prefix = "bert." if any(k.startswith("bert.") for k in raw_tensors) else ""
    config = bert_config_from_hf(
        hf_config, pooler=f"{prefix}pooler.dense.weight" in raw_tensors, where=str(paths["config"])
    )
    tensors = bert_tensors_from_hf(raw_tensors, int(config["n_layers"]))
    tokenizer = WordPieceTokenizer.from_hf_json(
        paths["tokenizer"].read_text(encoding="utf-8"),
        max_length=min(MAX_LENGTH, int(config.get("max_len", MAX_LENGTH))),
        where=str(paths["tokenizer"]),
    )
    if len(tokenizer) != config["vocab_size"]:
        raise EncoderConversionError(
            f"{paths['tokenizer']} has {len(tokenizer)} pieces, "
            f"{paths['config']} a vocab_size of {config['vocab_size']}"
        )
    config["pad_id"] = tokenizer.pad_index
    with atomic_folder(folder) as staging:
        # written through _io (not safetensors' save_file, which makes the file 0600): the user's umask applies
        atomic_write_bytes(staging / "model.safetensors", save(tensors, metadata={"format": "pt"}))
        tokenizer.save(staging)
        atomic_write_json(
            staging / "config.json",
            {
                "format_version": FORMAT_VERSION,
                "arch": "bert",
                "model": config,
                "pooling": _pooling(paths.get("pooling")),
                "name": name or source.name,
                "licence": licence,
                "dtype": "float32",
                "source": {"files": digests, "bytes": paths["weights"].stat().st_size},
                "files": {rel: sha256_file(staging / rel) for rel in CONVERTED_FILES},
                "versions": versions(("tokenizers", "safetensors")),
            },
        )
    return Path(folder)


# ---------------------------------------------------------------------------------------------
# The converted folder: current? intact?


def is_current(folder: Path, manifest: Manifest) -> bool:
    """Whether ``folder`` was converted, by this textkit's converter, from the manifest's files
    (reads ``config.json`` only; :func:`verify_converted` hashes the converted files)."""
    config_path = folder / "config.json"
    if not config_path.is_file() or not all((folder / rel).is_file() for rel in CONVERTED_FILES):
        return False
    try:
        config = read_json(config_path, "converted encoder config")
    except ValueError:
        return False
    if not isinstance(config, dict) or config.get("format_version") != FORMAT_VERSION:
        return False
    recorded = config.get("source", {}).get("files", {})
    wanted = {str(manifest.options[r]) for r in ROLES if r in manifest.options}
    return all(recorded.get(rel) == manifest.files.get(rel) for rel in wanted)


def verify_converted(folder: str | os.PathLike) -> dict[str, Any]:
    """Check the converted files of an encoder folder against the sha256 that ``config.json``
    recorded at conversion; returns the config. A mismatch raises
    :class:`ConvertedChecksumError` naming the file, both hashes and the fix."""
    folder = Path(folder)
    config = read_json(folder / "config.json", "encoder config")
    if not isinstance(config, dict) or not isinstance(config.get("files"), dict):
        raise ConvertedChecksumError(f"{folder / 'config.json'} records no sha256 of the converted files")
    name = str(config.get("name", ""))
    fix = (
        f"Run `textkit models get {name} --force` to fetch and convert it again."
        if find_encoder(name) is not None
        else "Convert it again from its source files."
    )
    for rel, digest in config["files"].items():
        path = folder / rel
        if not path.is_file():
            raise ConvertedChecksumError(f"converted encoder folder {folder} lacks {rel}. {fix}")
        actual = sha256_file(path)
        if actual != digest:
            raise ConvertedChecksumError(
                f"converted file {path} has sha256 {actual}, but {digest} was recorded when it was converted: "
                f"it was changed or corrupted. {fix}"
            )
    return config


def pretrained_encoder_folder(name: str | Manifest, force: bool = False, verbose: bool = False) -> Path:
    """The converted folder of pretrained encoder ``name`` (or of the encoder a manifest
    names): fetch and verify its files (once), convert them (once), and return
    ``$TEXTKIT_HOME/models/<name>/``. An unknown name raises a KeyError listing the known ones.
    ``force`` fetches and converts again."""
    manifest = name if isinstance(name, Manifest) else encoder_manifest(name)
    name = str(manifest.options["model"])
    folder = textkit_home() / "models" / name
    if not force and is_current(folder, manifest):
        return folder
    source = fetch(manifest, force=force, verbose=verbose)
    roles: dict[str, str] = {r: str(manifest.options[r]) for r in ROLES if r in manifest.options}
    with file_lock(folder.parent / f".{name}.lock"):
        if not force and is_current(folder, manifest):
            return folder
        if verbose:
            print(f"converting {manifest.name} to {folder} (once)", file=sys.stderr)
        return convert_bert(
            source, folder, files=roles, expected=dict(manifest.files), name=name, licence=manifest.licence
        )
