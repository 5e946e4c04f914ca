"""notebooks/04_language_models.ipynb runs top to bottom on a Brown slice."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.mark.slow
def test_notebook_04_language_models_runs():
    notebook = nbformat.read(NOTEBOOKS / "04_language_models.ipynb", as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "\n".join(str(o.get("text", "")) for o in outputs)
    assert "AWD-LSTM:" in text and "GRU:" in text and "max |scratch - nn.GRU|" in text
    lines = [line for line in text.splitlines() if line.startswith(("0 ", "1 "))]
    assert len(lines) == 3 and lines[0] == lines[1] != lines[2]  # seeded generation
