"""GGUF reading and conversion on a tiny Llama written here with ``gguf.GGUFWriter``: quantized
tensors, llama.cpp's permuted q/k rows, the tokenizer metadata, and the errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
pytest.importorskip("tokenizers")

from textkit.data.gguf import (  # noqa: E402 - after the importorskip guards
    GGUFError,
    convert_gguf,
    llama_config_from_gguf,
    llama_tensors_from_gguf,
    permute_qk,
    read_gguf,
    tokenizer_from_gguf,
    unpermute_qk,
)

TINY = {"d_model": 32, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2, "d_ff": 64, "max_len": 64}
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MERGES = ["Ġ t", "h e", "Ġt he", "i n", "Ġ a"]
CHAT_TEMPLATE = "{% for message in messages %}...{% endfor %}"


def tiny_vocab() -> tuple[list[str], list[str]]:
    from tokenizers import pre_tokenizers

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    merged = [m.replace(" ", "") for m in MERGES]
    return SPECIALS + alphabet + merged, list(MERGES)


def tiny_weights(seed: int = 0) -> dict[str, np.ndarray]:
    """Random float32 weights under textkit's names (q/k in Hugging Face order)."""
    rng = np.random.default_rng(seed)
    tokens, _ = tiny_vocab()
    d, ff, hd = TINY["d_model"], TINY["d_ff"], TINY["d_model"] // TINY["n_heads"]
    out = {"embed.weight": rng.standard_normal((len(tokens), d)).astype(np.float32) * 0.1}
    out["norm.weight"] = (1 + 0.1 * rng.standard_normal(d)).astype(np.float32)
    for i in range(TINY["n_layers"]):
        shapes = {
            "attn.q.weight": (TINY["n_heads"] * hd, d),
            "attn.k.weight": (TINY["n_kv_heads"] * hd, d),
            "attn.v.weight": (TINY["n_kv_heads"] * hd, d),
            "attn.o.weight": (d, d),
            "mlp.gate.weight": (ff, d),
            "mlp.up.weight": (ff, d),
            "mlp.down.weight": (d, ff),
        }
        for name, shape in shapes.items():
            out[f"blocks.{i}.{name}"] = (rng.standard_normal(shape) * 0.2).astype(np.float32)
        out[f"blocks.{i}.attn_norm.weight"] = (1 + 0.1 * rng.standard_normal(d)).astype(np.float32)
        out[f"blocks.{i}.mlp_norm.weight"] = (1 + 0.1 * rng.standard_normal(d)).astype(np.float32)
    return out


