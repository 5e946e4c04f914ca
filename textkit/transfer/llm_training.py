"""Training a classifier over a pretrained Transformer backbone, ULMFiT-style, on a CPU budget.

* **Gradual unfreezing** (``UnfreezeStage``, as for the AWD-LSTM): stage ``k`` trains the top
  ``groups`` layer groups of :class:`~textkit.transfer.llm_classifier.LlamaClassifier` (1 = the
  final norm + head; then block groups of ``group_size`` from the top). Each stage is a fresh
  ``Trainer`` (AdamW, one-cycle or slanted triangular) with **discriminative rates**: the group
  below gets ``lr / lr_factor``.
* **The frozen bottom is computed once.** No stage trains the blocks below the lowest group
  any stage unfreezes, so their output (the residual stream after block ``k``) is a function of
  the text alone: :func:`frozen_pass` computes it once per text (under ``inference_mode``, in
  length-sorted batches) and every epoch of every stage starts from it. Training then costs
  the top blocks' forward and backward only. The cache is exact: a test trains with and
  without it and gets the same weights.
* **bf16 autocast on CPU** (``precision="auto"``): on when the CPU has bfloat16 instructions
  (:func:`~textkit.transfer.llm_classifier.cpu_supports_bf16`); weights and AdamW state stay fp32.
* Everything random takes ``seed``. LM fine-tuning on the target texts is not part of this
  recipe (the backbone already reads English well; on 2 CPU cores the budget goes to the
  classifier).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from textkit._device import autocast
from textkit.transfer.data import ClassBatch, ClassificationBatches, LabelEncoder
from textkit.transfer.llm_classifier import (
    Backbone,
    LLMClassifierConfig,
    LLMTextClassifier,
    LlamaClassifier,
    cpu_supports_bf16,
    encode_for_classifier,
    load_backbone,
    pad_id,
    pool_states,
)
from textkit.transfer.training import (
    ClassificationTask,
    UnfreezeStage,
    stage_trainer,
)


def _default_llm_stages() -> tuple[UnfreezeStage, ...]:
    # the head on the frozen model, then the head and the top 2 blocks (one group): what fits
    # ~1 CPU-hour for 11.5k snippets on 2 cores (more blocks and epochs where there is more compute)
    return (UnfreezeStage(1, 1, 3e-3), UnfreezeStage(2, 1, 3e-4))


@dataclass(frozen=True)
class LLMClassifierSettings:
    stages: tuple[UnfreezeStage, ...] = field(default_factory=_default_llm_stages)
    lr_factor: float = 1.5  # per group of group_size blocks (2.6 is ULMFiT's per LSTM layer)
    schedule: str = "one_cycle"
    moms: tuple[float, float, float] = (0.95, 0.85, 0.95)
    batch_size: int = 32
    weight_decay: float = 0.01
    clip: float = 1.0
    pooling: tuple[str, ...] = ("last", "mean", "max")
    head_dropout: float = 0.1
    group_size: int = 2
    max_tokens: int = 512
    template: str = "{text}"
    cache: bool = True  # compute the never-trained bottom once per text
    precision: str = "auto"  # "auto": bf16 autocast where the CPU (or GPU) supports it, else fp32
    eval_batch_size: int = 64

    def classifier_config(self, n_classes: int) -> LLMClassifierConfig:
        return LLMClassifierConfig(
            n_classes=n_classes,
            pooling=tuple(self.pooling),
            head_dropout=self.head_dropout,
            group_size=self.group_size,
            max_tokens=self.max_tokens,
            template=self.template,
        )


def resolve_llm_precision(precision: str, device: torch.device) -> str:
    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"precision must be 'auto', 'fp32' or 'bf16', got {precision!r}")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_supports_bf16() else "fp32"


# -- the frozen bottom, once per text ----------------------------------------------------------------


class FrozenStates:
    """The residual stream (T_i, D) of every document after its first ``n_blocks`` blocks, packed
    in one (sum T_i, D) tensor; :meth:`batch` right-pads rows into (B, T, D) with zeros."""

    def __init__(self, packed: torch.Tensor, lengths: np.ndarray, n_blocks: int) -> None:
        self.packed, self.lengths, self.n_blocks = packed, np.asarray(lengths, dtype=np.int64), n_blocks
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)])

    def __len__(self) -> int:
        return len(self.lengths)

    def batch(self, rows: np.ndarray, length: int | None = None) -> torch.Tensor:
        length = int(self.lengths[rows].max()) if length is None else length
        out = self.packed.new_zeros(len(rows), length, self.packed.size(1))
        for i, r in enumerate(rows):
            n = int(self.lengths[r])
            out[i, :n] = self.packed[self.offsets[r] : self.offsets[r] + n]
        return out

    @property
    def nbytes(self) -> int:
        return self.packed.numel() * self.packed.element_size()


def frozen_pass(
    model: LlamaClassifier,
    docs: Sequence[np.ndarray],
    pad_index: int,
    n_blocks: int,
    *,
    batch_size: int = 64,
    precision: str = "fp32",
    pooled: bool = False,
    log=None,
) -> tuple[FrozenStates, np.ndarray | None]:
    """One inference pass: the residual stream after block ``n_blocks`` of each document (the
    cache), and with ``pooled=True`` the backbone's pooled final states (N, len(pooling) * D) as
    they are before any training (the frozen probe's features), from the same pass."""
    device = next(model.parameters()).device
    batches = ClassificationBatches(list(docs), None, batch_size, pad_index, shuffle=False)
    lengths = batches.lengths
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    packed = torch.zeros(int(lengths.sum()), model.backbone_config.d_model)
    features = None
    started = time.perf_counter()
    backbone = model.backbone
    with torch.inference_mode(), autocast(precision, device):
        for i, batch in enumerate(batches.batches(0)):
            x = backbone.run_blocks(backbone.embed(torch.from_numpy(batch.x).to(device)), 0, n_blocks)  # (B, T, D)
            states = x.float().cpu()
            for j, r in enumerate(batch.rows):
                packed[offsets[r] : offsets[r + 1]] = states[j, : lengths[r]]
            if pooled:
                top = backbone.norm(backbone.run_blocks(x, n_blocks)) if n_blocks < model.n_layers else backbone.norm(x)
                feats = pool_states(top.float(), torch.from_numpy(batch.lengths).to(device), model.config.pooling)
                if features is None:
                    features = np.zeros((len(docs), feats.size(1)), dtype=np.float32)
                features[batch.rows] = feats.cpu().numpy()
            if log and i % 50 == 0:
                log(
                    f"  frozen pass: {min((i + 1) * batch_size, len(docs))}/{len(docs)} texts, "
                    f"{time.perf_counter() - started:.0f} s"
                )
    return FrozenStates(packed, lengths, n_blocks), features


def advance_frozen(
    model: LlamaClassifier, frozen: FrozenStates, to_block: int, *, batch_size: int = 64, precision: str = "fp32"
) -> FrozenStates:
    """Cached states after ``frozen.n_blocks`` blocks -> after ``to_block`` blocks (one inference
    pass over the blocks in between): a cache made for deeper fine-tuning serves a shallower one."""
    if to_block == frozen.n_blocks:
        return frozen
    if not frozen.n_blocks < to_block <= model.n_layers:
        raise ValueError(f"cannot move cached states after {frozen.n_blocks} blocks to after {to_block} blocks")
    device = next(model.parameters()).device
    order = np.argsort(-frozen.lengths, kind="stable")
    packed = torch.empty_like(frozen.packed)
    with torch.inference_mode(), autocast(precision, device):
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            x = model.backbone.run_blocks(frozen.batch(rows).to(device), frozen.n_blocks, to_block).float().cpu()
            for j, r in enumerate(rows):
                packed[frozen.offsets[r] : frozen.offsets[r + 1]] = x[j, : frozen.lengths[r]]
    return FrozenStates(packed, frozen.lengths, to_block)


@dataclass(frozen=True)
class CachedBatch(ClassBatch):
    """A ``ClassBatch`` with the cached residual stream (B, T, D) of its rows."""

    states: torch.Tensor | None = None
    first_block: int = 0


class CachedBatches:
    """``ClassificationBatches`` (same plan, so the same batches in the same order) whose batches
    carry their rows' :class:`FrozenStates`."""

    def __init__(self, data: ClassificationBatches, frozen: FrozenStates) -> None:
        if len(data) != len(frozen):
            raise ValueError(f"{len(data)} documents but {len(frozen)} cached states")
        if not np.array_equal(data.lengths, frozen.lengths):
            raise ValueError("the cached states do not belong to these documents (their lengths differ)")
        self.data, self.frozen = data, frozen

    def __len__(self) -> int:
        return len(self.data)

    def n_batches(self, epoch: int = 0) -> int:
        return self.data.n_batches(epoch)

    def batches(self, epoch: int = 0, start: int = 0) -> Iterator[CachedBatch]:
        for b in self.data.batches(epoch, start):
            yield CachedBatch(
                b.x, b.lengths, b.y, b.rows, self.frozen.batch(b.rows, b.x.shape[1]), self.frozen.n_blocks
            )


class LLMClassificationTask(ClassificationTask):
    """``ClassificationTask`` over (cached) batches: a batch with cached ``states`` enters the
    model above its frozen blocks."""

    @staticmethod
    def _logits(model, batch, device) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = torch.from_numpy(batch.lengths).to(device)
        y = torch.from_numpy(batch.y).to(device)
        states = getattr(batch, "states", None)
        if states is not None:
            return model(None, lengths, states=states.to(device), first_block=batch.first_block), y
        return model(torch.from_numpy(batch.x).to(device), lengths), y


def _stage_groups(stages: Sequence[UnfreezeStage], n_groups: int) -> list[int]:
    out = []
    for index, stage in enumerate(stages):
        n_top = n_groups if stage.groups == "all" else int(stage.groups)
        if not 1 <= n_top <= n_groups:
            raise ValueError(f"stage {index}: groups={stage.groups!r}; the classifier has {n_groups} layer groups")
        out.append(n_top)
    if not out:
        raise ValueError("give at least one UnfreezeStage")
    return out


def cache_boundary(model: LlamaClassifier, stages: Sequence[UnfreezeStage]) -> int:
    """The first block any stage trains: everything below it is computed once."""
    n_tops = _stage_groups(stages, len(model.layer_groups()))
    return model.first_block_of_top(max(n_tops))


@dataclass(frozen=True)
class LinearProbe:
    """A fitted linear probe on the classifier's pooled features: standardise with ``mean`` and
    ``var`` (n_features,), then ``coef`` (n_classes or 1, n_features) and ``intercept``; one row
    for two classes (the second class's log-odds), as scikit-learn's ``LogisticRegression``
    gives it. :func:`train_llm_classifier` can start its head from it."""

    mean: np.ndarray
    var: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray


def init_head_from_probe(model: LlamaClassifier, probe: LinearProbe) -> None:
    """Set the head (batchnorm -> dropout -> linear) to compute the probe's class scores: the
    batchnorm standardises as the probe's scaler did, the linear layer holds its weights (a
    two-class probe's log-odds split as -z/2, +z/2, which softmax turns into the same
    probabilities)."""
    norm, linear = model.head[0], model.head[-1]
    n_classes, n_features = linear.weight.shape
    coef, intercept = np.asarray(probe.coef, np.float64), np.asarray(probe.intercept, np.float64).reshape(-1)
    if coef.shape[0] == 1 and n_classes == 2:
        coef, intercept = np.stack([-coef[0] / 2, coef[0] / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
    if coef.shape != (n_classes, n_features) or probe.mean.shape != (n_features,) or probe.var.shape != (n_features,):
        raise ValueError(
            f"the probe has coef {coef.shape}, mean {probe.mean.shape}, var {probe.var.shape}; the head needs "
            f"({n_classes}, {n_features}) and ({n_features},)"
        )
    with torch.no_grad():
        norm.running_mean.copy_(torch.as_tensor(probe.mean, dtype=torch.float32))
        norm.running_var.copy_(torch.as_tensor(probe.var, dtype=torch.float32))
        norm.weight.fill_(1.0)
        norm.bias.zero_()
        linear.weight.copy_(torch.as_tensor(coef, dtype=torch.float32))
        linear.bias.copy_(torch.as_tensor(intercept, dtype=torch.float32))


def train_llm_classifier(
    backbone: Backbone | str,
    texts: Sequence[str],
    labels: Sequence,
    settings: LLMClassifierSettings = LLMClassifierSettings(),
    *,
    valid: tuple[Sequence[str], Sequence] | None = None,
    frozen: tuple[FrozenStates, FrozenStates | None] | None = None,
    head_init: LinearProbe | None = None,
    seed: int = 0,
    device: str = "cpu",
    quiet: bool = True,
    log=None,
) -> tuple[LLMTextClassifier, dict]:
    """Train a classifier over ``backbone`` (a :class:`Backbone`, or a pretrained model's name or
    folder to load) with gradual unfreezing. The backbone is copied, never changed. ``valid``
    is only reported, never used for choices. ``frozen``: the (train, valid) caches from
    :func:`frozen_pass`, when the caller computed them already (e.g. with the probe's
    features). ``head_init``: start the head from a fitted linear probe on the same pooled
    features (classes in sorted order) instead of at random. Returns ``(LLMTextClassifier, metrics)``."""
    from textkit.train.trainer import resolve_device, seed_everything
    from textkit.transfer.requests import check_texts

    texts = check_texts(texts)
    labels = list(labels)
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    blank = [i for i, t in enumerate(texts) if not t.strip()]
    if blank:
        raise ValueError(
            f"training texts {blank[:10]} are empty or whitespace only ({len(blank)} in all); drop them before training"
        )
    started = time.perf_counter()
    if not isinstance(backbone, Backbone):
        backbone = load_backbone(backbone)
    torch_device = resolve_device(device)
    precision = resolve_llm_precision(settings.precision, torch_device)
    encoder = LabelEncoder.fit(labels)
    config = settings.classifier_config(len(encoder.classes))
    seed_everything(seed)
    model = LlamaClassifier(copy.deepcopy(backbone.model), config)
    if head_init is not None:
        init_head_from_probe(model, head_init)
    model = model.to(torch_device)
    groups = model.layer_groups()
    n_tops = _stage_groups(settings.stages, len(groups))
    boundary = model.first_block_of_top(max(n_tops))
    pad = pad_id(backbone.tokenizer)
    train_docs = encode_for_classifier(backbone.tokenizer, texts, config)
    train_batches = ClassificationBatches(train_docs, encoder.encode(labels), settings.batch_size, pad, seed=seed)
    train: ClassificationBatches | CachedBatches = train_batches
    valid_batches: ClassificationBatches | None = None
    valid_data: ClassificationBatches | CachedBatches | None = None
    if valid is not None:
        valid_docs = encode_for_classifier(backbone.tokenizer, check_texts(valid[0]), config)
        valid_batches = valid_data = ClassificationBatches(
            valid_docs, encoder.encode(valid[1]), settings.eval_batch_size, pad, shuffle=False
        )
    metrics: dict = {"precision": precision, "cache_boundary_block": boundary, "cached": False}
    if settings.cache and boundary > 0:
        for p in model.parameters():
            p.requires_grad_(False)
        t = time.perf_counter()
        if frozen is None:
            train_frozen, _ = frozen_pass(model, train_docs, pad, boundary, precision=precision, log=log)
            valid_frozen = (
                frozen_pass(model, valid_batches.docs, pad, boundary, precision=precision)[0]
                if valid_batches is not None
                else None
            )
        else:  # a cache from a lower block is moved up to the boundary once
            train_frozen = advance_frozen(model, frozen[0], boundary, precision=precision)
            valid_frozen = (
                None if frozen[1] is None else advance_frozen(model, frozen[1], boundary, precision=precision)
            )
        train = CachedBatches(train_batches, train_frozen)
        if valid_batches is not None and valid_frozen is not None:
            valid_data = CachedBatches(valid_batches, valid_frozen)
        metrics.update(
            cached=True,
            cache_seconds=round(time.perf_counter() - t, 1),
            cache_mb=round(train_frozen.nbytes / 2**20, 1),
        )
        if log:
            log(
                f"  cached the frozen bottom ({boundary} blocks): {metrics['cache_mb']} MB, "
                f"{metrics['cache_seconds']} s"
            )
    history, epochs_done = [], 0
    for index, (stage, n_top) in enumerate(zip(settings.stages, n_tops, strict=True)):
        trainer = stage_trainer(
            model,
            LLMClassificationTask(),
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
        epochs_done += stage.epochs
        row = dict(trainer.history[-1]) if trainer.history else {}
        history.append(
            {
                "stage": index + 1,
                "groups": n_top,
                "first_trained_block": model.first_block_of_top(n_top),
                "epochs": stage.epochs,
                "lr": stage.lr,
                "seconds": round(trainer.train_time, 1),
                "train_loss": row.get("train_loss"),
                "valid_loss": row.get("valid_loss"),
                "valid_accuracy": row.get("accuracy"),
                "docs_per_s": round(len(train) * stage.epochs / trainer.train_time, 1) if trainer.train_time else None,
            }
        )
        if log:
            shown = f", held-out accuracy {row['accuracy']:.4f}" if "accuracy" in row else ""
            log(
                f"  stage {index + 1} (top {n_top} group(s) from block {model.first_block_of_top(n_top)}, "
                f"{stage.epochs} ep, lr {stage.lr:g}): train loss {row.get('train_loss', float('nan')):.4f}{shown}, "
                f"{trainer.train_time:.0f} s"
            )
    # the backbone tensors some stage trained are saved with the head
    trained_params = {id(p) for n_top in n_tops for group in groups[len(groups) - n_top :] for p in group}
    trained = [n for n, p in model.named_parameters() if id(p) in trained_params and not n.startswith("head.")]
    for p in model.parameters():
        p.requires_grad_(True)
    model.eval()
    from textkit.nn.config import config_to_dict

    metrics.update(
        {
            "stages": history,
            "seconds": round(time.perf_counter() - started, 1),
            "train_docs": len(train),
            "classes": encoder.classes,
            "device": str(torch_device),
        }
    )
    info = {"settings": config_to_dict(settings), "seed": seed, "precision": precision}
    return LLMTextClassifier(model, backbone.tokenizer, encoder, backbone.reference(), trained, info), metrics


def llm_settings_from_dict(raw: dict) -> LLMClassifierSettings:
    """``{"stages": [{"groups": 1, "epochs": 1, "lr": 3e-3}, ...], "lr_factor": 1.5, ...}``."""
    from textkit.nn.config import config_from_dict

    raw = dict(raw)
    if "stages" in raw:
        raw["stages"] = tuple(
            config_from_dict(UnfreezeStage, s, where=f"llm classifier stage {i}") for i, s in enumerate(raw["stages"])
        )
    return config_from_dict(LLMClassifierSettings, raw, where="llm classifier settings")


__all__ = [
    "CachedBatches",
    "FrozenStates",
    "LLMClassificationTask",
    "LinearProbe",
    "LLMClassifierSettings",
    "advance_frozen",
    "cache_boundary",
    "frozen_pass",
    "init_head_from_probe",
    "llm_settings_from_dict",
    "resolve_llm_precision",
    "train_llm_classifier",
]
