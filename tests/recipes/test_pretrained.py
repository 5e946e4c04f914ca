"""Shipped pretrained models: export trained LM folders, load them by name, refuse damage."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from textkit.data import pretrained as registry
from textkit.recipes.language_model import LMRecipe, pretrain_language_model
from textkit.recipes.pretrained import export_pretrained
from textkit.transfer import load_pretrained


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("runs")
    recipe = LMRecipe.load("models/tiny-test.json")
    pretrain_language_model(recipe, root / "fwd", quiet=True)
    from textkit.text import load_pipeline

    backward = dataclasses.replace(recipe, data=dataclasses.replace(recipe.data, backwards=True))
    pretrain_language_model(backward, root / "bwd", quiet=True, pipeline=load_pipeline(root / "fwd"))
    return root


@pytest.fixture
def shipped(tiny_runs, tmp_path, monkeypatch):
    manifest = export_pretrained(
        {"forward": tiny_runs / "fwd", "backward": tiny_runs / "bwd"}, "tiny-en", tmp_path, dtype="bf16"
    )
    monkeypatch.setattr(registry, "shipped_dir", lambda kind: tmp_path)
    return tmp_path / "tiny-en", manifest


def test_pretrained_export_stores_bf16_and_records_sha256(shipped):
    folder, manifest = shipped
    from safetensors.torch import load_file

    for direction in ("forward", "backward"):
        tensors = load_file(str(folder / direction / "model.safetensors"))
        assert {t.dtype for t in tensors.values() if t.is_floating_point()} == {torch.bfloat16}
        facts = manifest["directions"][direction]
        assert set(facts["files"]) == {"config.json", "model.safetensors", "tokenizer.json", "vocab.json"}
        assert sorted(p.name for p in (folder / direction).iterdir()) == sorted(facts["files"])
        assert facts["perplexity"]["valid"] > 1
    # bf16 storage changes the perplexity only a little against the fp32 run
    fwd = manifest["directions"]["forward"]
    assert fwd["perplexity"]["valid"] == pytest.approx(fwd["fp32_perplexity"]["valid"], rel=0.02)


def test_pretrained_loads_by_name_and_reproduces_its_perplexity(shipped):
    folder, manifest = shipped
    assert "tiny-en" in registry.list_pretrained()
    for direction in ("forward", "backward"):
        bundle = load_pretrained("tiny-en", direction=direction)
        assert bundle.config["data"]["backwards"] == (direction == "backward")
        assert next(bundle.model.parameters()).dtype == torch.float32
        from textkit.recipes.language_model import evaluate_language_model

        again = evaluate_language_model(folder / direction, split="test", device="cpu")["perplexity"]
        assert again == pytest.approx(manifest["directions"][direction]["perplexity"]["test"], rel=1e-3)


def test_pretrained_truncated_or_missing_file_names_the_file_and_hash(shipped):
    folder, manifest = shipped
    weights = folder / "forward" / "model.safetensors"
    expected = manifest["directions"]["forward"]["files"]["model.safetensors"]
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(registry.PretrainedChecksumError, match=f"model.safetensors.*expected {expected}"):
        load_pretrained("tiny-en")
    weights.unlink()
    with pytest.raises(registry.PretrainedChecksumError, match="missing"):
        load_pretrained("tiny-en")
    with pytest.raises(ValueError, match="no 'sideways' direction"):
        registry.pretrained_folder("tiny-en", "sideways")
    with pytest.raises(KeyError, match="Shipped models: tiny-en"):
        registry.pretrained_manifest("nope")


def test_pretrained_export_refuses_mismatched_runs(tiny_runs, tmp_path):
    with pytest.raises(ValueError, match="cannot be the backward model"):
        export_pretrained({"backward": tiny_runs / "fwd"}, "x", tmp_path)


def test_pretrained_export_sums_a_warm_started_chain(tiny_runs, tmp_path):
    """A direction trained in two runs (the second with init_from) is exported with both runs
    recorded and the card's steps, tokens and time summed over them."""
    from textkit.recipes.pretrained import model_card

    recipe = LMRecipe.load("models/tiny-test.json")
    second = tmp_path / "fwd-2"
    pretrain_language_model(recipe, second, quiet=True, max_steps=3, init_from=tiny_runs / "fwd")
    manifest = export_pretrained({"forward": second}, "tiny-chain", tmp_path / "out")
    runs = manifest["directions"]["forward"]["runs"]
    first_steps = json.loads((tiny_runs / "fwd" / "config.json").read_text())["metrics"]["steps"]
    assert [run["steps"] for run in runs] == [first_steps, 3]
    assert runs[1]["tokens_seen"] == 3 * recipe.train.batch_size * recipe.train.bptt
    card = model_card(manifest, recipe.to_dict(), data_rows=[("brown", "1", "x", "y")])
    tokens = sum(run["tokens_seen"] for run in runs)
    assert f"| forward | {first_steps:,} + 3 | " in card and f"~{tokens / 1e6:.1f}M" in card
    assert "### Training runs" in card
