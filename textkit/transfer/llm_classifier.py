"""ULMFiT on a pretrained Transformer: a classifier over a Llama-style backbone (SmolLM2-135M).

``LlamaClassifier.forward(ids (B, T), lengths (B,)) -> logits (B, n_classes)``: the backbone
reads right-padded token ids, its final (RMS-normed) hidden states are pooled over the real
tokens only (last token, mean and max, concatenated: (B, 3D)) and a small head (batchnorm,
dropout, linear) gives the logits. Right padding needs no key mask: attention is causal, so a
real position never sees the padding after it (a test checks padded against unpadded).

Layer groups, from the input up: the token embedding, the blocks in groups of
``config.group_size``, then the final norm with the head. Gradual unfreezing trains the top
groups; the blocks below the lowest trainable one run under ``torch.no_grad`` (no backward
pass, no activations kept). Since those blocks never change, their output can be computed
once per text and reused every epoch: ``forward(..., states=S, first_block=k)`` starts from
the cached residual stream ``S`` after block ``k`` (``textkit.transfer.llm_training``).

:class:`LLMTextClassifier` predicts from raw text and saves as JSON + safetensors. The
backbone is referenced, not copied: ``classifier.json`` names it (a pretrained model's name
or a folder) with the sha256 of its ``model.safetensors``, and ``classifier.safetensors``
holds the head and every backbone tensor training changed (the unfrozen blocks and the final
norm). Loading fetches the backbone by name, checks the hash and overlays the trained tensors.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import torch
from torch import nn

from textkit._io import atomic_write_json, read_json, sha256_file, versions
from textkit.nn.config import config_from_dict, config_to_dict
from textkit.nn.llama import LlamaConfig, LlamaLanguageModel
from textkit.nn.pooling import POOLINGS, pool_states
from textkit.transfer.data import LabelEncoder, predict_docs
from textkit.transfer.requests import CONFIG_FILE, FORMAT_VERSION, check_predict_request

WEIGHTS_FILE = "classifier.safetensors"
ARCH = "llama"


@dataclass(frozen=True)
class LLMClassifierConfig:
    n_classes: int
    pooling: tuple[str, ...] = POOLINGS  # concatenated, in this order
    head_dropout: float = 0.1
    group_size: int = 2  # transformer blocks per layer group
    max_tokens: int = 512  # a text keeps its first max_tokens tokens (documented truncation)
    template: str = "{text}"  # the text the backbone reads; "{text}" is replaced by the input

    def __post_init__(self) -> None:
        if not isinstance(self.n_classes, int) or self.n_classes < 2:
            raise ValueError(f"LLMClassifierConfig.n_classes must be an int >= 2, got {self.n_classes!r}")
        bad = [p for p in self.pooling if p not in POOLINGS]
        if not self.pooling or bad or len(set(self.pooling)) != len(self.pooling):
            raise ValueError(f"LLMClassifierConfig.pooling must be distinct names among {POOLINGS}, got {self.pooling}")
        if not 0.0 <= self.head_dropout < 1.0:
            raise ValueError(f"LLMClassifierConfig.head_dropout must be in [0, 1), got {self.head_dropout}")
        for name in ("group_size", "max_tokens"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"LLMClassifierConfig.{name} must be a positive int, got {value!r}")
        if "{text}" not in self.template:
            raise ValueError(f"LLMClassifierConfig.template must contain '{{text}}', got {self.template!r}")


class LlamaClassifier(nn.Module):
    """``forward(ids (B, T), lengths (B,)) -> logits (B, n_classes)``; ``backbone`` is a
    ``LlamaLanguageModel`` (its output head is not used)."""

    def __init__(self, backbone: LlamaLanguageModel, config: LLMClassifierConfig) -> None:
        super().__init__()
        self.config, self.backbone_config = config, backbone.config
        self.backbone = backbone
        n_in = len(config.pooling) * backbone.config.d_model
        self.head = nn.Sequential(
            nn.BatchNorm1d(n_in), nn.Dropout(config.head_dropout), nn.Linear(n_in, config.n_classes)
        )

    @classmethod
    def build(cls, backbone_config: LlamaConfig, config: LLMClassifierConfig) -> LlamaClassifier:
        """A classifier around a randomly initialised backbone (to load weights into)."""
        return cls(LlamaLanguageModel(backbone_config), config)

    @property
    def n_layers(self) -> int:
        return self.backbone_config.n_layers

    # -- layer groups ---------------------------------------------------------------------------

    def block_groups(self) -> list[range]:
        """The blocks of each block group, from the bottom."""
        n, g = self.n_layers, self.config.group_size
        return [range(i, min(i + g, n)) for i in range(0, n, g)]

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """From the input up: the token embedding, each block group, the final norm + head (for
        discriminative rates and gradual unfreezing). The backbone's LM head is not used."""
        blocks = self.backbone.blocks
        return (
            [[cast(nn.Parameter, self.backbone.embed.weight)]]
            + [[p for i in group for p in blocks[i].parameters()] for group in self.block_groups()]
            + [list(self.backbone.norm.parameters()) + list(self.head.parameters())]
        )

    def first_block_of_top(self, n_top: int) -> int:
        """The lowest block that training the top ``n_top`` layer groups changes (``n_layers`` when
        only the norm + head train; 0 when the embedding trains too): the cache boundary."""
        n_groups = len(self.block_groups()) + 2
        if not 1 <= n_top <= n_groups:
            raise ValueError(f"n_top must be in 1..{n_groups} (the classifier's layer groups), got {n_top}")
        if n_top == n_groups:
            return 0
        top_block_groups = self.block_groups()[len(self.block_groups()) - (n_top - 1) :]
        return top_block_groups[0].start if top_block_groups else self.n_layers

    def frozen_blocks(self) -> int:
        """How many bottom blocks train nothing now (0 while the embedding trains)."""
        if self.backbone.embed.weight.requires_grad:
            return 0
        for i, block in enumerate(self.backbone.blocks):
            if any(p.requires_grad for p in block.parameters()):
                return i
        return self.n_layers

    # -- forward ---------------------------------------------------------------------------------

    def forward(
        self,
        ids: torch.Tensor | None,
        lengths: torch.Tensor,
        states: torch.Tensor | None = None,
        first_block: int = 0,
    ) -> torch.Tensor:
        """Logits of right-padded ``ids`` (B, T), or of the residual stream ``states`` (B, T, D)
        after block ``first_block`` (a cache of the frozen bottom). Frozen blocks run without
        gradients."""
        if states is None:
            if ids is None or ids.dim() != 2:
                raise ValueError("give ids (batch, time), or states with first_block")
            x, first = None, 0
        else:
            x, first = states, first_block
        frozen = self.frozen_blocks()
        if x is None or first < frozen:
            with torch.no_grad() if frozen > 0 else contextlib.nullcontext():
                if x is None:
                    x = self.backbone.embed(ids)  # (B, T, D)
                x = self.backbone.run_blocks(x, first, max(first, frozen))
            first = max(first, frozen)
        if first < self.n_layers:
            x = self.backbone.run_blocks(x, first)
        hidden = self.backbone.norm(x)  # (B, T, D)
        return self.head(pool_states(hidden.float(), lengths, self.config.pooling))


