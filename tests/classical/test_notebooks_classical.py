"""The classical notebooks run top to bottom on their small slices and show what they claim."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def _run(name: str) -> str:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors, errors[0].get("evalue") if errors else ""
    return "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)


@pytest.mark.slow
def test_notebooks_02_topic_modeling_runs():
    text = _run("02_topic_modeling.ipynb")
    assert "function == estimator: True" in text
    assert "U^T U = I: True" in text
    assert "NMF: NMI" in text and "SVD: NMI" in text


@pytest.mark.slow
def test_notebooks_03_sentiment_runs():
    text = _run("03_sentiment_nb_lr.ipynb")
    assert "r matches: True" in text and "x.r + b matches: True" in text
    assert "naive probabilities: [0. 0.]" in text  # the underflow the notebook explains
    assert "xxurl" in text and "':)'" in text and "xxnum" in text
    assert "NBSVM uni+bi test accuracy" in text