def write_tiny_llama_gguf(path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """Write a tiny Llama GGUF the way llama.cpp's converter does (q/k rows permuted, the token
    embedding Q8_0, layer 0's q projection Q4_1, the rest F32). Returns the weights textkit
    should read back: textkit's names, Hugging Face's q/k order, quantization applied."""
    q = gguf.quants
    types = gguf.GGMLQuantizationType
    weights = tiny_weights(seed)
    tokens, merges = tiny_vocab()
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(TINY["n_layers"])
    writer.add_context_length(TINY["max_len"])
    writer.add_embedding_length(TINY["d_model"])
    writer.add_feed_forward_length(TINY["d_ff"])
    writer.add_head_count(TINY["n_heads"])
    writer.add_head_count_kv(TINY["n_kv_heads"])
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(TINY["d_model"] // TINY["n_heads"])
    writer.add_vocab_size(len(tokens))
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm")
    writer.add_token_list(tokens)
    writer.add_token_types([3] * len(SPECIALS) + [1] * (len(tokens) - len(SPECIALS)))
    writer.add_token_merges(merges)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_pad_token_id(2)
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)
    expected = {}
    gguf_names = {
        "embed.weight": "token_embd.weight",
        "norm.weight": "output_norm.weight",
        "attn_norm.weight": "attn_norm.weight",
        "attn.q.weight": "attn_q.weight",
        "attn.k.weight": "attn_k.weight",
        "attn.v.weight": "attn_v.weight",
        "attn.o.weight": "attn_output.weight",
        "mlp_norm.weight": "ffn_norm.weight",
        "mlp.gate.weight": "ffn_gate.weight",
        "mlp.up.weight": "ffn_up.weight",
        "mlp.down.weight": "ffn_down.weight",
    }
    for name, array in weights.items():
        if name.startswith("blocks."):
            _, layer, rest = name.split(".", 2)
            gguf_name = f"blk.{layer}.{gguf_names[rest]}"
        else:
            gguf_name = gguf_names[name]
        stored = array
        if name.endswith("attn.q.weight"):
            stored = permute_qk(array, TINY["n_heads"])
        elif name.endswith("attn.k.weight"):
            stored = permute_qk(array, TINY["n_kv_heads"])
        qtype = types.Q8_0 if name == "embed.weight" else types.Q4_1 if name == "blocks.0.attn.q.weight" else None
        if qtype is None:
            writer.add_tensor(gguf_name, stored)
            expected[name] = array
        else:
            packed = q.quantize(stored, qtype)
            writer.add_tensor(gguf_name, packed, raw_dtype=qtype)
            round_trip = q.dequantize(packed, qtype).reshape(stored.shape)
            if name.endswith("attn.q.weight"):
                round_trip = unpermute_qk(round_trip, TINY["n_heads"])
            expected[name] = round_trip.astype(np.float32)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return expected


@pytest.fixture
def tiny_gguf(tmp_path) -> tuple[Path, dict[str, np.ndarray]]:
    path = tmp_path / "tiny.gguf"
    return path, write_tiny_llama_gguf(path)


def test_gguf_permute_qk_round_trips_and_pairs_halves():
    w = np.arange(2 * 8 * 3, dtype=np.float32).reshape(16, 3)  # 2 heads of dim 8
    permuted = permute_qk(w, 2)
    np.testing.assert_array_equal(unpermute_qk(permuted, 2), w)
    # within head 0, rows 0 and 4 (i and i + d/2) become neighbours 0 and 1
    np.testing.assert_array_equal(permuted[0], w[0])
    np.testing.assert_array_equal(permuted[1], w[4])
    np.testing.assert_array_equal(permuted[8 + 1], w[8 + 4])


def test_gguf_reader_metadata_and_config(tiny_gguf):
    path, _ = tiny_gguf
    model = read_gguf(path)
    assert model.metadata["general.architecture"] == "llama"
    config = llama_config_from_gguf(model)
    assert config == {
        "vocab_size": len(tiny_vocab()[0]),
        "d_model": 32,
        "n_layers": 2,
        "n_heads": 4,
        "n_kv_heads": 2,
        "d_ff": 64,
        "rope_base": 10000.0,
        "norm_eps": pytest.approx(1e-5),
        "max_len": 64,
        "tie_embeddings": True,
    }


def test_gguf_tensors_dequantized_reversed_shapes_and_unpermuted(tiny_gguf):
    path, expected = tiny_gguf
    tensors = llama_tensors_from_gguf(read_gguf(path))
    assert set(tensors) == set(expected)
    for name, array in expected.items():
        assert tensors[name].dtype == np.float32
        assert tensors[name].shape == array.shape, name
        np.testing.assert_array_equal(tensors[name], array, err_msg=name)


def test_gguf_tokenizer_from_metadata(tiny_gguf):
    path, _ = tiny_gguf
    tokenizer = tokenizer_from_gguf(read_gguf(path))
    assert tokenizer.special_ids == {"unk": 0, "bos": 1, "eos": 2, "pad": 2}
    assert tokenizer.pre == "smollm" and tokenizer.chat_template == CHAT_TEMPLATE
    encoded = tokenizer.encode("<|im_start|> the 42 in")
    assert encoded.tokens == ["<|im_start|>", "Ġthe", "Ġ", "4", "2", "Ġ", "in"]  # digits one by one
    assert encoded.ids[0] == 1
    assert tokenizer.decode(encoded.ids) == "<|im_start|> the 42 in"
    assert tokenizer.decode(encoded.ids, skip_special=True) == " the 42 in"


def test_gguf_convert_writes_an_lm_folder(tiny_gguf, tmp_path):
    from safetensors.numpy import load_file

    from textkit._io import sha256_file

    path, expected = tiny_gguf
    folder = convert_gguf(path, tmp_path / "converted", name="tiny")
    config = json.loads((folder / "config.json").read_text())
    assert config["arch"] == "llama" and config["name"] == "tiny"
    assert config["source"] == {"file": "tiny.gguf", "sha256": sha256_file(path), "bytes": path.stat().st_size}
    tensors = load_file(str(folder / "model.safetensors"))
    assert set(tensors) == set(expected)
    np.testing.assert_array_equal(tensors["blocks.1.attn.k.weight"], expected["blocks.1.attn.k.weight"])
    assert json.loads((folder / "tokenizer.json").read_text())["type"] == "byte_bpe"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".converted")]  # no staging left


