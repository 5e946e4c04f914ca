"""Seeded sampling as pure functions over a step function.

``step(tokens (B, T), state) -> (logits (B, T, V), state)`` is all a sampler needs; models
never sample internally. Randomness comes only from the explicit ``torch.Generator``.
(Greedy/beam search and logit processors belong to ``textkit.decode``; this is the
minimal sampler the LM commands need.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

StepFn = Callable[[torch.Tensor, object], tuple[torch.Tensor, object]]


def model_step(model: torch.nn.Module) -> StepFn:
    """Wrap an LM ``forward(x, state) -> (logits, state)`` as a no-grad step function."""

    def step(tokens: torch.Tensor, state):
        with torch.no_grad():
            return model(tokens, state)[:2]

    return step


def sample(
    step: StepFn,
    prompt: Sequence[int],
    max_new_tokens: int,
    *,
    generator: torch.Generator,
    temperature: float = 1.0,
    top_k: int | None = None,
    stop_ids: Sequence[int] = (),
    banned_ids: Sequence[int] = (),
    device: str | torch.device = "cpu",
) -> list[int]:
    """Feed ``prompt``, then draw ``max_new_tokens`` ids in proportion to
    ``softmax(logits / temperature)`` (restricted to the top ``k`` when given).
    ``temperature=0`` is greedy. Returns the new ids only."""
    if len(prompt) == 0:
        raise ValueError("sample needs a non-empty prompt (at least a BOS id)")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    tokens = torch.tensor([list(prompt)], dtype=torch.long, device=device)  # (1, T)
    logits, state = step(tokens, None)
    out: list[int] = []
    stop = set(int(i) for i in stop_ids)
    for _ in range(max_new_tokens):
        last = logits[0, -1].float()  # (V,)
        if banned_ids:
            last = last.index_fill(0, torch.tensor(list(banned_ids), device=last.device), float("-inf"))
        if temperature == 0:
            next_id = int(last.argmax())
        else:
            last = last / temperature
            if top_k is not None and top_k < last.numel():
                kth = torch.topk(last, top_k).values[-1]
                last = last.masked_fill(last < kth, float("-inf"))
            probs = torch.softmax(last, dim=-1).cpu()
            next_id = int(torch.multinomial(probs, 1, generator=generator))
        out.append(next_id)
        if next_id in stop:
            break
        logits, state = step(torch.tensor([[next_id]], dtype=torch.long, device=device), state)
    return out
