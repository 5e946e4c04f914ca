"""A pretrained bidirectional encoder (MiniLM, a BERT) as a transfer backbone for text classification.

``BertClassifier.forward(ids (B, T), lengths (B,)) -> logits (B, n_classes)``: the BERT reads
right-padded ``[CLS] ... [SEP]`` word pieces with a padding mask built from ``lengths``; its
final hidden states are pooled over the real positions (``mean``, or the concatenation of
``cls``, ``mean`` and ``max``) and a dropout + linear head gives the logits. The pretrained
model's pooler (BERT's next-sentence head) is dropped.

Two ways to train it (:func:`train_encoder_classifier`):

* ``mode="ulmfit"``: the transfer recipe of the AWD-LSTM and SmolLM2 classifiers
  (``textkit.transfer.training.stage_trainer``): **gradual unfreezing** over
  :meth:`BertClassifier.layer_groups` (the embeddings, the blocks in groups of ``group_size``,
  the head), **discriminative rates** (each group below gets ``lr / lr_factor``) and a
  **slanted triangular** schedule per stage. Blocks below the lowest trainable group run
  without gradients and without dropout (they are the frozen pretrained features).
* ``mode="full"``: the plain ablation, the way BERTs are usually fine-tuned: every parameter
  at one rate from the first step, one warm-up-then-decay schedule.

Texts are word pieces from the encoder's own ``tokenizer.json``. A text over 510 word pieces
keeps its first 510 (512 with ``[CLS]`` and ``[SEP]``, BERT's position table); training and
prediction each give **one** :class:`~textkit.text.wordpiece.TruncationWarning` naming the
texts that were cut. An empty text is read as ``[CLS] [SEP]`` at prediction time (it gets the
classifier's prior-like answer for "no words"); training refuses empty texts, which are data bugs.

:class:`EncoderClassifier` predicts from raw text and saves to a folder of data only:
``classifier.json`` (format, encoder config, classes, training info), ``model.safetensors``
(every tensor: full fine-tuning changes them all) and ``tokenizer.json``. :meth:`EncoderClassifier.load`
treats the folder as untrusted: field types and ranges are checked, and tensor names, dtypes and
shapes are compared with the config from the safetensors header before anything is allocated.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from textkit.nn.bert import BertConfig, BertModel
from textkit.nn.config import config_from_dict, config_to_dict
from textkit.nn.modes import eval_mode
from textkit.nn.pooling import pool_states
from textkit.transfer.data import ClassificationBatches, LabelEncoder, predict_docs
from textkit.transfer.training import ClassificationTask, UnfreezeStage, stage_trainer

__all__ = [
    "ENCODER_POOLINGS",
    "FORMAT",
    "MODES",
    "BertClassifier",
    "EncoderClassifier",
    "EncoderClassifierConfig",
    "EncoderClassifierSettings",
    "default_settings",
    "train_encoder_classifier",
]

FORMAT = "textkit-encoder-classifier"
FORMAT_VERSION = 1
CONFIG_FILE = "classifier.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
ENCODER_POOLINGS = ("cls", "mean", "max")
MODES = ("ulmfit", "full")
MAX_CONFIG_BYTES = 16 << 20  # classifier.json holds settings and per-epoch metrics, never tensors


@dataclass(frozen=True)
class EncoderClassifierConfig:
    """The head over the encoder: which poolings (concatenated, in this order), dropout, how
    many blocks form one layer group, and the longest sequence read (``[CLS]``/``[SEP]`` included)."""

    n_classes: int
    pooling: tuple[str, ...] = ("mean",)
    head_dropout: float = 0.1
    group_size: int = 2
    max_length: int = 512

    def __post_init__(self) -> None:
        if (
            isinstance(self.n_classes, bool)
            or not isinstance(self.n_classes, int)
            or not 2 <= self.n_classes <= 100_000
        ):
            raise ValueError(f"EncoderClassifierConfig.n_classes must be an int in [2, 100000], got {self.n_classes!r}")
        bad = [p for p in self.pooling if p not in ENCODER_POOLINGS]
        if not self.pooling or bad or len(set(self.pooling)) != len(self.pooling):
            raise ValueError(
                f"EncoderClassifierConfig.pooling must be distinct names among {ENCODER_POOLINGS}, got {self.pooling}"
            )
        if not 0.0 <= self.head_dropout < 1.0:
            raise ValueError(f"EncoderClassifierConfig.head_dropout must be in [0, 1), got {self.head_dropout}")
        for name, high in (("group_size", 128), ("max_length", 65536)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
                raise ValueError(f"EncoderClassifierConfig.{name} must be an int in [1, {high}], got {value!r}")
        if self.max_length < 3:
            raise ValueError("EncoderClassifierConfig.max_length must leave room for [CLS], a piece and [SEP]")


class BertClassifier(nn.Module):
    """``forward(ids (B, T), lengths (B,)) -> logits (B, n_classes)`` over a :class:`BertModel`
    (built without its pooler)."""

    def __init__(self, backbone: BertModel, config: EncoderClassifierConfig) -> None:
        super().__init__()
        if backbone.pooler is not None:  # BERT's next-sentence head: not part of this classifier
            backbone.pooler = None
            backbone.config = replace(backbone.config, pooler=False)
        if config.max_length > backbone.config.max_len:
            raise ValueError(
                f"max_length {config.max_length} exceeds the encoder's {backbone.config.max_len} positions"
            )
        self.config, self.backbone_config = config, backbone.config
        self.backbone = backbone
        d = backbone.config.d_model
        self.head = nn.Sequential(nn.Dropout(config.head_dropout), nn.Linear(len(config.pooling) * d, config.n_classes))

    @classmethod
    def build(cls, backbone_config: BertConfig, config: EncoderClassifierConfig) -> BertClassifier:
        """A classifier around a randomly initialised BERT (to load weights into)."""
        return cls(BertModel(replace(backbone_config, pooler=False)), config)

    @property
    def n_layers(self) -> int:
        return self.backbone_config.n_layers

    def block_groups(self) -> list[range]:
        n, g = self.n_layers, self.config.group_size
        return [range(i, min(i + g, n)) for i in range(0, n, g)]

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """From the input up: the embeddings (words, positions, types, their norm), each block
        group, the head: the units of discriminative rates and gradual unfreezing."""
        blocks = self.backbone.blocks
        return (
            [list(self.backbone.embed.parameters())]
            + [[p for i in group for p in blocks[i].parameters()] for group in self.block_groups()]
            + [list(self.head.parameters())]
        )

    def frozen_blocks(self) -> int:
        """How many bottom blocks train nothing now (-1 while the embeddings train)."""
        if any(p.requires_grad for p in self.backbone.embed.parameters()):
            return -1
        for i, block in enumerate(self.backbone.blocks):
            if any(p.requires_grad for p in block.parameters()):
                return i
        return self.n_layers

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if ids.dim() != 2 or ids.size(1) == 0:
            raise ValueError(f"ids must be (batch, length >= 1), got shape {tuple(ids.shape)}")
        if ids.size(1) > self.backbone_config.max_len:
            raise ValueError(f"{ids.size(1)} positions exceed the encoder's {self.backbone_config.max_len}")
        lengths = lengths.to(ids.device)
        real = torch.arange(ids.size(1), device=ids.device)[None, :] < lengths[:, None]  # (B, T)
        mask = real[:, None, None, :]  # (B, 1, 1, T): which keys each query may see
        frozen = self.frozen_blocks()
        with contextlib.ExitStack() as stack:
            if frozen >= 0:  # the frozen bottom: no gradients, no dropout (fixed pretrained features)
                stack.enter_context(torch.no_grad())
                stack.enter_context(eval_mode(self.backbone.embed))
                for block in self.backbone.blocks[:frozen]:
                    stack.enter_context(eval_mode(block))
            x = self.backbone.embed(ids, torch.zeros_like(ids))  # (B, T, H)
            for block in self.backbone.blocks[: max(frozen, 0)]:
                x = block(x, mask)
        for block in self.backbone.blocks[max(frozen, 0) :]:
            x = block(x, mask)
        return self.head(self.pool(x.float(), lengths))

    def pool(self, hidden: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The configured poolings of hidden states (B, T, H) over the real positions: (B, P * H)."""
        out = []
        for name in self.config.pooling:
            out.append(hidden[:, 0] if name == "cls" else pool_states(hidden, lengths, (name,)))  # (B, H)
        return torch.cat(out, dim=1)


