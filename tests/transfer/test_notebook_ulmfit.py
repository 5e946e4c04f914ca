"""notebooks/05_ulmfit.ipynb runs top to bottom on tiny settings."""

from __future__ import annotations

import re

import pytest

TINY = """BROWN_DOCS = 4
N_TEXTS = 300
N_HELD_OUT = 100
EMB, HIDDEN = 16, 32
PRETRAIN_EPOCHS = 1
FINETUNE_EPOCHS = 1
LAST_STAGE_EPOCHS = 1
"""


@pytest.mark.slow
def test_notebook_05_ulmfit_runs_on_tiny_settings(tmp_path, run_notebook):
    text = run_notebook("05_ulmfit.ipynb", parameters=TINY, workdir=tmp_path, timeout=300)
    assert "vocabulary transfer:" in text and "kept their pretrained rows" in text
    # gradual unfreezing: three stages, the last one trains every group (embedding, 2 LSTMs, head)
    stages = re.findall(r"^\s+(\d)\s+(\d)\s+\d\s", text, flags=re.M)
    assert [s for s, _ in stages] == ["1", "2", "3"] and [g for _, g in stages] == ["1", "2", "4"]
    predictions = re.findall(r"^prediction: (\S+)\s+p=\[([^\]]*)\]", text, flags=re.M)
    assert len(predictions) == 4
    for label, probs in predictions:
        assert label in ("fresh", "rotten")
        p = [float(v) for v in probs.split(",")]
        assert len(p) == 2 and abs(sum(p) - 1) < 2e-3
        if abs(p[0] - p[1]) > 1e-3:  # printed rounded: a near-tie may go either way
            assert label == ("fresh", "rotten")[p.index(max(p))]
    accuracy = float(re.search(r"held-out accuracy: ([0-9.]+)", text).group(1))
    assert 0.0 <= accuracy <= 1.0
    assert "reloaded probabilities identical: True" in text
    assert "classifier.json" in text and "forward.safetensors" in text
