"""Decoding strategies: what :func:`textkit.decode.generate` does with the scores of each step.

Three frozen dataclasses, each holding only its own options:

- ``Greedy()``: the most probable token.
- ``Sample(temperature, top_k, top_p, min_p, seed)``: a draw in proportion to the probabilities
  left after its warpers (temperature, top-k, top-p, min-p, in that order).
- ``Beam(size, length_penalty, length_norm, early_stopping, num_return)``: batched beam search.

Options that apply to every strategy (banned ids, repetition penalty, no-repeat-ngram, or any
other :data:`LogitsProcessor`) are passed to ``generate(processors=...)`` and run before the
strategy's own warpers, which is the conventional order of :func:`build_processors`.
"""

from __future__ import annotations

from dataclasses import dataclass

from textkit.decode.processors import (
    LogitsProcessor,
    MinP,
    Temperature,
    TopK,
    TopP,
    check_temperature,
    check_top_k,
    check_top_p,
)


@dataclass(frozen=True)
class Greedy:
    """Pick the most probable token (after the processors) at every step."""

    def warpers(self) -> list[LogitsProcessor]:
        return []


@dataclass(frozen=True)
class Sample:
    """Draw each token in proportion to its renormalized probability after the warpers.

    ``seed`` makes a fresh CPU ``torch.Generator`` for each :func:`generate` call, so the same
    seed gives the same tokens on any device; pass ``generate(generator=...)`` instead to
    continue one random stream across calls (then leave ``seed`` unset)."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    min_p: float | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        check_temperature(self.temperature)
        if self.top_k is not None:
            check_top_k(self.top_k)
        if self.top_p is not None:
            check_top_p(self.top_p)
        if self.min_p is not None and (not isinstance(self.min_p, (int, float)) or not 0 <= self.min_p <= 1):
            raise ValueError(f"min_p must be in [0, 1], got {self.min_p!r}")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise ValueError(f"seed must be an integer or None, got {self.seed!r}")

    def warpers(self) -> list[LogitsProcessor]:
        out: list[LogitsProcessor] = []
        if self.temperature != 1.0:  # x / 1.0 == x exactly: skipping it changes nothing
            out.append(Temperature(self.temperature))
        if self.top_k is not None:
            out.append(TopK(self.top_k))
        if self.top_p is not None:
            out.append(TopP(self.top_p))
        if self.min_p is not None:
            out.append(MinP(self.min_p))
        return out


LENGTH_NORMS = ("average", "gnmt", "none")


@dataclass(frozen=True)
class Beam:
    """Batched beam search with ``size`` beams per row.

    A finished hypothesis scores ``sum log p / length_penalty_factor(len, length_penalty,
    length_norm)`` ("average": ``len ** alpha``; "gnmt": ``((5 + len) / 6) ** alpha``; "none").
    A row stops when it has ``size`` finished hypotheses (``early_stopping``), or, without
    early stopping, when no running beam can beat its worst kept one. ``num_return``
    hypotheses per row come back, best first (``Generation.hypotheses``)."""

    size: int
    length_penalty: float = 1.0
    length_norm: str = "average"
    early_stopping: bool = True
    num_return: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
            raise ValueError(f"beam_size must be an integer >= 1, got {self.size!r}")
        if (
            isinstance(self.num_return, bool)
            or not isinstance(self.num_return, int)
            or not 1 <= self.num_return <= self.size
        ):
            raise ValueError(f"num_return must be between 1 and beam_size={self.size}, got {self.num_return!r}")
        if self.length_norm not in LENGTH_NORMS:
            raise ValueError(f"length_norm must be 'average', 'gnmt' or 'none', got {self.length_norm!r}")

    def warpers(self) -> list[LogitsProcessor]:
        return []


Strategy = Greedy | Sample | Beam
