"""Notebooks 06 (translation) and 07 (text generation) run top to bottom on small settings."""

import pytest


@pytest.mark.slow
def test_notebooks_07_text_generation_runs(run_notebook):
    text = run_notebook("07_text_generation.ipynb", timeout=400)
    assert "top-p 0.8 keeps" in text and "nucleus 0.95" in text and "Self-BLEU4" in text


@pytest.mark.slow
def test_notebooks_06_translation_runs(run_notebook):
    text = run_notebook("06_translation.ipynb", timeout=400)
    assert "BLEU" in text and "transformer" in text