# -- text in, ids out ----------------------------------------------------------------------------


def encode_for_classifier(tokenizer, texts: Sequence[str], config: LLMClassifierConfig) -> list[np.ndarray]:
    """Token ids of each text rendered through ``config.template``, cut to the first
    ``config.max_tokens`` tokens. A text with no tokens (empty, under the plain template) reads
    as the tokenizer's end-of-text token alone, so every document has at least one token."""
    rendered = [config.template.replace("{text}", t) for t in texts]
    specials = tokenizer.special_ids
    fallback = specials.get("eos", specials.get("bos", 0))
    docs = []
    for ids in tokenizer.encode_documents(rendered):
        ids = np.asarray(ids[: config.max_tokens], dtype=np.int64)
        docs.append(ids if len(ids) else np.asarray([fallback], dtype=np.int64))
    return docs


def pad_id(tokenizer) -> int:
    """The id right padding uses (never attended to by real positions, so any id works)."""
    return int(tokenizer.special_ids.get("pad", tokenizer.special_ids.get("eos", 0)))


def cpu_supports_bf16() -> bool:
    """Whether this CPU has bfloat16 instructions (AVX512-BF16 or AMX), where bf16 autocast pays."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # older or oneDNN-less builds
        return False


# -- the backbone by reference -------------------------------------------------------------------


@dataclass
class Backbone:
    """A loaded pretrained backbone and how to find it again: ``source`` is a pretrained model's
    name (``"smollm2-135m"``) or a folder, ``weights_sha256`` the hash of its ``model.safetensors``."""

    model: LlamaLanguageModel
    tokenizer: object
    source: str
    weights_sha256: str

    def reference(self) -> dict:
        return {
            "source": self.source,
            "weights_sha256": self.weights_sha256,
            "config": config_to_dict(self.model.config),
        }


def backbone_folder(source: str | os.PathLike) -> Path:
    """An existing folder as it is, else a pretrained LLM's name -> its converted folder."""
    path = Path(source)
    if path.exists():
        return path
    from textkit.data.llms import find_llm, pretrained_llm_folder

    manifest = find_llm(os.fspath(source))
    if manifest is None:
        from textkit.data.llms import list_llms

        raise FileNotFoundError(
            f"backbone {os.fspath(source)!r} is neither a folder nor a pretrained model's name "
            f"(known: {', '.join(sorted(list_llms())) or 'none'})"
        )
    return pretrained_llm_folder(manifest, verbose=True)


