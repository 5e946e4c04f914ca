"""Model weights as safetensors (tied parameters stored once), and self-contained LM folders.

An LM folder holds::

    config.json         {"arch": "awd_lstm", "model": {...config...}, ...}
    model.safetensors   weights; the input embedding key ends in "embedding.weight"
    vocab.json          textkit Vocab JSON ({"itos": [...]})
    tokenizer.json      the tokenizer (plus spm.model for SentencePiece)
    history.csv/.json   training history, loss.png
    README.md           the model card

``load_language_model(folder)`` rebuilds the model and its ``TextPipeline`` in a fresh process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from textkit._io import atomic_write_bytes, atomic_write_json, read_json
from textkit.nn.registry import build_language_model, model_config_dict

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


def model_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state dict without tied or shared aliases (the first name of each storage is kept:
    a tied decoder or a shared source/target embedding is stored once), contiguous and on CPU
    (safetensors-ready). Loading fills the aliases through the shared parameter."""
    model = getattr(model, "module", model)  # unwrap DDP
    seen, out = set(), {}
    for name, tensor in model.state_dict().items():
        key = (tensor.data_ptr(), tensor.shape, tensor.stride())
        if key in seen:
            continue
        seen.add(key)
        out[name] = tensor.detach().cpu().contiguous()
    return out


def save_weights(
    model: torch.nn.Module, path: str | os.PathLike, metadata: dict[str, str] | None = None, dtype: torch.dtype | None = None
) -> Path:
    """Write the weights atomically; ``dtype`` (e.g. ``torch.bfloat16``) stores floating tensors
    in a smaller type (loading casts them back to the model's dtype)."""
    path = Path(path)
    tensors = model_tensors(model)
    if dtype is not None:
        tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
    atomic_write_bytes(path, save(tensors, metadata=metadata))
    return path


def read_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Load a safetensors file with errors that say what is wrong and what to do."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"weight file {path} is missing; the folder is incomplete (re-run training or copy it again)")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"weight file {path} is corrupted or truncated ({exc}); it cannot be loaded") from exc


def load_weights(model: torch.nn.Module, path: str | os.PathLike) -> torch.nn.Module:
    tensors = read_weights(path)
    target = getattr(model, "module", model)
    expected = model_tensors(target)
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise ValueError(f"{path} does not match the model: missing {missing[:5]}, unexpected {unexpected[:5]}")
    for name, tensor in tensors.items():
        if tensor.shape != expected[name].shape:
            raise ValueError(
                f"{path}: {name} has shape {tuple(tensor.shape)} but the model expects {tuple(expected[name].shape)} "
                "(was it trained with a different vocabulary or config?)"
            )
    target.load_state_dict(tensors, strict=False)  # tied aliases are filled by the shared parameter
    return model


@dataclass
class LanguageModelBundle:
    """A language model with its text pipeline and config: what ``LanguageModelBundle.load``
    (alias ``load_language_model``) returns and what ``save`` writes as one folder."""

    model: torch.nn.Module
    pipeline: object  # textkit.text.TextPipeline
    config: dict

    def __iter__(self):  # allows `model, pipeline = load_language_model(dir)`
        return iter((self.model, self.pipeline))

    def save(self, folder: str | os.PathLike, dtype: torch.dtype | None = None) -> Path:
        extra = {k: v for k, v in self.config.items() if k not in ("arch", "model")}
        return save_language_model(self.model, self.pipeline, folder, extra=extra, dtype=dtype)

    @classmethod
    def load(cls, folder: str | os.PathLike, device: str | torch.device = "cpu") -> LanguageModelBundle:
        return load_language_model(folder, device=device)


def save_language_model(
    model: torch.nn.Module, pipeline, folder: str | os.PathLike, extra: dict | None = None, dtype: torch.dtype | None = None
) -> Path:
    """Write config.json, model.safetensors, tokenizer and vocab.json into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = getattr(model, "module", model)
    n_vocab = len(pipeline)
    if n_vocab != model.config.vocab_size:
        raise ValueError(f"the pipeline has {n_vocab} tokens but the model's vocab_size is {model.config.vocab_size}")
    pipeline.save(folder)
    if not pipeline.has_own_vocab:  # keep the common layout: a vocab.json
        itos = [pipeline.id_to_token(i) for i in range(n_vocab)]
        atomic_write_json(folder / "vocab.json", {"itos": itos, "source": "sentencepiece"}, indent=None)
    save_weights(model, folder / WEIGHTS_FILE, dtype=dtype)
    atomic_write_json(folder / CONFIG_FILE, {**model_config_dict(model), **(extra or {})})
    return folder


def load_language_model(folder: str | os.PathLike, device: str | torch.device = "cpu") -> LanguageModelBundle:
    """Load a textkit LM folder: returns ``LanguageModelBundle(model, pipeline, config)``,
    which also unpacks as ``model, pipeline = load_language_model(folder)``."""
    from textkit.text import load_pipeline

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder; expected a textkit LM folder written by `textkit lm pretrain`")
    if not (folder / CONFIG_FILE).exists():
        raise FileNotFoundError(f"{folder / CONFIG_FILE} is missing; is {folder} a textkit LM folder?")
    config = read_json(folder / CONFIG_FILE, "model config")
    if not isinstance(config, dict) or "arch" not in config or "model" not in config:
        raise ValueError(f"{folder / CONFIG_FILE} must hold an object with 'arch' and 'model' keys")
    model = build_language_model(config["arch"], config["model"])
    pipeline = load_pipeline(folder)
    if len(pipeline) != model.config.vocab_size:
        raise ValueError(
            f"{folder}: the vocabulary has {len(pipeline)} tokens but the model was built for {model.config.vocab_size}; "
            "the vocab and the checkpoint do not belong together"
        )
    load_weights(model, folder / WEIGHTS_FILE)
    model.to(device).eval()
    return LanguageModelBundle(model, pipeline, config)
