"""ULMFiT's stages 2 and 3 as library functions: language-model fine-tuning and classifier
training with discriminative learning rates, slanted triangular or one-cycle schedules and
gradual unfreezing. Both run on ``textkit.train.Trainer``; each stage is a fresh trainer that
continues the data's epoch count (``ContinuedEpochs``), so stages never replay earlier batches.

Discriminative rates: layer group ``l`` gets ``lr / factor ** (L - 1 - l)`` (the group above
divided by 2.6, as in the paper). Gradual unfreezing: stage ``k`` trains the top ``k`` groups
(the head first), each stage a fresh schedule.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from textkit.transfer.classifier import AWDLSTMClassifier, ClassifierConfig, encoder_config_for_classifier
from textkit.transfer.data import ClassificationBatches, LabelEncoder
from textkit.train.tasks import StepContext, TaskOutput


@dataclass(frozen=True)
class FineTuneSettings:
    """Stage 2: the language model on the target texts."""

    epochs_frozen: int = 1  # first train only the embedding/decoder group (new tokens settle)
    lr_frozen: float = 2e-2
    epochs: int = 2  # then every group, with discriminative rates
    lr: float = 2e-3
    lr_factor: float = 2.6
    schedule: str = "slanted_triangular"  # or "one_cycle"
    batch_size: int = 32
    bptt: int = 70
    drop_mult: float = 0.5  # scales the pretrained config's dropouts for fine-tuning
    weight_decay: float = 0.01
    clip: float = 0.4
    alpha: float = 2.0  # AR
    beta: float = 1.0  # TAR
    valid_fraction: float = 0.1  # of the target texts, held out to report perplexity
    min_freq: int = 2  # target vocabulary
    max_vocab: int = 60000


@dataclass(frozen=True)
class UnfreezeStage:
    groups: int | str  # top groups to train (1 = head only); "all" unfreezes everything
    epochs: int = 1
    lr: float = 1e-2  # the top group's rate; lower groups are divided by lr_factor each


def _default_stages() -> tuple[UnfreezeStage, ...]:
    # fastai's ULMFiT IMDb schedule: head, +1, +2, then everything
    return (
        UnfreezeStage(1, 1, 2e-2),
        UnfreezeStage(2, 1, 1e-2),
        UnfreezeStage(3, 1, 5e-3),
        UnfreezeStage("all", 2, 1e-3),
    )


@dataclass(frozen=True)
class ClassifierSettings:
    """Stage 3: the classifier."""

    stages: tuple[UnfreezeStage, ...] = field(default_factory=_default_stages)
    lr_factor: float = 2.6
    # fastai's fit_one_cycle, as its ULMFiT examples (and textkit's fastai peer) train the
    # classifier; "slanted_triangular" (the paper's STLR) has no momentum schedule and ignores moms
    schedule: str = "one_cycle"
    batch_size: int = 32
    bptt: int = 70
    max_len: int = 1400
    drop_mult: float = 0.5
    head_hidden: tuple[int, ...] = (50,)
    head_dropout: tuple[float, ...] = (0.4, 0.1)  # before drop_mult
    weight_decay: float = 0.01
    clip: float = 0.25
    moms: tuple[float, float, float] = (0.8, 0.7, 0.8)


def _schedule(name: str, moms: tuple[float, float, float] | None = None):
    from textkit.train.schedules import OneCycle, SlantedTriangular

    if name == "slanted_triangular":
        return SlantedTriangular()
    if name == "one_cycle":
        return OneCycle(moms=moms) if moms else OneCycle()
    raise ValueError(f"schedule must be 'slanted_triangular' or 'one_cycle', got {name!r}")


def _set_trainable(groups: list[list[torch.nn.Parameter]], n_top: int) -> list[list[torch.nn.Parameter]]:
    """Freeze all but the top ``n_top`` groups; return the trainable ones."""
    for i, group in enumerate(groups):
        for p in group:
            p.requires_grad_(i >= len(groups) - n_top)
    return groups[len(groups) - n_top :]


def _lrs(lr: float, n_groups: int, factor: float) -> list[float]:
    from textkit.train.schedules import discriminative_lrs

    return discriminative_lrs(lr, n_groups, factor)


def stage_trainer(
    model,
    task,
    train,
    epochs_done: int,
    valid,
    groups,
    n_top: int,
    stage,
    settings,
    *,
    quiet,
    device,
    precision,
    seed: int,
    index: int,
):
    """The trainer of one gradual-unfreezing stage: the top ``n_top`` layer groups trainable at
    discriminative rates from ``stage.lr`` (``settings.lr_factor`` apart), the settings' schedule,
    weight decay and clipping; epochs continue the count (``epochs_done``) for the batch order."""
    from textkit.train import callbacks as cb
    from textkit.train.trainer import Trainer

    trainable = _set_trainable(groups, n_top)
    return Trainer(
        model,
        task,
        ContinuedEpochs(train, epochs_done),
        valid,
        lr=_lrs(stage.lr, len(trainable), settings.lr_factor),
        param_groups=trainable,
        optimizer=getattr(settings, "optimizer", "adamw"),
        weight_decay=settings.weight_decay,
        schedule=_schedule(settings.schedule, settings.moms),
        callbacks=[cb.ProgressBar(quiet=quiet), cb.GradientClipping(settings.clip)],
        device=device,
        precision=precision,
        seed=seed + 100 + index,
    )


class ContinuedEpochs:
    """One stage's view of the training data: the stage's epoch ``e`` is the run's epoch
    ``offset + e``. Each stage gets a fresh ``Trainer`` whose epoch counter starts at 0, and the
    data plans are functions of ``(seed, epoch)``: without the offset every gradual-unfreezing
    stage replayed epoch 0's exact batches in the same order."""

    def __init__(self, data, offset: int) -> None:
        self.data, self.offset = data, offset

    def n_batches(self, epoch: int = 0) -> int:
        return self.data.n_batches(self.offset + epoch)

    def batches(self, epoch: int = 0, start: int = 0):
        return self.data.batches(self.offset + epoch, start)

    def __len__(self) -> int:
        return len(self.data)


