"""Generation side by side: textkit (q4, bf16, fp32), Hugging Face ``generate`` (fp32) and llama.cpp.

One process runs every system on the same file, ``SmolLM2-135M-Instruct.Q4_1.gguf`` (the file
textkit fetches for ``smollm2-135m``):

- **textkit** ``load_language_model("smollm2-135m", precision=...)`` through
  ``textkit.decode.generate(model.step, ...)``: q4 runs the file's own Q4_1 (and Q8_0 head)
  blocks on torch's int4 kernel, bf16 and fp32 its weights dequantized;
- **hf**: ``LlamaForCausalLM.from_pretrained(gguf_file=...)`` in float32, ``model.generate``;
- **llama.cpp** through ``llama-cpp-python`` (``Llama(model_path=<the GGUF>)``, its own Q4_1
  kernels), ``Llama.generate`` over token ids; greedy is ``temp=0``, top-p is ``temp=1,
  top_p=0.9, top_k=0, min_p=0``; no repetition penalty anywhere.

Every system gets the same prompt token ids (the first ``--prompt-tokens`` textkit token ids of
BBC News articles, seeded order), ``--new-tokens`` new tokens with no end-of-text stop, and the
same thread count (``torch.set_num_threads`` / ``n_threads``), first 1, then 2. Each cell (a
strategy at a batch size) runs a warm-up of every system, then ``--repeats`` rounds interleaved
across systems (q4, bf16, fp32, hf, llama.cpp, q4, ...): a background load hits every system
alike. Medians and best rounds are reported; tokens/s = batch x new tokens / wall seconds,
prompt processing included. llama-cpp-python generates one sequence at a time, so it has no
batch-8 cell.

Perplexity: every system scores the same token ids of held-out text (wiki-summaries documents in
a seeded order until ``--ppl-tokens`` tokens, each document on its own in windows of 512, the
first token of a window context only: ``textkit.recipes.pretrained_llm.llm_perplexity``);
llama.cpp's from its own logits (``logits_all=True``).

Also: the read bandwidth (best of 5 float32 sums over 1 GiB) at each thread count, the bytes of
weights each system reads per generated token, and the share of that batch-1 bound that greedy
reaches; the load average (``os.getloadavg``) around every cell, since this machine is shared.

Environment: ``.venv-bench-hf`` (``bench/llm_exactness.py``) plus ``llama-cpp-python==0.3.36``,
a source package (about 26 minutes to build on 2 idle cores; never a textkit dependency)::

    PIP_CACHE_DIR=.venv-bench-hf/pip-cache .venv-bench-hf/bin/pip install llama-cpp-python==0.3.36

A system whose package is missing is recorded as unavailable, with the reason.

Run (from the repository root)::

    .venv-bench-hf/bin/python bench/generate_llamacpp.py          # ~30 minutes on 2 busy cores
    .venv-bench-hf/bin/python bench/generate_llamacpp.py --quick  # smoke size

Writes ``bench/results/generate_llamacpp.json`` (``generate_llamacpp_quick.json``).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_quantized import held_out_texts, read_bandwidth, weight_bytes_per_token

from textkit import data, decode
from textkit._io import atomic_write_json, versions

ROOT = Path(__file__).resolve().parents[1]
MODEL = "smollm2-135m"
TEXTKIT = ("q4", "bf16", "fp32")
CELLS = (("greedy", 1), ("top_p", 1), ("greedy", 8))
MACHINE_NOTE = (
    "a shared 2-core VM: a long training job holds about one core, and other sessions' tests and runs come and go "
    "(see loadavg per cell); rounds are interleaved across systems, so the comparison within a cell is fair, while "
    "absolute tokens/s are lower than on a quiet machine"
)


def missing(module: str, hint: str) -> str | None:
    return None if importlib.util.find_spec(module) else f"{module} is not installed here; {hint}"


def prompts(tokenizer, n: int, length: int, seed: int) -> torch.Tensor:
    """(n, length) ids: the first ``length`` tokens of ``n`` BBC News articles (seeded order);
    row 0 is the prompt of ``bench/generate_quantized.py`` with the same seed."""
    records = data.load("bbc-news")
    rows = []
    for i in torch.randperm(len(records), generator=torch.Generator().manual_seed(seed)).tolist():
        ids = tokenizer.encode(records[i]["text"].strip()).ids
        if len(ids) >= length:
            rows.append(ids[:length])
        if len(rows) == n:
            return torch.tensor(rows)
    raise RuntimeError(f"fewer than {n} BBC News articles have {length} tokens")


def textkit_run(model, ids: torch.Tensor, strategy: str, new_tokens: int, seed: int) -> torch.Tensor:
    chosen = decode.Greedy() if strategy == "greedy" else decode.Sample(top_p=0.9, seed=seed)
    return decode.generate(model.step, ids, chosen, new_tokens, eos_id=None).tokens


def hf_run(model, ids: torch.Tensor, strategy: str, new_tokens: int, seed: int) -> torch.Tensor:
    from transformers import GenerationConfig

    common = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens, "eos_token_id": None, "pad_token_id": 0}
    if strategy == "greedy":
        config = GenerationConfig(do_sample=False, **common)
    else:
        config = GenerationConfig(do_sample=True, top_p=0.9, top_k=0, temperature=1.0, **common)
    torch.manual_seed(seed)
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), generation_config=config)
    return out[:, ids.size(1) :]


def llamacpp_run(llm, ids: torch.Tensor, strategy: str, new_tokens: int, seed: int) -> torch.Tensor:
    """One sequence (batch 1): ``new_tokens`` tokens of ``Llama.generate`` after the prompt ids."""
    if ids.size(0) != 1:
        raise ValueError("llama-cpp-python generates one sequence at a time")
    if strategy == "greedy":
        options = {"temp": 0.0}
    else:
        llm.set_seed(seed)
        options = {"temp": 1.0, "top_p": 0.9, "top_k": 0, "min_p": 0.0}
    out = []
    for token in llm.generate(
        ids[0].tolist(), reset=True, repeat_penalty=1.0, frequency_penalty=0.0, presence_penalty=0.0, **options
    ):
        out.append(token)
        if len(out) == new_tokens:
            break
    return torch.tensor([out])


def llamacpp_perplexity(path: str, threads: int, documents: list[np.ndarray], window: int = 512) -> dict:
    """``llm_perplexity`` on llama.cpp's logits: the same ids, windows and scored positions."""
    from llama_cpp import Llama

    _without_extra_buffers()
    llm = Llama(
        model_path=path, n_ctx=window, n_batch=window, n_threads=threads, logits_all=True, verbose=False, seed=0
    )
    total, count, correct = 0.0, 0, 0
    for ids in documents:
        for start in range(0, len(ids) - 1, window):
            chunk = [int(i) for i in ids[start : start + window]]
            if len(chunk) < 2:
                break
            llm.reset()
            llm.eval(chunk)
            logits = torch.from_numpy(np.array(llm.scores[: len(chunk)], dtype=np.float32))  # (T, V)
            target = torch.tensor(chunk[1:])
            total += F.cross_entropy(logits[:-1], target, reduction="sum").item()
            correct += int((logits[:-1].argmax(-1) == target).sum())
            count += len(chunk) - 1
    return {"perplexity": math.exp(total / count), "loss": total / count, "accuracy": correct / count, "tokens": count}


