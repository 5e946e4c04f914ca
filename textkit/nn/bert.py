"""A BERT encoder (all-MiniLM-L6-v2, BERT-base), top to bottom in one file.

Embeddings: word + position + token type, summed, then LayerNorm. Post-norm blocks (the
original Transformer's order, which BERT keeps): self-attention over every real position of
the sequence -> residual -> LayerNorm, then a GELU feed-forward -> residual -> LayerNorm.
Attention runs on ``torch.nn.functional.scaled_dot_product_attention`` with an explicit
padding mask, so a padded batch gives, at each real position, the states of each sequence
alone. An optional pooler (a tanh layer over the ``[CLS]`` state) is BERT's next-sentence head.

The numerics follow Hugging Face's ``BertModel`` (exact erf GELU, LayerNorm eps 1e-12,
positions ``0 .. T-1``), so the same weights give the same hidden states
(``bench/encoder_exactness.py`` measures it). The query, key and value projections are one
fused ``Linear`` (``attn.qkv``: one matrix product instead of three); the converter in
``textkit.data.encoders`` stacks Hugging Face's three into it.

``forward(input_ids (B, T), attention_mask (B, T), token_type_ids=None) -> hidden (B, T, H)``;
``pool(hidden) -> (B, H)`` when the config has a pooler. Sentence embeddings (mean over the
mask, L2-normalized) live in :mod:`textkit.nn.sentence`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BertConfig", "BertModel"]


@dataclass(frozen=True)
class BertConfig:
    """A BERT's shape. The defaults are all-MiniLM-L6-v2's (6 layers, 384 wide, 12 heads)."""

    vocab_size: int = 30522
    d_model: int = 384  # Hugging Face's hidden_size
    n_layers: int = 6
    n_heads: int = 12
    d_ff: int = 1536  # intermediate_size
    max_len: int = 512  # max_position_embeddings: the longest sequence, [CLS] and [SEP] included
    type_vocab_size: int = 2
    norm_eps: float = 1e-12
    dropout: float = 0.1  # hidden_dropout_prob (active in training mode only)
    attn_dropout: float = 0.1  # attention_probs_dropout_prob
    pad_id: int = 0
    pooler: bool = True

    def __post_init__(self) -> None:
        ranges = {
            "vocab_size": (1, 1_000_000),
            "d_model": (1, 8192),
            "n_layers": (1, 128),
            "n_heads": (1, 256),
            "d_ff": (1, 65536),
            "max_len": (1, 65536),
            "type_vocab_size": (1, 64),
        }
        for name, (low, high) in ranges.items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise ValueError(f"BertConfig.{name} = {value:,} is outside [{low:,}, {high:,}]")
        if self.d_model % self.n_heads:
            raise ValueError(f"BertConfig.d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        if not 0 < self.norm_eps <= 1e-3:
            raise ValueError(f"BertConfig.norm_eps = {self.norm_eps} is outside (0, 1e-3]")
        for name in ("dropout", "attn_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"BertConfig.{name} = {getattr(self, name)} is outside [0, 1)")
        if not 0 <= self.pad_id < self.vocab_size:
            raise ValueError(f"BertConfig.pad_id = {self.pad_id} is outside the vocabulary [0, {self.vocab_size})")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


class Embeddings(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.word = nn.Embedding(config.vocab_size, config.d_model, padding_idx=config.pad_id)
        self.position = nn.Embedding(config.max_len, config.d_model)
        self.token_type = nn.Embedding(config.type_vocab_size, config.d_model)
        self.norm = nn.LayerNorm(config.d_model, eps=config.norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.size(1), device=input_ids.device)  # (T,)
        x = self.word(input_ids) + self.token_type(token_type_ids) + self.position(positions)  # (B, T, H)
        return self.dropout(self.norm(x))


class SelfAttention(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.n_heads, self.head_dim, self.p = config.n_heads, config.head_dim, config.attn_dropout
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)  # query, key, value stacked
        self.out = nn.Linear(config.d_model, config.d_model)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, h = x.shape  # x (B, T, H); mask (B, 1, 1, T), True where a key is a real token
        q, k, v = self.qkv(x).view(b, t, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)  # 3 x (B, nh, T, Dh)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.p if self.training else 0.0)
        return self.out(out.transpose(1, 2).reshape(b, t, h))  # (B, T, H)


class FeedForward(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.up = nn.Linear(config.d_model, config.d_ff)
        self.down = nn.Linear(config.d_ff, config.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.gelu(self.up(x)))  # the exact (erf) GELU, as BERT's "gelu"


class Block(nn.Module):
    """Post-norm: ``x = norm(x + attn(x))``, then ``x = norm(x + ff(x))``."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.attn = SelfAttention(config)
        self.attn_norm = nn.LayerNorm(config.d_model, eps=config.norm_eps)
        self.ff = FeedForward(config)
        self.ff_norm = nn.LayerNorm(config.d_model, eps=config.norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.attn_norm(x + self.dropout(self.attn(x, mask)))
        return self.ff_norm(x + self.dropout(self.ff(x)))


class Pooler(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.d_model, config.d_model)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(hidden[:, 0]))  # the [CLS] state (B, H)


class BertModel(nn.Module):
    """``forward(input_ids, attention_mask, token_type_ids=None) -> hidden states (B, T, H)``.

    ``attention_mask`` (B, T) is 1 (or True) at real tokens and 0 at padding, which must come
    after the real tokens of each row (right padding) for the positions to be BERT's.
    ``token_type_ids`` defaults to zeros (one segment). States at padded positions are
    computed but mean nothing; pool over the mask."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = Embeddings(config)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.pooler = Pooler(config) if config.pooler else None
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if input_ids.dim() != 2 or input_ids.size(1) == 0:
            raise ValueError(f"input_ids must be (batch, length >= 1), got shape {tuple(input_ids.shape)}")
        if attention_mask.shape != input_ids.shape:
            raise ValueError(
                f"attention_mask has shape {tuple(attention_mask.shape)}, input_ids {tuple(input_ids.shape)}"
            )
        if input_ids.size(1) > self.config.max_len:
            raise ValueError(
                f"{input_ids.size(1)} positions exceed the model's {self.config.max_len}; truncate the texts "
                "(textkit.text.wordpiece.WordPieceTokenizer cuts them with a notice)"
            )
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        mask = attention_mask.bool()[:, None, None, :]  # (B, 1, 1, T): which keys each query may see
        x = self.embed(input_ids, token_type_ids)  # (B, T, H)
        for block in self.blocks:
            x = block(x, mask)
        return x

    def pool(self, hidden: torch.Tensor) -> torch.Tensor:
        """BERT's pooled output (B, H): tanh of a dense layer over the ``[CLS]`` state."""
        if self.pooler is None:
            raise ValueError("this BertConfig has pooler=False: the model has no pooler")
        return self.pooler(hidden)
