"""Callbacks: small objects with methods named after training events. Each receives the
trainer explicitly (``def after_loss(self, trainer)``); none of them reaches into globals.

Events, in order: ``before_fit``, ``before_epoch``, ``before_batch``, ``after_loss``,
``after_backward``, ``after_step``, ``after_batch``, ``after_validate``, ``after_epoch``,
``after_fit``. A callback with state to resume implements ``state_dict``/``load_state_dict``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import torch

from textkit._io import atomic_write_bytes, atomic_write_json, atomic_write_text

EVENTS = (
    "before_fit",
    "before_epoch",
    "before_batch",
    "after_loss",
    "after_backward",
    "after_step",
    "after_batch",
    "after_validate",
    "after_epoch",
    "after_fit",
)


class Callback:
    """Base class: every event is a no-op. ``order`` sorts callbacks (lower runs first)."""

    order: int = 0
    during_lr_find: bool = False  # also active while the LR finder runs

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class GradientClipping(Callback):
    """Clip the global gradient norm to ``max_norm`` (after unscaling AMP gradients)."""

    during_lr_find = True

    def __init__(self, max_norm: float) -> None:
        if max_norm <= 0:
            raise ValueError(f"max_norm must be > 0, got {max_norm}")
        self.max_norm = max_norm

    def after_backward(self, trainer) -> None:
        trainer.unscale_gradients()
        trainer.grad_norm = float(torch.nn.utils.clip_grad_norm_(trainer.model.parameters(), self.max_norm))


class RNNRegularizer(Callback):
    """AR and TAR (Merity et al. 2017) on the last RNN layer.

    AR: ``alpha * mean(dropped_out ** 2)`` keeps activations small.
    TAR: ``beta * mean((raw_out[:, t+1] - raw_out[:, t]) ** 2)`` keeps them slowly changing.
    Needs the task to set ``trainer.hidden = (raw_out, dropped_out)``.
    """

    during_lr_find = True

    def __init__(self, alpha: float = 2.0, beta: float = 1.0) -> None:
        self.alpha, self.beta = alpha, beta

    def after_loss(self, trainer) -> None:
        raw, dropped = trainer.hidden  # (B, T, C) each
        if self.alpha:
            trainer.loss = trainer.loss + self.alpha * dropped.float().pow(2).mean()
        if self.beta and raw.size(1) > 1:
            trainer.loss = trainer.loss + self.beta * (raw[:, 1:] - raw[:, :-1]).float().pow(2).mean()


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` validations."""

    order = 10

    def __init__(
        self, monitor: str = "valid_loss", patience: int = 2, min_delta: float = 0.0, mode: str = "min"
    ) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.monitor, self.patience, self.min_delta, self.mode = monitor, patience, min_delta, mode
        self.best: float | None = None
        self.wait = 0

    def after_validate(self, trainer) -> None:
        if self.monitor not in trainer.metrics:
            raise KeyError(f"EarlyStopping monitors {self.monitor!r}, but validation reports {sorted(trainer.metrics)}")
        value = trainer.metrics[self.monitor]
        better = self.best is None or (
            value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta
        )
        if better:
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            trainer.request_stop(
                f"early stopping: {self.monitor} has not improved on {self.best:.4f} for {self.wait} validations"
            )

    def state_dict(self) -> dict:
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.wait = state["best"], state["wait"]


class ProgressBar(Callback):
    """tqdm bar over the training steps; ``quiet=True`` prints nothing at all."""

    order = 20

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.bar = None

    def before_fit(self, trainer) -> None:
        if self.quiet or not trainer.is_main:
            return
        from tqdm.auto import tqdm

        self.bar = tqdm(total=trainer.total_steps, initial=trainer.step, unit="step", dynamic_ncols=True, leave=False)

    def after_batch(self, trainer) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{trainer.smooth_loss:.3f}", refresh=False)

    def after_validate(self, trainer) -> None:
        if self.quiet or not trainer.is_main:
            return
        row = trainer.history[-1]
        text = " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items() if k != "time")
        (self.bar.write if self.bar is not None else print)(text)

    def after_fit(self, trainer) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class HistoryWriter(Callback):
    """Write ``history.csv``, ``history.json`` and ``loss.png`` (train and validation loss
    against step) into ``folder`` after every validation; rank 0 only."""

    order = 30

    def __init__(self, folder: str | Path, plot: bool = True) -> None:
        self.folder = Path(folder)
        self.plot = plot

    def after_validate(self, trainer) -> None:
        if trainer.is_main:
            write_history(trainer.history, self.folder, plot=self.plot, step_losses=trainer.step_losses)


def write_history(
    history: list[dict], folder: str | Path, plot: bool = True, step_losses: list[float] | None = None
) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(folder / "history.json", history)
    columns: list[str] = []
    for row in history:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(folder / "history.csv", buffer.getvalue())
    if plot and history:
        atomic_write_bytes(folder / "loss.png", loss_plot_png(history, step_losses))


def loss_plot_png(history: list[dict], step_losses: list[float] | None = None) -> bytes:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    if step_losses:
        ax.plot(
            range(1, len(step_losses) + 1),
            step_losses,
            "-",
            color="tab:blue",
            alpha=0.5,
            linewidth=1,
            label="train loss (smoothed, per step)",
        )
    for key, style in (("train_loss", "o"), ("valid_loss", "-s")):
        points = [
            (r["step"], r[key]) for r in history if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])
        ]
        if points:
            label = "train loss (mean since last validation)" if key == "train_loss" else "validation loss"
            ax.plot(*zip(*points, strict=True), style, label=label, markersize=4)
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


class CheckpointEvery(Callback):
    """Write a checkpoint every ``every_steps`` steps, and at the end of every epoch and of
    training, into ``folder`` (keeping the last ``keep_last``); rank 0 only."""

    order = 40

    def __init__(self, folder: str | Path, every_steps: int | None = None, keep_last: int = 2) -> None:
        self.folder, self.every_steps, self.keep_last = Path(folder), every_steps, keep_last

    def after_batch(self, trainer) -> None:
        if self.every_steps and trainer.step % self.every_steps == 0:
            trainer.save_checkpoint(self.folder, keep_last=self.keep_last)

    def after_epoch(self, trainer) -> None:
        if trainer.last_checkpoint_step != trainer.step:
            trainer.save_checkpoint(self.folder, keep_last=self.keep_last)

    def after_fit(self, trainer) -> None:
        if trainer.error is None and trainer.last_checkpoint_step != trainer.step:
            trainer.save_checkpoint(self.folder, keep_last=self.keep_last)


def describe(callbacks) -> str:
    return json.dumps([type(c).__name__ for c in callbacks])
