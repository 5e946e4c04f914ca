"""The AWD-LSTM textkit ships (models/awd_lstm-en): loads by name in a fresh process and
reproduces the perplexity its manifest records on the en-mix test split."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from textkit.data.pretrained import list_pretrained, pretrained_manifest

SCRIPT = """
import json, sys, torch
torch.set_num_threads(1)
from textkit.transfer import load_pretrained
from textkit.recipes.language_model import evaluate_language_model
from textkit.data.pretrained import pretrained_folder
out = {}
for direction in ("forward", "backward"):
    bundle = load_pretrained("awd_lstm-en", direction=direction)
    assert bundle.config["data"]["backwards"] == (direction == "backward")
    folder = pretrained_folder("awd_lstm-en", direction)
    out[direction] = evaluate_language_model(folder, split="test", device="cpu")["perplexity"]
print(json.dumps(out))
"""


def test_shipped_awd_lstm_en_is_listed_and_fits_the_size_budget():
    assert "awd_lstm-en" in list_pretrained()
    manifest = pretrained_manifest("awd_lstm-en")
    folder = list_pretrained()["awd_lstm-en"]
    total = 0
    for direction in ("forward", "backward"):
        for rel in manifest["directions"][direction]["files"]:
            size = (folder / direction / rel).stat().st_size
            assert size <= 16 * 2**20, f"{direction}/{rel} is over 16 MiB"
            total += size
    assert total <= 32 * 10**6  # both directions together


@pytest.mark.slow
def test_shipped_awd_lstm_en_reproduces_its_perplexity_in_a_fresh_process():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    manifest = pretrained_manifest("awd_lstm-en")
    for direction, perplexity in measured.items():
        assert perplexity == pytest.approx(manifest["directions"][direction]["perplexity"]["test"], rel=0.005)
