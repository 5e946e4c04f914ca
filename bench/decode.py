"""Decoding benchmark: textkit.decode vs Hugging Face ``generate`` on the same model.

One randomly initialized small GPT-2 (built from a config; nothing is downloaded) is decoded
by both libraries (textkit through ``decode.generate`` with ``Greedy()``, ``Sample(top_p=0.9)``
and ``Beam(5)``): textkit drives the HF model's forward pass (with its KV cache) through a
step function ``step(tokens, cache) -> (logits, cache)``, so only the decoding loop differs.
Same prompts, same number of new tokens, no EOS (every row runs to the end), same beam size.
The two are timed alternately in one process (median of ``--repeats``), so the load of a
shared machine falls on both alike.

Checks: greedy outputs identical; beam-5 best hypotheses compared (both use length
normalization ``len ** 1.0`` over generated tokens); top-k / top-p filtered distributions equal
HF's ``TopKLogitsWarper`` / ``TopPLogitsWarper`` on random logits to 1e-6.

Run (transformers lives in its own venv):

    python3 -m venv .venv-bench-decode
    .venv-bench-decode/bin/pip install torch==2.13.0
    .venv-bench-decode/bin/pip install transformers
    .venv-bench-decode/bin/pip install -e . --no-deps
    .venv-bench-decode/bin/python bench/decode.py --out bench/results/decode.json

Without transformers (textkit's own venv) only textkit's side runs, on a random textkit Llama
of the same sizes (``textkit.nn.llama``, its own KV cache), and the JSON's ``peer`` records
transformers as unavailable: no speed-up, no output or warper comparison. ``--quick`` is a
smoke size (a tiny model, a few tokens, one repeat) and writes ``decode_quick.json`` by default.

``--profile`` adds where textkit's beam search spends its time (``profile`` in the JSON): the
step function and the cache reorder are wrapped in timers, and each of ``--profile-repeats``
beam runs (after one warm-up) is split into model forward (the step: prefill and every new
token), cache reorder, and the rest (log-softmax, top-k, bookkeeping), with the median of each
fraction. CPU ops are synchronous, so wall-clock timers around them measure them:

    .venv-bench-hf/bin/python bench/decode.py --profile --out bench/results/decode_profile.json
"""

from __future__ import annotations

from pathlib import Path


import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch


def build_model(args):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(args.seed)
    config = GPT2Config(
        vocab_size=args.vocab,
        n_positions=512,
        n_embd=args.d_model,
        n_layer=args.layers,
        n_head=args.heads,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
    )
    model = GPT2LMHeadModel(config).eval()
    # a random GPT-2 is nearly uniform; sharpen it so greedy/beam/top-p behave as with a trained model
    with torch.no_grad():
        model.lm_head.weight.mul_(args.sharpen)
    return model


QUICK = {
    "batch": 2,
    "prompt_len": 8,
    "new_tokens": 8,
    "beam": 3,
    "vocab": 1000,
    "d_model": 64,
    "layers": 2,
    "heads": 4,
    "repeats": 1,
}


def transformers_missing() -> str | None:
    """None when transformers is importable here, else the reason it is not."""
    import importlib.util

    if importlib.util.find_spec("transformers") is None:
        return "transformers is not installed in this environment; see this file's docstring (.venv-bench-decode)"
    return None


def build_textkit_model(args):
    """The textkit-only run's model: a random textkit Llama of the GPT-2's sizes, sharpened alike."""
    from textkit.nn.llama import LlamaConfig, LlamaLanguageModel

    torch.manual_seed(args.seed)
    config = LlamaConfig(
        vocab_size=args.vocab,
        d_model=args.d_model,
        n_layers=args.layers,
        n_heads=args.heads,
        n_kv_heads=args.heads,
        d_ff=4 * args.d_model,
        max_len=512,
        tie_embeddings=False,
    )
    model = LlamaLanguageModel(config).eval()
    with torch.no_grad():
        model.head.weight.mul_(args.sharpen)
    return model


def hf_step(model):
    def step(tokens, cache):
        # logits_to_keep=1: only the last position's logits, as HF generate does
        out = model(input_ids=tokens, past_key_values=cache, use_cache=True, logits_to_keep=1)
        return out.logits[:, -1], out.past_key_values

    return step


def reorder_cache(cache, index):
    cache.reorder_cache(index)
    return cache


def _inference(fn):
    """Both libraries run under torch.inference_mode (HF's generate adds its own no_grad)."""

    def run():
        with torch.inference_mode():
            return fn()

    return run


