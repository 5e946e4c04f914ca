"""Learning-rate and momentum schedules as pure functions of the step.

``one_cycle_lr`` / ``one_cycle_momentum`` (Smith 2018, with fastai's cosine shape) and
``slanted_triangular_lr`` (Howard & Ruder 2018) take ``(step, total_steps, ...)`` and return
a number; nothing is stateful, so resuming at step ``k`` just calls them with ``k``.
The small frozen dataclasses below bundle the options and return *fractions* of each
parameter group's peak rate, so per-group (discriminative) rates keep their ratios.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def _check(step: int, total_steps: int) -> float:
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    return min(step, total_steps) / total_steps


def cosine_interp(start: float, end: float, pct: float) -> float:
    """Half-cosine from ``start`` (pct=0) to ``end`` (pct=1)."""
    return end + (start - end) * (1 + math.cos(math.pi * pct)) / 2


def one_cycle_lr(
    step: int, total_steps: int, lr_max: float, pct_start: float = 0.25, div: float = 25.0, div_final: float = 1e5
) -> float:
    """Warm up from ``lr_max / div`` to ``lr_max`` over ``pct_start`` of training (cosine), then
    anneal to ``lr_max / div_final``."""
    pos = _check(step, total_steps)
    if pos < pct_start:
        return cosine_interp(lr_max / div, lr_max, pos / pct_start)
    return cosine_interp(lr_max, lr_max / div_final, (pos - pct_start) / (1 - pct_start))


def one_cycle_momentum(
    step: int, total_steps: int, moms: tuple[float, float, float] = (0.95, 0.85, 0.95), pct_start: float = 0.25
) -> float:
    """Momentum moves opposite to the rate: ``moms[0] -> moms[1]`` while warming up, then back to ``moms[2]``."""
    pos = _check(step, total_steps)
    if pos < pct_start:
        return cosine_interp(moms[0], moms[1], pos / pct_start)
    return cosine_interp(moms[1], moms[2], (pos - pct_start) / (1 - pct_start))


def slanted_triangular_lr(
    step: int, total_steps: int, lr_max: float, cut_frac: float = 0.1, ratio: float = 32.0
) -> float:
    """ULMFiT's STLR: a short linear increase for ``cut_frac`` of the steps, then a long linear
    decay; the lowest rate is ``lr_max / ratio``."""
    _check(step, total_steps)
    cut = max(1, math.floor(total_steps * cut_frac))
    t = min(step, total_steps)
    p = t / cut if t < cut else 1 - (t - cut) / max(1, total_steps - cut)
    return lr_max * (1 + p * (ratio - 1)) / ratio


def discriminative_lrs(lr_max: float, n_groups: int, factor: float = 2.6) -> list[float]:
    """Per-group rates for discriminative fine-tuning: the last group gets ``lr_max``, each
    earlier group ``factor`` times less (ULMFiT uses 2.6)."""
    if n_groups < 1:
        raise ValueError(f"n_groups must be >= 1, got {n_groups}")
    return [lr_max / factor ** (n_groups - 1 - i) for i in range(n_groups)]


@dataclass(frozen=True)
class OneCycle:
    pct_start: float = 0.25
    div: float = 25.0
    div_final: float = 1e5
    moms: tuple[float, float, float] = (0.95, 0.85, 0.95)

    def __call__(self, step: int, total_steps: int) -> tuple[float, float | None]:
        return (
            one_cycle_lr(step, total_steps, 1.0, self.pct_start, self.div, self.div_final),
            one_cycle_momentum(step, total_steps, self.moms, self.pct_start),
        )


@dataclass(frozen=True)
class SlantedTriangular:
    cut_frac: float = 0.1
    ratio: float = 32.0

    def __call__(self, step: int, total_steps: int) -> tuple[float, float | None]:
        return slanted_triangular_lr(step, total_steps, 1.0, self.cut_frac, self.ratio), None


@dataclass(frozen=True)
class Constant:
    def __call__(self, step: int, total_steps: int) -> tuple[float, float | None]:
        _check(step, total_steps)
        return 1.0, None


SCHEDULES = {"one_cycle": OneCycle, "slanted_triangular": SlantedTriangular, "constant": Constant}


def schedule_from_dict(raw: dict):
    """``{"name": "one_cycle", "pct_start": 0.3}`` -> ``OneCycle(pct_start=0.3)``."""
    from textkit.nn.config import config_from_dict

    raw = dict(raw)
    name = raw.pop("name", None)
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; choose one of {sorted(SCHEDULES)}")
    return config_from_dict(SCHEDULES[name], raw, where=f"schedule {name!r}")