def test_gguf_truncated_file_names_the_file_and_both_hashes(tiny_gguf, tmp_path):
    from textkit._io import sha256_file

    path, _ = tiny_gguf
    good = sha256_file(path)
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size - 500])
    with pytest.raises(GGUFError) as info:
        read_gguf(cut, expected_sha256=good)
    message = str(info.value)
    assert str(cut) in message and good in message and sha256_file(cut) in message
    with pytest.raises(GGUFError, match="expected"):
        convert_gguf(cut, tmp_path / "never", expected_sha256=good)
    assert not (tmp_path / "never").exists()


def test_gguf_garbage_file_is_a_gguf_error(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf file at all" * 10)
    with pytest.raises(GGUFError, match="cannot read GGUF file"):
        read_gguf(bad)


def test_gguf_missing_package_gives_an_install_hint(tiny_gguf, monkeypatch):
    path, _ = tiny_gguf
    monkeypatch.setitem(sys.modules, "gguf", None)
    with pytest.raises(ImportError, match="pip install gguf"):
        read_gguf(path)


# -- Q4_1 and Q8_0 blocks kept as they are (precision="q4") -----------------------------------

GGUF_NAMES = {
    "embed.weight": "token_embd.weight",
    "norm.weight": "output_norm.weight",
    "attn_norm.weight": "attn_norm.weight",
    "attn.q.weight": "attn_q.weight",
    "attn.k.weight": "attn_k.weight",
    "attn.v.weight": "attn_v.weight",
    "attn.o.weight": "attn_output.weight",
    "mlp_norm.weight": "ffn_norm.weight",
    "mlp.gate.weight": "ffn_gate.weight",
    "mlp.up.weight": "ffn_up.weight",
    "mlp.down.weight": "ffn_down.weight",
}


def write_tiny_q4_llama_gguf(path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """A tiny Llama GGUF laid out like SmolLM2-135M's: every Linear weight Q4_1, the tied token
    embedding Q8_0, norms F32; q/k rows permuted as llama.cpp's converter does. Returns what
    textkit should read back (float32, textkit's names, Hugging Face's q/k order)."""
    types = gguf.GGMLQuantizationType
    weights = tiny_weights(seed)
    tokens, merges = tiny_vocab()
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(TINY["n_layers"])
    writer.add_context_length(TINY["max_len"])
    writer.add_embedding_length(TINY["d_model"])
    writer.add_feed_forward_length(TINY["d_ff"])
    writer.add_head_count(TINY["n_heads"])
    writer.add_head_count_kv(TINY["n_kv_heads"])
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(len(tokens))
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm")
    writer.add_token_list(tokens)
    writer.add_token_types([3] * len(SPECIALS) + [1] * (len(tokens) - len(SPECIALS)))
    writer.add_token_merges(merges)
    writer.add_eos_token_id(2)
    writer.add_chat_template(CHAT_TEMPLATE)
    expected = {}
    for name, array in weights.items():
        layer, rest = name.split(".", 2)[1:] if name.startswith("blocks.") else (None, name)
        gguf_name = GGUF_NAMES[rest] if layer is None else f"blk.{layer}.{GGUF_NAMES[rest]}"
        heads = TINY["n_heads"] if rest == "attn.q.weight" else TINY["n_kv_heads"] if rest == "attn.k.weight" else 0
        stored = permute_qk(array, heads) if heads else array
        qtype = types.Q8_0 if name == "embed.weight" else types.Q4_1 if array.ndim == 2 else None
        if qtype is None:
            writer.add_tensor(gguf_name, stored)
            expected[name] = array
            continue
        packed = gguf.quants.quantize(stored, qtype)
        writer.add_tensor(gguf_name, packed, raw_dtype=qtype)
        round_trip = gguf.quants.dequantize(packed, qtype).reshape(stored.shape).astype(np.float32)
        expected[name] = unpermute_qk(round_trip, heads) if heads else round_trip
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return expected


@pytest.mark.parametrize("qtype", ["Q4_1", "Q8_0"])
def test_gguf_block_fields_rebuild_gguf_dequantize_bit_for_bit(qtype):
    from textkit.data.gguf import BLOCK_BYTES, q4_1_fields, q8_0_fields

    rng = np.random.default_rng(3)
    weight = (rng.standard_normal((6, 96)) * rng.uniform(0.01, 3, size=(6, 1))).astype(np.float32)
    weight[0, :32] = 0.25  # a constant block: d = 0
    packed = gguf.quants.quantize(weight, gguf.GGMLQuantizationType[qtype])
    reference = gguf.quants.dequantize(packed, gguf.GGMLQuantizationType[qtype]).reshape(weight.shape)
    blocks = packed.reshape(6, 3, BLOCK_BYTES[qtype])
    if qtype == "Q4_1":
        d, m, codes = q4_1_fields(blocks)
        assert codes.min() >= 0 and codes.max() <= 15
        scale, low = np.repeat(d.astype(np.float32), 32, 1), np.repeat(m.astype(np.float32), 32, 1)
        rebuilt = scale * codes.astype(np.float32) + low
    else:
        d, codes = q8_0_fields(blocks)
        assert codes.dtype == np.int8
        rebuilt = np.repeat(d.astype(np.float32), 32, 1) * codes.astype(np.float32)
    assert rebuilt.dtype == np.float32 and np.array_equal(rebuilt, reference)
    with pytest.raises(ValueError, match="blocks must be uint8"):
        (q8_0_fields if qtype == "Q4_1" else q4_1_fields)(blocks)


def test_gguf_convert_keeps_q4_1_and_q8_0_blocks_unpermuted(tmp_path):
    from safetensors.numpy import load_file

    from textkit.data.gguf import BLOCKS_FILE, q4_1_fields, q8_0_fields

    path = tmp_path / "tiny-q4.gguf"
    expected = write_tiny_q4_llama_gguf(path)
    folder = convert_gguf(path, tmp_path / "converted", name="tiny-q4")
    config = json.loads((folder / "config.json").read_text())
    linears = [n for n, a in expected.items() if a.ndim == 2 and n != "embed.weight"]
    assert config["gguf_blocks"] == {"file": BLOCKS_FILE, "types": {"Q4_1": len(linears), "Q8_0": 1}}
    blocks = load_file(str(folder / BLOCKS_FILE))
    assert set(blocks) == {f"{n}.q4_1" for n in linears} | {"embed.weight.q8_0"}
    floats = load_file(str(folder / "model.safetensors"))
    for key, stored in blocks.items():  # the blocks dequantize to the float32 weights, row for row
        name = key.rsplit(".", 1)[0]
        if key.endswith(".q4_1"):
            d, m, codes = q4_1_fields(stored)
            rebuilt = np.repeat(d.astype(np.float32), 32, 1) * codes + np.repeat(m.astype(np.float32), 32, 1)
        else:
            d, codes = q8_0_fields(stored)
            rebuilt = np.repeat(d.astype(np.float32), 32, 1) * codes.astype(np.float32)
        np.testing.assert_array_equal(rebuilt, floats[name], err_msg=key)
        np.testing.assert_array_equal(rebuilt, expected[name], err_msg=key)


def test_gguf_convert_records_the_block_types_of_a_mixed_file(tiny_gguf, tmp_path):
    """The tiny GGUF above (a Q8_0 embedding, one Q4_1 projection, the rest F32) keeps just
    those two tensors' blocks."""
    from safetensors.numpy import load_file

    path, _ = tiny_gguf
    folder = convert_gguf(path, tmp_path / "converted")
    config = json.loads((folder / "config.json").read_text())
    assert config["gguf_blocks"]["types"] == {"Q4_1": 1, "Q8_0": 1}
    assert sorted(load_file(str(folder / config["gguf_blocks"]["file"]))) == [
        "blocks.0.attn.q.weight.q4_1",
        "embed.weight.q8_0",
    ]
