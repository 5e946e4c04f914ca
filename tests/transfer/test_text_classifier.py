"""TextClassifier: input order, batching, ensembles, export/load in a fresh process, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from textkit.transfer import ClassifierSettings, TextClassifier, UnfreezeStage, train_classifier

SHORT = ClassifierSettings(stages=(UnfreezeStage("all", 2, 1e-2),), batch_size=8, bptt=4, drop_mult=0.0)


@pytest.fixture
def trained(tiny_lm, tiny_pipeline, sentiment_texts):
    texts, labels = sentiment_texts
    fwd, _ = train_classifier(tiny_lm, tiny_pipeline, texts, labels, SHORT, device="cpu")
    bwd, _ = train_classifier(tiny_lm, tiny_pipeline, texts, labels, SHORT, backwards=True, device="cpu")
    return fwd, bwd


def test_results_come_back_in_input_order_whatever_the_batch_size(trained, sentiment_texts):
    fwd, _ = trained
    texts = sentiment_texts[0][:20] + ["a much longer review : " + "film and story , " * 30]
    proba = fwd.predict_proba(texts, batch_size=64)
    order = np.random.default_rng(0).permutation(len(texts))
    shuffled = fwd.predict_proba([texts[i] for i in order], batch_size=3)
    np.testing.assert_allclose(shuffled, proba[order], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)
    assert set(fwd.predict(texts)) <= {"neg", "pos"}


def test_ensemble_averages_forward_and_backward(trained, sentiment_texts):
    fwd, bwd = trained
    texts = sentiment_texts[0][:10]
    both = TextClassifier.ensemble(fwd, bwd)
    assert sorted(both.members) == ["backward", "forward"]
    np.testing.assert_allclose(
        both.predict_proba(texts), (fwd.predict_proba(texts) + bwd.predict_proba(texts)) / 2, rtol=1e-6
    )
    with pytest.raises(ValueError, match="two classifiers for the forward direction"):
        TextClassifier.ensemble(fwd, fwd)


def test_export_loads_in_a_fresh_process_with_no_pickle(tmp_path, trained, sentiment_texts):
    both = TextClassifier.ensemble(*trained)
    texts = sentiment_texts[0][:6]
    folder = both.save(tmp_path / "clf")
    names = sorted(p.name for p in folder.iterdir())
    assert "classifier.json" in names and "forward.safetensors" in names and "backward.safetensors" in names
    assert not [n for n in names if n.endswith((".pkl", ".pt", ".pth", ".bin"))]
    config = json.loads((folder / "classifier.json").read_text())
    assert config["classes"] == ["neg", "pos"] and config["directions"] == ["forward", "backward"]
    code = (
        "import json, sys; from textkit.transfer import TextClassifier; "
        f"c = TextClassifier.load({str(folder)!r}); "
        f"print(json.dumps(c.predict_proba({texts!r}).tolist()))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    np.testing.assert_allclose(np.array(json.loads(done.stdout)), both.predict_proba(texts), rtol=1e-6)


def test_empty_and_whitespace_texts(trained):
    fwd, _ = trained
    with pytest.raises(ValueError, match=r"texts \[1, 2\] are empty or whitespace only"):
        fwd.predict(["a film", "", "  \n\t"])
    proba = fwd.predict_proba(["a film", "", "  \n\t"], on_empty="predict")
    np.testing.assert_allclose(proba[1], proba[2], rtol=1e-6)  # both are just xxbos
    assert fwd.predict_proba([]).shape == (0, 2)


def test_bad_inputs_get_clear_errors(tmp_path, trained):
    fwd, _ = trained
    with pytest.raises(TypeError, match="not a single string"):
        fwd.predict("a film")
    with pytest.raises(TypeError, match=r"texts\[1\] is bytes"):
        fwd.predict(["a film", b"bytes"])
    with pytest.raises(TypeError, match=r"texts\[0\] is NoneType"):
        fwd.predict([None])
    with pytest.raises(ValueError, match="were not seen at training time"):
        fwd.score(["a film"], ["neutral"])
    with pytest.raises(FileNotFoundError, match="not a folder written by TextClassifier.save"):
        TextClassifier.load(tmp_path)
    folder = fwd.save(tmp_path / "clf")
    weights = folder / "forward.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # a truncated copy
    with pytest.raises(ValueError, match="corrupted or truncated"):
        TextClassifier.load(folder)


def test_odd_unicode_and_huge_texts_are_classified(trained):
    fwd, _ = trained
    texts = ["🎬 café naïve — 映画 ﻿", "‮reversed‬", "x" * 200_000, "film " * 20_000]
    proba = fwd.predict_proba(texts, batch_size=2)
    assert proba.shape == (4, 2) and np.isfinite(proba).all()


def test_bf16_inference_is_close_to_fp32(trained, sentiment_texts):
    fwd, _ = trained
    texts = sentiment_texts[0][:16]
    exact = fwd.predict_proba(texts)
    fast = fwd.predict_proba(texts, precision="bf16")
    assert fast.dtype == np.float64 and np.abs(fast - exact).max() < 2e-2
    with pytest.raises(ValueError, match="precision must be"):
        fwd.predict_proba(texts, precision="fp8")
