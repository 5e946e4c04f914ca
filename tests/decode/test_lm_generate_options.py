"""`textkit lm generate` with textkit.decode options: --top-p, --min-p, --repetition-penalty,
--no-repeat-ngram, --beam (every option goes through textkit.decode)."""

from __future__ import annotations

from pathlib import Path

import pytest

from textkit.cli import main

TINY = Path(__file__).resolve().parents[2] / "models" / "tiny-test.json"


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("lm") / "tiny"
    assert main(["lm", "pretrain", "--config", str(TINY), "--out", str(out), "--quiet", "--max-steps", "4"]) == 0
    return out


def generate(capsys, folder, *options):
    assert main(["lm", "generate", str(folder), "--prompt", "The jury", "--max-new-tokens", "12", *options]) == 0
    return capsys.readouterr().out.strip()


@pytest.mark.slow
def test_lm_generate_decode_options(tiny_lm, capsys):
    a = generate(capsys, tiny_lm, "--top-p", "0.9", "--seed", "3")
    assert a == generate(capsys, tiny_lm, "--top-p", "0.9", "--seed", "3")
    assert a.startswith("The jury") or "jury" in a.lower()
    beam = generate(capsys, tiny_lm, "--beam", "3")
    assert beam == generate(capsys, tiny_lm, "--beam", "3", "--seed", "9")  # beam search is deterministic
    greedy = generate(capsys, tiny_lm, "--temperature", "0", "--no-repeat-ngram", "2")
    assert len(greedy.split()) > 2
    assert generate(capsys, tiny_lm, "--min-p", "0.05", "--repetition-penalty", "1.3", "--seed", "1")
    assert main(["lm", "generate", str(tiny_lm), "--prompt", "The jury", "--top-p", "1.5"]) == 1  # clear error, exit 1
    assert "top_p" in capsys.readouterr().err
