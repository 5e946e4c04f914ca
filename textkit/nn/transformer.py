"""A pre-norm Transformer encoder-decoder (Vaswani et al. 2017) for translation.

Reads top to bottom: config, positions, layers, model. Attention runs on
``scaled_dot_product_attention``; padding masks cover every attention over the source; the
decoder is causal. :meth:`TransformerSeq2Seq.encode` returns the decoding state (the source
mask plus every decoder layer's cross-attention keys/values, computed once) and
:meth:`TransformerSeq2Seq.step` extends it with a self-attention KV cache, so
``textkit.decode`` drives it one token at a time. All state tensors are batch-first, so beam
search reorders them with ``textkit.decode.index_state``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from textkit.nn.attention import MultiHeadAttention


@dataclass(frozen=True)
class TransformerConfig:
    src_vocab_size: int
    tgt_vocab_size: int
    pad_index: int  # from the tokenizer (tokenizer.special_ids['pad']); no default
    d_model: int = 256
    n_heads: int = 4
    n_encoder_layers: int = 3
    n_decoder_layers: int = 3
    d_ff: int = 1024
    dropout: float = 0.1
    max_len: int = 256
    positions: str = "sinusoidal"  # or "learned"
    share_embeddings: bool = False  # one embedding for source and target (needs a joint vocabulary)
    tie_embeddings: bool = True  # target embedding = output projection

    def __post_init__(self) -> None:
        if self.positions not in ("sinusoidal", "learned"):
            raise ValueError(f"positions must be 'sinusoidal' or 'learned', got {self.positions!r}")
        if self.share_embeddings and self.src_vocab_size != self.tgt_vocab_size:
            raise ValueError(
                f"share_embeddings needs one joint vocabulary, but src_vocab_size={self.src_vocab_size} "
                f"and tgt_vocab_size={self.tgt_vocab_size}"
            )
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")


def sinusoidal_positions(max_len: int, d_model: int) -> torch.Tensor:
    pos = torch.arange(max_len, dtype=torch.float32)[:, None]  # (L, 1)
    freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))  # (D/2,)
    table = torch.zeros(max_len, d_model)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: d_model // 2])
    return table  # (L, D)


class Positions(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.max_len = config.max_len
        if config.positions == "learned":
            self.table = nn.Embedding(config.max_len, config.d_model)
            nn.init.normal_(self.table.weight, std=0.02)
        else:
            self.register_buffer("fixed", sinusoidal_positions(config.max_len, config.d_model), persistent=False)
            self.table = None

    def forward(self, start: int, length: int) -> torch.Tensor:
        if start + length > self.max_len:
            raise ValueError(
                f"sequence of {start + length} positions is longer than the model's max_len {self.max_len}; "
                "truncate the input (textkit.nn.seq2seq.translate does, with a warning)"
            )
        if self.table is not None:
            return self.table.weight[start : start + length]  # (T, D)
        return self.fixed[start : start + length]


class FeedForward(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.fc1 = nn.Linear(config.d_model, config.d_ff)
        self.fc2 = nn.Linear(config.d_ff, config.d_model)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.dropout(F.gelu(self.fc1(x))))


class EncoderLayer(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(config.d_model), nn.LayerNorm(config.d_model)
        self.attn = MultiHeadAttention(config.d_model, config.n_heads, config.dropout)
        self.ff = FeedForward(config)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # x (B, S, D); mask (B, 1, 1, S)
        x = x + self.dropout(self.attn(self.norm1(x), mask=mask)[0])
        return x + self.dropout(self.ff(self.norm2(x)))


class DecoderLayer(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(config.d_model) for _ in range(3))
        self.self_attn = MultiHeadAttention(config.d_model, config.n_heads, config.dropout)
        self.cross_attn = MultiHeadAttention(config.d_model, config.n_heads, config.dropout)
        self.ff = FeedForward(config)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x, cross_kv, src_mask, past=None, self_mask=None, is_causal=False, need_weights=False):
        # x (B, T, D); cross_kv: (B, H, S, Dh) x2; src_mask (B, 1, 1, S)
        h, new_past, _ = self.self_attn(self.norm1(x), past=past, mask=self_mask, is_causal=is_causal)
        x = x + self.dropout(h)
        h, _, weights = self.cross_attn(self.norm2(x), kv=cross_kv, mask=src_mask, need_weights=need_weights)
        x = x + self.dropout(h)
        return x + self.dropout(self.ff(self.norm3(x))), new_past, weights


class TransformerSeq2Seq(nn.Module):
    """``forward(src (B, S), tgt_in (B, T)) -> logits (B, T, V)``; ``encode`` + ``step`` for
    incremental decoding with a KV cache."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.src_embed = nn.Embedding(c.src_vocab_size, c.d_model, padding_idx=c.pad_index)
        self.tgt_embed = (
            self.src_embed if c.share_embeddings else nn.Embedding(c.tgt_vocab_size, c.d_model, padding_idx=c.pad_index)
        )
        self.positions = Positions(c)
        self.encoder = nn.ModuleList(EncoderLayer(c) for _ in range(c.n_encoder_layers))
        self.decoder = nn.ModuleList(DecoderLayer(c) for _ in range(c.n_decoder_layers))
        self.enc_norm, self.dec_norm = nn.LayerNorm(c.d_model), nn.LayerNorm(c.d_model)
        self.dropout = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.d_model, c.tgt_vocab_size, bias=False)
        self.apply(self._init)
        if c.tie_embeddings:
            self.head.weight = self.tgt_embed.weight

    def _init(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=self.config.d_model**-0.5)
            with torch.no_grad():
                module.weight[self.config.pad_index].zero_()

    def _embed(self, table: nn.Embedding, tokens: torch.Tensor, start: int) -> torch.Tensor:
        x = table(tokens) * math.sqrt(self.config.d_model) + self.positions(start, tokens.size(1))  # (B, T, D)
        return self.dropout(x)

    def source_mask(self, src: torch.Tensor) -> torch.Tensor:
        mask = src != self.config.pad_index  # (B, S)
        empty = (~mask.any(dim=1)).nonzero().flatten().tolist()
        if empty:
            raise ValueError(
                f"source rows {empty[:5]} are all padding; encode every source with a trailing EOS (an empty sentence "
                "is [EOS])"
            )
        return mask

    def encode(self, src: torch.Tensor) -> dict:
        """The initial decoding state for ``src`` (B, S): source mask, cross-attention keys and
        values per decoder layer, an empty self-attention cache, and the position (0)."""
        mask = self.source_mask(src)
        attn_mask = mask[:, None, None, :]  # (B, 1, 1, S)
        x = self._embed(self.src_embed, src, 0)
        for layer in self.encoder:
            x = layer(x, attn_mask)
        memory = self.enc_norm(x)  # (B, S, D)
        cross = [layer.cross_attn.project_kv(memory) for layer in self.decoder]
        return {
            "src_mask": mask,
            "cross_k": [k for k, _ in cross],
            "cross_v": [v for _, v in cross],
            "self_k": None,
            "self_v": None,
            "pos": 0,
        }

    def _decode(self, tgt: torch.Tensor, state: dict, need_weights: bool = False):
        start, t = state["pos"], tgt.size(1)
        x = self._embed(self.tgt_embed, tgt, start)
        src_mask = state["src_mask"][:, None, None, :]
        if start == 0:
            self_mask, is_causal = None, t > 1
        elif t == 1:
            self_mask, is_causal = None, False
        else:  # several new tokens after a cached prefix: causal with an offset
            self_mask, is_causal = (
                torch.ones(t, start + t, dtype=torch.bool, device=tgt.device).tril(diagonal=start),
                False,
            )
        new_k, new_v, weights = [], [], None
        for i, layer in enumerate(self.decoder):
            past = None if state["self_k"] is None else (state["self_k"][i], state["self_v"][i])
            x, (k, v), w = layer(
                x,
                (state["cross_k"][i], state["cross_v"][i]),
                src_mask,
                past,
                self_mask,
                is_causal,
                need_weights=need_weights and i == len(self.decoder) - 1,
            )
            new_k.append(k)
            new_v.append(v)
            weights = w if w is not None else weights
        logits = self.head(self.dec_norm(x))  # (B, T, V)
        new_state = {**state, "self_k": new_k, "self_v": new_v, "pos": start + t}
        return logits, new_state, weights

    def step(self, tokens: torch.Tensor, state: dict) -> tuple[torch.Tensor, dict]:
        """``tokens`` (B, t) continue the target; returns logits (B, t, V) and the state with
        the KV cache extended."""
        logits, state, _ = self._decode(tokens, state)
        return logits, state

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor, return_attention: bool = False):
        """Teacher-forced logits (B, T, V); with ``return_attention`` also the last decoder
        layer's cross-attention averaged over heads (B, T, S)."""
        logits, _, weights = self._decode(tgt_in, self.encode(src), need_weights=return_attention)
        if return_attention:
            return logits, weights.mean(dim=1)
        return logits
