"""``textkit reproduce ulmfit --backbone minilm-l6`` (``textkit.reproduce.ulmfit_encoder``)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("tokenizers")

from tests.data import test_encoders
from textkit.reproduce import ulmfit_encoder

tiny_encoder = test_encoders.tiny_encoder  # a tiny random BERT by name ("tiny-bert")


def test_ulmfit_encoder_backbone_dispatch_tells_encoders_from_llms(tmp_path):
    assert ulmfit_encoder.is_encoder("minilm-l6")
    assert not ulmfit_encoder.is_encoder("smollm2-135m")
    (tmp_path / "config.json").write_text(json.dumps({"arch": "bert"}))
    assert ulmfit_encoder.is_encoder(str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"arch": "llama"}))
    assert not ulmfit_encoder.is_encoder(str(tmp_path))


def test_ulmfit_encoder_references_name_their_committed_files():
    refs = ulmfit_encoder.references()
    assert set(refs) == {"nbsvm-bi", "smollm2-probe", "smollm2-finetuned", "awd-lstm-ensemble"}
    for ref in refs.values():
        assert ref["source"].startswith("bench/results/") and "metrics." in ref["source"]


@pytest.mark.slow
def test_ulmfit_encoder_quick_run_and_combine(tiny_encoder, tmp_path):
    out = ulmfit_encoder.run_ulmfit_encoder(tmp_path, backbone="tiny-bert", quick=True, log=lambda _line: None)
    # the check re-batches 64 texts (other padding than the full prediction): equal to float rounding
    assert out["config"]["n_train"] == 300 and out["round_trip"]["max_abs_proba_diff"] < 1e-5
    assert {"minilm-probe", "minilm-ulmfit"} <= set(out["metrics"])
    merged = ulmfit_encoder.combine([tmp_path / "results_ulmfit_seed0.json"], tmp_path / "all.json")
    assert merged["metrics"]["minilm-ulmfit"]["n_seeds"] == 1
