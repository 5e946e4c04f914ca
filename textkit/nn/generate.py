"""Language models as step functions for ``textkit.decode``.

``step(tokens (B, T), state) -> (logits (B, T, V), state)`` is all a decoder needs; models
never sample internally (``textkit.decode`` has greedy, sampling and beam search).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

StepFn = Callable[[torch.Tensor, object], tuple[torch.Tensor, object]]


def model_step(model: torch.nn.Module) -> StepFn:
    """Wrap an LM ``forward(x, state) -> (logits, state)`` as a no-grad step function."""

    def step(tokens: torch.Tensor, state):
        with torch.no_grad():
            return model(tokens, state)[:2]

    return step
