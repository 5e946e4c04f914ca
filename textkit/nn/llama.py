"""A Llama-style decoder-only language model (SmolLM2, Llama 2), top to bottom in one file.

Pre-norm blocks: RMSNorm -> grouped-query attention with rotary positions -> residual,
RMSNorm -> SwiGLU feed-forward -> residual; a final RMSNorm and a head tied to the token
embedding. The numerics follow Hugging Face's ``LlamaForCausalLM`` (RMSNorm in float32,
RoPE over the two halves of each head, angles computed in float32), so the same weights give
the same logits.

``forward(ids (B, T), state=None) -> (logits (B, T, V), state)``: ``state`` is the KV cache,
``{"k": [(B, H_kv, S, Dh)] * n_layers, "v": [...], "pos": S}``, batch-first, so
``textkit.decode.generate(model.step, ...)`` extends it one token at a time and beam search
reorders it with ``textkit.decode.index_state``. Nothing is cached on the module.

``textkit.nn.quantize`` may fuse projections that share an input into one quantized matrix:
``Attention.qkv`` (q, k and v side by side, in place of ``q``, ``k``, ``v``) and
``SwiGLU.gate_up`` (gate then up); a model as built or loaded in float32 has neither.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

LlamaState = dict  # {"k": list[Tensor], "v": list[Tensor], "pos": int}


@dataclass(frozen=True)
class LlamaConfig:
    vocab_size: int
    d_model: int = 576
    n_layers: int = 30
    n_heads: int = 9
    n_kv_heads: int = 3  # grouped-query attention: n_heads // n_kv_heads query heads share one key/value head
    d_ff: int = 1536
    rope_base: float = 10000.0
    norm_eps: float = 1e-5
    max_len: int = 2048  # the context length the model was trained for
    tie_embeddings: bool = True

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads {self.n_heads} is not a multiple of n_kv_heads {self.n_kv_heads}")
        if (self.d_model // self.n_heads) % 2:
            raise ValueError(f"the head dimension {self.d_model // self.n_heads} must be even for RoPE")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)


def rope_angles(
    config: LlamaConfig, start: int, length: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin (T, Dh) of positions ``start .. start + length - 1``, in float32."""
    dim = config.head_dim
    inv_freq = 1.0 / (config.rope_base ** (torch.arange(0, dim, 2, device=device).float() / dim))  # (Dh/2,)
    pos = torch.arange(start, start + length, device=device).float()  # (T,)
    freqs = pos[:, None] * inv_freq[None, :]  # (T, Dh/2)
    angles = torch.cat([freqs, freqs], dim=-1)  # (T, Dh)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each head's (i, i + Dh/2) pairs; x (B, H, T, Dh), cos/sin (T, Dh)."""
    half = x.size(-1) // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos.to(x.dtype) + rotated * sin.to(x.dtype)


class Attention(nn.Module):
    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        c = config
        self.n_heads, self.n_kv_heads, self.head_dim = c.n_heads, c.n_kv_heads, c.head_dim
        self.q = nn.Linear(c.d_model, c.n_heads * c.head_dim, bias=False)
        self.k = nn.Linear(c.d_model, c.n_kv_heads * c.head_dim, bias=False)
        self.v = nn.Linear(c.d_model, c.n_kv_heads * c.head_dim, bias=False)
        self.o = nn.Linear(c.n_heads * c.head_dim, c.d_model, bias=False)
        self.qkv: nn.Module | None = None  # a fused q/k/v projection (textkit.nn.quantize), replacing q, k, v

    def forward(self, x, cos, sin, past, mask, is_causal):
        b, t, _ = x.shape  # x (B, T, D)
        if self.qkv is None:
            q, k, v = self.q(x), self.k(x), self.v(x)
        else:
            kv = self.n_kv_heads * self.head_dim
            q, k, v = self.qkv(x).split([self.n_heads * self.head_dim, kv, kv], dim=-1)
        q = q.view(b, t, self.n_heads, self.head_dim).transpose(1, 2)  # (B, H, T, Dh)
        k = k.view(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2)  # (B, Hkv, T, Dh)
        v = v.view(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)  # (B, Hkv, S + T, Dh)
            v = torch.cat([past[1], v], dim=2)
        # query head h reads key/value head h // (H / Hkv), without copying the cache per group
        gqa = self.n_heads != self.n_kv_heads
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=is_causal, enable_gqa=gqa
        )  # (B, H, T, Dh)
        return self.o(out.transpose(1, 2).reshape(b, t, -1)), (k, v)


