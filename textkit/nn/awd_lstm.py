"""AWD-LSTM (Merity, Keskar & Socher 2017) and its tied-weight language model, in one file.

The encoder is a stack of single-layer ``nn.LSTM``s. Every regularizer is here:

    tokens (B, T)
      -> embedding with whole-word dropout        (embed_p)
      -> locked dropout on the embeddings         (input_p)
      -> LSTM layer 1 .. n, each with its hidden-to-hidden matrix weight-dropped (weight_p);
         locked dropout between layers            (hidden_p)
      -> locked dropout on the last output        (output_p, in the language model)
      -> linear decoder tied to the embedding     (B, T, V)

Weight drop keeps the fused ``nn.LSTM`` kernel: the raw ``weight_hh_l0`` stays the module's
parameter, and each training forward calls the module through ``torch.func.functional_call``
with a DropConnect'ed copy in its place. In eval mode the module runs untouched.

State is explicit: ``forward(x, state=None) -> (logits, state)``, where ``state`` is a list
with one ``(h, c)`` pair of shape (1, B, H_l) per layer. Nothing is stored on the module.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call

from textkit.nn.dropout import LockedDropout, embedding_dropout, weight_drop

LSTMState = list[tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class AWDLSTMConfig:
    vocab_size: int
    pad_index: int  # from the tokenizer pipeline (pipeline.pad_index); no default
    emb_size: int = 400
    hidden_size: int = 1152
    n_layers: int = 3
    embed_p: float = 0.1  # whole-word embedding dropout
    input_p: float = 0.6  # locked dropout on the embedded input
    hidden_p: float = 0.3  # locked dropout between LSTM layers
    weight_p: float = 0.5  # DropConnect on hidden-to-hidden weights
    output_p: float = 0.1  # locked dropout before the decoder
    drop_mult: float = 1.0  # scales all five dropouts at once
    tie_weights: bool = True
    out_bias: bool = True

    def __post_init__(self) -> None:
        for name in ("vocab_size", "emb_size", "hidden_size", "n_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"AWDLSTMConfig.{name} must be a positive int, got {value!r}")
        if not 0 <= self.pad_index < self.vocab_size:
            raise ValueError(
                f"AWDLSTMConfig.pad_index={self.pad_index} is outside the vocabulary (size {self.vocab_size})"
            )
        if self.drop_mult < 0:
            raise ValueError(f"AWDLSTMConfig.drop_mult must be >= 0, got {self.drop_mult}")
        for name in ("embed_p", "input_p", "hidden_p", "weight_p", "output_p"):
            p = getattr(self, name) * self.drop_mult
            if not 0.0 <= p < 1.0:
                raise ValueError(f"AWDLSTMConfig.{name} * drop_mult = {p} must be in [0, 1)")

    def p(self, name: str) -> float:
        """A dropout probability after ``drop_mult``."""
        return getattr(self, name) * self.drop_mult


class AWDLSTM(nn.Module):
    """The encoder: tokens (B, T) -> last-layer outputs (B, T, emb_size), raw and dropped."""

    def __init__(self, config: AWDLSTMConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.embedding = nn.Embedding(c.vocab_size, c.emb_size, padding_idx=c.pad_index)
        sizes = [c.emb_size] + [c.hidden_size] * (c.n_layers - 1) + [c.emb_size if c.tie_weights else c.hidden_size]
        self.rnns = nn.ModuleList(nn.LSTM(sizes[i], sizes[i + 1], batch_first=True) for i in range(c.n_layers))
        self.input_dropout = LockedDropout(c.p("input_p"))
        self.hidden_dropouts = nn.ModuleList(LockedDropout(c.p("hidden_p")) for _ in range(c.n_layers - 1))
        self.out_size = sizes[-1]
        with torch.no_grad():
            self.embedding.weight.uniform_(-0.1, 0.1)
            self.embedding.weight[c.pad_index].zero_()

    def initial_state(self, batch_size: int, device=None, dtype=None) -> LSTMState:
        device = device or self.embedding.weight.device
        dtype = dtype or self.embedding.weight.dtype
        return [
            (
                torch.zeros(1, batch_size, rnn.hidden_size, device=device, dtype=dtype),
                torch.zeros(1, batch_size, rnn.hidden_size, device=device, dtype=dtype),
            )
            for rnn in self.rnns
        ]

    def _run_rnn(self, rnn: nn.LSTM, x: torch.Tensor, hc: tuple[torch.Tensor, torch.Tensor]):
        p = self.config.p("weight_p")
        if not self.training or p == 0.0:
            return rnn(x, hc)
        # DropConnect on the raw parameter, same fused kernel (a fresh mask every call)
        dropped = weight_drop(rnn.weight_hh_l0, p, True)
        return functional_call(rnn, {"weight_hh_l0": dropped}, (x, hc))

    def forward(self, x: torch.Tensor, state: LSTMState | None = None):
        """x (B, T) int64 -> (raw_out (B, T, C), dropped_out (B, T, C), new_state)."""
        B, T = x.shape
        if state is None:
            state = self.initial_state(B)
        if len(state) != len(self.rnns):
            raise ValueError(f"state has {len(state)} layers, the model has {len(self.rnns)}")
        weight = embedding_dropout(self.embedding.weight, self.config.p("embed_p"), self.training)
        h = nn.functional.embedding(x, weight, self.config.pad_index)  # (B, T, E)
        h = self.input_dropout(h)
        new_state: LSTMState = []
        raw = h
        for i, rnn in enumerate(self.rnns):
            raw, hc = self._run_rnn(rnn, h, state[i])  # (B, T, H_i)
            new_state.append(hc)
            h = self.hidden_dropouts[i](raw) if i < len(self.rnns) - 1 else raw
        return raw, h, new_state


class AWDLSTMLanguageModel(nn.Module):
    """AWD-LSTM encoder + locked output dropout + a linear decoder tied to the embedding.

    ``forward(x, state=None) -> (logits (B, T, V), state)``; with ``return_hidden=True`` it
    returns ``(logits, state, (raw_out, dropped_out))``, the last layer's outputs that AR/TAR
    regularize.
    """

    def __init__(self, config: AWDLSTMConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = AWDLSTM(config)
        self.output_dropout = LockedDropout(config.p("output_p"))
        self.decoder = nn.Linear(self.encoder.out_size, config.vocab_size, bias=config.out_bias)
        if config.tie_weights:
            self.decoder.weight = self.encoder.embedding.weight
        if config.out_bias:
            nn.init.zeros_(self.decoder.bias)

    def initial_state(self, batch_size: int, device=None, dtype=None) -> LSTMState:
        return self.encoder.initial_state(batch_size, device, dtype)

    def forward(self, x: torch.Tensor, state: LSTMState | None = None, return_hidden: bool = False):
        raw, h, state = self.encoder(x, state)  # (B, T, C)
        dropped = self.output_dropout(h)
        logits = self.decoder(dropped)  # (B, T, V)
        if return_hidden:
            return logits, state, (raw, dropped)
        return logits, state

    def step(self, tokens: torch.Tensor, state: LSTMState | None) -> tuple[torch.Tensor, LSTMState]:
        """The ``textkit.decode`` step function: logits (B, V) of the last position only, no
        gradients, the recurrent state carried."""
        with torch.no_grad():
            raw, h, state = self.encoder(tokens, state)
            return self.decoder(self.output_dropout(h[:, -1:]))[:, 0], state

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Parameter groups from the input side up (for discriminative learning rates):
        one per LSTM layer, then embedding + decoder (tied, so they go together last)."""
        groups = [list(rnn.parameters()) for rnn in self.encoder.rnns]
        head = [self.encoder.embedding.weight] + [
            p for n, p in self.decoder.named_parameters() if not (n == "weight" and self.config.tie_weights)
        ]
        return groups + [head]
