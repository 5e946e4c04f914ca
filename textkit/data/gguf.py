"""Read GGUF files (llama.cpp's format) and convert Llama-style ones to a textkit LM folder.

The ``gguf`` package (ggml's own reader) parses the file and dequantizes each tensor to
float32. Two things about GGUF are easy to get wrong, and only logits or perplexity show it:

- shapes are listed innermost first (``[in, out]``); the arrays the reader returns are
  already ``(out, in)``, as ``torch.nn.Linear`` stores them;
- llama.cpp's converter permutes the rows of the query and key projections for its
  interleaved RoPE (pairs ``(2i, 2i+1)``); textkit's RoPE rotates the two halves of each head
  (``(i, i + d/2)``), as Hugging Face does, so :func:`unpermute_qk` undoes that permutation.

:func:`convert_gguf` writes ``config.json`` (``{"arch": "llama", "model": {...}, "source":
{file, sha256, bytes}}``), ``model.safetensors`` (float32, key names of
``textkit.nn.llama.LlamaLanguageModel``) and ``tokenizer.json`` (a
:class:`textkit.text.bpe.ByteBPETokenizer`) into one atomic folder: later loads memory-map
safetensors instead of dequantizing again. This module needs numpy only, never torch.

The Q4_1 and Q8_0 tensors are also kept as they are stored, in ``gguf_blocks.safetensors``
(uint8 blocks ``(out, in / 32, bytes)`` under ``"<textkit name>.q4_1"`` or ``".q8_0"``, q/k rows
unpermuted; ``config.json``'s ``"gguf_blocks"`` counts them), so ``load_language_model(...,
precision="q4")`` runs the file's own 4-bit weights without requantizing them. Each block holds
32 consecutive weights of one row (:func:`q4_1_fields`, :func:`q8_0_fields` split them):

- Q4_1 (20 bytes): ``d`` and ``m`` (float16), then 16 bytes of 4-bit codes ``q`` (the low
  nibbles are weights 0-15, the high nibbles 16-31); weight ``i`` is ``d * q[i] + m``;
- Q8_0 (34 bytes): ``d`` (float16), then 32 int8 codes ``q``; weight ``i`` is ``d * q[i]``.
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from textkit._io import atomic_folder, atomic_write_json, sha256_file, versions
from textkit.text.bpe import ByteBPETokenizer

__all__ = [
    "CONVERSION_VERSION",
    "GGUFError",
    "GGUFFile",
    "convert_gguf",
    "llama_config_from_gguf",
    "llama_blocks_from_gguf",
    "llama_tensors_from_gguf",
    "permute_qk",
    "q4_1_fields",
    "q8_0_fields",
    "read_gguf",
    "textkit_name",
    "tokenizer_from_gguf",
    "unpermute_qk",
]

# bump when the converted folder's layout or numbers change, so old caches are rebuilt
# (2: Q4_1 and Q8_0 tensors also kept as they are, in gguf_blocks.safetensors)
CONVERSION_VERSION = 2
BLOCKS_FILE = "gguf_blocks.safetensors"
BLOCK = 32  # weights per Q4_1 or Q8_0 block
BLOCK_BYTES = {"Q4_1": 20, "Q8_0": 34}  # Q4_1: d, m (float16), 16 bytes of nibbles; Q8_0: d (float16), 32 int8

_READ_ERRORS = (ValueError, IndexError, KeyError, OSError, EOFError, struct.error, UnicodeDecodeError)


class GGUFError(ValueError):
    """A GGUF file is unreadable (corrupted, truncated) or holds a model textkit cannot convert."""


def _require_gguf() -> Any:
    try:
        import gguf
    except ImportError as exc:
        raise ImportError(
            "reading GGUF model files needs the `gguf` package (ggml's reader): pip install gguf"
        ) from exc
    return gguf


def _corrupted(path: Path, expected_sha256: str | None, exc: BaseException) -> GGUFError:
    actual = sha256_file(path)
    expected = expected_sha256 or "unknown (a file of your own)"
    hint = (
        "the file is corrupted or truncated; delete it and fetch it again"
        if expected_sha256 and actual != expected_sha256
        else "it is not a GGUF file textkit can read"
    )
    return GGUFError(
        f"cannot read GGUF file {path} ({exc}): sha256 {actual} ({os.path.getsize(path):,} bytes), "
        f"expected sha256 {expected}; {hint}"
    )


@dataclass
class GGUFFile:
    """An open GGUF file: ``metadata`` (key -> plain Python value) and ``tensors`` (name ->
    the ``gguf`` reader's tensor; :meth:`array` dequantizes one)."""

    path: Path
    metadata: dict[str, Any]
    tensors: dict[str, Any]
    expected_sha256: str | None = None

    def array(self, name: str) -> np.ndarray:
        """Tensor ``name`` as a float32 array in PyTorch order (``(out, in)`` for a matrix)."""
        gguf = _require_gguf()
        if name not in self.tensors:
            raise KeyError(f"{self.path} has no tensor {name!r}")
        tensor = self.tensors[name]
        try:
            values = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
            expected = tuple(int(n) for n in reversed(tensor.shape))
            return np.ascontiguousarray(values, dtype=np.float32).reshape(expected)
        except _READ_ERRORS as exc:
            raise _corrupted(self.path, self.expected_sha256, exc) from exc
        except NotImplementedError as exc:
            raise GGUFError(f"{self.path}: tensor {name!r} uses a quantization gguf cannot dequantize: {exc}") from exc

    def blocks(self, name: str) -> tuple[str, np.ndarray] | None:
        """Tensor ``name``'s type (``"Q4_1"`` or ``"Q8_0"``) and its blocks as they are stored,
        uint8 ``(out, in / 32, bytes per block)`` in PyTorch row order; None for other types."""
        if name not in self.tensors:
            raise KeyError(f"{self.path} has no tensor {name!r}")
        tensor = self.tensors[name]
        qtype = getattr(tensor.tensor_type, "name", "")
        if qtype not in BLOCK_BYTES:
            return None
        shape = tuple(int(n) for n in reversed(tensor.shape))  # (out, in)
        if len(shape) != 2 or shape[1] % BLOCK:
            raise GGUFError(f"{self.path}: {qtype} tensor {name!r} has shape {shape}, not rows of 32-weight blocks")
        try:
            data = np.ascontiguousarray(tensor.data, dtype=np.uint8)
            return qtype, data.reshape(shape[0], shape[1] // BLOCK, BLOCK_BYTES[qtype])
        except _READ_ERRORS as exc:
            raise _corrupted(self.path, self.expected_sha256, exc) from exc

    def field(self, key: str) -> Any:
        if key not in self.metadata:
            raise GGUFError(f"{self.path} lacks the metadata key {key!r}")
        return self.metadata[key]


def read_gguf(path: str | os.PathLike, expected_sha256: str | None = None) -> GGUFFile:
    """Open a GGUF file (memory-mapped). A corrupted or truncated file raises
    :class:`GGUFError` naming the file, its sha256 and ``expected_sha256``."""
    gguf = _require_gguf()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"GGUF file {path} does not exist")
    try:
        reader = gguf.GGUFReader(str(path))
        metadata = {key: field.contents() for key, field in reader.fields.items()}
        tensors = {tensor.name: tensor for tensor in reader.tensors}
        for tensor in tensors.values():  # a truncated file leaves the last tensors short
            expected = int(tensor.n_bytes)
            if tensor.data.nbytes != expected:
                raise ValueError(f"tensor {tensor.name!r} has {tensor.data.nbytes} of its {expected} bytes")
    except _READ_ERRORS as exc:
        raise _corrupted(path, expected_sha256, exc) from exc
    return GGUFFile(path, metadata, tensors, expected_sha256)


# -- Llama ------------------------------------------------------------------------------------


def permute_qk(weight: np.ndarray, n_heads: int) -> np.ndarray:
    """llama.cpp's permutation of a query/key projection (``(n_heads * head_dim, in)``): within
    each head, rows ``i`` and ``i + head_dim/2`` become neighbours ``2i`` and ``2i + 1``."""
    rows = weight.shape[0]
    return weight.reshape(n_heads, 2, rows // n_heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def unpermute_qk(weight: np.ndarray, n_heads: int) -> np.ndarray:
    """The inverse of :func:`permute_qk`: back to the half-split layout of Hugging Face's RoPE."""
    rows = weight.shape[0]
    return weight.reshape(n_heads, rows // n_heads // 2, 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def llama_config_from_gguf(model: GGUFFile) -> dict[str, Any]:
    """The ``textkit.nn.llama.LlamaConfig`` fields of a Llama GGUF, as a plain dict."""
    arch = model.field("general.architecture")
    if arch != "llama":
        raise GGUFError(f"{model.path} holds a {arch!r} model; textkit converts only 'llama' GGUF files")
    prefix = "llama."
    d_model = int(model.field(prefix + "embedding_length"))
    n_heads = int(model.field(prefix + "attention.head_count"))
    head_dim = d_model // n_heads
    rope_dims = int(model.metadata.get(prefix + "rope.dimension_count", head_dim))
    if rope_dims != head_dim:
        raise GGUFError(f"{model.path}: RoPE over {rope_dims} of {head_dim} head dimensions is not supported")
    if prefix + "rope.scaling.type" in model.metadata or "rope_freqs.weight" in model.tensors:
        raise GGUFError(f"{model.path}: RoPE scaling (Llama 3.1 style) is not supported")
    tokens = model.field("tokenizer.ggml.tokens")
    return {
        "vocab_size": int(model.metadata.get(prefix + "vocab_size", len(tokens))),
        "d_model": d_model,
        "n_layers": int(model.field(prefix + "block_count")),
        "n_heads": n_heads,
        "n_kv_heads": int(model.metadata.get(prefix + "attention.head_count_kv", n_heads)),
        "d_ff": int(model.field(prefix + "feed_forward_length")),
        "rope_base": float(model.metadata.get(prefix + "rope.freq_base", 10000.0)),
        "norm_eps": float(model.field(prefix + "attention.layer_norm_rms_epsilon")),
        "max_len": int(model.metadata.get(prefix + "context_length", 2048)),
        "tie_embeddings": "output.weight" not in model.tensors,
    }


# GGUF tensor names -> textkit.nn.llama.LlamaLanguageModel parameter names
_GLOBAL_NAMES = {
    "token_embd.weight": "embed.weight",
    "output_norm.weight": "norm.weight",
    "output.weight": "head.weight",
}
_BLOCK_NAMES = {
    "attn_norm.weight": "attn_norm.weight",
    "attn_q.weight": "attn.q.weight",
    "attn_k.weight": "attn.k.weight",
    "attn_v.weight": "attn.v.weight",
    "attn_output.weight": "attn.o.weight",
    "ffn_norm.weight": "mlp_norm.weight",
    "ffn_gate.weight": "mlp.gate.weight",
    "ffn_up.weight": "mlp.up.weight",
    "ffn_down.weight": "mlp.down.weight",
}
_BLOCK = re.compile(r"blk\.(\d+)\.(.+)")


def textkit_name(gguf_name: str) -> str | None:
    """The textkit parameter name of a GGUF tensor (None: not one of a Llama's)."""
    if gguf_name in _GLOBAL_NAMES:
        return _GLOBAL_NAMES[gguf_name]
    match = _BLOCK.fullmatch(gguf_name)
    if match and match.group(2) in _BLOCK_NAMES:
        return f"blocks.{match.group(1)}.{_BLOCK_NAMES[match.group(2)]}"
    return None


def llama_tensors_from_gguf(model: GGUFFile, config: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
    """Every tensor of a Llama GGUF, dequantized to float32 under textkit's names, with the
    query and key rows put back in Hugging Face's order."""
    config = config or llama_config_from_gguf(model)
    unknown = sorted(name for name in model.tensors if textkit_name(name) is None)
    if unknown:
        raise GGUFError(f"{model.path} has tensors a Llama model does not: {unknown[:5]}")
    out: dict[str, np.ndarray] = {}
    for name in model.tensors:
        array = model.array(name)
        if name.endswith("attn_q.weight"):
            array = unpermute_qk(array, config["n_heads"])
        elif name.endswith("attn_k.weight"):
            array = unpermute_qk(array, config["n_kv_heads"])
        out[str(textkit_name(name))] = array
    expected = 2 + (0 if config["tie_embeddings"] else 1) + len(_BLOCK_NAMES) * config["n_layers"]
    if len(out) != expected:
        raise GGUFError(f"{model.path} has {len(out)} Llama tensors; a {config['n_layers']}-block model has {expected}")
    return out


def _check_blocks(blocks: np.ndarray, qtype: str) -> None:
    size = BLOCK_BYTES[qtype]
    if blocks.dtype != np.uint8 or blocks.ndim != 3 or blocks.shape[2] != size:
        raise ValueError(f"{qtype} blocks must be uint8 (rows, n_blocks, {size}), got {blocks.dtype} {blocks.shape}")


def q4_1_fields(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The parts of Q4_1 blocks ``(rows, n_blocks, 20)`` (uint8): scales ``d`` and minimums
    ``m`` ``(rows, n_blocks)`` (float16) and the codes ``(rows, n_blocks * 32)`` (uint8, 0-15),
    so that weight ``[r, 32 * b + i]`` is ``d[r, b] * codes[r, 32 * b + i] + m[r, b]``, which is
    what ``gguf.quants.dequantize`` computes, in float32."""
    _check_blocks(blocks, "Q4_1")
    d = np.ascontiguousarray(blocks[..., 0:2]).view(np.float16)[..., 0]  # (R, B)
    m = np.ascontiguousarray(blocks[..., 2:4]).view(np.float16)[..., 0]
    packed = blocks[..., 4:]  # (R, B, 16): byte j holds weight j (low nibble) and weight j + 16 (high)
    codes = np.concatenate([packed & 0x0F, packed >> 4], axis=-1)  # (R, B, 32)
    return d, m, codes.reshape(blocks.shape[0], -1)


def q8_0_fields(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The parts of Q8_0 blocks ``(rows, n_blocks, 34)`` (uint8): scales ``d`` ``(rows,
    n_blocks)`` (float16) and the codes ``(rows, n_blocks * 32)`` (int8), so that weight ``[r,
    32 * b + i]`` is ``d[r, b] * codes[r, 32 * b + i]``, as ``gguf.quants.dequantize`` computes."""
    _check_blocks(blocks, "Q8_0")
    d = np.ascontiguousarray(blocks[..., 0:2]).view(np.float16)[..., 0]  # (R, B)
    codes = np.ascontiguousarray(blocks[..., 2:]).view(np.int8)  # (R, B, 32)
    return d, codes.reshape(blocks.shape[0], -1)


def llama_blocks_from_gguf(model: GGUFFile, config: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
    """The Q4_1 and Q8_0 tensors of a Llama GGUF as they are stored (:meth:`GGUFFile.blocks`),
    under ``"<textkit name>.q4_1"`` or ``".q8_0"``, with the query and key rows (whole rows of
    blocks) put back in Hugging Face's order. Tensors of other types are left out."""
    config = config or llama_config_from_gguf(model)
    out: dict[str, np.ndarray] = {}
    for name in model.tensors:
        target = textkit_name(name)
        found = None if target is None else model.blocks(name)
        if found is None:
            continue
        qtype, blocks = found
        if name.endswith("attn_q.weight"):
            blocks = unpermute_qk(blocks, config["n_heads"])
        elif name.endswith("attn_k.weight"):
            blocks = unpermute_qk(blocks, config["n_kv_heads"])
        out[f"{target}.{qtype.lower()}"] = np.ascontiguousarray(blocks)
    return out


def tokenizer_from_gguf(model: GGUFFile) -> ByteBPETokenizer:
    """The byte-level BPE tokenizer recorded in a GGUF's metadata (``tokenizer.ggml.model`` =
    ``gpt2``): vocabulary, merges, control tokens (token type 3), special ids, and the
    pre-tokenizer that ``tokenizer.ggml.pre`` names."""
    kind = model.field("tokenizer.ggml.model")
    if kind != "gpt2":
        raise GGUFError(f"{model.path} has a {kind!r} tokenizer; textkit reads byte-level BPE ('gpt2') ones")
    tokens = list(model.field("tokenizer.ggml.tokens"))
    types = list(model.metadata.get("tokenizer.ggml.token_type", [1] * len(tokens)))
    special_ids = {
        name: int(model.metadata[f"tokenizer.ggml.{key}_token_id"])
        for name, key in (("unk", "unknown"), ("bos", "bos"), ("eos", "eos"), ("pad", "padding"))
        if f"tokenizer.ggml.{key}_token_id" in model.metadata
    }
    return ByteBPETokenizer.from_vocab(
        tokens,
        model.field("tokenizer.ggml.merges"),
        control_ids=[i for i, kind in enumerate(types) if kind == 3],
        special_ids=special_ids,
        pre=str(model.metadata.get("tokenizer.ggml.pre", "default")),
        add_bos=bool(model.metadata.get("tokenizer.ggml.add_bos_token", False)),
        chat_template=str(model.metadata.get("tokenizer.chat_template", "")),
    )


def convert_gguf(
    path: str | os.PathLike, folder: str | os.PathLike, *, expected_sha256: str | None = None, name: str = ""
) -> Path:
    """Convert a Llama GGUF into a textkit LM folder (atomically: an interrupted conversion
    leaves nothing): ``config.json``, ``model.safetensors`` (float32), ``tokenizer.json`` and,
    when the file has Q4_1 or Q8_0 tensors, ``gguf_blocks.safetensors`` (their blocks as they
    are, for ``precision="q4"``). ``config.json`` records the source file's sha256 so a cache
    can tell it is current."""
    from safetensors.numpy import save_file

    path = Path(path)
    digest = sha256_file(path)
    if expected_sha256 and digest != expected_sha256:
        raise GGUFError(
            f"GGUF file {path} has sha256 {digest}, expected {expected_sha256}: it is corrupted or a different "
            "file; delete it and fetch it again"
        )
    model = read_gguf(path, expected_sha256=expected_sha256 or digest)
    config = llama_config_from_gguf(model)
    tensors = llama_tensors_from_gguf(model, config)
    blocks = llama_blocks_from_gguf(model, config)
    tokenizer = tokenizer_from_gguf(model)
    if len(tokenizer) != config["vocab_size"]:
        raise GGUFError(f"{path}: the tokenizer has {len(tokenizer)} tokens, the model {config['vocab_size']}")
    with atomic_folder(folder) as staging:
        save_file(tensors, str(staging / "model.safetensors"), metadata={"format": "pt"})
        if blocks:
            save_file(blocks, str(staging / BLOCKS_FILE), metadata={"format": "gguf-blocks"})
        tokenizer.save(staging)
        atomic_write_json(
            staging / "config.json",
            {
                "arch": "llama",
                "model": config,
                "name": name or str(model.metadata.get("general.name", path.stem)),
                "source": {"file": path.name, "sha256": digest, "bytes": path.stat().st_size},
                "conversion_version": CONVERSION_VERSION,
                "dtype": "float32",
                **({"gguf_blocks": {"file": BLOCKS_FILE, "types": _count_types(blocks)}} if blocks else {}),
                "licence": str(model.metadata.get("general.license", "")),
                "versions": versions(("gguf", "tokenizers", "safetensors")),
            },
        )
    return Path(folder)


def _count_types(blocks: dict[str, np.ndarray]) -> dict[str, int]:
    """``{"Q4_1": n, "Q8_0": m}``: how many tensors of each type ``gguf_blocks.safetensors`` holds."""
    types = [key.rsplit(".", 1)[1].upper() for key in blocks]
    return {qtype: types.count(qtype) for qtype in sorted(set(types))}
