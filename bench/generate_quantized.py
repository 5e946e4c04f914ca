"""Generation speed and perplexity of SmolLM2-135M at each precision: fp32, bf16, int8, q4.

All four load the same file, ``SmolLM2-135M-Instruct.Q4_1.gguf`` (``load_language_model(
"smollm2-135m", precision=...)``): fp32 and bf16 its weights dequantized, int8 those requantized
by ``torch.ao`` dynamic quantization, q4 the file's own Q4_1 (and Q8_0 head) blocks on torch's
int4 kernel (see ``textkit.nn.quantize`` for the exact mapping). One process, one thread (by
default), batch 1, greedy, the first ``--prompt-tokens`` token ids of a BBC News article (seeded
choice), ``--new-tokens`` new tokens with no end-of-text stop. A warm-up run per precision (its
tokens are compared with fp32's), then ``--repeats`` rounds interleaved (fp32, bf16, int8, q4,
fp32, ...); the median and the best round are reported.

Perplexity: every precision scores the same held-out text, wiki-summaries documents in a seeded
order until ``--ppl-tokens`` tokens, each document on its own in windows of 512 tokens
(``textkit.recipes.pretrained_llm.llm_perplexity``, the scorer of ``textkit lm evaluate
smollm2-135m --data FILE``).

Also recorded: the load time of each precision, the bytes of weights a generated token reads,
the read bandwidth (best of 5 float32 sums over 1 GiB, 256 MiB with ``--quick``) and the batch-1
bound it implies, and the load average around every round.

The peer, llama.cpp (``llama-cpp-python``), is not run here: ``bench/generate_llamacpp.py``
runs it side by side with textkit's precisions and Hugging Face (``generate_llamacpp.json``).

Run (from the repository root)::

    .venv/bin/python bench/generate_quantized.py            # ~10 minutes on 2 cores
    .venv/bin/python bench/generate_quantized.py --quick    # smoke size

Writes ``bench/results/generate_quantized.json`` (``generate_quantized_quick.json``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from textkit import data, decode
from textkit._io import atomic_write_json, versions

ROOT = Path(__file__).resolve().parents[1]
MODEL = "smollm2-135m"
PRECISIONS = ("fp32", "bf16", "int8", "q4")
HELD_OUT = "wiki-summaries"
LLAMA_CPP = {
    "name": "llama-cpp-python",
    "available": False,
    "reason": "not run: llama-cpp-python is a source package that builds in about 26 minutes on this shared 2-core "
    "machine (issue 27 measured llama.cpp at 74.4 tokens/s, 1 thread, same GGUF, 23-token prompt, 128 new tokens, on "
    "a quiet machine)",
}
MACHINE_NOTE = (
    "a shared 2-core VM: another process (a long training job) kept one core busy for the whole run, and other "
    "sessions' test runs came and went (see loadavg); tokens/s are lower bounds, compare precisions within this file"
)


def prompt_ids(tokenizer, length: int, seed: int) -> torch.Tensor:
    """(1, length) ids: the first ``length`` tokens of a BBC News article (seeded choice)."""
    records = data.load("bbc-news")
    for i in torch.randperm(len(records), generator=torch.Generator().manual_seed(seed)).tolist():
        ids = tokenizer.encode(records[i]["text"].strip()).ids
        if len(ids) >= length:
            return torch.tensor([ids[:length]])
    raise RuntimeError(f"no BBC News article has {length} tokens")


def held_out_texts(tokenizer, tokens: int, seed: int) -> tuple[list[str], int]:
    """wiki-summaries documents in a seeded order until they hold ``tokens`` tokens."""
    records = data.load(HELD_OUT)
    texts, count = [], 0
    for i in torch.randperm(len(records), generator=torch.Generator().manual_seed(seed)).tolist():
        text = records[i]["text"].strip()
        if text:
            texts.append(text)
            count += len(tokenizer.encode(text).ids)
        if count >= tokens:
            break
    return texts, count


def weight_bytes_per_token(model: nn.Module) -> int:
    """Bytes of weights one generated token reads: every Linear (or quantized) weight and norm
    once; the token embedding only where the head reads it (a tied float head)."""
    total = sum(buffer.numel() * buffer.element_size() for buffer in model.buffers())  # int4 codes and scales
    for module in model.modules():
        if isinstance(module, torch.ao.nn.quantized.dynamic.Linear):
            weight = module.weight()  # int8, one float64 scale and int64 zero point per row
            total += weight.numel() + weight.q_per_channel_scales().numel() * 16
    embed = model.embed.weight
    for param in model.parameters():  # a tied parameter once
        if param is embed and getattr(model.head, "weight", None) is not embed:
            continue  # a table lookup reads one row
        total += param.numel() * param.element_size()
    return total


def read_bandwidth(threads: int, mib: int) -> float:
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


def greedy(model, ids: torch.Tensor, new_tokens: int) -> tuple[float, torch.Tensor]:
    started = time.perf_counter()
    out = decode.generate(model.step, ids, decode.Greedy(), new_tokens, eos_id=None).tokens
    return time.perf_counter() - started, out


def fp32_margin(model, ids: torch.Tensor, ours: torch.Tensor, theirs: torch.Tensor, at: int) -> float:
    """fp32's logit of its own greedy token minus its logit of the token another precision chose
    at the first position where they differ (a near-tie when small)."""
    with torch.no_grad():
        logits = model(torch.cat([ids, ours[:, :at]], dim=1))[0][0, -1]  # (V,)
    return float(logits[int(ours[0, at])] - logits[int(theirs[0, at])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke size: 8 new tokens, 1 round, 256 held-out tokens")
    parser.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=list(PRECISIONS))
    parser.add_argument("--prompt-tokens", type=int, default=23)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds per precision after the warm-up")
    parser.add_argument("--ppl-tokens", type=int, default=4096, help="held-out tokens each precision scores")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        args.new_tokens, args.repeats, args.ppl_tokens = 8, 1, 256
    out_path = args.out or ROOT / "bench" / "results" / (
        "generate_quantized_quick.json" if args.quick else "generate_quantized.json"
    )
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    from textkit.nn import load_language_model
    from textkit.recipes.pretrained_llm import llm_perplexity

    models, load_s = {}, {}
    for precision in args.precisions:
        started = time.perf_counter()
        models[precision] = load_language_model(MODEL, precision=precision)
        load_s[precision] = time.perf_counter() - started
        print(f"{precision}: loaded in {load_s[precision]:.1f} s", flush=True)
    tokenizer = next(iter(models.values())).pipeline
    ids = prompt_ids(tokenizer, args.prompt_tokens, args.seed)

    outputs = {p: greedy(m.model, ids, args.new_tokens)[1] for p, m in models.items()}  # warm-up
    rounds: dict[str, list[float]] = {p: [] for p in models}
    loadavg = [os.getloadavg()]
    for _ in range(args.repeats):
        for precision, bundle in models.items():
            rounds[precision].append(greedy(bundle.model, ids, args.new_tokens)[0])
        loadavg.append(os.getloadavg())
        print("round:", ", ".join(f"{p} {args.new_tokens / r[-1]:.1f} tok/s" for p, r in rounds.items()), flush=True)

    texts, n_tokens = held_out_texts(tokenizer, args.ppl_tokens, args.seed)
    bandwidth = read_bandwidth(args.threads, 256 if args.quick else 1024)
    reference = outputs.get("fp32")
    results = {}
    for precision, bundle in models.items():
        started = time.perf_counter()
        scored = llm_perplexity(bundle, texts)
        weight_bytes = weight_bytes_per_token(bundle.model)
        times = rounds[precision]
        result = {
            "tokens_per_s": {
                "median": args.new_tokens / statistics.median(times),
                "best": args.new_tokens / min(times),
                "rounds_s": times,
            },
            "perplexity": scored["perplexity"],
            "loss": scored["loss"],
            "accuracy": scored["accuracy"],
            "scored_tokens": scored["tokens"],
            "perplexity_s": time.perf_counter() - started,
            "load_s": load_s[precision],
            "weight_bytes_per_token": weight_bytes,
            "batch1_bound_tokens_per_s": bandwidth * 1e9 / weight_bytes,
        }
        result["share_of_bound"] = result["tokens_per_s"]["best"] / result["batch1_bound_tokens_per_s"]
        if reference is not None:
            same = outputs[precision] == reference
            result["same_greedy_tokens_as_fp32"] = bool(same.all())
            result["greedy_tokens_before_first_difference"] = first = int(same[0].long().cumprod(0).sum())
            if first < same.size(1):  # how close fp32 itself was to the other token there
                result["fp32_logit_margin_at_first_difference"] = fp32_margin(
                    models["fp32"].model, ids, reference, outputs[precision], first
                )
        results[precision] = result
        print(
            f"{precision}: {result['tokens_per_s']['median']:.1f} tok/s median, {result['tokens_per_s']['best']:.1f} "
            f"best; perplexity {result['perplexity']:.3f} on {scored['tokens']} tokens",
            flush=True,
        )
    if "fp32" in results:
        for result in results.values():
            result["perplexity_vs_fp32"] = result["perplexity"] / results["fp32"]["perplexity"] - 1
            result["speedup_vs_fp32_median"] = (
                result["tokens_per_s"]["median"] / results["fp32"]["tokens_per_s"]["median"]
            )
    report = {
        "benchmark": "generate_quantized",
        "seed": args.seed,
        "versions": versions(("gguf", "tokenizers", "safetensors"), git=True),
        "config": {
            "model": MODEL,
            "precisions": args.precisions,
            "threads": args.threads,
            "batch": 1,
            "strategy": "greedy",
            "prompt_tokens": args.prompt_tokens,
            "new_tokens": args.new_tokens,
            "repeats": args.repeats,
            "quick": args.quick,
            "prompt": "the first prompt_tokens token ids of a BBC News article, chosen by torch.randperm(seed)",
            "held_out": f"{HELD_OUT} documents in torch.randperm(seed) order until {args.ppl_tokens} tokens "
            f"({len(texts)} documents, {n_tokens} tokens), each scored on its own in windows of 512",
            "timing": "a warm-up run per precision, then repeats rounds interleaved across precisions; median and best",
            "q4_mapping": "Q4_1 w = d*q + m -> int4 kernel w = (q - 8)*scale + zero with scale = d, zero = m + 8d "
            "(float32, stored as bfloat16); the tied Q8_0 head as two int4 halves of q + 128",
            "cpu": os.cpu_count(),
            "machine": MACHINE_NOTE,
        },
        "loadavg": loadavg,
        "bandwidth_gb_per_s": bandwidth,
        "peer": LLAMA_CPP,
        "results": results,
    }
    atomic_write_json(out_path, report)
    print(f"bandwidth {bandwidth:.1f} GB/s; wrote {out_path}")


if __name__ == "__main__":
    main()