class SwiGLU(nn.Module):
    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.gate = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.up = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.down = nn.Linear(config.d_ff, config.d_model, bias=False)
        self.gate_up: nn.Module | None = None  # a fused gate/up projection (textkit.nn.quantize), replacing both

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gate_up is None:
            return self.down(F.silu(self.gate(x)) * self.up(x))
        gate, up = self.gate_up(x).chunk(2, dim=-1)  # (B, T, F) each
        return self.down(F.silu(gate) * up)


class Block(nn.Module):
    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(config.d_model, config.norm_eps)
        self.attn = Attention(config)
        self.mlp_norm = RMSNorm(config.d_model, config.norm_eps)
        self.mlp = SwiGLU(config)

    def forward(self, x, cos, sin, past, mask, is_causal):
        h, new_past = self.attn(self.attn_norm(x), cos, sin, past, mask, is_causal)
        x = x + h
        return x + self.mlp(self.mlp_norm(x)), new_past


class LlamaLanguageModel(nn.Module):
    """``forward(ids (B, T), state=None) -> (logits (B, T, V), state)``; ``features`` gives the
    final hidden states (B, T, D) instead of logits."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.norm = RMSNorm(config.d_model, config.norm_eps)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.apply(self._init)
        self.tie_weights()

    def tie_weights(self) -> None:
        """Share the token embedding with the output head (when the config ties them); loading
        with ``assign=True`` replaces the embedding's parameter and calls this again."""
        if self.config.tie_embeddings:
            self.head.weight = self.embed.weight

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)

    def features(self, ids: torch.Tensor, state: LlamaState | None = None) -> tuple[torch.Tensor, LlamaState]:
        """Final (normed) hidden states (B, T, D) of ``ids`` after the cached prefix in ``state``."""
        if ids.dim() != 2 or ids.size(1) == 0:
            raise ValueError(f"ids must be (batch, length >= 1) token ids, got shape {tuple(ids.shape)}")
        start, t = (0, ids.size(1)) if state is None else (int(state["pos"]), ids.size(1))
        if start + t > self.config.max_len:
            raise ValueError(
                f"{start + t} positions exceed the model's context of {self.config.max_len} tokens; "
                "shorten the prompt or generate fewer tokens"
            )
        x = self.embed(ids)  # (B, T, D)
        cos, sin = (a.to(x.dtype) for a in rope_angles(self.config, start, t, ids.device))  # once, not per block
        if start == 0 or t == 1:  # no cache, or one new token that may see everything before it
            mask, is_causal = None, start == 0 and t > 1
        else:  # several new tokens after a cached prefix: causal with an offset
            mask = torch.ones(t, start + t, dtype=torch.bool, device=ids.device).tril(diagonal=start)
            is_causal = False
        new_k, new_v = [], []
        for i, block in enumerate(self.blocks):
            past = None if state is None else (state["k"][i], state["v"][i])
            x, (k, v) = block(x, cos, sin, past, mask, is_causal)
            new_k.append(k)
            new_v.append(v)
        return self.norm(x), {"k": new_k, "v": new_v, "pos": start + t}

    def run_blocks(self, x: torch.Tensor, first: int = 0, last: int | None = None) -> torch.Tensor:
        """The residual stream (B, T, D) after blocks ``first .. last - 1``, given the stream
        ``x`` before block ``first`` (``self.embed(ids)`` for ``first=0``): whole sequences from
        position 0, causal, no KV cache, no final norm. Classifiers use it to run a frozen
        bottom once and a trainable top many times. Right padding is exact without a key mask:
        attention is causal, so a real position never sees the padding after it."""
        if x.dim() != 3 or x.size(1) == 0 or x.size(2) != self.config.d_model:
            raise ValueError(f"x must be (batch, length >= 1, {self.config.d_model}), got shape {tuple(x.shape)}")
        if x.size(1) > self.config.max_len:
            raise ValueError(f"{x.size(1)} positions exceed the model's context of {self.config.max_len} tokens")
        cos, sin = rope_angles(self.config, 0, x.size(1), x.device)
        for block in self.blocks[first:last]:
            x, _ = block(x, cos, sin, None, None, x.size(1) > 1)
        return x

    def forward(self, ids: torch.Tensor, state: LlamaState | None = None) -> tuple[torch.Tensor, LlamaState]:
        hidden, state = self.features(ids, state)
        return self.head(hidden), state  # (B, T, V)

    def step(self, tokens: torch.Tensor, state: LlamaState | None) -> tuple[torch.Tensor, LlamaState]:
        """The ``textkit.decode`` step function: logits (B, V) of the last position only (a
        prompt's other positions need no vocabulary projection), no gradients, the KV cache
        extended."""
        with torch.no_grad():
            hidden, state = self.features(tokens, state)
            return self.head(hidden[:, -1]), state  # (B, V)