def load_backbone(
    source: str | os.PathLike, device: str | torch.device = "cpu", expected_sha256: str | None = None
) -> Backbone:
    """Load a Llama backbone by name or folder (fp32), hashing its weight file; with
    ``expected_sha256`` a different file raises a ValueError naming both hashes."""
    from textkit.nn.serialization import WEIGHTS_FILE as LM_WEIGHTS
    from textkit.nn.serialization import load_language_model

    folder = backbone_folder(source)
    digest = sha256_file(folder / LM_WEIGHTS)
    if expected_sha256 is not None and digest != expected_sha256:
        raise ValueError(
            f"backbone {os.fspath(source)!r} ({folder / LM_WEIGHTS}) has sha256 {digest}, but the classifier was "
            f"trained on weights with sha256 {expected_sha256}; load it with the backbone it was trained on "
            "(pass backbone=FOLDER), or retrain"
        )
    bundle = load_language_model(folder, device=device)
    if not isinstance(bundle.model, LlamaLanguageModel):
        raise ValueError(f"{folder} holds a {type(bundle.model).__name__}; this classifier needs a Llama backbone")
    return Backbone(bundle.model, bundle.pipeline, os.fspath(source), digest)


# -- raw text in, labels out ----------------------------------------------------------------------


class LLMTextClassifier:
    """A trained :class:`LlamaClassifier` with its tokenizer and labels: raw text in, labels or
    class probabilities out, in input order. ``trained`` names the backbone tensors training
    changed (saved with the head); the rest of the backbone is ``backbone_ref``'s."""

    def __init__(
        self,
        model: LlamaClassifier,
        tokenizer,
        labels: LabelEncoder,
        backbone_ref: dict,
        trained: Sequence[str] = (),
        info: dict | None = None,
    ) -> None:
        if model.config.n_classes != len(labels.classes):
            raise ValueError(f"the model has {model.config.n_classes} outputs for {len(labels.classes)} classes")
        self.model, self.tokenizer, self.labels = model, tokenizer, labels
        self.backbone_ref, self.trained = dict(backbone_ref), sorted(trained)
        self.info = dict(info or {})

    @property
    def classes(self) -> list:
        return list(self.labels.classes)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def to(self, device: str | torch.device) -> LLMTextClassifier:
        self.model.to(device)
        return self

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        return encode_for_classifier(self.tokenizer, texts, self.model.config)

    def predict_proba(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        on_empty: str = "error",
        precision: str = "fp32",
        progress: bool = False,
    ) -> np.ndarray:
        """(n_texts, n_classes) probabilities in input order. ``on_empty``: an empty or
        whitespace-only text raises (``"error"``, naming the rows) or is classified from the
        end-of-text token alone (``"predict"``). ``precision="bf16"``: bfloat16 autocast."""
        texts = check_predict_request(texts, batch_size, on_empty, "the end-of-text token")
        if not texts:
            return np.zeros((0, len(self.classes)), dtype=np.float64)
        docs = self.encode(texts)
        return predict_docs(self.model, docs, pad_id(self.tokenizer), batch_size, precision, progress)

    def predict(
        self, texts: Sequence[str], batch_size: int = 32, on_empty: str = "error", precision: str = "fp32"
    ) -> np.ndarray:
        proba = self.predict_proba(texts, batch_size=batch_size, on_empty=on_empty, precision=precision)
        return self.labels.decode(proba.argmax(1))

    def score(self, texts: Sequence[str], labels: Sequence, batch_size: int = 32, precision: str = "fp32") -> float:
        y = self.labels.encode(labels)
        if len(y) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(y)} labels")
        return float(np.mean(self.predict_proba(texts, batch_size=batch_size, precision=precision).argmax(1) == y))

    # -- files ----------------------------------------------------------------------------------

    def saved_tensors(self) -> dict[str, torch.Tensor]:
        """The head (weights and batchnorm statistics) and the trained backbone tensors."""
        keep = set(self.trained)
        return {
            name: tensor.detach().cpu().contiguous()
            for name, tensor in self.model.state_dict().items()
            if name.startswith("head.") or name in keep
        }

    def save(self, folder: str | os.PathLike) -> Path:
        """``classifier.json`` (classes, configs, the backbone's name and sha256, versions) and
        ``classifier.safetensors`` (the head and the trained backbone tensors)."""
        from safetensors.torch import save

        from textkit._io import atomic_write_bytes

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / WEIGHTS_FILE, save(self.saved_tensors()))
        atomic_write_json(
            folder / CONFIG_FILE,
            {
                "format": "textkit-text-classifier",
                "format_version": FORMAT_VERSION,
                "arch": ARCH,
                "classes": self.classes,
                "backbone": self.backbone_ref,
                "classifier": config_to_dict(self.model.config),
                "trained": self.trained,
                "versions": versions(),
                "info": self.info,
            },
        )
        return folder

    @classmethod
    def load(
        cls,
        folder: str | os.PathLike,
        device: str | torch.device = "cpu",
        backbone: str | os.PathLike | None = None,
    ) -> LLMTextClassifier:
        """Load a saved classifier: its backbone by the recorded name or folder (or ``backbone``),
        checked against the recorded sha256, with the trained tensors laid over it."""
        from textkit.nn.serialization import read_weights

        folder = Path(folder)
        path = folder / CONFIG_FILE
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing; {folder} is not a folder written by LLMTextClassifier.save")
        raw = read_json(path, "classifier config")
        if not isinstance(raw, dict) or raw.get("format") != "textkit-text-classifier" or raw.get("arch") != ARCH:
            raise ValueError(f"{path} is not a textkit Llama text-classifier config")
        if raw.get("format_version", 0) > FORMAT_VERSION:
            raise ValueError(f"{path} has format version {raw['format_version']}; upgrade textkit")
        ref = raw["backbone"]
        config = config_from_dict(LLMClassifierConfig, raw["classifier"], where=f"{path}: 'classifier'")
        loaded = load_backbone(
            backbone if backbone is not None else ref["source"], expected_sha256=ref["weights_sha256"]
        )
        model = LlamaClassifier(loaded.model, config)
        tensors = read_weights(folder / WEIGHTS_FILE)
        expected = model.state_dict()
        wrong = [k for k, v in tensors.items() if k not in expected or expected[k].shape != v.shape]
        missing = [k for k in expected if k.startswith("head.") and k not in tensors]
        if wrong or missing:
            raise ValueError(
                f"{folder / WEIGHTS_FILE} does not fit the classifier: unexpected or misshapen {wrong[:5]}, "
                f"missing {missing[:5]}"
            )
        model.load_state_dict(tensors, strict=False)
        return cls(
            model.to(device).eval(),
            loaded.tokenizer,
            LabelEncoder(raw["classes"]),
            ref,
            raw.get("trained", []),
            raw.get("info"),
        )

    def __repr__(self) -> str:
        c = self.model.backbone_config
        return (
            f"LLMTextClassifier(classes={self.classes}, backbone={self.backbone_ref.get('source')!r}, "
            f"layers={c.n_layers}, d_model={c.d_model}, trained tensors={len(self.trained)})"
        )


__all__ = [
    "Backbone",
    "LLMClassifierConfig",
    "LLMTextClassifier",
    "LlamaClassifier",
    "cpu_supports_bf16",
    "encode_for_classifier",
    "load_backbone",
    "pool_states",
]