# -- settings ------------------------------------------------------------------------------------


def _ulmfit_stages() -> tuple[UnfreezeStage, ...]:
    # the head on the frozen encoder, then the head and the top 2 block groups (4 of 6 blocks),
    # then everything with rates lr_factor apart per group: ULMFiT's schedule, BERT-sized rates
    return (UnfreezeStage(1, 1, 2e-3), UnfreezeStage(3, 1, 1e-4), UnfreezeStage("all", 3, 6e-5))


@dataclass(frozen=True)
class EncoderClassifierSettings:
    """How :func:`train_encoder_classifier` trains. ``stages`` are gradual-unfreezing stages
    (``mode="ulmfit"``); ``full`` mode trains one stage of every group at ``lr_factor`` 1."""

    stages: tuple[UnfreezeStage, ...] = field(default_factory=_ulmfit_stages)
    lr_factor: float = 1.3  # per layer group of group_size blocks (2.6 is ULMFiT's per LSTM layer)
    schedule: str = "slanted_triangular"
    moms: tuple[float, float, float] = (0.95, 0.85, 0.95)  # used by schedule="one_cycle" only
    batch_size: int = 32
    optimizer: str = "adamw_fused"  # AdamW's update in torch's fused kernel ("adamw": the per-tensor loop)
    weight_decay: float = 0.01
    clip: float = 1.0
    pooling: tuple[str, ...] = ("mean",)
    head_dropout: float = 0.1
    group_size: int = 2
    max_length: int = 512
    precision: str = "auto"  # bf16 autocast where the CPU has bfloat16 instructions (or CUDA), else fp32
    eval_batch_size: int = 64

    def classifier_config(self, n_classes: int) -> EncoderClassifierConfig:
        return EncoderClassifierConfig(
            n_classes=n_classes,
            pooling=tuple(self.pooling),
            head_dropout=self.head_dropout,
            group_size=self.group_size,
            max_length=self.max_length,
        )


