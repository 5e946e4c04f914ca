"""Precisions for running a pretrained Llama on the CPU: ``"fp32"``, ``"bf16"``, ``"int8"``, ``"q4"``.

``load_language_model(name_or_folder, precision=...)`` checks the request with
:func:`check_precision` before it reads any weight, then applies it with :func:`apply_precision`:

- **fp32** (the default): the weights as converted; logits bit-identical to Hugging Face's.
- **bf16**: every weight and activation in bfloat16.
- **int8**: every ``Linear``, the LM head included, dynamically quantized by
  ``torch.ao.quantization.quantize_dynamic``: int8 weights with one scale per output row,
  float32 activations quantized per call (one scale per tensor, 7 bits on x86). Meant for
  weights stored in higher precision. On SmolLM2-135M it is fast and *not usable*: the inputs of
  the SwiGLU down projections carry outliers that per-tensor activation scales crush, and
  perplexity rises almost fivefold (quantizing every Linear but those still costs 26%).
- **q4**: the GGUF's own Q4_1 weights, run by PyTorch's int4 weight-only kernel
  (``torch.ops.aten._weight_int4pack_mm_for_cpu``, groups of 32, bfloat16 activations), with
  no requantization: the 4-bit codes go in as they are stored. A Q8_0 weight (SmolLM2's tied LM
  head: its token embedding) runs through the same kernel as two 4-bit halves of its 8-bit
  codes (:class:`Int4PairLinear`), again with no requantization; requantizing it to 4 bits
  costs 6% perplexity, and a bfloat16 head measured about 12 ms a token slower. q/k/v and
  gate/up, which read the same input, run as one matrix each (:data:`FUSED`). Everything else
  (norms, attention, the embedding lookup, weights stored as floats) runs in bfloat16.

Measured on SmolLM2-135M (``bench/results/generate_quantized.json``; 1 thread, batch-1 greedy,
23-token prompt, 128 new tokens, median of 3 interleaved rounds; perplexity on 4,093 held-out
wiki-summaries tokens; a shared 2-core machine, so the speeds are lower bounds):

=========  ===========  ==========  =====================
precision  tokens/s     perplexity  vs fp32
=========  ===========  ==========  =====================
fp32       15.7         37.97       1x
bf16       14.9         38.06       0.95x, +0.2% ppl
int8       30.1         182.2       1.9x, +380% ppl
q4         39.9         38.08       2.5x, +0.3% ppl
=========  ===========  ==========  =====================

Side by side with llama.cpp (``bench/generate_llamacpp.py``: one process, same GGUF, prompt and
thread, interleaved rounds, on the same shared machine at load 9): q4 greedy 20.2 tokens/s
against llama.cpp's 24.3 (0.83x); nearly all of q4's time is the int4 kernel itself, which reads
its weights at 5-6 GB/s at batch 1 (a microbenchmark here; a float32 sum reads 12.7)
(``bench/results/generate_llamacpp_cut_run.txt``).

**The Q4_1 -> int4 mapping.** The kernel dequantizes code ``q`` (0-15) of group ``g`` in output
row ``n`` as ``w = (q - 8) * scale[g, n] + zero[g, n]`` (torch's own tests quantize with
``zero = min + 8 * scale``; a scale of 1 and a zero of 0 give back ``q - 8``). A Q4_1 block
stores ``w = d * q + m``, so with the same codes::

    scale = d        zero = m + 8 * d        (computed in float32: exact for float16 d and m)

With float32 activations the kernel then reproduces ``gguf.quants.dequantize`` bit for bit. It
takes scales in the activations' dtype, and it is fast only with bfloat16 ones, so q4 stores
``scale`` and ``zero`` rounded to bfloat16: a weight moves by at most ``|q - 8| * ulp(d) / 2 +
ulp(zero) / 2`` (on SmolLM2-135M at most 4.6% of a quantization step ``d``, 0.5% on average).
:meth:`Int4Linear.dequantized` returns the weights the kernel uses.

**Q8_0 as two 4-bit halves.** A Q8_0 block stores ``w = d * q`` with ``q`` in -128..127. With
``u = q + 128 = 16 * hi + lo`` (``hi``, ``lo`` in 0..15), ``w = [(hi - 8) * 16d + 8d] + [(lo - 8)
* d + 0]``: two int4 matrices with scales ``16d`` and ``d`` and zeros ``8d`` and ``0``, exact in
float32. With bfloat16 scales, ``16d`` and ``8d`` round exactly as ``d`` does; the kernel rounds
each half's product to bfloat16, and the two are added in float32 (float32 logits). A weight
moves by less than 1% of itself plus ``d / 8``, about what bfloat16 weights would move it.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "FUSED",
    "GROUP",
    "PRECISIONS",
    "Int4Linear",
    "Int4PairLinear",
    "apply_precision",
    "check_precision",
    "int4_from_q4_1",
    "int4_pair_from_q8_0",
    "int4_kernel_missing",
    "quantize_int8",
    "quantize_q4",
]

PRECISIONS = ("fp32", "bf16", "int8", "q4")
GROUP = 32  # weights per quantization group: one Q4_1 block
QUANTIZED_ARCHS = frozenset({"llama"})  # int8 and q4 are for pretrained decoders
_N_MULTIPLE = 16  # the int4 kernel packs output rows in tiles of 16
# projections that read the same input, fused under q4 into the slot a module keeps for them
FUSED = {"qkv": ("q", "k", "v"), "gate_up": ("gate", "up")}


def int4_kernel_missing() -> str | None:
    """Why this torch cannot run the int4 CPU kernel, or None when it can."""
    ops = torch.ops.aten
    if not (hasattr(ops, "_weight_int4pack_mm_for_cpu") and hasattr(ops, "_convert_weight_to_int4pack_for_cpu")):
        return f"torch {torch.__version__} has no int4 CPU kernel (_weight_int4pack_mm_for_cpu; torch >= 2.5 does)"
    try:
        packed = ops._convert_weight_to_int4pack_for_cpu(torch.zeros(_N_MULTIPLE, GROUP, dtype=torch.int32), 2)
        scales = torch.ones(1, _N_MULTIPLE, 2, dtype=torch.bfloat16)
        ops._weight_int4pack_mm_for_cpu(torch.ones(1, GROUP, dtype=torch.bfloat16), packed, GROUP, scales)
    except RuntimeError as exc:
        return f"torch {torch.__version__}'s int4 CPU kernel fails here: {exc}"
    return None


def _int8_engine_missing() -> str | None:
    if torch.backends.quantized.engine == "none":
        return f"torch {torch.__version__} has no quantized CPU engine (torch.backends.quantized.engine is 'none')"
    return None


class Int4Linear(nn.Module):
    """``y = x W^T`` (no bias) with ``W`` held as 4-bit codes in groups of :data:`GROUP` along
    the input, one scale and zero point per group and output row: torch's int4 weight-only CPU
    kernel, which dequantizes ``w = (codes - 8) * scale + zero``. ``x`` is cast to the scales'
    dtype (bfloat16); the output has that dtype. Output rows are padded to a multiple of 16
    inside (the kernel's tile) and cut off again."""

    def __init__(
        self, codes: torch.Tensor, scales: torch.Tensor, zeros: torch.Tensor, dtype: torch.dtype = torch.bfloat16
    ) -> None:
        super().__init__()
        out_features, in_features = codes.shape  # codes (N, K), scales and zeros (N, K / GROUP)
        if in_features % GROUP or scales.shape != (out_features, in_features // GROUP) or scales.shape != zeros.shape:
            raise ValueError(
                f"int4 weights need (out, in) codes with in a multiple of {GROUP} and (out, in / {GROUP}) scales and "
                f"zeros; got codes {tuple(codes.shape)}, scales {tuple(scales.shape)}, zeros {tuple(zeros.shape)}"
            )
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) > 15):
            raise ValueError("int4 codes must lie in 0..15")
        self.in_features, self.out_features = in_features, out_features
        pad = -out_features % _N_MULTIPLE
        codes = F.pad(codes.to(torch.int32), (0, 0, 0, pad))
        scales_and_zeros = torch.stack([scales.float(), zeros.float()], dim=-1)  # (N, K / G, 2)
        scales_and_zeros = F.pad(scales_and_zeros, (0, 0, 0, 0, 0, pad)).transpose(0, 1)  # (K / G, N + pad, 2)
        self.register_buffer("packed", torch.ops.aten._convert_weight_to_int4pack_for_cpu(codes.contiguous(), 2))
        self.register_buffer("scales_and_zeros", scales_and_zeros.to(dtype).contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features)  # (M, K)
        if rows.dtype != self.scales_and_zeros.dtype or not rows.is_contiguous():  # the usual case needs neither
            rows = rows.to(self.scales_and_zeros.dtype).contiguous()
        out = torch.ops.aten._weight_int4pack_mm_for_cpu(rows, self.packed, GROUP, self.scales_and_zeros)  # (M, N')
        if out.size(1) != self.out_features:
            out = out[:, : self.out_features]
        return (
            out.view(*x.shape[:-1], self.out_features)
            if out.is_contiguous()
            else out.reshape(*x.shape[:-1], self.out_features)
        )

    def dequantized(self) -> torch.Tensor:
        """The weights (out, in) the kernel multiplies by, in the scales' dtype: the kernel
        applied to the identity, so exactly what it computes with."""
        eye = torch.eye(self.in_features, dtype=self.scales_and_zeros.dtype, device=self.packed.device)
        return self(eye).T.contiguous()

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, group={GROUP}, int4"


