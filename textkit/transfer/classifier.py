"""The ULMFiT text classifier: an AWD-LSTM encoder read in BPTT-sized chunks, concat pooling
and a small batchnorm/dropout/linear head (Howard & Ruder 2018, section 3.3).

Batches are right-padded: ``x`` is (B, L) with ``lengths`` (B,). The LSTM is causal, so the
outputs at real positions never see the padding after them; a sample whose text has ended
simply drops out of the later chunks (its state is no longer needed). The result is exact
without packing.

Only the last ``max_len`` positions of each document are pooled. Chunks that end before
every sample's pooling window run under ``torch.no_grad``: gradients reach only the chunks
whose outputs contribute to the prediction (as in the paper), and memory stays bounded for
100k-token documents.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from textkit.nn.awd_lstm import AWDLSTM, AWDLSTMConfig


@dataclass(frozen=True)
class ClassifierConfig:
    n_classes: int
    bptt: int = 70  # tokens per encoder chunk
    max_len: int = 1400  # pool over (at most) the last max_len tokens of each document
    head_hidden: tuple[int, ...] = (50,)  # hidden sizes of the head
    head_dropout: tuple[float, ...] = (0.2, 0.1)  # one per linear layer of the head

    def __post_init__(self) -> None:
        if not isinstance(self.n_classes, int) or self.n_classes < 2:
            raise ValueError(f"ClassifierConfig.n_classes must be an int >= 2, got {self.n_classes!r}")
        for name in ("bptt", "max_len"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"ClassifierConfig.{name} must be a positive int, got {getattr(self, name)!r}")
        if len(self.head_dropout) != len(self.head_hidden) + 1:
            raise ValueError(
                f"ClassifierConfig.head_dropout needs {len(self.head_hidden) + 1} values (one per linear layer), got "
                f"{len(self.head_dropout)}"
            )
        if any(not 0.0 <= p < 1.0 for p in self.head_dropout):
            raise ValueError(f"ClassifierConfig.head_dropout values must be in [0, 1), got {self.head_dropout}")


class PoolingHead(nn.Module):
    """(B, 3C) pooled features -> (B, n_classes) logits: [batchnorm, dropout, linear, ReLU]
    per hidden layer, then batchnorm, dropout and the output layer."""

    def __init__(self, n_in: int, config: ClassifierConfig) -> None:
        super().__init__()
        sizes = [n_in, *config.head_hidden, config.n_classes]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers += [nn.BatchNorm1d(a), nn.Dropout(config.head_dropout[i]), nn.Linear(a, b)]
            if i < len(sizes) - 2:
                layers.append(nn.ReLU(inplace=True))
        self.layers = nn.Sequential(*layers)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.layers(pooled)


class AWDLSTMClassifier(nn.Module):
    """``forward(x (B, L), lengths (B,)) -> logits (B, n_classes)``."""

    def __init__(self, encoder_config: AWDLSTMConfig, config: ClassifierConfig) -> None:
        super().__init__()
        self.encoder_config, self.config = encoder_config, config
        self.encoder = AWDLSTM(encoder_config)
        self.head = PoolingHead(3 * self.encoder.out_size, config)

    def pool(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Concat pooling [last output, max over time, mean over time] of the last ``max_len``
        real positions: (B, 3C)."""
        if x.dim() != 2:
            raise ValueError(f"x must be (batch, time) token ids, got shape {tuple(x.shape)}")
        B, L = x.shape
        lengths = lengths.to(x.device)
        if lengths.shape != (B,):
            raise ValueError(f"lengths must have shape ({B},), got {tuple(lengths.shape)}")
        if bool((lengths < 1).any()):
            raise ValueError("every document needs at least one token (the classifier adds xxbos to each text)")
        bptt, C = self.config.bptt, self.encoder.out_size
        window_start = (lengths - self.config.max_len).clamp(min=0)  # first pooled position per sample
        state = self.encoder.initial_state(B, device=x.device)
        total = max_ = last = None
        positions = torch.arange(bptt, device=x.device)
        for start in range(0, int(lengths.max()), bptt):
            end = min(start + bptt, L)
            active = torch.nonzero(lengths > start).squeeze(1)
            # gradients only through chunks that some active sample pools from
            needs_grad = bool((window_start[active] < end).any())
            context = contextlib.nullcontext() if needs_grad else torch.no_grad()
            with context:
                sub_state = [(h.index_select(1, active), c.index_select(1, active)) for h, c in state]
                raw, _, sub_state = self.encoder(x.index_select(0, active)[:, start:end], sub_state)
            # under autocast the LSTM returns half-precision outputs and states: keep the
            # carried state and the pooled statistics in float32
            raw = raw.float()
            state = [
                (h.index_copy(1, active, nh.to(h.dtype)), c.index_copy(1, active, nc.to(c.dtype)))
                for (h, c), (nh, nc) in zip(state, sub_state, strict=True)
            ]
            if not needs_grad:
                continue
            out = raw.new_zeros(B, end - start, C).index_copy(0, active, raw)  # (B, T, C)
            pos = start + positions[: end - start]  # (T,)
            mask = (pos[None, :] >= window_start[:, None]) & (pos[None, :] < lengths[:, None])  # (B, T)
            m = mask.unsqueeze(-1).to(out.dtype)
            chunk_sum = (out * m).sum(1)
            chunk_max = out.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(1)
            is_last = ((lengths - 1 >= start) & (lengths - 1 < end)).unsqueeze(-1)
            last_index = (lengths - 1 - start).clamp(0, end - start - 1)
            chunk_last = out[torch.arange(B, device=x.device), last_index]
            if total is None:
                total, max_, last = chunk_sum, chunk_max, torch.where(is_last, chunk_last, torch.zeros_like(chunk_last))
            else:
                total, max_ = total + chunk_sum, torch.maximum(max_, chunk_max)
                last = torch.where(is_last, chunk_last, last)
        count = (lengths - window_start).clamp(min=1).unsqueeze(-1).to(total.dtype)
        return torch.cat([last, max_, total / count], dim=1)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(x, lengths))

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """From the input up: embedding, each LSTM layer, the head (for discriminative rates
        and gradual unfreezing)."""
        return (
            [[self.encoder.embedding.weight]]
            + [list(r.parameters()) for r in self.encoder.rnns]
            + [list(self.head.parameters())]
        )


def encoder_config_for_classifier(lm_config: AWDLSTMConfig, **dropouts: float) -> AWDLSTMConfig:
    """The language model's encoder config with classifier dropouts (fastai's classifier uses
    input 0.4, hidden 0.3, weight 0.5, embedding 0.05 at ``drop_mult`` 1)."""
    from dataclasses import replace

    defaults = {"embed_p": 0.05, "input_p": 0.4, "hidden_p": 0.3, "weight_p": 0.5}
    return replace(lm_config, **{**defaults, **dropouts})
