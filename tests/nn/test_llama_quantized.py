"""Quantized Llama inference (``textkit.nn.quantize``) on a tiny random GGUF laid out like
SmolLM2-135M's (Q4_1 Linear weights, a Q8_0 tied embedding): the Q4_1 -> int4 mapping
dequantizes exactly as ``gguf`` does, q4 greedy decoding matches the bf16 model of the same
dequantized weights, refusals say why, and fp32 is untouched."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

gguf = pytest.importorskip("gguf")
pytest.importorskip("tokenizers")

from tests.data.test_gguf import write_tiny_q4_llama_gguf  # noqa: E402 - after the importorskip guards
from textkit import decode  # noqa: E402
from textkit.data.gguf import convert_gguf, q4_1_fields, q8_0_fields  # noqa: E402
from textkit.nn import load_language_model  # noqa: E402
from textkit.nn.quantize import (  # noqa: E402
    Int4Linear,
    Int4PairLinear,
    int4_from_q4_1,
    int4_kernel_missing,
)

pytestmark = pytest.mark.skipif(int4_kernel_missing() is not None, reason=str(int4_kernel_missing()))

PROMPT = "the cat in a hat the end"


@pytest.fixture(scope="module")
def q4_folder(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("q4")
    write_tiny_q4_llama_gguf(tmp / "tiny-q4.gguf")
    return convert_gguf(tmp / "tiny-q4.gguf", tmp / "converted", name="tiny-q4")


def random_blocks(qtype: str, rows: int = 48, cols: int = 96, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Blocks (rows, cols / 32, bytes) of a random matrix with rows of very different scales, and
    gguf's own float32 dequantization of them (rows, cols)."""
    rng = np.random.default_rng(seed)
    weight = (rng.standard_normal((rows, cols)) * rng.uniform(1e-3, 4, size=(rows, 1))).astype(np.float32)
    weight[1] += 3.0  # a row far from zero: large Q4_1 minimums
    kind = gguf.GGMLQuantizationType[qtype]
    packed = gguf.quants.quantize(weight, kind)
    reference = gguf.quants.dequantize(packed, kind).reshape(rows, cols).astype(np.float32)
    return packed.reshape(rows, cols // 32, -1), reference


def test_quantize_int4_kernel_dequantizes_q4_1_bit_for_bit_with_float32_scales():
    """scale = d, zero = m + 8 d: the kernel's (q - 8) * scale + zero is gguf's d * q + m."""
    blocks, reference = random_blocks("Q4_1")
    layer = Int4Linear(*int4_from_q4_1(blocks), dtype=torch.float32)
    assert torch.equal(layer.dequantized(), torch.from_numpy(reference))


def test_quantize_int4_kernel_holds_gguf_codes_and_bf16_rounded_scales():
    """With bfloat16 activations the codes are still gguf's, bit for bit, and the only change is
    d and m + 8 d rounded to bfloat16: each weight moves by well under a tenth of a step."""
    blocks, reference = random_blocks("Q4_1", seed=1)
    d, m, codes = q4_1_fields(blocks)
    codes_t = torch.from_numpy(codes.astype(np.int32))
    # scale 1, zero 8 turns the kernel's dequantization into the identity on the codes
    probe = Int4Linear(codes_t, torch.ones(d.shape), torch.full(d.shape, 8.0))
    assert torch.equal(probe.dequantized().float(), codes_t.float())

    layer = Int4Linear(*int4_from_q4_1(blocks))  # bfloat16 scales and zeros
    scale = torch.from_numpy(d.astype(np.float32))
    zero = torch.from_numpy(m.astype(np.float32)) + 8 * scale
    scale16, zero16 = (t.bfloat16().float().repeat_interleave(32, dim=1) for t in (scale, zero))
    expected = ((codes_t - 8) * scale16 + zero16).bfloat16()
    assert torch.equal(layer.dequantized(), expected)
    moved = (layer.dequantized().float() - torch.from_numpy(reference)).abs()
    step = scale.repeat_interleave(32, dim=1)
    assert bool((moved <= 0.1 * step + 2**-8 * torch.from_numpy(reference).abs()).all())


def test_quantize_q8_0_as_two_int4_halves_is_exact():
    """u = q + 128 = 16 hi + lo: [(hi - 8) 16d + 8d] + [(lo - 8) d] = d q, in float32 exactly as
    gguf dequantizes; with bfloat16 scales each half is that formula with d rounded to
    bfloat16, rounded to bfloat16 on the way out."""
    from textkit.nn.quantize import int4_pair_from_q8_0

    blocks, reference = random_blocks("Q8_0", rows=40, seed=2)
    high, low = int4_pair_from_q8_0(blocks)
    exact = Int4PairLinear(Int4Linear(*high, dtype=torch.float32), Int4Linear(*low, dtype=torch.float32))
    assert torch.equal(exact.dequantized(), torch.from_numpy(reference))

    d, q = q8_0_fields(blocks)
    unsigned = torch.from_numpy(q.astype(np.int64) + 128)
    scale16 = torch.from_numpy(d.astype(np.float32)).bfloat16().float().repeat_interleave(32, dim=1)
    expected = ((unsigned // 16 - 8) * 16 * scale16 + 8 * scale16).bfloat16().float()
    expected += ((unsigned % 16 - 8) * scale16).bfloat16().float()
    pair = Int4PairLinear.from_q8_0(blocks)
    assert torch.equal(pair.dequantized(), expected)
    moved = (pair.dequantized() - torch.from_numpy(reference)).abs()
    step = torch.from_numpy(d.astype(np.float32)).repeat_interleave(32, dim=1)
    assert bool((moved <= 2**-7 * torch.from_numpy(reference).abs() + 2**-3 * step).all())  # < 1% of |w| + d / 8


def test_quantize_int4_linear_pads_rows_and_keeps_batch_shape():
    blocks, reference = random_blocks("Q4_1", rows=20, cols=64, seed=4)  # 20 rows: not a multiple of 16
    layer = Int4Linear(*int4_from_q4_1(blocks), dtype=torch.float32)
    x = torch.randn(2, 3, 64)
    out = layer(x)
    assert out.shape == (2, 3, 20)
    torch.testing.assert_close(out, x @ torch.from_numpy(reference).T, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="multiple of 32"):
        Int4Linear(torch.zeros(16, 40, dtype=torch.int32), torch.ones(16, 1), torch.ones(16, 1))


def test_quantize_q4_model_runs_the_gguf_blocks(q4_folder):
    """Every Linear on the int4 kernel (q/k/v and gate/up fused, the tied Q8_0 head as two
    halves), each holding the converted float32 weights up to the bfloat16 rounding of its
    scales; a fused matrix is its parts' codes and scales stacked, bit for bit."""
    model = load_language_model(q4_folder, precision="q4").model
    reference = load_language_model(q4_folder).model
    linears = {
        n: m for n, m in model.named_modules() if isinstance(m, (Int4Linear, Int4PairLinear)) and "head." not in n
    }
    projections = ("attn.qkv", "attn.o", "mlp.gate_up", "mlp.down")
    assert set(linears) == {f"blocks.{i}.{p}" for i in range(2) for p in projections} | {"head"}
    assert not any(isinstance(m, torch.nn.Linear) for m in model.modules())
    assert model.embed.weight.dtype == torch.bfloat16
    parts = {"qkv": ("q", "k", "v"), "gate_up": ("gate", "up")}
    for name, layer in linears.items():
        parent, _, slot = name.rpartition(".")
        names = [f"{parent}.{p}" for p in parts.get(slot, (slot,))]
        weight = (
            reference.embed.weight if name == "head" else torch.cat([reference.get_submodule(n).weight for n in names])
        ).detach()
        scale = 2**-7 * float(weight.abs().max())
        torch.testing.assert_close(layer.dequantized().float(), weight, rtol=2**-7, atol=scale)
    blocks = _stored_blocks(q4_folder)
    alone = [Int4Linear(*int4_from_q4_1(blocks[f"blocks.1.attn.{p}.weight"])).dequantized() for p in "qkv"]
    assert torch.equal(linears["blocks.1.attn.qkv"].dequantized(), torch.cat(alone))


def _stored_blocks(folder: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return {k.rsplit(".", 1)[0]: v for k, v in load_file(str(folder / "gguf_blocks.safetensors")).items()}


def test_quantize_q4_greedy_matches_the_bf16_dequantized_reference(q4_folder):
    """The same GGUF weights, dequantized to float32 and run in bfloat16 (precision="bf16"),
    give the same greedy tokens; logits agree within 0.1 (the largest is about 2)."""
    q4 = load_language_model(q4_folder, precision="q4")
    bf16 = load_language_model(q4_folder, precision="bf16")
    ids = torch.tensor([q4.pipeline.encode(PROMPT).ids])
    with torch.no_grad():
        a, b = q4.model(ids)[0].float(), bf16.model(ids)[0].float()
    assert float((a - b).abs().max()) < 0.1
    tokens = [decode.generate(m.model.step, ids, decode.Greedy(), 16, eos_id=None).tokens for m in (q4, bf16)]
    assert torch.equal(tokens[0], tokens[1])


def test_quantize_fp32_is_the_model_as_converted(q4_folder):
    default = load_language_model(q4_folder).model
    explicit = load_language_model(q4_folder, precision="fp32").model
    assert all(type(m) is not Int4Linear for m in explicit.modules())
    assert explicit.head.weight is explicit.embed.weight and explicit.embed.weight.dtype == torch.float32
    ids = torch.tensor([[5, 9, 100, 7, 42]])
    with torch.no_grad():
        assert torch.equal(default(ids)[0], explicit(ids)[0])


def test_quantize_int8_and_bf16_load_and_decode(q4_folder):
    fp32 = load_language_model(q4_folder)
    ids = torch.tensor([fp32.pipeline.encode(PROMPT).ids])
    with torch.no_grad():
        reference = fp32.model(ids)[0]
    for precision in ("int8", "bf16"):
        bundle = load_language_model(q4_folder, precision=precision)
        with torch.no_grad():
            logits = bundle.model(ids)[0].float()
        assert float((logits - reference).abs().max()) < 0.25 * float(reference.abs().max()), precision
        assert decode.generate(bundle.model.step, ids, decode.Greedy(), 4).tokens.shape[1] <= 4
    head = load_language_model(q4_folder, precision="int8").model.head
    assert isinstance(head, torch.ao.nn.quantized.dynamic.Linear)


def test_quantize_refuses_what_the_model_or_machine_cannot_run(q4_folder, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="unknown precision 'int4'.*fp32, bf16, int8, q4"):
        load_language_model(q4_folder, precision="int4")
    with pytest.raises(ValueError, match="not both"):
        load_language_model(q4_folder, precision="q4", dtype=torch.bfloat16)
    with pytest.raises(ValueError, match="CPU kernels only"):
        load_language_model(q4_folder, precision="q4", device="cuda")

    old = tmp_path / "old"  # a folder without the GGUF's blocks (converted before they were kept)
    shutil.copytree(q4_folder, old)
    config = json.loads((old / "config.json").read_text())
    del config["gguf_blocks"]
    (old / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="runs a GGUF's own Q4_1 weights.*has none.*'int8', 'bf16' or 'fp32'"):
        load_language_model(old, precision="q4")
    assert load_language_model(old, precision="int8").model is not None  # the other precisions still run
    copy = load_language_model(q4_folder).save(tmp_path / "copy")  # float weights only
    with pytest.raises(ValueError, match="a copy saved without gguf_blocks.safetensors"):
        load_language_model(copy, precision="q4")

    awd = tmp_path / "awd"  # refused from its config alone, before any weight is read
    awd.mkdir()
    (awd / "config.json").write_text(json.dumps({"arch": "awd_lstm", "model": {"vocab_size": 10}}))
    for precision in ("int8", "q4"):
        with pytest.raises(ValueError, match="is for pretrained decoders.*'awd_lstm' model"):
            load_language_model(awd, precision=precision)

    import textkit.nn.quantize as quantize

    monkeypatch.setattr(quantize, "int4_kernel_missing", lambda: "no int4 kernel in this build")
    with pytest.raises(ValueError, match="cannot run on this machine: no int4 kernel in this build"):
        load_language_model(q4_folder, precision="q4")


def test_quantize_q4_by_name_for_a_pretrained_llm(tiny_llm):
    """A pretrained LLM by name (fetched and converted like SmolLM2): its one Q4_1 projection
    runs on the int4 kernel, its float32 ones in bfloat16, its Q8_0 head as two halves."""
    from textkit.recipes.pretrained_llm import generate_llm, load_pretrained_llm

    bundle = load_pretrained_llm(tiny_llm.name, precision="q4")
    model = bundle.model
    assert isinstance(model.blocks[0].attn.q, Int4Linear) and isinstance(model.head, Int4PairLinear)
    assert type(model.blocks[0].attn.k) is torch.nn.Linear and model.blocks[0].attn.k.weight.dtype == torch.bfloat16
    assert isinstance(generate_llm(bundle, PROMPT, max_new_tokens=3, stop_at_eos=False), str)


def test_quantize_cli_precisions_are_the_library_s():
    from textkit.commands.lm import LLM_PRECISIONS
    from textkit.nn.quantize import PRECISIONS

    assert LLM_PRECISIONS == PRECISIONS


def test_quantize_default_generation_precision_is_named_by_the_manifest():
    """smollm2-135m generates in q4 on the CPU by default (its manifest's generate_precision),
    and `textkit models info` says so; a name that is not a pretrained LLM has no default."""
    from textkit.data.catalog import model_info
    from textkit.data.llms import generation_precision

    assert generation_precision("smollm2-135m") == "q4"
    assert generation_precision("not-a-model") is None
    entry = model_info("smollm2-135m")
    assert entry.details["default precision"].startswith("q4 for CPU generation")