def int4_from_q4_1(blocks: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Codes (out, in) int32, scales and zeros (out, in / 32) float32 of Q4_1 blocks ``(out,
    in / 32, 20)`` (uint8) for :class:`Int4Linear`: the codes as stored, ``scale = d`` and
    ``zero = m + 8 * d`` (see the module's docstring)."""
    from textkit.data.gguf import q4_1_fields

    d, m, codes = q4_1_fields(np.asarray(blocks))
    scale = torch.from_numpy(d.astype(np.float32))
    zero = torch.from_numpy(m.astype(np.float32)) + 8 * scale
    return torch.from_numpy(codes.astype(np.int32)), scale, zero


def int4_pair_from_q8_0(
    blocks: np.ndarray,
) -> tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """The two halves ``(codes, scales, zeros)`` of Q8_0 blocks ``(out, in / 32, 34)`` for
    :class:`Int4PairLinear`: high nibbles of ``q + 128`` with ``scale = 16 d``, ``zero = 8 d``;
    low nibbles with ``scale = d``, ``zero = 0`` (see the module's docstring)."""
    from textkit.data.gguf import q8_0_fields

    d, q = q8_0_fields(np.asarray(blocks))
    scale = torch.from_numpy(d.astype(np.float32))
    unsigned = torch.from_numpy(q.astype(np.int32) + 128)  # (N, K), 0..255
    high = (unsigned >> 4, 16 * scale, 8 * scale)
    low = (unsigned & 15, scale, torch.zeros_like(scale))
    return high, low


class Int4PairLinear(nn.Module):
    """An 8-bit weight as the sum of two :class:`Int4Linear` (``high`` and ``low`` nibbles of
    its codes), both on the int4 kernel; the two products are added in float32, so the output
    is float32."""

    def __init__(self, high: Int4Linear, low: Int4Linear) -> None:
        super().__init__()
        if (high.in_features, high.out_features) != (low.in_features, low.out_features):
            raise ValueError("the two halves of an 8-bit weight must have the same shape")
        self.in_features, self.out_features = high.in_features, high.out_features
        self.high, self.low = high, low

    @classmethod
    def from_q8_0(cls, blocks: np.ndarray) -> Int4PairLinear:
        high, low = int4_pair_from_q8_0(blocks)
        return cls(Int4Linear(*high), Int4Linear(*low))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.high(x).float() + self.low(x).float()

    def dequantized(self) -> torch.Tensor:
        """The weights (out, in) the two kernels multiply by, added in float32."""
        return self.high.dequantized().float() + self.low.dequantized().float()


def quantize_int8(model: nn.Module) -> nn.Module:
    """``model`` with every ``nn.Linear`` replaced in place by a dynamically quantized one: int8
    weights with a scale per output row, activations quantized per call. CPU inference only."""
    with warnings.catch_warnings():  # torch.ao.quantization announces its move to torchao
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        return quantize_dynamic(model, {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True)


def check_precision(
    precision: str | None,
    arch: str,
    config: Mapping,
    folder: str | os.PathLike,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
) -> None:
    """Refuse, before any weight is read, a precision that this model or this machine cannot
    run: an unknown name, int8 or q4 for a model that is not a pretrained decoder or off the
    CPU, q4 for a model without Q4_1 weights or a torch without the int4 kernel, and a
    precision given together with ``dtype``."""
    if precision is None:
        return
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if dtype is not None:
        raise ValueError(f"give precision={precision!r} or dtype={dtype}, not both (precision='bf16' casts)")
    if precision in ("fp32", "bf16"):
        return
    if arch not in QUANTIZED_ARCHS:
        raise ValueError(
            f"precision={precision!r} is for pretrained decoders ({', '.join(sorted(QUANTIZED_ARCHS))}); "
            f"{folder} holds a {arch!r} model: use 'fp32' or 'bf16'"
        )
    if torch.device(device).type != "cpu":
        raise ValueError(f"precision={precision!r} runs on CPU kernels only; load with device='cpu' (got {device!r})")
    missing = _int8_engine_missing() if precision == "int8" else int4_kernel_missing()
    if missing:
        raise ValueError(f"precision={precision!r} cannot run on this machine: {missing}; use 'bf16' or 'fp32'")
    blocks = config.get("gguf_blocks", {})
    kept = bool(blocks.get("types", {}).get("Q4_1")) and (Path(folder) / str(blocks.get("file", ""))).is_file()
    if precision == "q4" and not kept:
        source = config.get("source", {}).get("file") or "its weights"
        raise ValueError(
            f"precision='q4' runs a GGUF's own Q4_1 weights, and {folder} has none ({source} holds no Q4_1 tensor, "
            "the folder was converted by an older textkit, or it is a copy saved without gguf_blocks.safetensors); "
            "use 'int8', 'bf16' or 'fp32'"
        )


def _read_blocks(folder: Path, config: Mapping) -> dict[str, tuple[str, np.ndarray]]:
    """Weight name -> (``"Q4_1"`` or ``"Q8_0"``, its blocks) from the folder's
    ``gguf_blocks.safetensors`` (:func:`textkit.data.gguf.convert_gguf` writes it)."""
    from safetensors.numpy import load_file

    from textkit._folders import confined

    path = confined(folder, str(config["gguf_blocks"]["file"]), "GGUF block file")
    try:
        stored = load_file(str(path))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} is corrupted or truncated ({exc}); delete {folder} to convert it again") from exc
    out = {}
    for key, blocks in stored.items():
        name, _, qtype = key.rpartition(".")
        if qtype.upper() not in ("Q4_1", "Q8_0"):
            raise ValueError(
                f"{path}: {key!r} is not '<weight>.q4_1' or '<weight>.q8_0'; delete {folder} to convert it again"
            )
        out[name] = (qtype.upper(), blocks)
    return out


def apply_precision(model: nn.Module, precision: str | None, folder: str | os.PathLike, config: Mapping) -> nn.Module:
    """``model`` (loaded in float32, on the CPU for int8 and q4) run at ``precision``, after
    :func:`check_precision` accepted it. Modules are replaced in place; the model is returned."""
    if precision in (None, "fp32"):
        return model
    if precision == "bf16":
        return model.to(torch.bfloat16)
    if precision == "int8":
        return quantize_int8(model)
    return quantize_q4(model, _read_blocks(Path(folder), config), str(folder))


def quantize_q4(model: nn.Module, blocks: Mapping[str, tuple[str, np.ndarray]], where: str = "the model") -> nn.Module:
    """``model`` in bfloat16 with every ``nn.Linear`` whose weight ``blocks`` holds (``name ->
    ("Q4_1" | "Q8_0", blocks)``) on the int4 kernel: Q4_1 as :class:`Int4Linear`, Q8_0 as
    :class:`Int4PairLinear`; a tied head reads the token embedding's blocks. Q4_1 projections
    that share an input become one matrix where the model has a slot for it (:data:`FUSED`:
    ``attn.qkv``, ``mlp.gate_up``): the same codes and scales, fewer kernel calls. In place."""
    tied = bool(getattr(getattr(model, "config", None), "tie_embeddings", False))

    def stored(name: str, module: nn.Module) -> tuple[str, np.ndarray] | None:
        found = blocks.get("embed.weight" if tied and name == "head" else f"{name}.weight")
        if found is None or not isinstance(module, nn.Linear):
            return None
        qtype, data = found
        expected = (module.out_features, module.in_features // GROUP, 20 if qtype == "Q4_1" else 34)
        if module.in_features % GROUP or tuple(data.shape) != expected:
            raise ValueError(
                f"{where}: the {qtype} blocks of {name} have shape {tuple(data.shape)}, the layer is "
                f"{module.out_features} x {module.in_features}; delete {where} to convert it again"
            )
        return found

    replaced: dict[str, nn.Module] = {}
    removed: set[str] = set()
    for parent_name, parent in model.named_modules():
        for slot, parts in FUSED.items():
            if not hasattr(parent, slot) or not all(isinstance(getattr(parent, p, None), nn.Module) for p in parts):
                continue
            names = [f"{parent_name}.{p}" if parent_name else p for p in parts]
            found = [stored(n, getattr(parent, p)) for n, p in zip(names, parts, strict=True)]
            if all(f is not None and f[0] == "Q4_1" for f in found):
                pieces = [int4_from_q4_1(f[1]) for f in found if f is not None]
                fused = Int4Linear(*(torch.cat(tensors) for tensors in zip(*pieces, strict=True)))
                replaced[f"{parent_name}.{slot}" if parent_name else slot] = fused
                removed.update(names)
    for name, module in model.named_modules():
        found = None if name in removed else stored(name, module)
        if found is not None:
            qtype, data = found
            replaced[name] = Int4Linear(*int4_from_q4_1(data)) if qtype == "Q4_1" else Int4PairLinear.from_q8_0(data)
    if not any(isinstance(m, Int4Linear) for m in replaced.values()):
        raise ValueError(f"{where} has no Q4_1 weight of a Linear layer; precision='q4' has nothing to run")
    for name in removed:
        parent, _, child = name.rpartition(".")
        delattr(model.get_submodule(parent), child)
    for name, module in replaced.items():
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, child, module)
    return model.to(torch.bfloat16)
