"""notebooks/08_embedding_bias.ipynb runs top to bottom on small settings."""

from __future__ import annotations

import pytest

SMALL = """N_PERMUTATIONS = 2_000
N_BOOTSTRAP = 100
OVER_TIME_CORPORA = ["bible-kjv", "brown"]
OVER_TIME_MAX_TOKENS = 40_000
OVER_TIME_SEEDS = (0, 1)
OVER_TIME_EPOCHS = 1
"""


@pytest.mark.slow
def test_notebook_bias_runs_on_small_settings(tmp_path, run_notebook):
    text = run_notebook("08_embedding_bias.ipynb", parameters=SMALL, workdir=tmp_path)
    assert "flowers/insects: d = 1.539" in text
    assert "Pearson r = 0.7" in text
    assert "bible-kjv (1769)" in text
    assert (tmp_path / "weat_word2vec.png").exists() and (tmp_path / "over_time.png").exists()
