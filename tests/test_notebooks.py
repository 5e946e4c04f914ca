"""The notebooks run top to bottom (01 here; the others are run by their packages' tests), and
every committed notebook carries its executed outputs: a reader browsing the repository sees the
tables, text and figures. `make notebooks` (tools/notebooks.py) refreshes them."""

import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
ALL = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
MAX_BYTES = 1_000_000
SKIP_TAG = "no-output"  # cell tag: the cell only imports, defines or sets parameters
MACHINE_PATHS = ("/work/", "/root/", "/home/", "/tmp/")


def _code_cells(name: str) -> list[dict]:
    notebook = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))
    return [c for c in notebook["cells"] if c["cell_type"] == "code"]


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _output_texts(output: dict) -> list[str]:
    """Everything a reader sees as text (images are base64, where '/tmp/' can occur by chance)."""
    texts = [_text(output.get("text", "")), _text(output.get("evalue", ""))]
    texts += [_text(line) for line in output.get("traceback", [])]
    texts += [_text(v) for k, v in output.get("data", {}).items() if not k.startswith("image/")]
    return texts


def test_notebooks_all_eight_present():
    assert len(ALL) == 8, ALL


@pytest.mark.parametrize("name", ALL)
def test_notebooks_committed_with_outputs(name):
    missing = [
        i
        for i, c in enumerate(_code_cells(name))
        if c["source"] and not c.get("outputs") and SKIP_TAG not in c.get("metadata", {}).get("tags", [])
    ]
    assert not missing, (
        f"{name}: code cells {missing} (0-based among code cells) have no output; run `make notebooks "
        f"NOTEBOOKS={name}` and commit the result, or tag a cell that only imports or defines with {SKIP_TAG!r}"
    )
    errors = [o.get("ename") for c in _code_cells(name) for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, f"{name}: committed with errors {errors}"


@pytest.mark.parametrize("name", ALL)
def test_notebooks_have_a_figure(name):
    images = [o for c in _code_cells(name) for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, f"{name}: no figure among its outputs; run `make notebooks NOTEBOOKS={name}`"


@pytest.mark.parametrize("name", ALL)
def test_notebooks_under_one_megabyte(name):
    size = (NOTEBOOKS / name).stat().st_size
    assert size <= MAX_BYTES, f"{name}: {size:,} bytes; plot at a lower dpi or show fewer figures"


@pytest.mark.parametrize("name", ALL)
def test_notebooks_outputs_hold_no_machine_paths(name):
    found = sorted(
        {
            (i, p)
            for i, c in enumerate(_code_cells(name))
            for o in c.get("outputs", [])
            for text in _output_texts(o)
            for p in MACHINE_PATHS
            if p in text
        }
    )
    assert not found, f"{name}: absolute paths in outputs (code cell, path): {found}; `make notebooks` strips them"
    timed = [i for i, c in enumerate(_code_cells(name)) if "execution" in c.get("metadata", {})]
    assert not timed, f"{name}: code cells {timed} keep timing metadata; `make notebooks` strips it"


@pytest.mark.slow
def test_notebooks_01_tokenization_runs(run_notebook):
    text = run_notebook("01_tokenization.ipynb")
    assert "xxmaj" in text and "xxunk" in text