def split_texts(n: int, valid_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if not 0.0 < valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must be in (0, 1), got {valid_fraction}")
    order = np.random.default_rng(seed).permutation(n)
    n_valid = max(1, int(round(n * valid_fraction)))
    return np.sort(order[n_valid:]), np.sort(order[:n_valid])


# -- stage 2: language-model fine-tuning -----------------------------------------------------


def fine_tune_language_model(
    model,
    pipeline,
    texts: Sequence[str],
    settings: FineTuneSettings = FineTuneSettings(),
    *,
    backwards: bool = False,
    seed: int = 0,
    device: str = "auto",
    precision: str = "auto",
    quiet: bool = True,
    log=None,
):
    """Fine-tune a (vocabulary-transferred) AWD-LSTM LM on the target texts. Returns
    ``(model, metrics)``; the model is the one passed in, trained in place."""
    from textkit.data.lm import LMStream
    from textkit.train import callbacks as cb
    from textkit.train.tasks import LanguageModelTask
    from textkit.train.trainer import Trainer

    texts = list(texts)
    if len(texts) < 2:
        raise ValueError(f"fine-tuning needs at least 2 target texts, got {len(texts)}")
    _set_dropouts(model, settings.drop_mult)
    train_rows, valid_rows = split_texts(len(texts), settings.valid_fraction, seed)
    docs = pipeline.encode_documents(texts)
    train = LMStream([docs[i] for i in train_rows], settings.batch_size, settings.bptt, seed=seed, backwards=backwards)
    valid = LMStream(
        [docs[i] for i in valid_rows],
        max(1, min(settings.batch_size, 16)),
        settings.bptt,
        shuffle=False,
        random_bptt=False,
        backwards=backwards,
    )
    groups = model.layer_groups()
    metrics: dict = {"train_texts": int(len(train_rows)), "valid_texts": int(len(valid_rows)), "stages": []}
    started = time.perf_counter()
    plan = [(1, settings.epochs_frozen, settings.lr_frozen), (len(groups), settings.epochs, settings.lr)]
    epochs_done = 0
    for stage, (n_top, epochs, lr) in enumerate(plan):
        if epochs < 1:
            continue
        trainable = _set_trainable(groups, n_top)
        callbacks = [cb.ProgressBar(quiet=quiet), cb.GradientClipping(settings.clip)]
        if settings.alpha or settings.beta:
            callbacks.append(cb.RNNRegularizer(settings.alpha, settings.beta))
        trainer = Trainer(
            model,
            LanguageModelTask(),
            ContinuedEpochs(train, epochs_done),
            valid,
            lr=_lrs(lr, len(trainable), settings.lr_factor),
            param_groups=trainable,
            weight_decay=settings.weight_decay,
            schedule=_schedule(settings.schedule),
            callbacks=callbacks,
            device=device,
            precision=precision,
            seed=seed + stage,
        )
        trainer.fit(epochs=epochs)
        epochs_done += epochs
        row = trainer.history[-1]
        metrics["stages"].append(
            {
                "groups": n_top,
                "epochs": epochs,
                "lr": lr,
                "valid_loss": row["valid_loss"],
                "perplexity": row["perplexity"],
                "accuracy": row["accuracy"],
                "seconds": round(trainer.train_time, 1),
                "tokens_per_s": round(row["tokens_per_s"], 1),
            }
        )
        if log:
            log(
                f"  LM fine-tune stage {stage + 1} ({'embeddings' if n_top == 1 else 'all groups'}, {epochs} ep): "
                f"valid perplexity {row['perplexity']:.1f}, {trainer.train_time:.0f} s"
            )
    _set_trainable(groups, len(groups))
    model.eval()
    last = metrics["stages"][-1] if metrics["stages"] else {}
    metrics.update(
        {
            "valid_loss": last.get("valid_loss"),
            "perplexity": last.get("perplexity"),
            "seconds": round(time.perf_counter() - started, 1),
            "device": str(next(model.parameters()).device),
        }
    )
    return model, metrics


def _set_dropouts(model, drop_mult: float) -> None:
    """Re-scale every dropout of an already-built AWD-LSTM LM to ``drop_mult`` (ULMFiT
    fine-tunes with different dropout than it pretrains with). Embedding and weight dropout
    read the config at each forward; the locked dropouts hold their own ``p``."""
    from dataclasses import replace

    new = replace(model.config, drop_mult=drop_mult)
    model.config = model.encoder.config = new
    model.encoder.input_dropout.p = new.p("input_p")
    for dropout in model.encoder.hidden_dropouts:
        dropout.p = new.p("hidden_p")
    model.output_dropout.p = new.p("output_p")


# -- stage 3: the classifier ------------------------------------------------------------------


class ClassificationTask:
    """Cross-entropy over ``ClassBatch``es; metrics: valid_loss and accuracy. No carried state."""

    sum_keys = ("loss", "correct", "count")

    def reset(self) -> None:
        pass

    @staticmethod
    def _logits(model, batch, device) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits, targets)`` of one batch; subclasses change how the model is called."""
        x, lengths, y = (torch.from_numpy(a).to(device) for a in (batch.x, batch.lengths, batch.y))
        return model(x, lengths), y

    def train_step(self, model, batch, context: StepContext) -> TaskOutput:
        logits, y = self._logits(model, batch, context.device)
        return TaskOutput(F.cross_entropy(logits.float(), y), pred=logits, target=y)

    def eval_step(self, model, batch, device, carry):
        logits, y = self._logits(model, batch, device)
        logits = logits.float()
        return {
            "loss": F.cross_entropy(logits, y, reduction="sum").item(),
            "correct": int((logits.argmax(-1) == y).sum()),
            "count": len(y),
        }, None

    def metrics(self, sums: dict[str, float]) -> dict[str, float]:
        count = max(sums.get("count", 0.0), 1)
        return {"valid_loss": sums.get("loss", 0.0) / count, "accuracy": sums.get("correct", 0.0) / count}

    def state_dict(self):
        return {}, {}

    def load_state_dict(self, meta, tensors, device) -> None:
        pass


def build_classifier(
    lm_model, n_classes: int, settings: ClassifierSettings = ClassifierSettings()
) -> AWDLSTMClassifier:
    """A classifier whose encoder starts from ``lm_model``'s (fine-tuned) encoder, or from
    scratch when ``lm_model`` is an ``AWDLSTMConfig`` (the no-pretraining ablation)."""
    from dataclasses import replace

    from textkit.nn.awd_lstm import AWDLSTMConfig

    lm_config = lm_model if isinstance(lm_model, AWDLSTMConfig) else lm_model.config
    encoder_config = replace(encoder_config_for_classifier(lm_config), drop_mult=settings.drop_mult)
    config = ClassifierConfig(
        n_classes=n_classes,
        bptt=settings.bptt,
        max_len=settings.max_len,
        head_hidden=tuple(settings.head_hidden),
        head_dropout=tuple(p * settings.drop_mult for p in settings.head_dropout),
    )
    model = AWDLSTMClassifier(encoder_config, config)
    if not isinstance(lm_model, AWDLSTMConfig):
        model.encoder.load_state_dict(lm_model.encoder.state_dict(), strict=True)
    return model


def train_classifier(
    lm_model,
    pipeline,
    texts: Sequence[str],
    labels: Sequence,
    settings: ClassifierSettings = ClassifierSettings(),
    *,
    backwards: bool = False,
    valid: tuple[Sequence[str], Sequence] | None = None,
    seed: int = 0,
    device: str = "auto",
    precision: str = "auto",
    quiet: bool = True,
    log=None,
):
    """Train a ULMFiT classifier with gradual unfreezing. ``lm_model``: a fine-tuned
    ``AWDLSTMLanguageModel`` (or an ``AWDLSTMConfig`` to train from scratch). Returns
    ``(TextClassifier, metrics)``; ``valid`` is only reported, never used for choices."""
    from textkit.train.trainer import seed_everything
    from textkit.transfer.text_classifier import TextClassifier, check_texts, encode_texts

    texts = check_texts(texts)
    labels = list(labels)
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    blank = [i for i, t in enumerate(texts) if not t.strip()]
    if blank:
        raise ValueError(
            f"training texts {blank[:10]} are empty or whitespace only ({len(blank)} in all); drop them before training"
        )
    encoder = LabelEncoder.fit(labels)
    y = encoder.encode(labels)
    pad = pipeline.pad_index
    train = ClassificationBatches(encode_texts(pipeline, texts, backwards), y, settings.batch_size, pad, seed=seed)
    valid_data = None
    if valid is not None:
        valid_texts = check_texts(valid[0])
        valid_data = ClassificationBatches(
            encode_texts(pipeline, valid_texts, backwards), encoder.encode(valid[1]), 64, pad, shuffle=False
        )
    seed_everything(seed)
    model = build_classifier(lm_model, len(encoder.classes), settings)
    groups = model.layer_groups()
    history, started, epochs_done = [], time.perf_counter(), 0
    for index, stage in enumerate(settings.stages):
        n_top = len(groups) if stage.groups == "all" else int(stage.groups)
        if not 1 <= n_top <= len(groups):
            raise ValueError(f"stage {index}: groups={stage.groups!r}; the classifier has {len(groups)} layer groups")
        trainer = stage_trainer(
            model,
            ClassificationTask(),
            train,
            epochs_done,
            valid_data,
            groups,
            n_top,
            stage,
            settings,
            quiet=quiet,
            device=device,
            precision=precision,
            seed=seed,
            index=index,
        )
        trainer.fit(epochs=stage.epochs)
        epochs_done += stage.epochs
        row = dict(trainer.history[-1]) if trainer.history else {}
        docs_per_s = len(train) * stage.epochs / trainer.train_time if trainer.train_time else float("nan")
        history.append(
            {
                "stage": index + 1,
                "groups": n_top,
                "epochs": stage.epochs,
                "lr": stage.lr,
                "seconds": round(trainer.train_time, 1),
                "train_loss": row.get("train_loss"),
                "valid_loss": row.get("valid_loss"),
                "valid_accuracy": row.get("accuracy"),
                "docs_per_s": round(docs_per_s, 1),
            }
        )
        if log:
            shown = f", held-out accuracy {row['accuracy']:.4f}" if "accuracy" in row else ""
            log(
                f"  classifier stage {index + 1} (top {n_top} group(s), {stage.epochs} ep, lr {stage.lr:g}): "
                f"train loss {row.get('train_loss', float('nan')):.4f}{shown}, {trainer.train_time:.0f} s"
            )
    _set_trainable(groups, len(groups))
    model.eval()
    seconds = time.perf_counter() - started
    train_time = sum(h["seconds"] for h in history)
    n_epochs = sum(s.epochs for s in settings.stages)
    metrics = {
        "stages": history,
        "seconds": round(seconds, 1),
        "train_docs": len(train),
        "train_docs_per_s": round(len(train) * n_epochs / train_time, 1) if train_time else None,
        "classes": encoder.classes,
        "device": str(next(model.parameters()).device),
    }
    direction = "backward" if backwards else "forward"
    return TextClassifier(pipeline, encoder, {direction: model}, {"settings": _jsonable(settings)}), metrics


def _jsonable(settings) -> dict:
    from textkit.nn.config import config_to_dict

    return config_to_dict(settings)


def settings_from_dict(raw: dict) -> tuple[FineTuneSettings, ClassifierSettings]:
    """``{"finetune": {...}, "classifier": {..., "stages": [{"groups": 1, "epochs": 1, "lr": 0.02}, ...]}}``."""
    from textkit.nn.config import config_from_dict

    finetune = config_from_dict(FineTuneSettings, raw.get("finetune", {}), where="finetune settings")
    clf_raw = dict(raw.get("classifier", {}))
    if "stages" in clf_raw:
        clf_raw["stages"] = tuple(
            config_from_dict(UnfreezeStage, s, where=f"classifier stage {i}") for i, s in enumerate(clf_raw["stages"])
        )
    classifier = config_from_dict(ClassifierSettings, clf_raw, where="classifier settings")
    return finetune, classifier


__all__ = [
    "ClassificationTask",
    "ClassifierSettings",
    "FineTuneSettings",
    "UnfreezeStage",
    "build_classifier",
    "fine_tune_language_model",
    "settings_from_dict",
    "split_texts",
    "train_classifier",
]
