"""Sentence vectors from a sequence model's hidden states: pooled over each row's real
positions of a right-padded batch. The LLM classifier (``textkit.transfer``) and the SEAT
audit of a language model (``textkit.bias``) share it."""

from __future__ import annotations

from collections.abc import Sequence

import torch

POOLINGS = ("last", "mean", "max")

__all__ = ["POOLINGS", "pool_states"]


def pool_states(hidden: torch.Tensor, lengths: torch.Tensor, pooling: Sequence[str] = POOLINGS) -> torch.Tensor:
    """Concatenated poolings of hidden states (B, T, D) over each row's first ``lengths`` positions
    (the rest is padding): ``last`` (the state at ``length - 1``), ``mean``, ``max``; (B, len(pooling) * D)."""
    B, T, _ = hidden.shape
    lengths = lengths.to(hidden.device)
    if lengths.shape != (B,) or bool((lengths < 1).any()) or bool((lengths > T).any()):
        raise ValueError(f"lengths must be (batch,) values in 1..{T}, got {lengths.tolist()}")
    real = torch.arange(T, device=hidden.device)[None, :] < lengths[:, None]  # (B, T)
    out = []
    for name in pooling:
        if name == "last":
            out.append(hidden[torch.arange(B, device=hidden.device), lengths - 1])  # (B, D)
        elif name == "mean":
            out.append((hidden * real.unsqueeze(-1).to(hidden.dtype)).sum(1) / lengths[:, None].to(hidden.dtype))
        elif name == "max":
            out.append(hidden.masked_fill(~real.unsqueeze(-1), float("-inf")).amax(1))
        else:
            raise ValueError(f"unknown pooling {name!r}; use one of {POOLINGS}")
    return torch.cat(out, dim=1)
