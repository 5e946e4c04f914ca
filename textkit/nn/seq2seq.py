"""GRU encoder-decoders for translation, plus the pieces every seq2seq model here shares: the
loss (with label smoothing and scheduled teacher forcing), a trainer task, and saving/loading
with the tokenizers (architecture names: ``textkit.nn.registry.TRANSLATION_MODELS``).

Every model has the same three entry points:

- ``forward(src (B, S), tgt_in (B, T)) -> logits (B, T, V)`` (teacher forcing);
- ``encode(src) -> state``: a dict of batch-first tensors (source mask, memory, hidden state);
- ``step(tokens (B, t), state) -> (logits (B, t, V), state)``: the decoder, one or more tokens
  at a time, which is what ``textkit.decode.generate`` drives (decoding a whole test set is
  ``textkit.recipes.translation.translate``; models never decode themselves).

Sources end with EOS (an empty sentence is ``[EOS]``), targets are ``[BOS] ... [EOS]``; padding
(``pad_index``) is masked in the encoder (packed sequences) and in attention.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from textkit.nn.attention import AdditiveAttention, MultiplicativeAttention


@dataclass(frozen=True)
class Seq2SeqGRUConfig:
    src_vocab_size: int
    tgt_vocab_size: int
    pad_index: int  # from the tokenizer (tokenizer.special_ids['pad']); no default
    emb_size: int = 256
    hidden_size: int = 256
    n_layers: int = 1
    dropout: float = 0.1
    max_len: int = 256


@dataclass(frozen=True)
class Seq2SeqAttentionConfig:
    src_vocab_size: int
    tgt_vocab_size: int
    pad_index: int  # from the tokenizer (tokenizer.special_ids['pad']); no default
    emb_size: int = 256
    hidden_size: int = 256
    n_layers: int = 1
    dropout: float = 0.1
    attention: str = "luong"  # or "bahdanau"
    max_len: int = 256

    def __post_init__(self) -> None:
        if self.attention not in ("bahdanau", "luong"):
            raise ValueError(f"attention must be 'bahdanau' or 'luong', got {self.attention!r}")


def _source_lengths(src: torch.Tensor, pad_index: int) -> torch.Tensor:
    mask = src != pad_index  # (B, S)
    lengths = mask.sum(dim=1)
    empty = (lengths == 0).nonzero().flatten().tolist()
    if empty:
        raise ValueError(
            f"source rows {empty[:5]} are all padding; encode every source with a trailing EOS (an empty sentence is "
            "[EOS])"
        )
    return lengths


def _run_encoder(rnn: nn.GRU, x: torch.Tensor, lengths: torch.Tensor):
    """Packed GRU over padded ``x`` (B, S, E): padding changes neither outputs nor final state."""
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    out, hidden = rnn(packed)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
    return out, hidden  # (B, S, H * dirs), (L * dirs, B, H)


class Seq2SeqGRU(nn.Module):
    """Sutskever/Cho-style GRU encoder-decoder: the encoder's final state starts the decoder,
    and its top layer (the "context") is fed with every decoder input."""

    def __init__(self, config: Seq2SeqGRUConfig) -> None:
        super().__init__()
        self.config = c = config
        self.src_embed = nn.Embedding(c.src_vocab_size, c.emb_size, padding_idx=c.pad_index)
        self.tgt_embed = nn.Embedding(c.tgt_vocab_size, c.emb_size, padding_idx=c.pad_index)
        drop = c.dropout if c.n_layers > 1 else 0.0
        self.encoder = nn.GRU(c.emb_size, c.hidden_size, c.n_layers, batch_first=True, dropout=drop)
        self.decoder = nn.GRU(c.emb_size + c.hidden_size, c.hidden_size, c.n_layers, batch_first=True, dropout=drop)
        self.dropout = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden_size, c.tgt_vocab_size)

    def encode(self, src: torch.Tensor) -> dict:
        lengths = _source_lengths(src, self.config.pad_index)
        _, hidden = _run_encoder(self.encoder, self.dropout(self.src_embed(src)), lengths)  # (L, B, H)
        return {"hidden": hidden.transpose(0, 1).contiguous(), "context": hidden[-1]}  # (B, L, H), (B, H)

    def step(self, tokens: torch.Tensor, state: dict) -> tuple[torch.Tensor, dict]:
        x = self.dropout(self.tgt_embed(tokens))  # (B, t, E)
        ctx = state["context"][:, None, :].expand(-1, tokens.size(1), -1)  # (B, t, H)
        out, hidden = self.decoder(torch.cat([x, ctx], dim=-1), state["hidden"].transpose(0, 1).contiguous())
        logits = self.head(self.dropout(out))  # (B, t, V)
        return logits, {**state, "hidden": hidden.transpose(0, 1)}

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        return self.step(tgt_in, self.encode(src))[0]


class Seq2SeqAttention(nn.Module):
    """Bidirectional GRU encoder + attention decoder.

    ``attention="bahdanau"``: additive attention from the previous decoder state; the context
    joins the decoder input (Bahdanau et al. 2015), so the decoder runs step by step.
    ``attention="luong"``: multiplicative ("general") attention from the current decoder state,
    ``tanh(W [s; c])`` before the output layer (Luong et al. 2015, without input feeding), so
    training runs the decoder GRU over the whole target at once."""

    def __init__(self, config: Seq2SeqAttentionConfig) -> None:
        super().__init__()
        self.config = c = config
        h = c.hidden_size
        self.src_embed = nn.Embedding(c.src_vocab_size, c.emb_size, padding_idx=c.pad_index)
        self.tgt_embed = nn.Embedding(c.tgt_vocab_size, c.emb_size, padding_idx=c.pad_index)
        drop = c.dropout if c.n_layers > 1 else 0.0
        self.encoder = nn.GRU(c.emb_size, h, c.n_layers, batch_first=True, dropout=drop, bidirectional=True)
        self.bridge = nn.Linear(2 * h, h)
        if c.attention == "bahdanau":
            self.attention = AdditiveAttention(h, 2 * h, h)
            self.decoder = nn.GRU(c.emb_size + 2 * h, h, c.n_layers, batch_first=True, dropout=drop)
            self.combine = nn.Linear(h + 2 * h + c.emb_size, h)
        else:
            self.attention = MultiplicativeAttention(h, 2 * h)
            self.decoder = nn.GRU(c.emb_size, h, c.n_layers, batch_first=True, dropout=drop)
            self.combine = nn.Linear(h + 2 * h, h)
        self.dropout = nn.Dropout(c.dropout)
        self.head = nn.Linear(h, c.tgt_vocab_size)

    def encode(self, src: torch.Tensor) -> dict:
        lengths = _source_lengths(src, self.config.pad_index)
        memory, hidden = _run_encoder(
            self.encoder, self.dropout(self.src_embed(src)), lengths
        )  # (B, S, 2H), (2L, B, H)
        layers = hidden.view(self.config.n_layers, 2, hidden.size(1), -1)  # (L, 2, B, H)
        init = torch.tanh(self.bridge(torch.cat([layers[:, 0], layers[:, 1]], dim=-1)))  # (L, B, H)
        return {
            "hidden": init.transpose(0, 1).contiguous(),  # (B, L, H)
            "memory": memory,
            "keys": self.attention.project_keys(memory),
            "src_mask": src != self.config.pad_index,
        }

    def _step(self, tokens: torch.Tensor, state: dict):
        x = self.dropout(self.tgt_embed(tokens))  # (B, t, E)
        hidden = state["hidden"].transpose(0, 1).contiguous()  # (L, B, H)
        memory, keys, mask = state["memory"], state["keys"], state["src_mask"]
        if self.config.attention == "luong":
            out, hidden = self.decoder(x, hidden)  # (B, t, H)
            context, weights = self.attention(out, memory, keys, mask)  # (B, t, 2H), (B, t, S)
            combined = torch.tanh(self.combine(torch.cat([out, context], dim=-1)))
        else:
            outs, contexts, all_weights = [], [], []
            for i in range(tokens.size(1)):
                context, weights = self.attention(hidden[-1][:, None, :], memory, keys, mask)  # (B, 1, 2H)
                out, hidden = self.decoder(torch.cat([x[:, i : i + 1], context], dim=-1), hidden)
                outs.append(out)
                contexts.append(context)
                all_weights.append(weights)
            out, context, weights = torch.cat(outs, 1), torch.cat(contexts, 1), torch.cat(all_weights, 1)
            combined = torch.tanh(self.combine(torch.cat([out, context, x], dim=-1)))
        logits = self.head(self.dropout(combined))  # (B, t, V)
        return logits, {**state, "hidden": hidden.transpose(0, 1)}, weights

    def step(self, tokens: torch.Tensor, state: dict) -> tuple[torch.Tensor, dict]:
        logits, state, _ = self._step(tokens, state)
        return logits, state

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor, return_attention: bool = False):
        """Teacher-forced logits (B, T, V); with ``return_attention`` also the weights (B, T, S)."""
        logits, _, weights = self._step(tgt_in, self.encode(src))
        return (logits, weights) if return_attention else logits


# -- loss and training task -------------------------------------------------------------------


def sequence_loss(
    logits: torch.Tensor, target: torch.Tensor, pad_index: int, label_smoothing: float = 0.0, reduction: str = "mean"
) -> torch.Tensor:
    """Cross-entropy over non-pad target positions (B, T), with optional label smoothing."""
    return F.cross_entropy(
        logits.float().reshape(-1, logits.size(-1)),
        target.reshape(-1),
        ignore_index=pad_index,
        label_smoothing=label_smoothing,
        reduction=reduction,
    )


def scheduled_logits(
    model: nn.Module, src: torch.Tensor, tgt_in: torch.Tensor, teacher_forcing: float, generator: torch.Generator | None
) -> torch.Tensor:
    """Decoder logits (B, T, V) where each input after the first is the gold token with
    probability ``teacher_forcing`` and the model's own previous argmax otherwise (scheduled
    sampling, Bengio et al. 2015). ``teacher_forcing=1`` is one teacher-forced forward pass."""
    if not 0.0 <= teacher_forcing <= 1.0:
        raise ValueError(f"teacher_forcing must be in [0, 1], got {teacher_forcing}")
    if teacher_forcing >= 1.0:
        return model(src, tgt_in)
    state = model.encode(src)
    batch, length = tgt_in.shape
    coins = torch.rand(batch, length, generator=generator).to(tgt_in.device) < teacher_forcing  # (B, T)
    token = tgt_in[:, :1]
    outs = []
    for t in range(length):
        logits, state = model.step(token, state)  # (B, 1, V)
        outs.append(logits)
        if t + 1 < length:
            token = torch.where(coins[:, t + 1 : t + 2], tgt_in[:, t + 1 : t + 2], logits.argmax(-1))
    return torch.cat(outs, dim=1)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters, counting tied/shared weights once."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters() if p.requires_grad}.values())