def gguf_bytes_per_token(path: str) -> int:
    """Bytes of llama.cpp's weights one generated token reads: every tensor of the GGUF once
    (the tied Q8_0 token embedding is the head's weight, read whole)."""
    from gguf import GGUFReader

    return sum(int(t.n_bytes) for t in GGUFReader(path).tensors)


NO_EXTRA_BUFFERS = (
    "model params use_extra_bufts=False: with them, llama.cpp's AMX weight buffer (this CPU has AMX-INT8) crashes "
    "with SIGSEGV in ggml_backend_amx_mul_mat on the first decode (llama-cpp-python 0.3.36 built here); without "
    "them the Q4_1 weights run on ggml-cpu's AVX-512/VNNI dot products"
)


def _without_extra_buffers() -> None:
    """Make ``Llama(...)`` load models with ``use_extra_bufts=False`` (see NO_EXTRA_BUFFERS)."""
    import llama_cpp.llama as high_level

    low_level = high_level.llama_cpp
    if getattr(low_level.llama_model_default_params, "textkit_bench", False):
        return
    default = low_level.llama_model_default_params

    def params():
        chosen = default()
        chosen.use_extra_bufts = False
        return chosen

    params.textkit_bench = True  # type: ignore[attr-defined]
    low_level.llama_model_default_params = params


