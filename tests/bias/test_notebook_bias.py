"""notebooks/08_embedding_bias.ipynb runs top to bottom on small settings."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "08_embedding_bias.ipynb"

SMALL = """N_PERMUTATIONS = 2_000
N_BOOTSTRAP = 100
OVER_TIME_CORPORA = ["bible-kjv", "brown"]
OVER_TIME_MAX_TOKENS = 40_000
OVER_TIME_SEEDS = (0, 1)
OVER_TIME_EPOCHS = 1
"""


@pytest.mark.slow
def test_notebook_bias_runs_on_small_settings(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    params = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("# Parameters"))
    params.source = "# Parameters (test)\n" + SMALL
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "\n".join(str(o) for o in outputs)
    assert "flowers/insects: d = 1.539" in text
    assert "Pearson r = 0.7" in text
    assert "bible-kjv (1769)" in text
    assert (tmp_path / "weat_word2vec.png").exists() and (tmp_path / "over_time.png").exists()
