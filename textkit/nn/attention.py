"""Attention layers: additive (Bahdanau), multiplicative (Luong) and multi-head attention on
``torch.nn.functional.scaled_dot_product_attention`` with a key/value cache.

Masks are boolean and mean "may attend" (True) throughout, shaped to broadcast against the
scores: ``(B, S)`` key-padding masks for the RNN attentions, ``(B, 1, T|1, S)`` for SDPA.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Softmax over the last dim with ``mask`` False positions excluded. A row with no allowed
    key gets all-zero weights instead of NaN."""
    if mask is None:
        return scores.softmax(dim=-1)
    scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    return torch.nan_to_num(weights, nan=0.0)


class AdditiveAttention(nn.Module):
    """Bahdanau et al. (2015): ``score(s, h) = v^T tanh(W_q s + W_k h)``."""

    def __init__(self, query_size: int, key_size: int, attn_size: int) -> None:
        super().__init__()
        self.query = nn.Linear(query_size, attn_size, bias=False)
        self.key = nn.Linear(key_size, attn_size, bias=True)
        self.v = nn.Linear(attn_size, 1, bias=False)

    def project_keys(self, keys: torch.Tensor) -> torch.Tensor:
        return self.key(keys)  # (B, S, A): computed once per source

    def forward(self, query: torch.Tensor, keys: torch.Tensor, projected_keys: torch.Tensor, mask: torch.Tensor | None):
        # query (B, T, Q), keys (B, S, K), projected_keys (B, S, A), mask (B, S)
        scores = self.v(torch.tanh(self.query(query)[:, :, None, :] + projected_keys[:, None, :, :]))[
            ..., 0
        ]  # (B, T, S)
        weights = masked_softmax(scores, None if mask is None else mask[:, None, :])  # (B, T, S)
        return weights @ keys, weights  # (B, T, K), (B, T, S)


class MultiplicativeAttention(nn.Module):
    """Luong et al. (2015) "general": ``score(s, h) = s^T W h``."""

    def __init__(self, query_size: int, key_size: int) -> None:
        super().__init__()
        self.key = nn.Linear(key_size, query_size, bias=False)

    def project_keys(self, keys: torch.Tensor) -> torch.Tensor:
        return self.key(keys)  # (B, S, Q)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, projected_keys: torch.Tensor, mask: torch.Tensor | None):
        scores = query @ projected_keys.transpose(1, 2)  # (B, T, S)
        weights = masked_softmax(scores, None if mask is None else mask[:, None, :])
        return weights @ keys, weights


class MultiHeadAttention(nn.Module):
    """Multi-head attention. Queries come from ``x``; keys/values from ``x`` (self-attention)
    or from precomputed ``(k, v)`` (cross-attention over an encoder memory, computed once with
    :meth:`project_kv`). ``past`` (k, v) are earlier positions' keys and values (the KV cache);
    the new ones are appended and returned."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.n_heads, self.d_head, self.dropout = n_heads, d_model // n_heads, dropout
        self.q = nn.Linear(d_model, d_model, bias=bias)
        self.kv = nn.Linear(d_model, 2 * d_model, bias=bias)
        self.out = nn.Linear(d_model, d_model, bias=bias)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.n_heads, self.d_head).transpose(1, 2)  # (B, H, T, Dh)

    def project_kv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k, v = self.kv(x).chunk(2, dim=-1)
        return self._heads(k), self._heads(v)  # (B, H, S, Dh) each

    def forward(
        self,
        x: torch.Tensor,
        *,
        kv: tuple[torch.Tensor, torch.Tensor] | None = None,
        past: tuple[torch.Tensor, torch.Tensor] | None = None,
        mask: torch.Tensor | None = None,
        is_causal: bool = False,
        need_weights: bool = False,
    ):
        # x (B, T, D); mask broadcastable to (B, H, T, S), True = may attend
        q = self._heads(self.q(x))  # (B, H, T, Dh)
        if kv is None:
            k, v = self.project_kv(x)
            if past is not None:
                k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
            new_past = (k, v)
        else:
            k, v = kv
            new_past = None
        dropout = self.dropout if self.training else 0.0
        if need_weights:
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.d_head)  # (B, H, T, S)
            if is_causal:
                t, s = scores.shape[-2:]
                causal = torch.ones(t, s, dtype=torch.bool, device=x.device).tril(diagonal=s - t)
                mask = causal if mask is None else mask & causal
            weights = masked_softmax(scores, mask)
            y = F.dropout(weights, dropout, self.training) @ v
        else:
            weights = None
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, dropout_p=dropout, is_causal=is_causal and mask is None
            )
        b, _, t, _ = y.shape
        y = self.out(y.transpose(1, 2).reshape(b, t, -1))  # (B, T, D)
        return y, new_past, weights
