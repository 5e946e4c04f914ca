"""Notebooks 06 (translation) and 07 (text generation) run top to bottom on small settings."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def run_notebook(name: str):
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(notebook, timeout=400, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors, errors[0].get("evalue")
    return "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)


@pytest.mark.slow
def test_notebooks_07_text_generation_runs():
    text = run_notebook("07_text_generation.ipynb")
    assert "top-p 0.8 keeps" in text and "nucleus 0.95" in text and "Self-BLEU4" in text


@pytest.mark.slow
def test_notebooks_06_translation_runs():
    text = run_notebook("06_translation.ipynb")
    assert "BLEU" in text and "transformer" in text
