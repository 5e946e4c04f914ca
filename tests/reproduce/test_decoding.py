"""`textkit reproduce decoding` on a tiny random Llama served by name (the real SmolLM2 run is
the committed artifact), and the study's own metric, the Zipf coefficient."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("gguf")

from textkit.cli import main
from textkit.reproduce.decoding import METHODS, zipf_coefficient


def test_zipf_coefficient_recovers_the_exponent():
    # token r appears round(1000 / r**1.2) times: s = 1.2
    tokens = [r for r in range(1, 60) for _ in range(round(1000 / r**1.2))]
    assert zipf_coefficient([tokens]) == pytest.approx(1.2, abs=0.02)


def test_reproduce_decoding_quick_on_a_tiny_model(tiny_llm, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["reproduce", "decoding", "--model", "tiny-llama", "--out", str(out), "--quick", "--batch-size", "4"]
    assert main(args) == 0
    results = json.loads((out / "results.json").read_text())
    metrics = results["metrics"]
    assert set(metrics) == {"human", *METHODS}
    for name, m in metrics.items():
        assert m["perplexity"] > 1 and 0 <= m["self_bleu4"] <= 1 and 0 <= m["repetition_pct"] <= 100, name
        assert m["mean_length"] == 16
    # greedy takes the most likely token at every step: its text is likelier than pure samples'
    assert metrics["greedy"]["perplexity"] < metrics["pure-sampling"]["perplexity"]
    # 8 prompts, half from each corpus, recorded so the run can be repeated
    corpora = [d["corpus"] for d in results["config"]["documents"]]
    assert corpora.count("bbc-news") == 4 and corpora.count("brown") == 4
    assert "claims" in results and results["seed"] == 0
    printed = capsys.readouterr().out
    assert "nucleus-0.95" in printed and "paper" in printed
    # seeded: a second run gives the same numbers
    assert main([*args[:4], "--out", str(tmp_path / "again"), "--quick", "--batch-size", "4"]) == 0
    again = json.loads((tmp_path / "again" / "results.json").read_text())["metrics"]
    for name in metrics:
        assert np.isclose(again[name]["perplexity"], metrics[name]["perplexity"], rtol=1e-6), name
