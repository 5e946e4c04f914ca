"""Generated samples quoted in the guides are what the command prints today (docs/neural.md's
once showed tokenized text: `said , "`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_neural_guide_generation_sample_is_the_real_output():
    text = (ROOT / "docs" / "neural.md").read_text(encoding="utf-8")
    ((command, shown),) = re.findall(r"^\$ (textkit lm generate awd_lstm-en [^\n]+)\n([^\n]+)\n", text, flags=re.M)
    assert " , " not in shown and "xxmaj" not in shown  # detokenized
    textkit = Path(sys.executable).parent / "textkit"
    argv = [str(textkit), *command.split()[1:3], *re.findall(r'"[^"]*"|\S+', command)[3:]]
    argv = [a.strip('"') for a in argv]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == shown
