"""The regularizers of AWD-LSTM (Merity et al. 2017), each a few lines.

- ``embedding_dropout``: drop whole words (rows of the embedding matrix), so every
  occurrence of a dropped word in the batch is zeroed.
- ``LockedDropout``: variational dropout, one mask per sequence shared across time.
- ``weight_drop``: DropConnect on a weight matrix (used on LSTM hidden-to-hidden weights).

All of them are identity in eval mode and scale kept units by ``1 / (1 - p)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _check_p(p: float, name: str) -> None:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {p}")


def embedding_dropout(weight: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Zero whole rows of ``weight`` (V, C) with probability ``p``; scale the rest by 1/(1-p)."""
    if not training or p == 0.0:
        return weight
    mask = weight.new_empty((weight.size(0), 1)).bernoulli_(1 - p) / (1 - p)  # (V, 1)
    return weight * mask


def locked_dropout_mask(x: torch.Tensor, p: float) -> torch.Tensor:
    """A (B, 1, C) mask for x (B, T, C): the same units are dropped at every time step."""
    return x.new_empty((x.size(0), 1, x.size(2))).bernoulli_(1 - p) / (1 - p)


class LockedDropout(nn.Module):
    """Variational dropout over (B, T, C): one mask per sequence, locked across time."""

    def __init__(self, p: float) -> None:
        super().__init__()
        _check_p(p, "LockedDropout p")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> (B, T, C)
        if not self.training or self.p == 0.0:
            return x
        return x * locked_dropout_mask(x, self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def weight_drop(weight: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """DropConnect: drop individual weights, a fresh mask each forward pass (one per batch)."""
    if not training or p == 0.0:
        return weight
    return F.dropout(weight, p=p, training=True)
