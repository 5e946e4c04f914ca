"""`textkit reproduce ulmfit --backbone FOLDER --quick` end to end on rotten-tomatoes fold 0, with
a tiny random Llama instead of SmolLM2 (the real run is bench/results/ulmfit_smollm2.json)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.transfer.tiny_llama import tiny_backbone_folder
from textkit.reproduce.ulmfit_llm import METHODS, QUICK_SETTINGS


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    import argparse

    import torch

    from textkit.reproduce import ulmfit

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("ulmfit-llm")
    backbone = tiny_backbone_folder(root / "backbone")
    parser = argparse.ArgumentParser()
    ulmfit.add_arguments(parser)
    args = parser.parse_args(["--out", str(root / "run"), "--quick", "--backbone", str(backbone), "--device", "cpu"])
    try:
        assert ulmfit.run(args) == 0  # the command's own dispatch
    finally:
        torch.set_num_threads(previous)
    return root / "run", backbone


def test_ulmfit_llm_quick_run_writes_every_method(quick_run):
    out, backbone = quick_run
    results = json.loads((out / "results.json").read_text())
    assert list(results["metrics"]) == list(METHODS)
    for key in METHODS:
        assert 0.0 <= results["metrics"][key]["accuracy"] <= 1.0
    assert results["config"]["n_train"] == QUICK_SETTINGS["max_train_docs"]
    assert results["config"]["backbone"]["source"] == str(backbone)
    assert results["seed"] == 0 and "commit" in results["versions"] and "dirty" in results["versions"]
    assert results["timings_s"]["cpu"]["total"] > 0 and results["cpu_minutes"] >= 0
    assert all("[quick run" in goal for goal in results["goals"])
    assert results["details"]["frozen_pass"]["cache_boundary_block"] == 2  # the tiny model's 4 blocks, top 2 train
    assert results["details"]["round_trip"]["same_labels"]
    assert results["details"]["round_trip"]["max_abs_proba_diff"] < 1e-6
    assert set(results["metrics"]["llm-probe-pooled"]["inner_cv_accuracy"]) == {"0.1", "1.0"}


def test_ulmfit_llm_quick_run_saves_a_loadable_classifier(quick_run):
    from textkit import data
    from textkit.transfer import TextClassifier

    out, _ = quick_run
    clf = TextClassifier.load(out / "classifier")
    texts = [r["text"] for r in data.load("rotten-tomatoes")[:5]]
    assert set(clf.predict(texts)) <= set(clf.classes)
    assert clf.predict_proba(texts).shape == (5, 2)
    assert np.allclose(clf.predict_proba(texts).sum(1), 1)
