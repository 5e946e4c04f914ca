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

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from textkit._folders import (
    FORMAT_VERSION,
    FolderError,
    check_format_version,
    confined,
    read_consistently,
    safetensors_header,
)
from textkit._io import atomic_write_bytes, atomic_write_json, read_json
from textkit.nn.quantize import apply_precision, check_precision
from textkit.nn.registry import build_language_model, model_config_dict

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
MAX_CONFIG_BYTES = 1 << 20  # a config.json is a few KB; anything past this is not one
ASSIGN_ON_LOAD = frozenset({"llama"})  # architectures whose every tensor is a parameter or persistent buffer


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


def _stored_shapes(model: torch.nn.Module) -> dict[str, torch.Size]:
    """Name -> shape of each tensor a weight file holds for ``model``: a tied parameter under its
    first name only, as :func:`model_tensors` stores it. Reads no data, so it works on the
    ``meta`` device too."""
    seen, out = set(), {}
    for name, tensor in model.state_dict(keep_vars=True).items():
        if id(tensor) not in seen:
            seen.add(id(tensor))
            out[name] = tensor.shape
    return out


def save_weights(
    model: torch.nn.Module,
    path: str | os.PathLike,
    metadata: dict[str, str] | None = None,
    dtype: torch.dtype | None = None,
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
        raise FileNotFoundError(
            f"weight file {path} is missing; the folder is incomplete (re-run training or copy it again)"
        )
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"weight file {path} is corrupted or truncated ({exc}); it cannot be loaded") from exc


def load_weights(model: torch.nn.Module, path: str | os.PathLike, *, assign: bool = False) -> torch.nn.Module:
    """Load ``path`` into ``model`` after checking names and shapes. ``assign=True`` makes the
    loaded tensors the model's parameters instead of copying into them, for a model built on
    the ``meta`` device (no memory, no random init); the model must then re-tie shared weights
    with a ``tie_weights()`` method."""
    tensors = read_weights(path)
    target = getattr(model, "module", model)
    expected = _stored_shapes(target)
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise ValueError(f"{path} does not match the model: missing {missing[:5]}, unexpected {unexpected[:5]}")
    for name, tensor in tensors.items():
        if tensor.shape != expected[name]:
            raise ValueError(
                f"{path}: {name} has shape {tuple(tensor.shape)} but the model expects {tuple(expected[name])} "
                "(was it trained with a different vocabulary or config?)"
            )
    if not assign:
        target.load_state_dict(tensors, strict=False)  # tied aliases are filled by the shared parameter
        return model
    target.load_state_dict(tensors, strict=False, assign=True)
    tie = getattr(target, "tie_weights", None)
    if tie is not None:
        tie()
    left = [name for name, t in [*target.named_parameters(), *target.named_buffers()] if t.is_meta]
    if left:
        raise ValueError(f"{path} left {left[:5]} of the model unloaded (on the meta device)")
    return model


def read_folder_config(folder: Path, what: str) -> dict:
    """``folder/config.json`` as an object, bounded in size, with its format_version checked."""
    path = confined(folder, CONFIG_FILE, "config")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise FolderError(f"{path}: {path.stat().st_size:,} bytes is too large for a {what} config")
    raw = read_json(path, f"{what} config")
    if not isinstance(raw, dict):
        raise FolderError(f"{path} must hold a JSON object")
    check_format_version(raw, path)
    return raw


def check_weights_header(model: torch.nn.Module, path: Path) -> None:
    """Compare the tensors a weight file declares with those ``model`` (built on the meta
    device: no memory) expects, reading only the header: a config that does not match its
    weights is refused before any real tensor is allocated."""
    header = safetensors_header(path)
    expected = _stored_shapes(model)
    missing = sorted(set(expected) - set(header))
    unexpected = sorted(set(header) - set(expected))
    if missing or unexpected:
        raise FolderError(f"{path} does not match its config: missing {missing[:5]}, unexpected {unexpected[:5]}")
    for name, (_, shape) in header.items():
        if tuple(shape) != tuple(expected[name]):
            raise FolderError(
                f"{path}: {name} has shape {tuple(shape)} but config.json describes {tuple(expected[name])}; "
                "the config and the weights do not belong together"
            )


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
    model: torch.nn.Module,
    pipeline,
    folder: str | os.PathLike,
    extra: dict | None = None,
    dtype: torch.dtype | None = None,
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
        atomic_write_json(folder / "vocab.json", {"itos": pipeline.itos, "source": "sentencepiece"}, indent=None)
    save_weights(model, folder / WEIGHTS_FILE, dtype=dtype)
    atomic_write_json(
        folder / CONFIG_FILE, {"format_version": FORMAT_VERSION, **model_config_dict(model), **(extra or {})}
    )
    return folder


