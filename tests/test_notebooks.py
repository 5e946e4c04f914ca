"""The foundation notebook runs top to bottom (other notebooks are run by their packages' tests)."""

import pytest


@pytest.mark.slow
def test_notebooks_01_tokenization_runs(run_notebook):
    text = run_notebook("01_tokenization.ipynb")
    assert "xxmaj" in text and "xxunk" in text
