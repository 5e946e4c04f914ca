"""Generation speed: textkit's SmolLM2-135M against Hugging Face ``generate`` on the same weights.

Both sides run the weights of ``SmolLM2-135M-Instruct.Q4_1.gguf`` (the file textkit fetches for
``smollm2-135m``), dequantized to the same dtype: textkit from its converted safetensors through
``textkit.decode.generate(model.step, ...)``, Hugging Face as ``LlamaForCausalLM`` loaded from the
GGUF through ``model.generate``. Same process, same torch, same thread count, same dtype, same
prompts (the first ``--prompt-tokens`` token ids of BBC News articles, fed as ids to both), the same
number of new tokens (no end-of-text stop on either side), a warm-up run of every cell on each
side, then ``--repeats`` rounds interleaved (textkit, HF, textkit, HF, ...); the best round counts.

Cells: greedy, nucleus sampling (top-p 0.9, temperature 1, no top-k on either side) and beam search
(5 beams, length penalty 1, no early stop), each at every ``--batch`` size. tokens/s = batch x new
tokens / wall seconds (for beam search: tokens of the returned sequences). Greedy and beam outputs
are compared token for token; sampled outputs differ by construction (different random streams).

Also measured:
- **load**: a fresh process per side loads the model (textkit: the converted safetensors, memory
  mapped; HF: ``from_pretrained(gguf_file=...)``, which dequantizes the GGUF at every load), then
  greedily generates 16 tokens; wall seconds of the load, RSS after imports, peak RSS (``VmHWM``);
- **memory bandwidth**: best of 5 reads of a 1 GiB float32 tensor (``sum``; 256 MiB with
  ``--quick``) with the same threads,
  and the batch-1 bound it implies: bandwidth / bytes of weights read per token (every parameter
  once; the tied embedding is counted once, as the head reads it).

Peer environment: ``.venv-bench-hf`` (see ``bench/llm_exactness.py``). Without transformers only
textkit's side runs and the peer is recorded as unavailable.

Run (from the repository root)::

    .venv-bench-hf/bin/python bench/generate.py                 # ~15 minutes on 2 cores
    .venv-bench-hf/bin/python bench/generate.py --dtype bf16    # both sides in bfloat16
    .venv-bench-hf/bin/python bench/generate.py --quick         # smoke size

Writes ``bench/results/generate.json`` (``generate_bf16.json``, ``generate_quick.json``).
``--load-from FILE`` re-measures only the load time and memory and updates FILE.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from textkit import data, decode
from textkit._io import atomic_write_json, versions

ROOT = Path(__file__).resolve().parents[1]
MODEL = "smollm2-135m"
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
STRATEGIES = ("greedy", "top_p", "beam5")


def transformers_missing() -> str | None:
    if importlib.util.find_spec("transformers") is None:
        return "transformers is not installed in this environment; see bench/requirements-llm.txt"
    return None


def prompts(tokenizer, n: int, length: int, seed: int) -> torch.Tensor:
    """(n, length) ids: the first ``length`` tokens of ``n`` BBC News articles (seeded order)."""
    records = data.load("bbc-news")
    order = torch.randperm(len(records), generator=torch.Generator().manual_seed(seed)).tolist()
    rows = []
    for i in order:
        ids = tokenizer.encode(records[i]["text"].strip()).ids
        if len(ids) >= length:
            rows.append(ids[:length])
        if len(rows) == n:
            return torch.tensor(rows)
    raise RuntimeError(f"fewer than {n} BBC News articles have {length} tokens")


def ours_generate(model, ids: torch.Tensor, strategy: str, new_tokens: int, seed: int) -> torch.Tensor:
    chosen = {
        "greedy": decode.Greedy(),
        "top_p": decode.Sample(top_p=0.9, seed=seed),
        "beam5": decode.Beam(5, length_penalty=1.0, early_stopping=False),
    }[strategy]
    return decode.generate(model.step, ids, chosen, new_tokens, eos_id=None).tokens


def hf_generate(model, ids: torch.Tensor, strategy: str, new_tokens: int, seed: int) -> torch.Tensor:
    from transformers import GenerationConfig

    common = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens, "eos_token_id": None, "pad_token_id": 0}
    config = {
        "greedy": GenerationConfig(do_sample=False, **common),
        "top_p": GenerationConfig(do_sample=True, top_p=0.9, top_k=0, temperature=1.0, **common),
        "beam5": GenerationConfig(do_sample=False, num_beams=5, length_penalty=1.0, early_stopping=False, **common),
    }[strategy]
    torch.manual_seed(seed)
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), generation_config=config)
    return out[:, ids.size(1) :]


def timed(fn) -> tuple[float, torch.Tensor]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def read_bandwidth(threads: int, mib: int = 1024) -> float:
    """GB/s of a float32 ``sum`` over ``mib`` MiB, best of 5."""
    torch.set_num_threads(threads)
    x = torch.ones(mib * 1024 * 1024 // 4)
    x.sum()
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        x.sum()
        best = min(best, time.perf_counter() - started)
    return x.numel() * 4 / best / 1e9


LOAD_CHILD = r"""
import json, sys, time
import torch
def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024
side, dtype, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.set_num_threads(threads)
dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype]
from textkit import data, decode
from textkit.data.llms import llm_manifest
if side == "hf":
    from transformers import AutoModelForCausalLM