def load_language_model(
    folder: str | os.PathLike,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
    precision: str | None = None,
) -> LanguageModelBundle:
    """Load a textkit LM folder, or a pretrained LLM by name (``"smollm2-135m"``: fetched,
    verified and converted once under ``$TEXTKIT_HOME``), or a shipped model's name
    (``"awd_lstm-en"``: its forward direction); a bare word that is also a folder here is refused
    (``textkit.data.resolver``). The folder is untrusted: its config, files and weight shapes are
    checked before anything is built. Returns ``LanguageModelBundle(model, pipeline, config)``, which also unpacks as
    ``model, pipeline = load_language_model(folder)``. ``dtype`` casts the weights (e.g.
    ``torch.bfloat16``). ``precision`` (``"fp32"`` by default, ``"bf16"``, ``"int8"`` or
    ``"q4"``: the GGUF's own 4-bit weights; see :mod:`textkit.nn.quantize`) runs a pretrained
    LLM quantized on the CPU; a precision the model or machine cannot run raises a ValueError."""
    folder = _resolve_model_folder(folder)
    return read_consistently(folder, lambda: _load_language_folder(folder, device, dtype, precision))


def _load_language_folder(
    folder: Path, device: str | torch.device, dtype: torch.dtype | None, precision: str | None = None
) -> LanguageModelBundle:
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{folder} is not a folder; expected a textkit LM folder written by `textkit lm pretrain`"
            f" or a pretrained model's name ({', '.join(_llm_names()) or 'none known'})"
        )
    if not (folder / CONFIG_FILE).exists():
        raise FileNotFoundError(f"{folder / CONFIG_FILE} is missing; is {folder} a textkit LM folder?")
    config = read_folder_config(folder, "language model")
    if "arch" not in config or "model" not in config:
        raise FolderError(f"{folder / CONFIG_FILE} must hold an object with 'arch' and 'model' keys")
    check_precision(precision, config["arch"], config, folder, device, dtype)
    weights = confined(folder, WEIGHTS_FILE, "weight file")
    with torch.device("meta"):
        check_weights_header(build_language_model(config["arch"], config["model"]), weights)
    # A Llama (a pretrained LLM: the large case) is built on the meta device and takes the loaded
    # tensors as they are: no random init, no second copy of the weights while loading.
    assign = config["arch"] in ASSIGN_ON_LOAD
    with torch.device("meta") if assign else contextlib.nullcontext():
        model = build_language_model(config["arch"], config["model"])
    pipeline = _load_tokenizer(folder)
    if len(pipeline) != model.config.vocab_size:
        raise ValueError(
            f"{folder}: the vocabulary has {len(pipeline)} tokens but the model was built for "
            f"{model.config.vocab_size}; "
            "the vocab and the checkpoint do not belong together"
        )
    load_weights(model, weights, assign=assign)
    model.to(device=device, dtype=dtype).eval()
    model = apply_precision(model, precision, folder, config)
    return LanguageModelBundle(model, pipeline, config)


def _llm_names() -> list[str]:
    from textkit.data.llms import list_llms

    return sorted(list_llms())


def _resolve_model_folder(folder_or_name: str | os.PathLike) -> Path:
    """A path as it is; a name (shipped model or pretrained LLM) -> its verified folder."""
    from textkit.data.resolver import resolve_model

    return resolve_model(folder_or_name, verbose=True, expects=("language_model",), verb="load_language_model")


def resolve_translation_folder(folder_or_name: str | os.PathLike) -> Path:
    """A translation model folder path, or a shipped translation model's name."""
    from textkit.data.resolver import resolve_model

    return resolve_model(folder_or_name, expects=("translation",), verb="textkit translate")


def _load_tokenizer(folder: Path):
    """The folder's text pipeline: a textkit ``TextPipeline``, or a pretrained model's
    byte-level BPE (``tokenizer.json`` of type ``byte_bpe``)."""
    from textkit.text import load_pipeline

    config = read_json(folder / "tokenizer.json", "tokenizer config")
    if isinstance(config, dict) and config.get("type") == "byte_bpe":
        from textkit.text.bpe import ByteBPETokenizer

        return ByteBPETokenizer.from_config(config, where=str(folder / "tokenizer.json"))
    return load_pipeline(folder)


# -- translation models ------------------------------------------------------------------------


