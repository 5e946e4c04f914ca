"""Shared fixtures: a tiny corpus, a tiny vocab, an isolated TEXTKIT_HOME for fetch tests, a
pretrained LLM by name (a tiny random Llama GGUF behind its own manifest), and a notebook runner."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

TINY_CORPUS = [
    "The movie was GREAT!!! I loved it.",
    "Don't waste your time... it's boring, boring, boring.",
    "An uneven but charming film &amp; a fine cast.",
    "Mr. Smith's U.S. debut: well-known, well-made.",
    "",
]


# pytest -n 2 runs two workers on two cores: one torch intra-op thread each avoids oversubscription
TORCH_TEST_DIRS = {"classical", "nn", "reproduce", "train", "transfer"}


@pytest.fixture(autouse=True)
def _one_torch_thread(request):
    if Path(request.node.path).parent.name not in TORCH_TEST_DIRS:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def tiny_corpus() -> list[str]:
    return list(TINY_CORPUS)


@pytest.fixture
def tiny_vocab():
    from textkit.text import Tokenizer, Vocab

    tokenizer = Tokenizer()
    return Vocab.build([tokenizer.tokenize(t) for t in TINY_CORPUS])


@pytest.fixture
def isolated_home(tmp_path, monkeypatch):
    """A fresh, empty TEXTKIT_HOME so fetch tests never touch the user's cache."""
    home = tmp_path / "textkit-home"
    monkeypatch.setenv("TEXTKIT_HOME", str(home))
    return home


TINY_LLM_MANIFEST = """name = "tiny-llama-gguf"
kind = "files"
reader = "files"
description = "a tiny random Llama written by the test"
licence = "CC0-1.0"
citation = "none"
splits = ["all"]

[[sources]]
type = "url"
url = "{url}"
path = "tiny.gguf"

[files]
"tiny.gguf" = "{sha}"

[options]
model = "tiny-llama"
gguf = "tiny.gguf"
"""


@dataclass
class TinyLLM:
    name: str  # what textkit loads it by
    served: Path  # the GGUF its manifest fetches (file:// URL)
    tensors: dict  # the weights written into the GGUF (numpy arrays), by textkit name


@pytest.fixture
def tiny_llm(tmp_path, isolated_home, monkeypatch) -> TinyLLM:
    """A pretrained LLM named "tiny-llama": its manifest fetches a tiny random Llama GGUF from a
    file:// URL, so fetching, verifying and converting run as for SmolLM2-135M, offline."""
    pytest.importorskip("gguf")
    pytest.importorskip("tokenizers")
    from tests.data.test_gguf import write_tiny_llama_gguf
    from textkit._io import sha256_file

    served = tmp_path / "served" / "tiny.gguf"
    served.parent.mkdir()
    tensors = write_tiny_llama_gguf(served)
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "tiny-llama-gguf.toml").write_text(
        TINY_LLM_MANIFEST.format(url=served.as_uri(), sha=sha256_file(served)), encoding="utf-8"
    )
    monkeypatch.setenv("TEXTKIT_CORPORA_PATH", str(manifests))
    return TinyLLM("tiny-llama", served, tensors)


@pytest.fixture
def run_notebook():
    """Execute ``notebooks/NAME`` top to bottom; fail on any cell error; return the printed and
    displayed text. ``parameters`` replaces the cell that starts with ``# Parameters``."""
    import nbformat
    from nbclient import NotebookClient

    def run(name: str, *, parameters: str | None = None, workdir: Path | None = None, timeout: int = 600) -> str:
        notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
        if parameters is not None:
            cell = next(c for c in notebook.cells if c.cell_type == "code" and c.source.startswith("# Parameters"))
            cell.source = "# Parameters (test)\n" + parameters
        path = str(workdir or NOTEBOOKS)
        NotebookClient(
            notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": path}}
        ).execute()
        outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
        errors = [o for o in outputs if o.get("output_type") == "error"]
        assert not errors, f"{name}: {errors[0].get('ename')}: {errors[0].get('evalue')}" if errors else ""
        shown = ("text/plain", "text/markdown")
        return "\n".join(
            str(o.get("text", "")) + "".join(str(o.get("data", {}).get(k, "")) for k in shown) for o in outputs
        )

    return run
