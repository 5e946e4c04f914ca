"""docs/quickstart.md runs as written: every `console` block's `$ ` commands run in one empty
folder, in order, with the checkout's `textkit` on PATH, and print what the guide shows (only
timings such as `2.2 s` may differ). The `sh` install block is checked with `make -n` (a real
install would rebuild the shared venv)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "quickstart.md"


def _blocks(kind: str) -> list[list[str]]:
    text = GUIDE.read_text(encoding="utf-8")
    return [block.splitlines() for block in re.findall(rf"^```{kind}\n(.*?)^```$", text, flags=re.M | re.S)]


def _steps() -> list[tuple[str, str]]:
    """(command, expected output) pairs; a here-document's lines belong to its command."""
    steps: list[tuple[str, str]] = []
    for lines in _blocks("console"):
        i = 0
        while i < len(lines):
            assert lines[i].startswith("$ "), f"{GUIDE.name}: output before any command: {lines[i]!r}"
            command = [lines[i][2:]]
            i += 1
            heredoc = re.search(r"<<'(\w+)'", command[0])
            if heredoc:
                while lines[i] != heredoc.group(1):
                    command.append(lines[i])
                    i += 1
                command.append(lines[i])
                i += 1
            output = []
            while i < len(lines) and not lines[i].startswith("$ "):
                output.append(lines[i])
                i += 1
            steps.append(("\n".join(command), "\n".join(output)))
    return steps


def _normalized(text: str) -> str:
    return re.sub(r"\b\d+\.\d+ s\b", "N s", text).strip()


def test_quickstart_guide_covers_the_first_hour():
    commands = " ".join(command for command, _ in _steps())
    for verb in ("classify train", "classify predict", "topics", "lm generate", "translate transformer-es-en", "audit"):
        assert f"textkit {verb}" in commands
    assert _blocks("sh") == [["make install"]]


def test_quickstart_install_block_is_what_the_makefile_does():
    done = subprocess.run(["make", "-n", "-B", "install"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "tools/install_torch.py" in done.stdout and '-e ".[dev]"' in done.stdout


@pytest.mark.slow
def test_quickstart_commands_print_what_the_guide_shows(tmp_path):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", OMP_NUM_THREADS="1")
    env.pop("TEXTKIT_CORPORA_PATH", None)
    for command, expected in _steps():
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # interleaved, as a terminal shows them
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}"
        shown = "\n".join(line for line in done.stdout.splitlines() if "\r" not in line)
        assert _normalized(shown) == _normalized(expected), f"$ {command}"