def open_llamacpp(path: str, threads: int, seed: int):
    """A llama.cpp context on the GGUF with ``threads`` threads for generation and prompts."""
    from llama_cpp import Llama

    _without_extra_buffers()
    return Llama(model_path=path, n_ctx=512, n_threads=threads, n_threads_batch=threads, verbose=False, seed=seed)


def median_and_best(times: list[float], tokens: int) -> dict:
    return {"median": tokens / statistics.median(times), "best": tokens / min(times), "rounds_s": times}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke size: 8 new tokens, 1 round, 256 held-out tokens")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--prompt-tokens", type=int, default=23)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds per cell after the warm-up")
    parser.add_argument("--ppl-tokens", type=int, default=4096)
    parser.add_argument("--cells", nargs="+", default=[f"{s}:{b}" for s, b in CELLS], help="strategy:batch")
    parser.add_argument("--cells-after-first", nargs="+", default=["greedy:1"], help="cells at later thread counts")
    parser.add_argument(
        "--no-compile", dest="compile", action="store_false", help="skip the q4 model with compile_decoding()"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        args.new_tokens, args.repeats, args.ppl_tokens = 8, 1, 256
    cells = [(s, int(b)) for s, b in (c.split(":") for c in args.cells)]
    later_cells = [(s, int(b)) for s, b in (c.split(":") for c in args.cells_after_first)]
    out_path = args.out or ROOT / "bench" / "results" / (
        "generate_llamacpp_quick.json" if args.quick else "generate_llamacpp.json"
    )
    torch.set_num_threads(args.threads[0])
    torch.manual_seed(args.seed)

    from textkit.data.llms import llm_manifest
    from textkit.nn import load_language_model
    from textkit.recipes.pretrained_llm import llm_perplexity

    loaded, load_s = {}, {}
    for precision in TEXTKIT:
        started = time.perf_counter()
        loaded[precision] = load_language_model(MODEL, precision=precision)
        load_s[precision] = time.perf_counter() - started
    tokenizer = loaded["q4"].pipeline
    manifest = llm_manifest(MODEL)
    gguf_path = str(data.fetch(manifest.name) / str(manifest.options["gguf"]))

    peers = {}
    hf = None
    llm: dict = {}  # the llama.cpp context, reopened for every thread count
    reason = missing("transformers", "see bench/llm_exactness.py for the .venv-bench-hf environment")
    if reason is None:
        from transformers import AutoModelForCausalLM

        started = time.perf_counter()
        folder = data.fetch(manifest.name)
        hf = AutoModelForCausalLM.from_pretrained(
            str(folder), gguf_file=str(manifest.options["gguf"]), dtype=torch.float32
        ).eval()
        load_s["hf"] = time.perf_counter() - started
        peers["hf"] = {"available": True, "precision": "fp32"}
    else:
        peers["hf"] = {"available": False, "reason": reason}
    reason = missing("llama_cpp", "pip install llama-cpp-python==0.3.36 (a source build) into this environment")
    if reason is None:
        import llama_cpp

        started = time.perf_counter()
        llm["context"] = open_llamacpp(gguf_path, args.threads[0], args.seed)
        load_s["llama.cpp"] = time.perf_counter() - started
        peers["llama.cpp"] = {
            "available": True,
            "precision": "q4 (the GGUF's Q4_1 blocks, Q8_0 token embedding / head)",
            "package": f"llama-cpp-python {llama_cpp.__version__}",
            "build": "built from the PyPI source package with its defaults (GGML_NATIVE: -march=native)",
            "setting": NO_EXTRA_BUFFERS,
            "system_info": llama_cpp.llama_print_system_info().decode(errors="replace"),
        }
    else:
        peers["llama.cpp"] = {"available": False, "reason": reason}

    systems: dict[str, Callable[[torch.Tensor, str], torch.Tensor]] = {
        f"textkit {p}": (lambda ids, s, m=loaded[p].model: textkit_run(m, ids, s, args.new_tokens, args.seed))
        for p in TEXTKIT
    }
    if hf is not None:
        systems["hf fp32"] = lambda ids, s: hf_run(hf, ids, s, args.new_tokens, args.seed)
    if args.compile:
        started = time.perf_counter()
        compiled = load_language_model(MODEL, precision="q4").model.compile_decoding()
        load_s["textkit q4+compile"] = time.perf_counter() - started
        if compiled._decode_blocks is not None:
            systems["textkit q4+compile"] = lambda ids, s: textkit_run(compiled, ids, s, args.new_tokens, args.seed)
    if llm:
        systems["llama.cpp q4"] = lambda ids, s: llamacpp_run(llm["context"], ids, s, args.new_tokens, args.seed)
    precision_of = {f"textkit {p}": p for p in TEXTKIT} | {"hf fp32": "fp32", "llama.cpp q4": "q4"}
    precision_of["textkit q4+compile"] = "q4"

    # perplexity of every system on the same ids (threads: the first setting)
    torch.set_num_threads(args.threads[0])
    texts, n_tokens = held_out_texts(tokenizer, args.ppl_tokens, args.seed)
    documents = tokenizer.encode_documents(texts)
    perplexity = {}
    for precision in TEXTKIT:
        perplexity[f"textkit {precision}"] = llm_perplexity(loaded[precision], texts)
    if hf is not None:
        perplexity["hf fp32"] = llm_perplexity((_HFLogits(hf), tokenizer), texts)  # type: ignore[arg-type]
    if llm:
        perplexity["llama.cpp q4"] = llamacpp_perplexity(gguf_path, args.threads[0], documents)
    for name, scored in perplexity.items():
        print(f"{name}: perplexity {scored['perplexity']:.3f} on {scored['tokens']} tokens", flush=True)

    def finish() -> None:
        """Derived figures and the JSON, written after every cell (a cut run keeps what it measured)."""
        weight_bytes = {f"textkit {p}": weight_bytes_per_token(loaded[p].model) for p in TEXTKIT}
        weight_bytes["hf fp32"] = weight_bytes["textkit fp32"]
        weight_bytes["textkit q4+compile"] = weight_bytes["textkit q4"]
        if llm:
            weight_bytes["llama.cpp q4"] = gguf_bytes_per_token(gguf_path)
        for row in rows:
            if row["strategy"] == "greedy" and row["batch"] == 1:
                bound = bandwidth[row["threads"]] * 1e9 / weight_bytes[row["system"]]
                row["batch1_bound_tokens_per_s"] = bound
                row["share_of_bound_best"] = row["tokens_per_s"]["best"] / bound
            scored = perplexity.get(row["system"])
            if scored is not None:
                row["perplexity"] = scored["perplexity"]

        def cell_speed(system: str, threads: int, strategy: str = "greedy", batch: int = 1) -> float | None:
            for row in rows:
                if (row["system"], row["threads"], row["strategy"], row["batch"]) == (system, threads, strategy, batch):
                    return row["tokens_per_s"]["median"]
            return None

        goals: dict[str, object] = {}
        if llm:
            for threads in args.threads:
                theirs = cell_speed("llama.cpp q4", threads)
                for name in ("textkit q4", "textkit q4+compile"):
                    ours = cell_speed(name, threads)
                    if ours and theirs:
                        ratio = {"ratio": ours / theirs, "goal": 1.0, "stretch": 1.25}
                        goals[f"{name} vs llama.cpp, greedy, {threads} thread(s)"] = ratio
            goals["q4_perplexity_vs_llamacpp"] = {
                "relative": perplexity["textkit q4"]["perplexity"] / perplexity["llama.cpp q4"]["perplexity"] - 1,
                "goal": "within 1%",
            }
        if hf is not None:
            vs_hf = {}
            for strategy, batch in cells:
                for threads in args.threads:
                    base = cell_speed("hf fp32", threads, strategy, batch)
                    for name in systems:
                        ours = cell_speed(name, threads, strategy, batch)
                        if base and ours and name.startswith("textkit"):
                            vs_hf[f"{name} {strategy} b{batch} t{threads}"] = ours / base
            goals["textkit_vs_hf_fp32"] = {"ratios": vs_hf, "goal": 1.5}
        scaling = {}
        for system in systems:
            one, two = cell_speed(system, 1), cell_speed(system, 2)
            if one and two:
                scaling[system] = two / one
        report = {
            "benchmark": "generate_llamacpp",
            "seed": args.seed,
            "versions": versions(("transformers", "gguf", "tokenizers", "llama_cpp"), git=True),
            "config": {
                "model": MODEL,
                "gguf": Path(gguf_path).name,
                "threads": args.threads,
                "cells": [f"{s}:{b}" for s, b in cells],
                "cells_after_first_thread_count": [f"{s}:{b}" for s, b in later_cells],
                "prompt_tokens": args.prompt_tokens,
                "new_tokens": args.new_tokens,
                "repeats": args.repeats,
                "quick": args.quick,
                "prompts": "first prompt_tokens textkit token ids of BBC News articles, order torch.randperm(seed)",
                "held_out": f"wiki-summaries documents in torch.randperm(seed) order until {args.ppl_tokens} tokens "
                f"({len(texts)} documents, {n_tokens} tokens), each on its own in windows of 512",
                "timing": "a warm-up per system and cell, then repeats rounds interleaved across systems; median, best",
                "top_p": "temperature 1, top-p 0.9, no top-k, no min-p (decode.Sample, HF do_sample, llama.cpp)",
                "cpu": os.cpu_count(),
                "machine": MACHINE_NOTE,
            },
            "peers": peers,
            "load_s": load_s,
            "bandwidth_gb_per_s": bandwidth,
            "weight_bytes_per_token": weight_bytes,
            "rows": rows,
            "perplexity": perplexity,
            "two_thread_scaling_greedy_b1": scaling,
            "goals": goals,
            "loadavg_end": os.getloadavg(),
        }
        atomic_write_json(out_path, report)

    all_ids = prompts(tokenizer, max(b for _, b in cells), args.prompt_tokens, args.seed)
    rows = []
    bandwidth = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        if llm:
            llm["context"] = open_llamacpp(gguf_path, threads, args.seed)
        bandwidth[threads] = read_bandwidth(threads, 256 if args.quick else 1024)
        for strategy, batch in cells if threads == args.threads[0] else later_cells:
            ids = all_ids[:batch]
            here = {name: fn for name, fn in systems.items() if not (name.startswith("llama.cpp") and batch > 1)}
            before = os.getloadavg()
            outputs = {name: fn(ids, strategy) for name, fn in here.items()}  # warm-up
            rounds: dict[str, list[float]] = {name: [] for name in here}
            for _ in range(args.repeats):
                for name, fn in here.items():
                    started = time.perf_counter()
                    fn(ids, strategy)
                    rounds[name].append(time.perf_counter() - started)
            after = os.getloadavg()
            for name, times in rounds.items():
                row = {
                    "system": name,
                    "precision": precision_of[name],
                    "threads": threads,
                    "strategy": strategy,
                    "batch": batch,
                    "new_tokens": args.new_tokens,
                    "tokens_per_s": median_and_best(times, batch * args.new_tokens),
                    "loadavg_before": before,
                    "loadavg_after": after,
                }
                if strategy == "greedy":
                    reference = outputs.get("textkit fp32")
                    if reference is not None:
                        same = outputs[name] == reference
                        row["same_greedy_tokens_as_textkit_fp32"] = bool(same.all())
                        row["greedy_tokens_before_first_difference"] = int(same[0].long().cumprod(0).sum())
                rows.append(row)
            print(
                f"{threads} thread(s), {strategy} batch {batch}: "
                + ", ".join(
                    f"{r['system']} {r['tokens_per_s']['median']:.1f}"
                    for r in rows
                    if (r["threads"], r["strategy"], r["batch"]) == (threads, strategy, batch)
                )
                + f" tok/s (median); load {after[0]:.1f}",
                flush=True,
            )
            finish()
    print(f"wrote {out_path}")


class _HFLogits(torch.nn.Module):
    """A Hugging Face causal LM as ``forward(ids) -> (logits, None)`` with textkit's ``config.max_len``."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model = model
        self.config = type("Config", (), {"max_len": int(model.config.max_position_embeddings)})()

    def forward(self, ids: torch.Tensor):
        return self.model(ids).logits, None


if __name__ == "__main__":
    main()