@dataclass
class TranslationModelBundle:
    """A seq2seq/Transformer translation model with its tokenizers and config: what
    ``TranslationModelBundle.load`` (alias ``load_translation_model``) returns; it unpacks as
    ``model, source_tokenizer, target_tokenizer``."""

    model: torch.nn.Module
    source_tokenizer: object
    target_tokenizer: object
    config: dict

    def __iter__(self):
        return iter((self.model, self.source_tokenizer, self.target_tokenizer))

    def save(self, folder: str | os.PathLike) -> Path:
        joint = self.target_tokenizer is self.source_tokenizer
        return save_translation_model(
            self.model,
            folder,
            source_tokenizer=self.source_tokenizer,
            target_tokenizer=None if joint else self.target_tokenizer,
        )

    @classmethod
    def load(cls, folder: str | os.PathLike, device: str | torch.device = "cpu") -> TranslationModelBundle:
        return load_translation_model(folder, device=device)


def save_translation_model(model: torch.nn.Module, folder, *, source_tokenizer, target_tokenizer=None) -> Path:
    """``folder/{config.json, model.safetensors, source_tokenizer/, target_tokenizer/}``;
    a joint vocabulary is saved once (``target_tokenizer=None``)."""
    from safetensors.torch import save

    from textkit._io import atomic_write_bytes, atomic_write_json
    from textkit.nn.config import config_to_dict
    from textkit.nn.registry import TRANSLATION_MODELS

    folder = Path(folder)
    arch = next((name for name, (cfg, _) in TRANSLATION_MODELS.items() if type(model.config) is cfg), None)
    if arch is None:
        raise ValueError(f"{type(model).__name__} is not a translation model ({sorted(TRANSLATION_MODELS)})")
    atomic_write_bytes(folder / "model.safetensors", save(model_tensors(model)))
    source_tokenizer.save(folder / "source_tokenizer")
    if target_tokenizer is not None:
        target_tokenizer.save(folder / "target_tokenizer")
    atomic_write_json(
        folder / "config.json",
        {
            "format_version": FORMAT_VERSION,
            "arch": arch,
            "model": config_to_dict(model.config),
            "joint_vocabulary": target_tokenizer is None,
        },
    )
    return folder


def load_translation_model(folder, device: str | torch.device = "cpu") -> TranslationModelBundle:
    """A ``TranslationModelBundle`` (model in eval mode, source and target tokenizers; it
    unpacks as that 3-tuple) from a folder or a shipped model's name. The folder is untrusted:
    its config, files and weight shapes are checked before anything is built. Tokenizers whose
    size does not match the model's vocabularies raise a ValueError naming both sizes."""
    folder = resolve_translation_folder(folder)
    return read_consistently(folder, lambda: _load_translation_folder(folder, device))


def _load_translation_folder(folder: Path, device: str | torch.device) -> TranslationModelBundle:
    from textkit.nn.config import config_from_dict
    from textkit.nn.registry import TRANSLATION_MODELS
    from textkit.text import SubwordTokenizer

    meta = read_folder_config(folder, "translation model")
    archs = TRANSLATION_MODELS
    if meta.get("arch") not in archs:
        raise FolderError(
            f"{folder / CONFIG_FILE}: unknown translation architecture {meta.get('arch')!r}; "
            f"this textkit reads {sorted(archs)}"
        )
    config_cls, model_cls = archs[meta["arch"]]
    config = config_from_dict(config_cls, meta["model"], where=str(folder / "config.json"))
    weights = confined(folder, WEIGHTS_FILE, "weight file")
    with torch.device("meta"):
        check_weights_header(model_cls(config), weights)
    joint = meta.get("joint_vocabulary", True)
    if not isinstance(joint, bool):
        raise FolderError(f"{folder / CONFIG_FILE}: field 'joint_vocabulary' must be true or false, got {joint!r}")
    source = SubwordTokenizer.load(folder / "source_tokenizer")
    target = source if joint else SubwordTokenizer.load(folder / "target_tokenizer")
    for side, tok, size in (("source", source, config.src_vocab_size), ("target", target, config.tgt_vocab_size)):
        if len(tok) != size:
            raise ValueError(
                f"{folder}: the {side} tokenizer has {len(tok)} pieces but the model's {side} vocabulary has {size}; "
                "they were not trained together"
            )
    model = model_cls(config)
    tensors = read_weights(weights)
    expected = model_tensors(model)
    for name, tensor in tensors.items():
        if name not in expected or expected[name].shape != tensor.shape:
            raise ValueError(f"{folder}: weight {name} does not fit the model (vocabulary or config mismatch)")
    missing = sorted(set(expected) - set(tensors))
    if missing:
        raise ValueError(f"{folder}: weights missing for {missing[:5]}")
    model.load_state_dict(tensors, strict=False)
    return TranslationModelBundle(model.to(device).eval(), source, target, meta)
