"""`textkit reproduce decoding` on a tiny random Llama served by name (the real SmolLM2 run is
the committed artifact), and the study's own metric, the Zipf coefficient."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("gguf")

from textkit.cli import main
from textkit.reproduce.decoding import HOLTZMAN_GPT2_LARGE, METHODS, metrics_figure, zipf_coefficient


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
    png = (out / "metrics.png").read_bytes()
    assert len(png) > 1000 and png.startswith(b"\x89PNG\r\n\x1a\n")
    # seeded: a second run gives the same numbers
    assert main([*args[:4], "--out", str(tmp_path / "again"), "--quick", "--batch-size", "4"]) == 0
    again = json.loads((tmp_path / "again" / "results.json").read_text())["metrics"]
    for name in metrics:
        assert np.isclose(again[name]["perplexity"], metrics[name]["perplexity"], rtol=1e-6), name


def test_decoding_metrics_figure_panels_start_at_their_floor():
    """One panel per column of the paper's table: Self-BLEU4 and repetition from 0, perplexity on a
    log axis from 1 (its minimum); the human text is the dashed line, the paper's figures markers."""
    rng = np.random.default_rng(0)
    names = ["human", *METHODS]
    metrics = {
        m: {"perplexity": float(rng.uniform(1.5, 40)), "self_bleu4": 0.3, "repetition_pct": float(rng.uniform(0, 60))}
        for m in names
    }
    results = {
        "metrics": metrics,
        "model": "tiny-llama",
        "reference": {"values": HOLTZMAN_GPT2_LARGE},
        "config": {"prompts": 8, "prompt_tokens": 16, "new_tokens": 16},
    }
    ppl, bleu, repetition = metrics_figure(results).axes
    assert ppl.get_xscale() == "log" and ppl.get_xlim()[0] == 1.0
    assert bleu.get_xlim()[0] == 0.0 and repetition.get_xlim()[0] == 0.0
    for ax, key in ((ppl, "perplexity"), (bleu, "self_bleu4"), (repetition, "repetition_pct")):
        (line,) = ax.get_lines()
        assert line.get_xdata()[0] == pytest.approx(metrics["human"][key])
        # the paper's markers: one per method it reports (min-p is newer than the paper)
        assert len(ax.collections[0].get_offsets()) == len(HOLTZMAN_GPT2_LARGE)
