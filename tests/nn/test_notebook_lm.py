"""notebooks/04_language_models.ipynb runs top to bottom on a Brown slice."""

import pytest


@pytest.mark.slow
def test_notebook_04_language_models_runs(run_notebook):
    text = run_notebook("04_language_models.ipynb", timeout=300)
    assert "AWD-LSTM:" in text and "GRU:" in text and "max |scratch - nn.GRU|" in text
    lines = [line for line in text.splitlines() if line.startswith(("0 ", "1 "))]
    assert len(lines) == 3 and lines[0] == lines[1] != lines[2]  # seeded generation
