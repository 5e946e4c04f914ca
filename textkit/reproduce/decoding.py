"""``textkit reproduce decoding``: Holtzman et al.'s decoding comparison (2019, Table 1) on
the pretrained SmolLM2-135M.

Prompts are the first ``--prompt-tokens`` tokens of real documents (bbc-news and brown, drawn
with the seed); each strategy continues every prompt by ``--new-tokens`` tokens, and the
documents' own next tokens are the human continuation. For each: perplexity of the
continuation under the model (given its prompt), Self-BLEU4 across continuations, the share
that ends in a repetition loop, distinct-2 and the Zipf coefficient of the token
frequencies. Printed beside GPT-2 Large's figures; the data, the model and the lengths differ
(the paper: 5,000 WebText continuations of 200 tokens), so the claim tested is the ordering:
greedy and beam repetitive, pure sampling incoherent (perplexity far above the human text's),
nucleus closest to human.

Writes ``OUT/results.json`` and ``OUT/metrics.png`` (``metrics_figure``: the three columns of the
paper's table, one panel each, beside the paper's figures).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

HOLTZMAN_GPT2_LARGE = {  # ../shared/REFERENCES.md: perplexity, Self-BLEU4, repetition %
    "human": (12.38, 0.31, 0.28),
    "greedy": (1.50, 0.50, 73.66),
    "beam-16": (1.48, 0.44, 28.94),
    "pure-sampling": (22.73, 0.28, 0.22),
    "temperature-0.9": (10.25, 0.35, 0.66),
    "top-k-40": (6.88, 0.39, 0.78),
    "nucleus-0.95": (13.13, 0.32, 0.36),
}
METHODS = ("greedy", "beam-16", "pure-sampling", "temperature-0.9", "top-k-40", "nucleus-0.95", "min-p-0.1")
CORPORA = ("bbc-news", "brown")


def strategy_for(method: str, seed: int):
    from textkit import decode

    return {
        "greedy": lambda: decode.Greedy(),
        "beam-16": lambda: decode.Beam(16, length_norm="none"),  # plain log-probability, as in the paper
        "pure-sampling": lambda: decode.Sample(seed=seed),
        "temperature-0.9": lambda: decode.Sample(temperature=0.9, seed=seed),
        "top-k-40": lambda: decode.Sample(top_k=40, seed=seed),
        "nucleus-0.95": lambda: decode.Sample(top_p=0.95, seed=seed),
        "min-p-0.1": lambda: decode.Sample(min_p=0.1, seed=seed),
    }[method]()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="smollm2-135m", help="a pretrained LLM's name or an LM folder")
    parser.add_argument("--out", required=True, help="folder for results.json and metrics.png")
    parser.add_argument("--prompts", type=int, default=32, help="number of prompts (documents)")
    parser.add_argument("--prompt-tokens", type=int, default=40)
    parser.add_argument("--new-tokens", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, from {', '.join(METHODS)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's; --quick: 1, which on a busy machine is many times faster)",
    )
    parser.add_argument("--quick", action="store_true", help="8 prompts, 16 + 16 tokens, one thread (smoke run)")


def select_prompts(tokenizer, n: int, prompt_tokens: int, new_tokens: int, seed: int) -> list[dict]:
    """``n`` documents (half bbc-news, half brown, drawn with ``seed``) long enough for a prompt
    and a human continuation, as token ids."""
    from textkit import data

    rng = np.random.default_rng(seed)
    need = prompt_tokens + new_tokens
    chosen: list[dict] = []
    for c, corpus in enumerate(CORPORA):
        want = n // len(CORPORA) + (1 if c < n % len(CORPORA) else 0)
        records = data.load(corpus)
        for i in rng.permutation(len(records)):
            if sum(1 for p in chosen if p["corpus"] == corpus) >= want:
                break
            text = " ".join(records[i]["text"].split())  # one line: Brown's files are line-broken
            ids = tokenizer.encode(text).ids[:need]
            if len(ids) == need:
                chosen.append({"corpus": corpus, "index": int(i), "ids": ids})
    if len(chosen) < n:
        raise ValueError(f"only {len(chosen)} documents have {need} tokens; ask for fewer prompts or tokens")
    return chosen


def continuation_perplexity(model, prompts: list[list[int]], continuations: list[list[int]], batch_size: int) -> float:
    """exp of the mean negative log-likelihood of the continuation tokens, each given its prompt
    (rows of equal length are scored in batches)."""
    import torch
    import torch.nn.functional as F

    device = next(model.parameters()).device
    by_shape: dict[tuple[int, int], list[int]] = {}
    for i, (p, c) in enumerate(zip(prompts, continuations, strict=True)):
        if c:
            by_shape.setdefault((len(p), len(c)), []).append(i)
    total, count = 0.0, 0
    for (n_prompt, n_cont), rows in by_shape.items():
        for start in range(0, len(rows), batch_size):
            chosen = rows[start : start + batch_size]
            x = torch.tensor([prompts[i] + continuations[i] for i in chosen], device=device)  # (B, T)
            with torch.no_grad():
                logits = model(x)[0].float()  # (B, T, V)
            scored = logits[:, n_prompt - 1 : -1]  # predictions of the continuation tokens
            total += F.cross_entropy(
                scored.reshape(-1, scored.size(-1)), x[:, n_prompt:].reshape(-1), reduction="sum"
            ).item()
            count += len(chosen) * n_cont
    return math.exp(total / count) if count else float("nan")


def zipf_coefficient(sequences: list[list[int]]) -> float:
    """s in frequency ~ rank^-s, by least squares on log-log over all tokens of the sequences."""
    counts = np.bincount(np.concatenate([np.asarray(s, dtype=np.int64) for s in sequences if s]))
    freqs = np.sort(counts[counts > 0])[::-1].astype(np.float64)
    if len(freqs) < 2:
        return float("nan")
    ranks = np.arange(1, len(freqs) + 1, dtype=np.float64)
    slope = np.polyfit(np.log(ranks), np.log(freqs), 1)[0]
    return float(-slope)


def continuation_metrics(model, prompts, continuations, batch_size: int) -> dict:
    from textkit.decode.metrics import distinct_n, repetition_rate, self_bleu

    return {
        "perplexity": continuation_perplexity(model, prompts, continuations, batch_size),
        "self_bleu4": self_bleu(continuations, max_n=4),
        "repetition_pct": 100 * repetition_rate(continuations),
        "distinct_2": distinct_n(continuations, 2),
        "zipf": zipf_coefficient(continuations),
        "mean_length": float(np.mean([len(c) for c in continuations])),
    }


def generate_all(model, prompts: list[list[int]], method: str, new_tokens: int, batch_size: int, seed: int):
    import torch

    from textkit import decode

    step = model.step  # every textkit LM's step projects only the last position
    out: list[list[int]] = []
    device = next(model.parameters()).device
    for b, start in enumerate(range(0, len(prompts), batch_size)):
        batch = torch.tensor(prompts[start : start + batch_size], device=device)  # (B, T): equal lengths
        generation = decode.generate(step, batch, strategy_for(method, seed + b), new_tokens)
        out.extend(generation.to_lists())
    return out


def _claims(metrics: dict) -> dict:
    human = metrics["human"]
    paper_methods = [m for m in HOLTZMAN_GPT2_LARGE if m != "human" and m in metrics]
    out = {}
    if {"greedy", "beam-16"} <= set(metrics):
        out["greedy and beam 16 repeat more than the human text"] = all(
            metrics[m]["repetition_pct"] > human["repetition_pct"] for m in ("greedy", "beam-16")
        )
    if "pure-sampling" in metrics:
        out["pure sampling is incoherent: perplexity above 1.5x the human text's"] = (
            metrics["pure-sampling"]["perplexity"] > 1.5 * human["perplexity"]
        )
    if "nucleus-0.95" in metrics and len(paper_methods) > 1:

        def gap(m: str) -> float:
            return abs(math.log(metrics[m]["perplexity"]) - math.log(human["perplexity"]))

        closest = min(paper_methods, key=gap)
        out[f"nucleus 0.95 is closest to human perplexity (closest: {closest})"] = closest == "nucleus-0.95"
    return out


def run_decoding(
    model_name: str,
    out: str | Path,
    *,
    n_prompts: int = 32,
    prompt_tokens: int = 40,
    new_tokens: int = 96,
    batch_size: int = 8,
    methods: tuple[str, ...] = METHODS,
    seed: int = 0,
    log=print,
) -> dict:
    import torch

    from textkit._io import atomic_write_json, versions
    from textkit.classical.plots import save_figure
    from textkit.nn import load_language_model

    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; choose from {', '.join(METHODS)}")
    torch.manual_seed(seed)
    started = time.perf_counter()
    bundle = load_language_model(model_name)
    model, tokenizer = bundle
    docs = select_prompts(tokenizer, n_prompts, prompt_tokens, new_tokens, seed)
    prompts = [d["ids"][:prompt_tokens] for d in docs]
    human = [d["ids"][prompt_tokens:] for d in docs]
    metrics = {"human": continuation_metrics(model, prompts, human, batch_size)}
    samples = {"human": tokenizer.decode(human[0])}
    timings = {}
    for method in methods:
        t = time.perf_counter()
        continuations = generate_all(model, prompts, method, new_tokens, batch_size, seed)
        timings[method] = round(time.perf_counter() - t, 2)
        metrics[method] = continuation_metrics(model, prompts, continuations, batch_size)
        metrics[method]["tokens_per_s"] = round(sum(len(c) for c in continuations) / timings[method], 1)
        samples[method] = tokenizer.decode(continuations[0])
        log(
            f"{method:16s} ppl {metrics[method]['perplexity']:8.2f}  self-BLEU4 {metrics[method]['self_bleu4']:.3f}  "
            f"repetition {metrics[method]['repetition_pct']:5.1f}%  ({timings[method]:.0f} s)"
        )
    results = {
        "experiment": "Holtzman et al. 2019 Table 1 on a pretrained LLM",
        "model": model_name,
        "metrics": metrics,
        "claims": _claims(metrics),
        "reference": {
            "source": "Holtzman et al. 2019, GPT-2 Large, 5,000 WebText continuations of 200 tokens",
            "columns": ["perplexity", "self_bleu4", "repetition_pct"],
            "values": HOLTZMAN_GPT2_LARGE,
        },
        "prompt_example": tokenizer.decode(prompts[0]),
        "continuation_examples": samples,
        "config": {
            "prompts": n_prompts,
            "prompt_tokens": prompt_tokens,
            "new_tokens": new_tokens,
            "batch_size": batch_size,
            "corpora": list(CORPORA),
            "documents": [{"corpus": d["corpus"], "index": d["index"]} for d in docs],
            "beam": "Beam(16, length_norm='none'), no EOS stop; sampling seeds seed + batch index",
            "perplexity": "of each continuation given its prompt, under the same model, fp32",
            "repetition": "share of continuations ending in a loop (textkit.decode.metrics.repetition_rate)",
            "seconds": timings,
            "total_seconds": round(time.perf_counter() - started, 1),
            "torch_threads": torch.get_num_threads(),
        },
        "seed": seed,
        "versions": versions(git=True),
    }
    out = Path(out)
    atomic_write_json(out / "results.json", results)
    save_figure(metrics_figure(results), out / "metrics.png")
    log(format_table(results))
    log(f"wrote {out / 'results.json'} and {out / 'metrics.png'}")
    return results


PANELS = (  # results key, axis label, label format, reference column in HOLTZMAN_GPT2_LARGE
    ("perplexity", "perplexity (log scale from 1, its minimum)", "{:.2f}", 0),
    ("self_bleu4", "Self-BLEU4 (axis from 0)", "{:.3f}", 1),
    ("repetition_pct", "repetition (% of continuations; axis from 0)", "{:.1f}", 2),
)


def metrics_figure(results: dict) -> Figure:
    """metrics.png: perplexity, Self-BLEU4 and repetition per method (one panel each, the human
    continuation as the grey bar and the dashed line), with Holtzman et al.'s GPT-2 Large
    figures as red diamonds where the paper has the method."""
    from textkit.classical.plots import barh_panel, pyplot

    plt = pyplot()
    metrics = results["metrics"]
    names = list(metrics)
    paper = results["reference"]["values"]
    fig, axes = plt.subplots(1, len(PANELS), figsize=(13, 0.36 * len(names) + 1.8), sharey=True)
    for ax, (key, label, fmt, column) in zip(axes, PANELS, strict=True):
        values = [float(metrics[m][key]) for m in names]
        references = {m: float(paper[m][column]) for m in names if m in paper}
        barh_panel(
            ax,
            names,
            values,
            colors=["tab:gray" if m == "human" else "tab:blue" for m in names],
            references=references,
            reference_label="Holtzman et al. 2019, GPT-2 Large",
            baseline=float(metrics["human"][key]) if "human" in metrics else None,
            baseline_label="human continuation (here)",
            fmt=fmt,
            legend=False,
        )
        top = max([*values, *references.values()])
        if key == "perplexity":
            ax.set_xscale("log")
            ax.set_xlim(1.0, top * 3)
        else:
            ax.set_xlim(0.0, top * 1.25 or 1.0)
        ax.set_xlabel(label, fontsize=9)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    config = results["config"]
    fig.suptitle(
        f"Decoding strategies on {results['model']}: {config['prompts']} prompts of {config['prompt_tokens']} "
        f"tokens, {config['new_tokens']} new tokens each"
    )
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def format_table(results: dict) -> str:
    paper = results["reference"]["values"]
    lines = [
        f"{'method':16s} {'ppl':>8s} {'paper':>7s} {'selfBLEU4':>9s} {'paper':>6s} {'repet %':>8s} {'paper':>6s} "
        f"{'dist-2':>7s} {'zipf':>5s}"
    ]
    for method, m in results["metrics"].items():
        p = paper.get(method)
        ref = (f"{p[0]:7.2f}", f"{p[1]:6.2f}", f"{p[2]:6.2f}") if p else ("-".rjust(7), "-".rjust(6), "-".rjust(6))
        lines.append(
            f"{method:16s} {m['perplexity']:8.2f} {ref[0]} {m['self_bleu4']:9.3f} {ref[1]} {m['repetition_pct']:8.1f} "
            f"{ref[2]} {m['distinct_2']:7.3f} {m['zipf']:5.2f}"
        )
    lines.append(
        f"paper: {results['reference']['source']}; here {results['model']}, {results['config']['prompts']} "
        f"prompts of {results['config']['prompt_tokens']} tokens, {results['config']['new_tokens']} new tokens"
    )
    for claim, held in results["claims"].items():
        lines.append(f"claim {'HOLDS  ' if held else 'FAILS  '} {claim}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import torch

    if args.quick:
        args.prompts, args.prompt_tokens, args.new_tokens = 8, 16, 16
    threads = args.threads or (1 if args.quick else None)
    if threads:
        torch.set_num_threads(threads)
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    run_decoding(
        args.model,
        args.out,
        n_prompts=args.prompts,
        prompt_tokens=args.prompt_tokens,
        new_tokens=args.new_tokens,
        batch_size=args.batch_size,
        methods=methods,
        seed=args.seed,
    )
    return 0
