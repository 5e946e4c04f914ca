"""The classical notebooks run top to bottom on their small slices and show what they claim."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_notebooks_02_topic_modeling_runs(run_notebook):
    text = run_notebook("02_topic_modeling.ipynb")
    assert "function == estimator: True" in text
    assert "U^T U = I: True" in text
    assert "NMF: NMI" in text and "SVD: NMI" in text


@pytest.mark.slow
def test_notebooks_03_sentiment_runs(run_notebook):
    text = run_notebook("03_sentiment_nb_lr.ipynb")
    assert "r matches: True" in text and "x.r + b matches: True" in text
    assert "naive probabilities: [0. 0.]" in text  # the underflow the notebook explains
    assert "xxurl" in text and "':)'" in text and "xxnum" in text
    assert "NBSVM uni+bi test accuracy" in text
