"""Tasks: how a batch becomes a loss, and how a model is evaluated, behind one typed
protocol (``Task``). The trainer owns all training state; a task only computes:

- ``train_step(model, batch, context) -> TaskOutput``: the loss plus what callbacks may
  read (predictions, targets, per-layer outputs for AR/TAR);
- ``eval_step(model, batch, device, carry) -> (sums, carry)``: additive statistics of one
  batch (summed across processes by ``evaluate``) and any state carried to the next batch;
- ``metrics(sums) -> dict``: the metrics from the reduced sums.

``evaluate`` is the one evaluation loop (eval mode, no gradients, autocast, DDP reduction)
that the trainer, recipes and transfer all use.

``LanguageModelTask`` carries the recurrent state from one batch to the next (truncated
BPTT: detached between batches), resets it each epoch, and saves it in checkpoints so a
resumed run continues with exactly the same state.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from textkit.nn.modes import eval_mode
from textkit.nn.seq2seq import scheduled_logits, sequence_loss
from textkit.train.distributed import all_reduce_sum


@dataclass
class TaskOutput:
    """What one training batch produced: the loss to minimise and, for callbacks, the
    predictions, targets and (recurrent models) the per-layer ``(raw, dropped)`` outputs."""

    loss: torch.Tensor
    pred: torch.Tensor | None = None
    target: torch.Tensor | None = None
    hidden: Any = None


@dataclass(frozen=True)
class StepContext:
    """The read-only view of training progress a task may use (scheduled teacher forcing)."""

    device: torch.device
    step: int = 0
    total_steps: int = 0


class Task(Protocol):
    """``sum_keys`` (optional): the keys ``eval_step`` sums, so that all processes reduce the
    same ones even when a shard is empty."""

    def reset(self) -> None: ...

    def train_step(self, model: torch.nn.Module, batch: Any, context: StepContext) -> TaskOutput: ...

    def eval_step(
        self, model: torch.nn.Module, batch: Any, device: torch.device, carry: Any
    ) -> tuple[dict[str, float], Any]: ...

    def metrics(self, sums: dict[str, float]) -> dict[str, float]: ...

    def state_dict(self) -> tuple[dict, dict[str, torch.Tensor]]: ...

    def load_state_dict(self, meta: dict, tensors: dict[str, torch.Tensor], device: torch.device) -> None: ...


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    task: Task,
    data: Any,
    device: torch.device,
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
) -> dict[str, float]:
    """The evaluation loop: every batch of ``data.batches(0)`` in eval mode, statistics summed
    over batches and across processes (DDP), then ``task.metrics``."""
    sums: dict[str, float] = {}
    carry = None
    with eval_mode(model):
        for batch in data.batches(0):
            with autocast():
                batch_sums, carry = task.eval_step(model, batch, device, carry)
            for key, value in batch_sums.items():
                sums[key] = sums.get(key, 0.0) + float(value)
    # every process must reduce the same keys, even one whose shard had no batch
    keys = sorted(getattr(task, "sum_keys", ()) or sums)
    reduced = all_reduce_sum([sums.get(k, 0.0) for k in keys], device)
    return task.metrics(dict(zip(keys, reduced, strict=True)))


def _to_tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.int64)).to(device, non_blocking=True)


def _flatten(state, prefix: str = "state") -> dict[str, torch.Tensor]:
    if state is None:
        return {}
    if isinstance(state, torch.Tensor):
        return {prefix: state}
    out: dict[str, torch.Tensor] = {}
    for i, item in enumerate(state):
        out.update(_flatten(item, f"{prefix}.{i}"))
    return out


def _structure(state):
    if state is None or isinstance(state, torch.Tensor):
        return None
    return [_structure(item) for item in state]


def _unflatten(structure, tensors: dict[str, torch.Tensor], prefix: str = "state"):
    if structure is None:
        return tensors[prefix]
    return [_unflatten(s, tensors, f"{prefix}.{i}") for i, s in enumerate(structure)]


def detach_state(state):
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    return type(state)(detach_state(s) for s in state) if isinstance(state, tuple) else [detach_state(s) for s in state]


class LanguageModelTask:
    """Next-token cross-entropy over ``LMBatch``es; metrics: loss, accuracy, perplexity."""

    sum_keys = ("loss", "correct", "count")

    def __init__(self) -> None:
        self.state = None  # carried recurrent state, detached

    def reset(self) -> None:
        self.state = None

    def train_step(self, model: torch.nn.Module, batch, context: StepContext) -> TaskOutput:
        x = _to_tensor(batch.x, context.device)  # (B, T)
        y = _to_tensor(batch.y, context.device)  # (B, T)
        logits, state, hidden = model(x, self.state, return_hidden=True)
        self.state = detach_state(state)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1))
        return TaskOutput(loss, pred=logits, target=y, hidden=hidden)

    def eval_step(self, model: torch.nn.Module, batch, device: torch.device, carry):
        x, y = _to_tensor(batch.x, device), _to_tensor(batch.y, device)
        logits, carry = model(x, carry)
        logits = logits.float()
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), reduction="sum").item()
        correct = (logits.argmax(-1) == y).sum().item()
        return {"loss": loss, "correct": correct, "count": y.numel()}, carry

    def metrics(self, sums: dict[str, float]) -> dict[str, float]:
        count = max(sums.get("count", 0.0), 1)
        loss = sums.get("loss", 0.0) / count
        return {
            "valid_loss": loss,
            "accuracy": sums.get("correct", 0.0) / count,
            "perplexity": math.exp(min(loss, 700)),
        }

    def state_dict(self) -> tuple[dict, dict[str, torch.Tensor]]:
        """(JSON-able structure, tensors) of the carried state."""
        return {"structure": _structure(self.state), "has_state": self.state is not None}, _flatten(self.state)

    def load_state_dict(self, meta: dict, tensors: dict[str, torch.Tensor], device: torch.device) -> None:
        if not meta.get("has_state"):
            self.state = None
            return
        mine = {k: v.to(device) for k, v in tensors.items() if k == "state" or k.startswith("state.")}
        state = _unflatten(meta["structure"], mine)
        # LSTM states are (h, c) tuples
        if isinstance(state, list) and state and isinstance(state[0], list):
            state = [tuple(s) for s in state]
        self.state = state


class Seq2SeqTask:
    """Translation over ``textkit.data.parallel_text`` batches.

    ``teacher_forcing``: a ratio, or ``(start, end)`` moved linearly over the planned steps
    (the course's scheduled teacher forcing). Metrics: valid loss (no smoothing), perplexity,
    token accuracy."""

    sum_keys = ("loss", "correct", "count")

    def __init__(
        self,
        pad_index: int,
        label_smoothing: float = 0.0,
        teacher_forcing: float | tuple[float, float] = 1.0,
        seed: int = 0,
    ) -> None:
        self.pad_index, self.label_smoothing, self.teacher_forcing = pad_index, label_smoothing, teacher_forcing
        self.generator = torch.Generator().manual_seed(seed)

    def reset(self) -> None:
        pass

    def ratio(self, context: StepContext) -> float:
        if isinstance(self.teacher_forcing, (int, float)):
            return float(self.teacher_forcing)
        start, end = self.teacher_forcing
        frac = min(1.0, context.step / max(1, context.total_steps))
        return start + (end - start) * frac

    def train_step(self, model: torch.nn.Module, batch, context: StepContext) -> TaskOutput:
        src, tgt_in, tgt_out = batch.tensors(context.device)
        logits = scheduled_logits(model, src, tgt_in, self.ratio(context), self.generator)
        return TaskOutput(
            sequence_loss(logits, tgt_out, self.pad_index, self.label_smoothing), pred=logits, target=tgt_out
        )

    def eval_step(self, model: torch.nn.Module, batch, device: torch.device, carry):
        src, tgt_in, tgt_out = batch.tensors(device)
        logits = model(src, tgt_in)
        keep = tgt_out != self.pad_index
        return {
            "loss": sequence_loss(logits, tgt_out, self.pad_index, reduction="sum").item(),
            "correct": ((logits.argmax(-1) == tgt_out) & keep).sum().item(),
            "count": keep.sum().item(),
        }, None

    def metrics(self, sums: dict[str, float]) -> dict[str, float]:
        count = max(sums.get("count", 0.0), 1)
        loss = sums.get("loss", 0.0) / count
        return {
            "valid_loss": loss,
            "perplexity": math.exp(min(loss, 700)),
            "accuracy": sums.get("correct", 0.0) / count,
        }

    def state_dict(self) -> tuple[dict, dict[str, torch.Tensor]]:
        return {}, {"generator": self.generator.get_state()}

    def load_state_dict(self, meta: dict, tensors: dict[str, torch.Tensor], device) -> None:
        if "generator" in tensors:
            self.generator.set_state(tensors["generator"].cpu())


__all__ = ["LanguageModelTask", "Seq2SeqTask", "StepContext", "Task", "TaskOutput", "detach_state", "evaluate"]
