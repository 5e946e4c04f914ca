"""The learning-rate range test (Smith 2015; fastai's ``lr_find``).

Train for up to ``num_it`` batches while the rate grows exponentially from ``start_lr`` to
``end_lr``; record the smoothed loss; stop early once it diverges. The model, optimizer and
RNG states are restored afterwards, so ``lr_find`` leaves the trainer as it found it.
"""

from __future__ import annotations

import copy
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from textkit._io import atomic_write_bytes


@dataclass
class LRFinderResult:
    lrs: list[float]
    losses: list[float]  # smoothed
    suggestion: float  # steepest descent of the smoothed loss
    min_loss_lr: float  # the rate at the minimum loss, divided by 10

    def plot_png(self) -> bytes:
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6, 4))
        ax = fig.subplots()
        ax.plot(self.lrs, self.losses)
        ax.set_xscale("log")
        ax.axvline(self.suggestion, color="tab:red", linestyle="--", label=f"steepest: {self.suggestion:.2e}")
        ax.axvline(self.min_loss_lr, color="tab:green", linestyle=":", label=f"min/10: {self.min_loss_lr:.2e}")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("smoothed training loss")
        ax.legend()
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()


def suggest_lr(lrs: list[float], losses: list[float]) -> tuple[float, float]:
    """(steepest-descent rate, min-loss rate / 10) from a smoothed loss curve."""
    if len(lrs) < 3:
        raise ValueError(f"the LR finder recorded only {len(lrs)} points; give it more batches")
    log_lrs = np.log10(np.asarray(lrs))
    grads = np.gradient(np.asarray(losses), log_lrs)
    cut = max(1, len(lrs) // 10)  # ignore the noisy first points
    steepest = lrs[cut + int(np.argmin(grads[cut:]))] if len(lrs) > cut + 1 else lrs[int(np.argmin(grads))]
    return float(steepest), float(lrs[int(np.argmin(losses))] / 10)


def lr_find(
    trainer,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_it: int = 100,
    stop_div: float = 4.0,
    beta: float = 0.98,
    plot_path: str | Path | None = None,
) -> LRFinderResult:
    if not 0 < start_lr < end_lr:
        raise ValueError(f"need 0 < start_lr < end_lr, got {start_lr}, {end_lr}")
    model_state = copy.deepcopy(trainer.unwrapped_model.state_dict())
    opt_state = copy.deepcopy(trainer.opt.state_dict())
    rng_state = torch.get_rng_state()
    ratios = [g["max_lr"] / trainer.opt.param_groups[-1]["max_lr"] for g in trainer.opt.param_groups]
    lrs, losses = [], []
    avg, best = 0.0, math.inf
    trainer.model.train()
    trainer.task.reset()
    try:
        epoch, it = 0, 0
        while it < num_it:
            produced = False
            for batch in trainer.train_data.batches(epoch):
                produced = True
                lr = start_lr * (end_lr / start_lr) ** (it / max(1, num_it - 1))
                for group, ratio in zip(trainer.opt.param_groups, ratios, strict=True):
                    group["lr"] = lr * ratio
                try:
                    loss = trainer._train_batch(batch, lr_find=True)
                except RuntimeError:  # NonFiniteLossError: diverged
                    break
                it += 1
                avg = beta * avg + (1 - beta) * loss
                smoothed = avg / (1 - beta**it)
                lrs.append(lr)
                losses.append(smoothed)
                best = min(best, smoothed)
                if it >= num_it or (stop_div and smoothed > stop_div * best) or not math.isfinite(smoothed):
                    it = num_it
                    break
            else:
                epoch += 1
                if produced:
                    continue
            break
    finally:
        trainer.unwrapped_model.load_state_dict(model_state)
        trainer.opt.load_state_dict(opt_state)
        torch.set_rng_state(rng_state)
        trainer.opt.zero_grad(set_to_none=True)
        trainer.task.reset()
    steepest, min_lr = suggest_lr(lrs, losses)
    result = LRFinderResult(lrs, losses, steepest, min_lr)
    if plot_path is not None and trainer.is_main:
        atomic_write_bytes(plot_path, result.plot_png())
    return result