def time_it(fn, repeats):
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def check_warpers(seed: int) -> dict:
    from transformers.generation.logits_process import TopKLogitsWarper, TopPLogitsWarper

    from textkit import decode

    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(16, 5000, generator=gen) * 3
    out = {}
    for name, ours, theirs in [
        ("top_k_10", decode.top_k_filter(logits, 10), TopKLogitsWarper(10)(None, logits.clone())),
        ("top_k_500", decode.top_k_filter(logits, 500), TopKLogitsWarper(500)(None, logits.clone())),
        ("top_p_0.9", decode.top_p_filter(logits, 0.9), TopPLogitsWarper(0.9)(None, logits.clone())),
        ("top_p_0.5", decode.top_p_filter(logits, 0.5), TopPLogitsWarper(0.5)(None, logits.clone())),
    ]:
        same_support = bool(torch.equal(torch.isinf(ours), torch.isinf(theirs)))
        diff = float((ours.softmax(-1) - theirs.softmax(-1)).abs().max())
        out[name] = {"same_support": same_support, "max_abs_prob_diff": diff, "ok": same_support and diff <= 1e-6}
    probs = torch.tensor([[0.3, 0.1, 0.1, 0.5], [0.15, 0.3, 0.3, 0.25]])
    ours = decode.top_p_filter(probs.log(), 0.8)
    theirs = TopPLogitsWarper(0.8)(None, probs.log())
    out["issue_vector"] = {
        "ours_kept": torch.where(torch.isinf(ours), 0, ours.exp()).tolist(),
        "same_support": bool(torch.equal(torch.isinf(ours), torch.isinf(theirs))),
    }
    return out


