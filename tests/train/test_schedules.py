"""Schedules are pure functions of the step with the published shapes."""

from __future__ import annotations

import numpy as np
import pytest

from textkit.train.schedules import (
    OneCycle,
    SlantedTriangular,
    discriminative_lrs,
    one_cycle_lr,
    one_cycle_momentum,
    schedule_from_dict,
    slanted_triangular_lr,
)


def test_one_cycle_lr_warms_up_then_anneals():
    total = 1000
    lrs = np.array([one_cycle_lr(s, total, 1e-2, pct_start=0.25) for s in range(total + 1)])
    peak = int(np.argmax(lrs))
    assert peak == 250
    assert lrs[0] == pytest.approx(1e-2 / 25)
    assert lrs[-1] == pytest.approx(1e-2 / 1e5)
    assert np.all(np.diff(lrs[: peak + 1]) > 0) and np.all(np.diff(lrs[peak:]) < 0)
    # cosine: halfway through the warm-up the rate is halfway between start and peak
    assert lrs[125] == pytest.approx((1e-2 / 25 + 1e-2) / 2)


def test_one_cycle_momentum_mirrors_the_rate():
    total = 400
    moms = np.array([one_cycle_momentum(s, total) for s in range(total + 1)])
    assert moms[0] == pytest.approx(0.95) and moms[100] == pytest.approx(0.85) and moms[-1] == pytest.approx(0.95)
    assert int(np.argmin(moms)) == 100


def test_slanted_triangular_matches_howard_and_ruder():
    total, lr_max, cut_frac, ratio = 1000, 0.01, 0.1, 32
    lrs = np.array([slanted_triangular_lr(s, total, lr_max, cut_frac, ratio) for s in range(total + 1)])
    assert lrs[0] == pytest.approx(lr_max / ratio)
    assert int(np.argmax(lrs)) == 100 and lrs[100] == pytest.approx(lr_max)
    assert lrs[-1] == pytest.approx(lr_max / ratio)
    assert np.allclose(np.diff(lrs[:101]), np.diff(lrs[:101])[0])  # linear up
    assert np.allclose(np.diff(lrs[100:]), np.diff(lrs[100:])[0])  # linear down, slower
    assert abs(np.diff(lrs[100:])[0]) < np.diff(lrs[:101])[0]


def test_schedule_objects_return_fractions_and_are_pure():
    sched = OneCycle()
    assert sched(250, 1000)[0] == pytest.approx(1.0)
    assert sched(10, 1000) == sched(10, 1000)
    assert SlantedTriangular()(0, 100) == (pytest.approx(1 / 32), None)
    assert schedule_from_dict({"name": "one_cycle", "pct_start": 0.3}) == OneCycle(pct_start=0.3)
    with pytest.raises(ValueError, match="unknown keys"):
        schedule_from_dict({"name": "one_cycle", "pct": 0.3})
    with pytest.raises(ValueError, match="unknown schedule"):
        schedule_from_dict({"name": "cyclic"})
    with pytest.raises(ValueError, match="total_steps"):
        one_cycle_lr(0, 0, 1.0)


def test_discriminative_lrs_divide_by_factor_per_group():
    lrs = discriminative_lrs(1e-2, 4, factor=2.6)
    assert lrs[-1] == pytest.approx(1e-2)
    assert np.allclose(np.array(lrs[1:]) / np.array(lrs[:-1]), 2.6)