after_imports = rss("VmRSS:")
started = time.perf_counter()
if side == "textkit":
    from textkit.nn import load_language_model
    model, tokenizer = load_language_model("smollm2-135m", dtype=dtype)
    load_s = time.perf_counter() - started
    decode.generate(model.step, torch.tensor([[1, 2, 3, 4]]), decode.Greedy(), 16)
else:
    manifest = llm_manifest("smollm2-135m")
    folder = data.fetch(manifest.name)
    gguf = str(manifest.options["gguf"])
    model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=gguf, dtype=dtype).eval()
    load_s = time.perf_counter() - started
    with torch.no_grad():
        ids = torch.tensor([[1, 2, 3, 4]])
        model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=16, do_sample=False)
print(json.dumps({"load_s": load_s, "rss_after_imports_mb": after_imports, "peak_rss_mb": rss("VmHWM:")}))
"""


def load_and_memory(side: str, dtype: str, threads: int) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", LOAD_CHILD, side, dtype, str(threads)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the {side} load run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def remeasure_load(path: Path) -> None:
    """Re-run the load measurement of an existing results file with its dtype and threads, and
    record when and at which commit (the generation cells are left as they were)."""
    report = json.loads(path.read_text(encoding="utf-8"))
    dtype, threads = report["config"]["dtype"], report["config"]["threads"]
    sides = ["textkit"] + (["hf"] if transformers_missing() is None and report["peer"]["available"] else [])
    previous = report["load"]
    report["load"] = {side: load_and_memory(side, dtype, threads) for side in sides}
    report["load_measurement"] = {
        "remeasured": True,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "versions": versions(("transformers", "gguf", "tokenizers"), git=True),
        "previous": previous,
    }
    atomic_write_json(path, report)
    for side, load in report["load"].items():
        print(
            f"{side}: load {load['load_s']:.2f} s, RSS after imports {load['rss_after_imports_mb']:.0f} MB, "
            f"peak {load['peak_rss_mb']:.0f} MB"
        )
    print(f"updated {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke size: batches 1 and 2, 8 new tokens, 1 round")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="fp32")
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--prompt-tokens", type=int, default=40)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--strategies", nargs="+", choices=STRATEGIES, default=list(STRATEGIES))
    parser.add_argument("--repeats", type=int, default=2, help="timed rounds per side after the warm-up")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--load-from",
        type=Path,
        default=None,
        help="only re-measure load time and memory (fresh processes) and update this results JSON",
    )
    args = parser.parse_args()
    if args.load_from:
        remeasure_load(args.load_from)
        return
    if args.quick:
        args.batch, args.new_tokens, args.repeats = [1, 2], 8, 1
    out_path = args.out or ROOT / "bench" / "results" / (
        "generate_quick.json" if args.quick else ("generate.json" if args.dtype == "fp32" else "generate_bf16.json")
    )
    torch.set_num_threads(args.threads)
    dtype = DTYPES[args.dtype]

    from textkit.data.llms import llm_manifest
    from textkit.nn import load_language_model

    ours, tokenizer = load_language_model(MODEL, dtype=dtype)
    missing = transformers_missing()
    hf = None
    if missing is None:
        from transformers import AutoModelForCausalLM

        manifest = llm_manifest(MODEL)
        folder = data.fetch(manifest.name)
        hf = AutoModelForCausalLM.from_pretrained(
            str(folder), gguf_file=str(manifest.options["gguf"]), dtype=dtype
        ).eval()
        peer = {"name": "transformers", "available": True}
    else:
        print(f"transformers not available, textkit side only: {missing}", flush=True)
        peer = {"name": "transformers", "available": False, "reason": missing}

    all_ids = prompts(tokenizer, max(args.batch), args.prompt_tokens, args.seed)
    cells = []
    for strategy in args.strategies:
        for batch in args.batch:
            ids = all_ids[:batch]
            sides = {"textkit": lambda ids=ids, s=strategy: ours_generate(ours, ids, s, args.new_tokens, args.seed)}
            if hf is not None:
                sides["hf"] = lambda ids=ids, s=strategy: hf_generate(hf, ids, s, args.new_tokens, args.seed)
            load_before = os.getloadavg()
            outputs = {name: fn() for name, fn in sides.items()}  # warm-up, and the outputs compared
            rounds: dict[str, list[float]] = {name: [] for name in sides}
            for _ in range(args.repeats):
                for name, fn in sides.items():
                    rounds[name].append(timed(fn)[0])
            tokens = batch * args.new_tokens
            cell = {
                "strategy": strategy,
                "batch": batch,
                "new_tokens": args.new_tokens,
                "rounds_s": rounds,
                "tokens_per_s": {name: tokens / min(times) for name, times in rounds.items()},
                "loadavg_before": load_before,
                "loadavg_after": os.getloadavg(),
            }
            if hf is not None:
                cell["speedup"] = cell["tokens_per_s"]["textkit"] / cell["tokens_per_s"]["hf"]
                if strategy != "top_p":
                    cell["same_tokens"] = bool(torch.equal(outputs["textkit"], outputs["hf"]))
                    cell["same_token_fraction"] = float((outputs["textkit"] == outputs["hf"]).float().mean())
            cells.append(cell)
            speed = ", ".join(f"{name} {tps:.1f} tok/s" for name, tps in cell["tokens_per_s"].items())
            extra = f"  speedup {cell['speedup']:.2f}x" if "speedup" in cell else ""
            same = f"  same tokens: {cell['same_tokens']}" if "same_tokens" in cell else ""
            print(f"{strategy:7s} batch {batch}: {speed}{extra}{same}", flush=True)

    bandwidth = read_bandwidth(args.threads, 256 if args.quick else 1024)
    weight_bytes = sum(p.numel() * p.element_size() for p in {id(p): p for p in ours.parameters()}.values())
    bound = bandwidth * 1e9 / weight_bytes
    loads = {"textkit": load_and_memory("textkit", args.dtype, args.threads)}
    if hf is not None:
        loads["hf"] = load_and_memory("hf", args.dtype, args.threads)
    batch1 = {c["strategy"]: c["tokens_per_s"] for c in cells if c["batch"] == 1}
    report = {
        "benchmark": "generate",
        "seed": args.seed,
        "versions": versions(("transformers", "gguf", "tokenizers"), git=True),
        "config": {
            "model": MODEL,
            "dtype": args.dtype,
            "threads": args.threads,
            "new_tokens": args.new_tokens,
            "prompt_tokens": args.prompt_tokens,
            "batches": args.batch,
            "strategies": args.strategies,
            "repeats": args.repeats,
            "quick": args.quick,
            "prompts": "first prompt_tokens textkit token ids of BBC News articles, order torch.randperm(seed)",
            "timing": "warm-up run of every cell on each side, then repeats rounds interleaved; best round",
            "cpu": os.cpu_count(),
        },
        "peer": peer,
        "cells": cells,
        "load": loads,
        "bandwidth": {
            "read_gb_per_s": bandwidth,
            "weight_bytes": weight_bytes,
            "batch1_bound_tokens_per_s": bound,
            "batch1_greedy_share_of_bound": {name: tps / bound for name, tps in batch1.get("greedy", {}).items()},
        },
    }
    if hf is not None:
        report["goal"] = {
            "speedup_every_cell": 1.5,
            "met": all(c["speedup"] >= 1.5 for c in cells),
            "min_speedup": min(c["speedup"] for c in cells),
        }
    atomic_write_json(out_path, report)
    print(f"bandwidth {bandwidth:.1f} GB/s, weights {weight_bytes / 1e6:.0f} MB: batch-1 bound {bound:.1f} tok/s")
    for name, load in loads.items():
        print(
            f"{name}: load {load['load_s']:.2f} s, RSS after imports {load['rss_after_imports_mb']:.0f} MB, "
            f"peak {load['peak_rss_mb']:.0f} MB"
        )
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