def profile_beam(step, reorder, prompts, n_new: int, beam: int, repeats: int) -> dict:
    """Split textkit's beam-search wall time into model forward (``step``), cache reorder and the rest."""
    from textkit import decode

    spent = {"step": 0.0, "reorder": 0.0}
    calls = {"step": 0, "reorder": 0}

    def timed(name, fn):
        def wrapped(*args):
            started = time.perf_counter()
            try:
                return fn(*args)
            finally:
                spent[name] += time.perf_counter() - started
                calls[name] += 1

        return wrapped

    strategy = decode.Beam(beam, length_norm="average", length_penalty=1.0)
    runs = []
    for i in range(repeats + 1):  # the first is a warm-up, not kept
        spent.update(step=0.0, reorder=0.0)
        calls.update(step=0, reorder=0)
        started = time.perf_counter()
        with torch.inference_mode():
            decode.generate(timed("step", step), prompts, strategy, n_new, reorder=timed("reorder", reorder))
        total = time.perf_counter() - started
        if i:
            other = total - spent["step"] - spent["reorder"]
            runs.append(
                {
                    "total_s": round(total, 4),
                    "model_forward_s": round(spent["step"], 4),
                    "cache_reorder_s": round(spent["reorder"], 4),
                    "other_s": round(other, 4),
                    "step_calls": calls["step"],
                    "reorder_calls": calls["reorder"],
                }
            )

    def median(key):
        return statistics.median(r[key] for r in runs)

    def fraction(key):
        return round(statistics.median(r[key] / r["total_s"] for r in runs), 4)

    return {
        "what": f"textkit beam-{beam} search (decode.generate), wall time split by wrapping step and reorder in timers",
        "repeats": repeats,
        "warmup_runs": 1,
        "runs": runs,
        "median_seconds": {k: median(k) for k in ("total_s", "model_forward_s", "cache_reorder_s", "other_s")},
        "median_fraction": {k: fraction(k) for k in ("model_forward_s", "cache_reorder_s", "other_s")},
        "fraction_spread": {
            k: [round(min(r[k] / r["total_s"] for r in runs), 4), round(max(r[k] / r["total_s"] for r in runs), 4)]
            for k in ("model_forward_s", "cache_reorder_s", "other_s")
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out", default=None, help="default bench/results/decode.json (decode_quick.json with --quick)"
    )
    parser.add_argument("--quick", action="store_true", help="smoke size: tiny model, few tokens, one repeat")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--prompt-len", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=48)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--sharpen", type=float, default=8.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--profile", action="store_true", help="also split textkit's beam-search time (model forward, reorder, rest)"
    )
    parser.add_argument("--profile-repeats", type=int, default=5, help="timed beam runs for --profile")
    args = parser.parse_args()
    if args.quick:  # quick sizes as defaults; flags given on the command line still win
        parser.set_defaults(**QUICK)
        args = parser.parse_args()
    if args.out is None:
        args.out = f"bench/results/{'decode_quick' if args.quick else 'decode'}.json"
    torch.set_num_threads(args.threads)

    from textkit import decode

    missing = transformers_missing()
    if missing is None:
        import transformers

        model = build_model(args)
        step = hf_step(model)
        reorder = reorder_cache
        peer = {"name": "transformers", "available": True, "version": transformers.__version__}
        model_name = "random GPT-2 (transformers GPT2LMHeadModel), HF forward pass and KV cache on both sides"
    else:
        print(f"transformers not available, textkit side only: {missing}", flush=True)
        model = build_textkit_model(args)
        step = model.step
        peer = {"name": "transformers", "available": False, "reason": missing}
        reorder = decode.index_state  # the Llama's cache: a dict of per-layer (B, ...) tensors
        model_name = "random textkit Llama (textkit.nn.llama) of the same sizes, its own KV cache"
    gen = torch.Generator().manual_seed(args.seed)
    prompts = torch.randint(1, args.vocab, (args.batch, args.prompt_len), generator=gen)
    attention = torch.ones_like(prompts)
    n_new = args.new_tokens
    common = dict(
        max_new_tokens=n_new, min_new_tokens=n_new, pad_token_id=0, eos_token_id=None, attention_mask=attention
    )

    def hf(**kw):
        return model.generate(prompts, **common, **kw)[:, args.prompt_len :]

    runs = {
        "greedy": (
            lambda: decode.generate(step, prompts, decode.Greedy(), n_new).tokens,
            lambda: hf(do_sample=False, num_beams=1),
        ),
        "top_p_0.9": (
            lambda: decode.generate(step, prompts, decode.Sample(top_p=0.9, seed=args.seed), n_new).tokens,
            lambda: (torch.manual_seed(args.seed), hf(do_sample=True, top_p=0.9, top_k=0, temperature=1.0))[1],
        ),
        f"beam_{args.beam}": (
            lambda: (
                decode.generate(
                    step,
                    prompts,
                    decode.Beam(args.beam, length_norm="average", length_penalty=1.0),
                    n_new,
                    reorder=reorder,
                ).tokens
            ),
            lambda: hf(do_sample=False, num_beams=args.beam, length_penalty=1.0, early_stopping=True),
        ),
    }
    results = {}
    runs = {name: tuple(_inference(f) for f in pair) for name, pair in runs.items()}
    for name, (ours, theirs) in runs.items():
        if not peer["available"]:
            theirs = None
        ours()  # warm-up
        if theirs is not None:
            theirs()
        t_ours, t_theirs, out_ours, out_theirs = [], [], None, None
        for _ in range(args.repeats):  # alternate, so machine load hits both alike
            t, out_ours = time_it(ours, 1)
            t_ours.append(t)
            if theirs is not None:
                t, out_theirs = time_it(theirs, 1)
                t_theirs.append(t)
        tokens = args.batch * n_new
        assert out_ours.shape == (args.batch, n_new), out_ours.shape
        row = {
            "textkit_tokens_per_s": round(tokens / statistics.median(t_ours), 1),
            "textkit_seconds": [round(t, 3) for t in t_ours],
        }
        if theirs is not None:
            row["hf_tokens_per_s"] = round(tokens / statistics.median(t_theirs), 1)
            row["hf_seconds"] = [round(t, 3) for t in t_theirs]
            row["speedup"] = round(row["textkit_tokens_per_s"] / row["hf_tokens_per_s"], 2)
            if name != "top_p_0.9":
                row["identical_outputs"] = bool(torch.equal(out_ours.cpu(), out_theirs.cpu()))
                row["rows_identical"] = int((out_ours.cpu() == out_theirs.cpu()).all(-1).sum())
        results[name] = row
        print(
            f"{name:10s} textkit {row['textkit_tokens_per_s']:8.1f} tok/s"
            + (f"   HF {row['hf_tokens_per_s']:8.1f} tok/s   x{row['speedup']:.2f}" if "speedup" in row else "")
            + (f"   identical rows {row['rows_identical']}/{args.batch}" if "rows_identical" in row else ""),
            flush=True,
        )
    warpers = check_warpers(args.seed) if peer["available"] else None
    if warpers is not None:
        print("warpers:", {k: v.get("ok", v.get("same_support")) for k, v in warpers.items()})
    profile = None
    if args.profile:
        repeats = 1 if args.quick else args.profile_repeats
        profile = profile_beam(step, reorder, prompts, n_new, args.beam, repeats)
        fractions = profile["median_fraction"]
        print(
            f"profile beam_{args.beam}: model forward {fractions['model_forward_s']:.1%}, "
            f"cache reorder {fractions['cache_reorder_s']:.1%}, rest {fractions['other_s']:.1%}",
            flush=True,
        )
    report = {
        "results": results,
        "profile": profile,
        "warpers": warpers,
        "peer": peer,
        "model": model_name,
        "seed": args.seed,
        "config": {k: v for k, v in vars(args).items() if k != "out"},
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": peer.get("version"),
        },
        "machine": {
            "cpu_threads_used": args.threads,
            "platform": platform.platform(),
            "load_average": list(os.getloadavg()),
        },
        "command": " ".join(["python", "bench/decode.py", *sys.argv[1:]]),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
