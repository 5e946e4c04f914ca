"""A Llama-style decoder-only language model (SmolLM2, Llama 2), top to bottom in one file.

Pre-norm blocks: RMSNorm -> grouped-query attention with rotary positions -> residual,
RMSNorm -> SwiGLU feed-forward -> residual; a final RMSNorm and a head tied to the token
embedding. The numerics follow Hugging Face's ``LlamaForCausalLM`` (RMSNorm in float32,
RoPE over the two halves of each head, angles computed in float32), so the same weights give
the same logits.

``forward(ids (B, T), state=None) -> (logits (B, T, V), state)``: ``state`` is the KV cache,
``{"k": [(B, H_kv, C, Dh)] * n_layers, "v": [...], "pos": S, "filled": [S]}``, batch-first:
buffers of a capacity ``C >= S`` (a multiple of :data:`CACHE_CHUNK`, at most ``max_len``) whose
first ``S`` positions hold the keys and values so far. A step writes its new positions into
them in place and attends to the first ``S + T``, so generating a token allocates nothing and
copies no cache (the buffers grow by a chunk, with one copy, when full).
``textkit.decode.generate(model.step, ...)`` extends it one token at a time and beam search
reorders it with ``textkit.decode.index_state`` (which copies the buffers).

States that share buffers share ``filled``, the number of positions written into them: a step
from a state whose ``pos`` is behind it (a second continuation of the same prefix) first copies
the buffers, so every state stays valid for as long as it is kept. Nothing is cached on the
module but the rotary table, a function of the config alone.

:meth:`LlamaLanguageModel.compile_decoding` runs the one-token steps of generation (the blocks
and the final norm, the cache length a symbolic size) through ``torch.compile``: on SmolLM2-135M
q4 at 1 thread it fuses the elementwise work between the matrix products and takes about a
quarter off a token's time, after a compilation of a minute or two. It is opt-in, and where
compiling fails (no C++ compiler, an unsupported torch) the model warns and stays eager.

``textkit.nn.quantize`` may fuse projections that share an input into one quantized matrix:
``Attention.qkv`` (q, k and v side by side, in place of ``q``, ``k``, ``v``) and
``SwiGLU.gate_up`` (gate then up); a model as built or loaded in float32 has neither.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

LlamaState = dict  # {"k": list[Tensor], "v": list[Tensor], "pos": int, "filled": list[int]}
CACHE_CHUNK = 256  # KV cache capacity grows in steps of this many positions


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
        # one fused kernel for Hugging Face's h * rsqrt(mean(h^2) + eps) in float32 (bit for bit
        # the same; bench/llm_exactness.py checks the logits)
        return self.weight * F.rms_norm(x.float(), self.weight.shape, eps=self.eps).to(x.dtype)


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


def _rope(x: torch.Tensor, cos: torch.Tensor, signed_sin: torch.Tensor) -> torch.Tensor:
    """:func:`apply_rope` with the sign of the first half folded into ``signed_sin`` (T, Dh) and
    the halves swapped by one ``roll``: ``x2 * -s`` is ``-x2 * s`` exactly, so the result is
    bit for bit the same, in fewer operations; x (..., T, H, Dh) or (B, H, T, Dh) to match."""
    return x * cos + torch.roll(x, x.size(-1) // 2, dims=-1) * signed_sin


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

    def forward(self, x, cos, sin, cache, start, mask, is_causal):
        """x (B, T, D); cos and signed sin (T, 1, Dh); ``cache`` None (attend to these T
        positions only) or this layer's (k, v) buffers (B, Hkv, C, Dh), into which positions
        ``start .. start + T - 1`` are written before attending to the first ``start + T``."""
        b, t, _ = x.shape
        h, hkv, dh = self.n_heads, self.n_kv_heads, self.head_dim
        if self.qkv is None:
            q = _rope(self.q(x).view(b, t, h, dh), cos, sin).transpose(1, 2)  # (B, H, T, Dh)
            k = _rope(self.k(x).view(b, t, hkv, dh), cos, sin).transpose(1, 2)  # (B, Hkv, T, Dh)
            v = self.v(x).view(b, t, hkv, dh).transpose(1, 2)
        else:  # one matrix; q and k rotated together
            qkv = self.qkv(x).view(b, t, h + 2 * hkv, dh)  # (B, T, H + 2 Hkv, Dh)
            qk = _rope(qkv[:, :, : h + hkv], cos, sin).transpose(1, 2)  # (B, H + Hkv, T, Dh)
            q, k = qk[:, :h], qk[:, h:]
            v = qkv[:, :, h + hkv :].transpose(1, 2)
        if cache is not None:
            end = start + t
            cache[0][:, :, start:end] = k
            cache[1][:, :, start:end] = v
            k, v = cache[0][:, :, :end], cache[1][:, :, :end]  # (B, Hkv, S + T, Dh), views
        # query head h reads key/value head h // (H / Hkv), without copying the cache per group
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=is_causal, enable_gqa=h != hkv
        )  # (B, H, T, Dh)
        return self.o(out.transpose(1, 2).reshape(b, t, h * dh))


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

    def forward(self, x, cos, sin, cache, start, mask, is_causal):
        x = x + self.attn(self.attn_norm(x), cos, sin, cache, start, mask, is_causal)
        return x + self.mlp(self.mlp_norm(x))


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
        self._rope_table: dict[tuple[torch.device, torch.dtype], tuple[torch.Tensor, torch.Tensor]] = {}
        self._decode_blocks = None  # the compiled one-token path (compile_decoding), or None: eager

    def compile_decoding(self, check: bool = True) -> LlamaLanguageModel:
        """Run one-token steps (``T == 1`` after a cached prefix, no gradients) through
        ``torch.compile(dynamic=True)`` from now on; prompts and training stay eager. With
        ``check`` it compiles at once on a two-token state and falls back to eager, with a
        warning, if that fails. Returns the model."""
        import warnings

        compiled = torch.compile(self._blocks_one_token, dynamic=True)
        if check:
            try:
                with torch.no_grad():
                    ids = torch.zeros(1, 1, dtype=torch.long, device=self.embed.weight.device)
                    _, state = self.features(ids)
                    x = self.embed(ids)
                    cos, sin = self.rope(1, 1, x.device, x.dtype)
                    compiled(x, cos, sin, state["k"], state["v"], 1)
            except Exception as exc:  # noqa: BLE001 - any compiler failure means: stay eager
                warnings.warn(f"torch.compile failed ({type(exc).__name__}: {exc}); decoding stays eager", stacklevel=2)
                return self
        self._decode_blocks = compiled
        return self

    def _blocks_one_token(self, x, cos, sin, ks, vs, start):
        for block, k, v in zip(self.blocks, ks, vs, strict=True):
            x = block(x, cos, sin, (k, v), start, None, False)
        return self.norm(x)

    def tie_weights(self) -> None:
        """Share the token embedding with the output head (when the config ties them); loading
        with ``assign=True`` replaces the embedding's parameter and calls this again."""
        if self.config.tie_embeddings:
            self.head.weight = self.embed.weight

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)

    def rope(self, start: int, length: int, device: torch.device, dtype: torch.dtype):
        """cos and sign-folded sin (T, 1, Dh) of positions ``start .. start + length - 1`` in
        ``dtype``: rows of a table computed once per device and dtype by :func:`rope_angles`
        in float32 (its rows are bit for bit what a call for those positions gives)."""
        key = (device, dtype)
        if key not in self._rope_table:
            # built outside inference mode: a table first made under torch.inference_mode (a
            # prediction) must still serve training afterwards, which autograd refuses otherwise
            with torch.inference_mode(False):
                cos, sin = rope_angles(self.config, 0, self.config.max_len, device)  # (max_len, Dh)
                half = self.config.head_dim // 2
                signed = torch.cat([-sin[:, :half], sin[:, half:]], dim=-1)
                self._rope_table[key] = (cos.to(dtype)[:, None], signed.to(dtype)[:, None])
        cos, sin = self._rope_table[key]
        return cos[start : start + length], sin[start : start + length]

    def _cache(self, state: LlamaState | None, batch: int, t: int, like: torch.Tensor):
        """(start, k buffers, v buffers, filled) with room for ``t`` more positions: ``state``'s
        own buffers when they have room and no other continuation wrote past its ``pos``, a
        copy otherwise, new ones without a state."""
        c = self.config
        start = 0 if state is None else int(state["pos"])
        capacity = min(c.max_len, -(-(start + t) // CACHE_CHUNK) * CACHE_CHUNK)
        if state is not None:
            ks, vs, filled = state["k"], state["v"], state["filled"]
            if ks[0].size(0) != batch:
                raise ValueError(f"the state holds {ks[0].size(0)} rows, the ids {batch}")
            if filled[0] == start and ks[0].size(2) >= start + t:
                return start, ks, vs, filled
        shape = (batch, c.n_kv_heads, capacity, c.head_dim)
        new_k = [like.new_zeros(shape) for _ in range(c.n_layers)]
        new_v = [like.new_zeros(shape) for _ in range(c.n_layers)]
        if state is not None:  # grow, or fork from a prefix another continuation wrote past
            for new, old in zip(new_k + new_v, state["k"] + state["v"], strict=True):
                new[:, :, :start] = old[:, :, :start]
        return start, new_k, new_v, [start]

    def features(self, ids: torch.Tensor, state: LlamaState | None = None) -> tuple[torch.Tensor, LlamaState]:
        """Final (normed) hidden states (B, T, D) of ``ids`` after the cached prefix in ``state``."""
        if ids.dim() != 2 or ids.size(1) == 0:
            raise ValueError(f"ids must be (batch, length >= 1) token ids, got shape {tuple(ids.shape)}")
        b, t = ids.shape
        start = 0 if state is None else int(state["pos"])
        if start + t > self.config.max_len:
            raise ValueError(
                f"{start + t} positions exceed the model's context of {self.config.max_len} tokens; "
                "shorten the prompt or generate fewer tokens"
            )
        x = self.embed(ids)  # (B, T, D)
        start, ks, vs, filled = self._cache(state, b, t, x)
        cos, sin = self.rope(start, t, ids.device, x.dtype)  # once, not per block
        if start == 0 or t == 1:  # no cache, or one new token that may see everything before it
            mask, is_causal = None, start == 0 and t > 1
        else:  # several new tokens after a cached prefix: causal with an offset
            mask = torch.ones(t, start + t, dtype=torch.bool, device=ids.device).tril(diagonal=start)
            is_causal = False
        if self._decode_blocks is not None and t == 1 and start > 0 and not torch.is_grad_enabled():
            x = self._decode_blocks(x, cos, sin, ks, vs, start)
        else:
            for block, k, v in zip(self.blocks, ks, vs, strict=True):
                x = block(x, cos, sin, (k, v), start, mask, is_causal)
            x = self.norm(x)
        filled[0] = start + t
        return x, {"k": ks, "v": vs, "pos": start + t, "filled": filled}

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
        cos, sin = self.rope(0, x.size(1), x.device, x.dtype)
        for block in self.blocks[first:last]:
            x = block(x, cos, sin, None, 0, None, x.size(1) > 1)
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