def default_settings(mode: str = "ulmfit") -> EncoderClassifierSettings:
    """The settings of each mode: ``"ulmfit"`` (3 gradual-unfreezing stages, 5 epochs in all)
    or ``"full"`` (every parameter at 8e-5 for 3 epochs, warm-up then linear decay)."""
    if mode == "ulmfit":
        return EncoderClassifierSettings()
    if mode == "full":
        return EncoderClassifierSettings(stages=(UnfreezeStage("all", 3, 8e-5),), lr_factor=1.0)
    raise ValueError(f"mode must be one of {MODES}, got {mode!r}")


# -- raw text in, probabilities out ------------------------------------------------------------


def encode_texts(tokenizer, texts: Sequence[str], max_length: int, *, where: str = "texts") -> list[np.ndarray]:
    """``[CLS] ... [SEP]`` ids of each text, cut to ``max_length`` pieces with one
    :class:`~textkit.text.wordpiece.TruncationWarning` naming the texts that were cut."""
    from textkit.text.wordpiece import TruncationWarning, truncation_message

    batch = tokenizer.encode_batch(list(texts), warn=False)
    docs, cut = [], []
    for i, ids in enumerate(batch.ids):
        if len(ids) > max_length:
            ids = np.concatenate([ids[: max_length - 1], ids[-1:]])
            cut.append(i)
        docs.append(np.asarray(ids, dtype=np.int64))
    cut = sorted(set(cut) | set(batch.truncated))
    if cut:
        names = [f"{where}[{i}]" for i in cut]
        warnings.warn(TruncationWarning(truncation_message(cut, len(docs), max_length, names), cut), stacklevel=3)
    return docs


