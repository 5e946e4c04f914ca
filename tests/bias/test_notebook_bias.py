"""notebooks/08_embedding_bias.ipynb runs top to bottom on small settings."""

from __future__ import annotations

import re

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
    # The notebook prints "flowers/insects: d = <ours> (paper <paper>)". Compare the two numbers,
    # not the text: the paper's 1.54 is rounded to 2 decimals (+-0.005) and the measured gap is
    # 0.0007 (1.5393, bench/results/bias.json), so 0.01 allows the rounding with margin; WEFE's
    # population std (d = 1.555) would fail it.
    found = re.search(r"flowers/insects: d = (-?\d+\.\d+) \(paper (-?\d+\.\d+)\)", text)
    assert found, "the notebook no longer prints the flowers/insects effect size"
    ours_d, paper_d = float(found[1]), float(found[2])
    assert paper_d == 1.54
    assert abs(ours_d - paper_d) <= 0.01
    assert "Pearson r = 0.7" in text
    assert "bible-kjv (1769)" in text
    assert (tmp_path / "weat_word2vec.png").exists() and (tmp_path / "over_time.png").exists()
