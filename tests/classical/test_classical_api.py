"""The public surface of textkit.classical: every name imports, and torch loads only when used."""

from __future__ import annotations

import subprocess
import sys

import textkit.classical as classical


def test_classical_all_names_import():
    assert len(classical.__all__) >= 15
    for name in classical.__all__:
        assert getattr(classical, name) is not None, name


def test_classical_import_does_not_load_torch_until_svd_or_nmf_runs():
    code = (
        "import sys, numpy as np, textkit.classical as c; before = 'torch' in sys.modules; "
        "c.randomized_svd(np.eye(4), 2); print(before, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]
