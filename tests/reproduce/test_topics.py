"""``textkit reproduce topics --quick`` on BBC News: results.json, charts, and the parity goals."""

from __future__ import annotations

import json

import pytest

from textkit.cli import main

TOPIC_KEYS = {"textkit-svd", "textkit-nmf", "sklearn-svd", "sklearn-nmf"}


@pytest.mark.slow
def test_reproduce_topics_quick_bbc_news(tmp_path, capsys):
    assert main(["reproduce", "topics", "--quick", "--k", "5", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert set(results) >= {"metrics", "seed", "versions", "config"}
    metrics = results["metrics"]
    assert set(metrics) >= TOPIC_KEYS
    for key in TOPIC_KEYS:
        assert 0.0 <= metrics[key]["nmi"] <= 1.0 and metrics[key]["seconds"] > 0
    for key in ("textkit-nmf", "sklearn-nmf"):
        assert metrics[key]["reconstruction_err"] > 0
    tk, sk = metrics["textkit-nmf"], metrics["sklearn-nmf"]
    # same matrix, same init family, both at their defaults (textkit in float32): the same
    # factorization to well within the bar of 0.1% in error; the topics agree
    assert tk["reconstruction_err"] <= sk["reconstruction_err"] * (1 + 1e-3)
    assert tk["nmi"] >= sk["nmi"] - 0.005
    assert tk["nmi"] > 0.6  # NMF topics track the 5 BBC categories
    assert metrics["textkit-svd"]["nmi"] < tk["nmi"]  # SVD directions are not categories
    assert len(results["topics"]["textkit-nmf"]) == 5 and len(results["topics"]["textkit-nmf"][0]) == 10
    assert results["config"]["k"] == 5 and results["config"]["n_documents"] == 800
    for key in ("textkit-nmf", "textkit-svd"):
        assert (tmp_path / f"top_words_{key}.png").stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "textkit-nmf top words" in printed and "NMI" in printed and "0.78" in printed


def test_reproduce_topics_rejects_a_bad_k(tmp_path, capsys):
    assert main(["reproduce", "topics", "--k", "0", "--out", str(tmp_path)]) == 1
    assert "--k" in capsys.readouterr().err
