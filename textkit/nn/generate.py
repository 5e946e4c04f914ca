"""Language models as step functions for ``textkit.decode``.

``step(tokens (B, T), state) -> (logits (B, T, V), state)`` is all a decoder needs; models
never sample internally (``textkit.decode`` has greedy, sampling and beam search).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import torch

StepFn = Callable[[torch.Tensor, object], tuple[torch.Tensor, object]]


@runtime_checkable
class LanguageModelStep(Protocol):
    """What every textkit language model offers a decoder: ``step(tokens (B, T), state) ->
    (logits (B, V) of the last position, new state)``, without gradients. ``state=None``
    starts a sequence; AWD-LSTM, GRU and Llama models all implement it."""

    def step(self, tokens: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]: ...