def resolve_encoder_precision(precision: str, device: torch.device) -> str:
    from textkit.transfer.llm_training import resolve_llm_precision

    return resolve_llm_precision(precision, device)


class EncoderClassifier:
    """A trained :class:`BertClassifier` with its tokenizer and classes: raw text in, class
    probabilities or labels out, in input order."""

    def __init__(self, model: BertClassifier, tokenizer, classes: Sequence[str], info: dict | None = None) -> None:
        if model.config.n_classes != len(classes):
            raise ValueError(f"the model has {model.config.n_classes} outputs for {len(classes)} classes")
        self.model, self.tokenizer = model, tokenizer
        self.labels = LabelEncoder(list(classes))
        self.info: dict = dict(info or {})

    @property
    def classes(self) -> list[str]:
        return list(self.labels.classes)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def predict_proba(self, texts: Sequence[str], *, batch_size: int = 64, precision: str = "fp32") -> np.ndarray:
        """(n_texts, n_classes) float64 probabilities in :attr:`classes` order and input order;
        batches are sorted by length. An empty text reads as ``[CLS] [SEP]``."""
        from textkit.transfer.requests import check_texts

        texts = check_texts(texts)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if not texts:
            return np.zeros((0, len(self.classes)), dtype=np.float64)
        docs = encode_texts(self.tokenizer, texts, self.model.config.max_length)
        return predict_docs(self.model, docs, self.tokenizer.pad_index, batch_size, precision)

    def predict(self, texts: Sequence[str], *, batch_size: int = 64, precision: str = "fp32") -> np.ndarray:
        """Class strings (a numpy array of str) in input order."""
        return self.labels.decode(self.predict_proba(texts, batch_size=batch_size, precision=precision).argmax(1))

    def score(self, texts: Sequence[str], labels: Sequence[str], *, batch_size: int = 64) -> float:
        y = self.labels.encode(labels)
        if len(y) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(y)} labels")
        return float(np.mean(self.predict_proba(texts, batch_size=batch_size).argmax(1) == y))

    # -- files ----------------------------------------------------------------------------------

    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``classifier.json``, ``model.safetensors`` and ``tokenizer.json`` into ``folder``,
        which must exist and be empty (nothing a user owns is replaced)."""
        from safetensors.torch import save

        from textkit._folders import FolderError
        from textkit._io import atomic_write_bytes, atomic_write_json, versions

        folder = Path(folder)
        if not folder.is_dir():
            raise FolderError(f"{folder} is not an existing folder; create an empty folder to save the classifier in")
        if any(folder.iterdir()):
            raise FolderError(f"{folder} is not empty; save the classifier into a new, empty folder")
        tensors = {k: v.detach().cpu().float().contiguous() for k, v in self.model.state_dict().items()}
        atomic_write_bytes(folder / WEIGHTS_FILE, save(tensors, metadata={"format": "pt"}))
        self.tokenizer.save(folder)
        atomic_write_json(
            folder / CONFIG_FILE,
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "arch": "bert",
                "encoder": config_to_dict(self.model.backbone_config),
                "classifier": config_to_dict(self.model.config),
                "classes": self.classes,
                "files": {"weights": WEIGHTS_FILE, "tokenizer": TOKENIZER_FILE},
                "info": self.info,
                "versions": versions(("tokenizers", "safetensors")),
            },
        )
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike, device: str | torch.device = "cpu") -> EncoderClassifier:
        """Load a folder written by :meth:`save`, as untrusted input: the format and its version,
        every config field's type and range, the file names (inside the folder) and every
        tensor's name, dtype and shape (from the safetensors header, against the config) are
        checked before the model is built; a refusal is a :class:`textkit._folders.FolderError`."""
        from textkit._folders import FolderError, check_format_version, check_int, confined, safetensors_header
        from textkit._io import read_json
        from textkit.nn.serialization import load_weights
        from textkit.text.wordpiece import WordPieceTokenizer

        folder = Path(folder)
        path = confined(folder, CONFIG_FILE, "classifier config")
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise FolderError(f"{path}: {path.stat().st_size:,} bytes is too large for a classifier config")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise FolderError(f"{path} is not JSON ({exc}); the folder is damaged: re-save the classifier") from exc
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            got = raw.get("format") if isinstance(raw, dict) else type(raw).__name__
            raise FolderError(f"{path}: field 'format' is {got!r}, expected {FORMAT!r}; not an encoder classifier")
        check_format_version(raw, path)
        if raw.get("arch") != "bert":
            raise FolderError(f"{path}: field 'arch' is {raw.get('arch')!r}, expected 'bert'")
        encoder_raw, clf_raw = raw.get("encoder"), raw.get("classifier")
        for name, part in (("encoder", encoder_raw), ("classifier", clf_raw)):
            if not isinstance(part, dict):
                raise FolderError(f"{path}: field {name!r} must be an object, got {type(part).__name__}")
        assert isinstance(encoder_raw, dict) and isinstance(clf_raw, dict)
        limits = {
            "vocab_size": (1, 1_000_000),
            "d_model": (1, 8192),
            "n_layers": (1, 128),
            "n_heads": (1, 256),
            "d_ff": (1, 65536),
            "max_len": (1, 65536),
            "type_vocab_size": (1, 64),
            "pad_id": (0, 999_999),
        }
        for name, (low, high) in limits.items():
            check_int(encoder_raw, name, low, high, f"{path}: 'encoder'", required=name != "pad_id")
        check_int(clf_raw, "n_classes", 2, 100_000, f"{path}: 'classifier'", required=True)
        check_int(clf_raw, "group_size", 1, 128, f"{path}: 'classifier'")
        check_int(clf_raw, "max_length", 3, 65536, f"{path}: 'classifier'")
        try:
            encoder_config = config_from_dict(BertConfig, encoder_raw, where=f"{path}: 'encoder'")
            config = config_from_dict(EncoderClassifierConfig, clf_raw, where=f"{path}: 'classifier'")
        except (TypeError, ValueError) as exc:
            raise FolderError(str(exc)) from exc
        classes = raw.get("classes")
        if (
            not isinstance(classes, list)
            or not all(isinstance(c, str) for c in classes)
            or len(set(classes)) != len(classes)
            or len(classes) != config.n_classes
        ):
            raise FolderError(
                f"{path}: field 'classes' must be {config.n_classes} distinct strings (n_classes), got {classes!r:.200}"
            )
        files: Any = raw.get("files", {"weights": WEIGHTS_FILE, "tokenizer": TOKENIZER_FILE})
        if not isinstance(files, dict):
            raise FolderError(f"{path}: field 'files' must be an object naming 'weights' and 'tokenizer'")
        names: dict[str, Any] = files
        weights_path = confined(folder, names.get("weights", ""), "weights file")
        tokenizer_path = confined(folder, names.get("tokenizer", ""), "tokenizer file")
        header = safetensors_header(weights_path)
        with torch.device("meta"):  # shapes without memory
            model = BertClassifier.build(encoder_config, config)
        expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        missing = sorted(set(expected) - set(header))
        unexpected = sorted(set(header) - set(expected))
        wrong = [
            f"{k} is {header[k][0]} {list(header[k][1])}, expected F32 {list(s)}"
            for k, s in expected.items()
            if k in header and (header[k][1] != s or header[k][0] != "F32")
        ]
        if missing or unexpected or wrong:
            raise FolderError(
                f"{weights_path} does not fit the config in {path}: missing {missing[:5]}, unexpected "
                f"{unexpected[:5]}, wrong shape or dtype {wrong[:5]}; the folder is damaged or mixed: re-save it"
            )
        try:
            tokenizer = WordPieceTokenizer.from_config(
                read_json(tokenizer_path, "tokenizer"), where=str(tokenizer_path)
            )
        except (TypeError, KeyError) as exc:
            raise FolderError(
                f"{tokenizer_path}: not a textkit WordPiece tokenizer ({exc}); re-save the classifier"
            ) from exc
        if len(tokenizer) != encoder_config.vocab_size:
            raise FolderError(
                f"{tokenizer_path}: the tokenizer has {len(tokenizer):,} pieces, the encoder config "
                f"vocab_size {encoder_config.vocab_size:,}; they do not belong together"
            )
        load_weights(model, weights_path, assign=True)
        info = raw.get("info") if isinstance(raw.get("info"), dict) else {}
        return cls(model.to(device).eval(), tokenizer, classes, info)

    def __repr__(self) -> str:
        c = self.model.backbone_config
        return (
            f"EncoderClassifier(classes={self.classes}, layers={c.n_layers}, d_model={c.d_model}, "
            f"pooling={list(self.model.config.pooling)}, mode={self.info.get('mode')!r})"
        )


# -- training -------------------------------------------------------------------------------------


def _load_encoder(model: Any):
    from textkit.nn.sentence import SentenceEncoder, load_encoder

    encoder = model if isinstance(model, SentenceEncoder) else load_encoder(model)
    if not isinstance(encoder.model, BertModel):
        raise ValueError(f"{model!r} is not a BERT encoder (got {type(encoder.model).__name__})")
    return encoder


def train_encoder_classifier(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    model: Any = "minilm-l6",
    valid: tuple[Sequence[str], Sequence[str]] | None = None,
    seed: int = 0,
    device: str = "cpu",
    epochs: int | None = None,
    batch_size: int | None = None,
    mode: str = "ulmfit",
    settings: EncoderClassifierSettings | None = None,
    quiet: bool = False,
    log: Callable[[str], Any] | None = print,
) -> EncoderClassifier:
    """Fine-tune a pretrained encoder (``model``: a name such as ``"minilm-l6"``, a converted
    encoder folder, or a loaded :class:`~textkit.nn.sentence.SentenceEncoder`, which is copied,
    never changed) into a classifier of ``labels``.

    ``mode``: ``"ulmfit"`` (gradual unfreezing, discriminative rates, slanted triangular) or
    ``"full"`` (every parameter at one rate). ``epochs`` replaces the epochs of the last stage
    (the one that trains every group); ``batch_size`` the settings' batch size; ``settings``
    replaces the mode's defaults (:func:`default_settings`). ``valid`` is a ``(texts, labels)``
    pair scored after every epoch and never used for a choice. ``log`` gets one line per stage
    (``None``: silent); ``quiet`` turns off the progress bar."""
    from textkit.train.trainer import resolve_device, seed_everything
    from textkit.transfer.requests import check_texts

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    settings = settings if settings is not None else default_settings(mode)
    if epochs is not None:
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a positive int, got {epochs!r}")
        settings = replace(settings, stages=(*settings.stages[:-1], replace(settings.stages[-1], epochs=epochs)))
    if batch_size is not None:
        settings = replace(settings, batch_size=batch_size)
    texts = check_texts(texts)
    labels = list(labels)
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    blank = [i for i, t in enumerate(texts) if not t.strip()]
    if blank:
        raise ValueError(
            f"training texts {blank[:10]} are empty or whitespace only ({len(blank)} in all); drop them before training"
        )
    say = log or (lambda _line: None)
    started, cpu_started = time.perf_counter(), time.process_time()
    encoder = _load_encoder(model)
    torch_device = resolve_device(device)
    precision = resolve_encoder_precision(settings.precision, torch_device)
    classes = LabelEncoder.fit(labels)
    config = settings.classifier_config(len(classes.classes))
    seed_everything(seed)
    net = BertClassifier(copy.deepcopy(encoder.model), config).to(torch_device)
    groups = net.layer_groups()
    pad = encoder.tokenizer.pad_index
    train = ClassificationBatches(
        encode_texts(encoder.tokenizer, texts, config.max_length, where="training texts"),
        classes.encode(labels),
        settings.batch_size,
        pad,
        seed=seed,
    )
    valid_data = None
    if valid is not None:
        valid_data = ClassificationBatches(
            encode_texts(encoder.tokenizer, check_texts(valid[0]), config.max_length, where="valid texts"),
            classes.encode(valid[1]),
            settings.eval_batch_size,
            pad,
            shuffle=False,
        )
    say(
        f"{mode} fine-tuning of {encoder.name or 'the encoder'}: {len(texts)} texts, {len(classes.classes)} classes, "
        f"{len(groups)} layer groups, precision {precision}, {torch.get_num_threads()} threads"
    )
    stages, epochs_rows, epochs_done, train_seconds, seen = [], [], 0, 0.0, 0
    for index, stage in enumerate(settings.stages):
        n_top = len(groups) if stage.groups == "all" else int(stage.groups)
        if not 1 <= n_top <= len(groups):
            raise ValueError(f"stage {index}: groups={stage.groups!r}; the classifier has {len(groups)} layer groups")
        trainer = stage_trainer(
            net,
            ClassificationTask(),
            train,
            epochs_done,
            valid_data,
            groups,
            n_top,
            stage,
            settings,
            quiet=quiet,
            device=torch_device,
            precision=precision,
            seed=seed,
            index=index,
        )
        trainer.fit(epochs=stage.epochs)
        for row in trainer.history:
            epochs_rows.append(
                {
                    "epoch": epochs_done + round(float(row["epoch"]), 3),
                    "stage": index + 1,
                    "train_loss": _round(row.get("train_loss")),
                    "valid_loss": _round(row.get("valid_loss")),
                    "valid_accuracy": _round(row.get("accuracy")),
                    "train_seconds": round(float(row.get("time", 0.0)), 1),
                }
            )
        epochs_done += stage.epochs
        train_seconds += trainer.train_time
        seen += len(train) * stage.epochs
        last = trainer.history[-1] if trainer.history else {}
        stages.append(
            {
                "stage": index + 1,
                "groups": n_top,
                "epochs": stage.epochs,
                "lr": stage.lr,
                "lrs": [float(x) for x in trainer.lrs] if hasattr(trainer, "lrs") else None,
                "seconds": round(trainer.train_time, 1),
                "examples_per_s": round(len(train) * stage.epochs / trainer.train_time, 1)
                if trainer.train_time
                else None,
            }
        )
        shown = f", valid accuracy {last['accuracy']:.4f}" if "accuracy" in last else ""
        say(
            f"  stage {index + 1} (top {n_top} of {len(groups)} groups, {stage.epochs} ep, lr {stage.lr:g}): "
            f"train loss {last.get('train_loss', float('nan')):.4f}{shown}, {trainer.train_time:.0f} s"
        )
    for p in net.parameters():
        p.requires_grad_(True)
    net.eval()
    info = {
        "mode": mode,
        "seed": seed,
        "model": encoder.name or str(model),
        "encoder_sha256": (encoder.config.get("files") or {}).get("model.safetensors"),
        "settings": config_to_dict(settings),
        "precision": precision,
        "torch_threads": torch.get_num_threads(),
        "device": str(torch_device),
        "train_texts": len(texts),
        "epochs": epochs_rows,
        "stages": stages,
        "train_seconds": round(train_seconds, 1),
        "train_examples_per_s": round(seen / train_seconds, 1) if train_seconds else None,
        "seconds": round(time.perf_counter() - started, 1),
        "cpu_seconds": round(time.process_time() - cpu_started, 1),
    }
    return EncoderClassifier(net, encoder.tokenizer, classes.classes, info)


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 5)


def settings_from_dict(raw: dict) -> EncoderClassifierSettings:
    """``{"stages": [{"groups": 1, "epochs": 1, "lr": 2e-3}, ...], "lr_factor": 1.3, ...}``."""
    raw = dict(raw)
    if "stages" in raw:
        raw["stages"] = tuple(
            config_from_dict(UnfreezeStage, s, where=f"encoder classifier stage {i}")
            for i, s in enumerate(raw["stages"])
        )
    return config_from_dict(EncoderClassifierSettings, raw, where="encoder classifier settings")
