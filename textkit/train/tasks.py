"""Tasks: how a batch becomes a loss, and how a model is evaluated. Kept apart from the
trainer so the same loop serves language models now and classifiers later.

``LanguageModelTask`` carries the recurrent state from one batch to the next (truncated
BPTT: detached between batches), resets it each epoch, and saves it in checkpoints so a
resumed run continues with exactly the same state.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from textkit.nn.modes import eval_mode
from textkit.train.distributed import all_reduce_sum


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

    def __init__(self) -> None:
        self.state = None  # carried recurrent state, detached

    def reset(self) -> None:
        self.state = None

    def loss(self, trainer, batch) -> torch.Tensor:
        x = _to_tensor(batch.x, trainer.device)  # (B, T)
        y = _to_tensor(batch.y, trainer.device)  # (B, T)
        logits, state, hidden = trainer.model(x, self.state, return_hidden=True)
        self.state = detach_state(state)
        trainer.pred, trainer.target, trainer.hidden = logits, y, hidden
        return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1))

    @torch.no_grad()
    def evaluate(self, trainer, data) -> dict[str, float]:
        model = trainer.unwrapped_model
        state, total_loss, correct, count = None, 0.0, 0.0, 0.0
        with eval_mode(model):
            for batch in data.batches(0):
                x, y = _to_tensor(batch.x, trainer.device), _to_tensor(batch.y, trainer.device)
                with trainer.autocast():
                    logits, state = model(x, state)
                logits = logits.float()
                total_loss += F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), reduction="sum").item()
                correct += (logits.argmax(-1) == y).sum().item()
                count += y.numel()
        total_loss, correct, count = all_reduce_sum([total_loss, correct, count], trainer.device)
        loss = total_loss / max(count, 1)
        return {"valid_loss": loss, "accuracy": correct / max(count, 1), "perplexity": math.exp(min(loss, 700))}

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
