"""GRU language model, plus a GRU written from scratch (the course's "implementing a GRU").

``GRUCell`` uses exactly ``nn.GRU``'s parameter layout and gate order (reset, update, new),
so weights copy across and the outputs match to float precision:

    r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
    z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
    n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    h' = (1 - z) * n + z * h

``GRULanguageModel`` runs the fused ``nn.GRU`` kernel by default (``impl="fused"``) or the
scratch layer (``impl="scratch"``); both have the same parameter names.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from textkit.nn.dropout import LockedDropout, embedding_dropout


class GRUCell(nn.Module):
    """One GRU step: x (B, I), h (B, H) -> h' (B, H)."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(3 * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(3 * hidden_size))
        bound = hidden_size**-0.5
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        gi = x @ self.weight_ih.T + self.bias_ih  # (B, 3H)
        gh = h @ self.weight_hh.T + self.bias_hh  # (B, 3H)
        i_r, i_z, i_n = gi.chunk(3, dim=1)
        h_r, h_z, h_n = gh.chunk(3, dim=1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        return (1 - z) * n + z * h


class ScratchGRU(nn.Module):
    """A multi-layer, batch-first GRU built from ``GRUCell``s. Parameter names match
    ``nn.GRU`` (``weight_ih_l0`` ...), so ``load_state_dict`` works in both directions."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.cells = [GRUCell(input_size if i == 0 else hidden_size, hidden_size) for i in range(num_layers)]
        for i, cell in enumerate(self.cells):  # register under nn.GRU's names
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                self.register_parameter(f"{name}_l{i}", getattr(cell, name))

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None):
        """x (B, T, I), h0 (L, B, H) -> (out (B, T, H), h_n (L, B, H))."""
        B, T, _ = x.shape
        if h0 is None:
            h0 = x.new_zeros(self.num_layers, B, self.hidden_size)
        layer_in, finals = x, []
        for i, cell in enumerate(self.cells):
            h, outs = h0[i], []
            for t in range(T):
                h = cell(layer_in[:, t], h)  # (B, H)
                outs.append(h)
            layer_in = torch.stack(outs, dim=1)  # (B, T, H)
            finals.append(h)
        return layer_in, torch.stack(finals, dim=0)


@dataclass(frozen=True)
class GRUConfig:
    vocab_size: int
    pad_index: int  # from the tokenizer pipeline (pipeline.pad_index); no default
    emb_size: int = 400
    hidden_size: int = 1152
    n_layers: int = 3
    embed_p: float = 0.1
    input_p: float = 0.5
    hidden_p: float = 0.2  # between GRU layers (nn.GRU's own dropout: not locked)
    output_p: float = 0.1
    drop_mult: float = 1.0
    tie_weights: bool = True
    impl: str = "fused"  # "fused" (nn.GRU) or "scratch" (GRUCell loop)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "emb_size", "hidden_size", "n_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"GRUConfig.{name} must be a positive int, got {value!r}")
        if not 0 <= self.pad_index < self.vocab_size:
            raise ValueError(f"GRUConfig.pad_index={self.pad_index} is outside the vocabulary (size {self.vocab_size})")
        if self.impl not in ("fused", "scratch"):
            raise ValueError(f"GRUConfig.impl must be 'fused' or 'scratch', got {self.impl!r}")
        for name in ("embed_p", "input_p", "hidden_p", "output_p"):
            p = getattr(self, name) * self.drop_mult
            if not 0.0 <= p < 1.0:
                raise ValueError(f"GRUConfig.{name} * drop_mult = {p} must be in [0, 1)")

    def p(self, name: str) -> float:
        return getattr(self, name) * self.drop_mult


class GRULanguageModel(nn.Module):
    """Embedding -> GRU stack -> (projection if tied and sizes differ) -> tied decoder.

    ``forward(x, state=None) -> (logits (B, T, V), state (L, B, H))``.
    """

    def __init__(self, config: GRUConfig) -> None:
        super().__init__()
        self.config = c = config
        self.embedding = nn.Embedding(c.vocab_size, c.emb_size, padding_idx=c.pad_index)
        if c.impl == "fused":
            self.rnn = nn.GRU(
                c.emb_size,
                c.hidden_size,
                c.n_layers,
                batch_first=True,
                dropout=c.p("hidden_p") if c.n_layers > 1 else 0.0,
            )
        else:
            if c.p("hidden_p") > 0 and c.n_layers > 1:
                raise ValueError("GRUConfig impl='scratch' does not implement hidden_p between layers; set hidden_p=0")
            self.rnn = ScratchGRU(c.emb_size, c.hidden_size, c.n_layers)
        self.input_dropout = LockedDropout(c.p("input_p"))
        self.output_dropout = LockedDropout(c.p("output_p"))
        self.proj = (
            nn.Linear(c.hidden_size, c.emb_size) if c.tie_weights and c.hidden_size != c.emb_size else nn.Identity()
        )
        self.decoder = nn.Linear(c.emb_size if c.tie_weights else c.hidden_size, c.vocab_size)
        with torch.no_grad():
            self.embedding.weight.uniform_(-0.1, 0.1)
            self.embedding.weight[c.pad_index].zero_()
        nn.init.zeros_(self.decoder.bias)
        if c.tie_weights:
            self.decoder.weight = self.embedding.weight

    def initial_state(self, batch_size: int, device=None, dtype=None) -> torch.Tensor:
        w = self.embedding.weight
        return torch.zeros(
            self.config.n_layers, batch_size, self.config.hidden_size, device=device or w.device, dtype=dtype or w.dtype
        )

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None, return_hidden: bool = False):
        if state is None:
            state = self.initial_state(x.size(0))
        weight = embedding_dropout(self.embedding.weight, self.config.p("embed_p"), self.training)
        h = nn.functional.embedding(x, weight, self.config.pad_index)  # (B, T, E)
        raw, state = self.rnn(self.input_dropout(h), state)  # (B, T, H), (L, B, H)
        raw = self.proj(raw)  # (B, T, E) when tied
        dropped = self.output_dropout(raw)
        logits = self.decoder(dropped)  # (B, T, V)
        if return_hidden:
            return logits, state, (raw, dropped)
        return logits, state

    def step(self, tokens: torch.Tensor, state: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``textkit.decode`` step function: logits (B, V) of the last position, no gradients."""
        with torch.no_grad():
            logits, state = self(tokens, state)
            return logits[:, -1], state

    def layer_groups(self) -> list[list[nn.Parameter]]:
        head = [self.embedding.weight, self.decoder.bias, *self.proj.parameters()]
        return [list(self.rnn.parameters()), head]
