"""AWD-LSTM language-model benchmark on Brown: textkit vs fastai 2.8 vs a plain nn.LSTM floor.

All three models see the same tokenized Brown training stream (textkit word tokenizer and
vocabulary, the `awd_lstm-small` recipe's split and settings), the same batch size, random
BPTT and number of tokens, in ONE process: training is interleaved in chunks of steps
(round-robin), so the load of a shared machine falls on all three alike. Each model gets the
same minimal loop: AdamW (wd 0.01) with a constant rate, gradient clipping 0.4, and for the two
AWD-LSTMs AR 2 / TAR 1 and identical dropouts (fastai's `Learner` is not used: the loop is
ours, so only the model code differs). Peak RSS is measured per model in a child process
(a short run) because a process's peak RSS cannot be split between models; it is the child's own
high-water mark (``VmHWM`` in /proc/self/status), not ``ru_maxrss``, which Linux carries over
from the parent across fork and exec.

Also reports unigram and interpolated-bigram baselines on the same tokens and vocabulary.

Run (fastai lives in its own venv, see bench/requirements-tokenize.txt):

    .venv-bench/bin/python bench/lm.py --tokens 150000 --out bench/results/lm.json

textkit alone: --skip-fastai, or automatically where fastai is not installed (textkit's own
venv); the JSON's ``peer`` then records fastai as unavailable, with the reason. ``--quick`` is a
smoke size (10 Brown files per split, 4,000 training tokens, 2 validation files) and writes
``lm_quick.json`` by default.
"""

from __future__ import annotations

import sys
from pathlib import Path


import argparse
import json
import math
import os
import platform
import subprocess
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from classify_cli import peak_rss_kib  # bench/ is on sys.path: this script runs as bench/lm.py
from textkit.data.lm import LMStream
from textkit.nn import AWDLSTMConfig, AWDLSTMLanguageModel
from textkit.recipes.language_model import LMRecipe, build_pipeline, corpus_splits, encode_documents

ROOT = Path(__file__).resolve().parents[1]
DROPOUTS = {"embed_p": 0.1, "input_p": 0.6, "hidden_p": 0.3, "weight_p": 0.5, "output_p": 0.1}
QUICK = {"tokens": 4000, "valid_docs": 2, "max_docs": 10}


def fastai_peer(skip: bool) -> dict:
    """Whether fastai runs here; without it the textkit and plain-LSTM sides still run."""
    import importlib.util

    if skip:
        return {"name": "fastai", "available": False, "reason": "--skip-fastai"}
    if importlib.util.find_spec("fastai") is None:
        reason = "fastai is not installed in this environment; see bench/requirements-tokenize.txt"
        return {"name": "fastai", "available": False, "reason": reason}
    return {"name": "fastai", "available": True}


# -- the three models, behind one interface: step(x, state) -> (logits, state, raw, dropped) ------


class TextkitModel:
    name = "textkit AWDLSTMLanguageModel"

    def __init__(self, vocab_size, pad, emb, hid, layers, drop_mult):
        self.model = AWDLSTMLanguageModel(
            AWDLSTMConfig(
                vocab_size=vocab_size,
                emb_size=emb,
                hidden_size=hid,
                n_layers=layers,
                pad_index=pad,
                drop_mult=drop_mult,
                **DROPOUTS,
            )
        )
        self.state = None

    def forward(self, x):
        logits, state, (raw, dropped) = self.model(x, self.state, return_hidden=True)
        self.state = [(h.detach(), c.detach()) for h, c in state]
        return logits, raw, dropped

    def reset(self):
        self.state = None


class FastaiModel:
    name = "fastai 2.8 AWD_LSTM (get_language_model)"

    def __init__(self, vocab_size, pad, emb, hid, layers, drop_mult):
        from fastai.text.models.awdlstm import AWD_LSTM, awd_lstm_lm_config
        from fastai.text.models.core import get_language_model

        config = dict(awd_lstm_lm_config, emb_sz=emb, n_hid=hid, n_layers=layers, pad_token=pad, **DROPOUTS)
        self.model = get_language_model(AWD_LSTM, vocab_size, config=config, drop_mult=drop_mult)

    def forward(self, x):
        logits, raw, dropped = self.model(x)  # fastai keeps (and detaches) its hidden state itself
        return logits, raw, dropped

    def reset(self):
        self.model.reset()


class PlainLSTMNet(torch.nn.Module):
    """Same sizes, tied, no dropout of any kind: the speed floor."""

    def __init__(self, vocab_size, pad, emb, hid, layers):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab_size, emb, padding_idx=pad)
        sizes = [emb] + [hid] * (layers - 1) + [emb]
        self.rnns = torch.nn.ModuleList(torch.nn.LSTM(sizes[i], sizes[i + 1], batch_first=True) for i in range(layers))
        self.decoder = torch.nn.Linear(emb, vocab_size)
        self.decoder.weight = self.embedding.weight

    def forward(self, x, state):
        h = self.embedding(x)
        new = []
        for rnn, s in zip(self.rnns, state or [None] * len(self.rnns), strict=True):
            h, hc = rnn(h, s)
            new.append(tuple(t.detach() for t in hc))
        return self.decoder(h), h, new


class PlainLSTM:
    name = "plain nn.LSTM (no regularization)"

    def __init__(self, vocab_size, pad, emb, hid, layers, drop_mult):
        self.model = PlainLSTMNet(vocab_size, pad, emb, hid, layers)
        self.state = None

    def forward(self, x):
        logits, h, self.state = self.model(x, self.state)
        return logits, h, h

    def reset(self):
        self.state = None


KINDS = {"textkit": TextkitModel, "fastai": FastaiModel, "plain": PlainLSTM}


def train_chunk(entry, batches, alpha, beta, clip):
    model, opt = entry["model"], entry["opt"]
    model.model.train()
    started = time.perf_counter()
    for batch in batches:
        x, y = torch.from_numpy(batch.x.astype(np.int64)), torch.from_numpy(batch.y.astype(np.int64))
        logits, raw, dropped = model.forward(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        entry["losses"].append(float(loss.detach()))
        if entry["regularize"]:
            loss = loss + alpha * dropped.pow(2).mean() + beta * (raw[:, 1:] - raw[:, :-1]).pow(2).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.model.parameters(), clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        entry["tokens"] += y.numel()
    entry["seconds"] += time.perf_counter() - started


@torch.no_grad()
def evaluate(model, stream):
    model.model.eval()
    model.reset()
    total, count = 0.0, 0
    for batch in stream.batches(0):
        x, y = torch.from_numpy(batch.x.astype(np.int64)), torch.from_numpy(batch.y.astype(np.int64))
        logits = model.forward(x)[0]
        total += F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), reduction="sum").item()
        count += y.numel()
    model.reset()
    return total / count


def ngram_baselines(train_docs, eval_docs, vocab_size):
    """Unigram (add-one) and bigram interpolated with the unigram; lambda picked on eval_docs[0]."""
    train = np.concatenate(train_docs).astype(np.int64)
    uni = (np.bincount(train, minlength=vocab_size) + 1.0) / (len(train) + vocab_size)
    pairs = train[:-1] * vocab_size + train[1:]
    keys, counts = np.unique(pairs, return_counts=True)
    context = np.bincount(train[:-1], minlength=vocab_size).astype(np.float64)

    def bigram_logp(stream, lam):
        prev, cur = stream[:-1], stream[1:]
        key = prev * vocab_size + cur
        idx = np.searchsorted(keys, key)
        idx[idx == len(keys)] = 0
        c = np.where(keys[idx] == key, counts[idx], 0).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            p_bi = np.where(context[prev] > 0, c / np.maximum(context[prev], 1), 0.0)
        return np.log(lam * p_bi + (1 - lam) * uni[cur])

    out = {}
    for name, docs in eval_docs.items():
        stream = np.concatenate(docs).astype(np.int64)
        out[f"unigram_{name}_ppl"] = float(np.exp(-np.log(uni[stream[1:]]).mean()))
    valid = np.concatenate(eval_docs["valid"]).astype(np.int64)
    lam = max(np.linspace(0.05, 0.95, 19), key=lambda lam_: bigram_logp(valid, lam_).mean())
    out["bigram_lambda"] = float(lam)
    for name, docs in eval_docs.items():
        stream = np.concatenate(docs).astype(np.int64)
        out[f"bigram_{name}_ppl"] = float(np.exp(-bigram_logp(stream, lam).mean()))
    return out


def load_data(recipe_path, max_docs=None):
    import dataclasses

    recipe = LMRecipe.load(recipe_path)
    data = recipe.data if max_docs is None else dataclasses.replace(recipe.data, max_docs=max_docs)
    splits = corpus_splits(data)
    pipeline = build_pipeline(recipe.tokenizer, splits["train"])
    docs = {name: encode_documents(pipeline, splits[name]) for name in ("train", "valid", "test")}
    return recipe, pipeline, docs


def rss_child(kind, args, cache: Path, sizes):
    """Peak RSS (MiB) of a fresh process that memory-maps the encoded training stream and
    trains `kind` for a few steps (tokenizing in the child would dominate its peak)."""
    cmd = [
        sys.executable,
        __file__,
        "--rss-only",
        kind,
        "--rss-cache",
        str(cache),
        "--recipe",
        args.recipe,
        "--threads",
        str(args.threads),
        "--sizes",
        json.dumps(sizes),
    ]
    out = subprocess.run(
        cmd, capture_output=True, text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", default=str(ROOT / "models" / "awd_lstm-small.json"))
    parser.add_argument("--tokens", type=int, default=150_000, help="training tokens per model")
    parser.add_argument("--chunk", type=int, default=5, help="steps per model per round-robin turn")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--valid-docs", type=int, default=None, help="evaluate on only this many validation files")
    parser.add_argument("--max-docs", type=int, default=None, help="keep the first N Brown files of each split")
    parser.add_argument("--skip-fastai", action="store_true")
    parser.add_argument(
        "--quick", action="store_true", help="smoke size: " + ", ".join(f"--{k} {v}" for k, v in QUICK.items())
    )
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--rss-only", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--rss-cache", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--rss-from", default=None, help="only re-measure peak RSS and update this results JSON")
    parser.add_argument("--out", default=None, help="default bench/results/lm.json (lm_quick.json with --quick)")
    args = parser.parse_args()
    if args.quick:  # quick sizes as defaults; flags given on the command line still win
        parser.set_defaults(**QUICK)
        args = parser.parse_args()
    if args.out is None:
        args.out = str(ROOT / "bench" / "results" / ("lm_quick.json" if args.quick else "lm.json"))
    torch.set_num_threads(args.threads)

    if args.rss_only:
        t = LMRecipe.load(args.recipe).train
        sizes = json.loads(args.sizes)
        train_stream = {
            "ids": np.load(Path(args.rss_cache) / "ids.npy", mmap_mode="r"),
            "offsets": np.load(Path(args.rss_cache) / "offsets.npy"),
        }
        if args.rss_only == "fastai":  # count fastai's imports in the baseline, not in the model's peak
            import fastai.text.models.awdlstm
            import fastai.text.models.core
        base = peak_rss_kib() / 1024
        torch.manual_seed(0)
        model = KINDS[args.rss_only](*sizes)
        entry = {
            "model": model,
            "opt": torch.optim.AdamW(model.model.parameters(), lr=args.lr, weight_decay=0.01),
            "losses": [],
            "tokens": 0,
            "seconds": 0.0,
            "regularize": args.rss_only != "plain",
        }
        stream = LMStream(type("Docs", (), train_stream)(), t.batch_size, t.bptt, seed=t.seed)
        batches = stream.batches(0)
        train_chunk(entry, [next(batches) for _ in range(3)], t.alpha, t.beta, t.clip)
        peak = peak_rss_kib() / 1024
        print(json.dumps({"peak_rss_mib": round(peak, 1), "rss_before_model_mib": round(base, 1)}))
        return

    recipe, pipeline, docs = load_data(args.recipe, args.max_docs)
    m, t = recipe.model, recipe.train
    sizes = (len(pipeline), pipeline.vocab.pad_index, m["emb_size"], m["hidden_size"], m["n_layers"], m["drop_mult"])
    peer = fastai_peer(args.skip_fastai)
    if not peer["available"]:
        print(f"fastai not run: {peer['reason']}", flush=True)
    kinds = [k for k in KINDS if k != "fastai" or peer["available"]]

    def measure_rss(results):
        import tempfile

        with tempfile.TemporaryDirectory() as cache:
            np.save(Path(cache) / "ids.npy", np.concatenate(docs["train"]).astype(np.int32))
            np.save(
                Path(cache) / "offsets.npy",
                np.concatenate([[0], np.cumsum([len(d) for d in docs["train"]])]).astype(np.int64),
            )
            for kind in kinds:
                results["models"][kind].update(rss_child(kind, args, Path(cache), sizes))
        git = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        results["rss_measurement"] = {  # which method wrote peak_rss_mib, and when
            "method": "VmHWM from /proc/self/status of a fresh child per model (3 training steps on the "
            "memory-mapped training stream), not ru_maxrss (which carries the parent's peak over fork/exec)",
            "measured": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "commit": git.stdout.strip() if git.returncode == 0 else None,
            "threads": args.threads,
            "rss_only_rerun": bool(args.rss_from),
        }

    if args.rss_from:
        results = json.loads(Path(args.rss_from).read_text())
        measure_rss(results)
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
        print({k: (v["peak_rss_mib"], v["rss_before_model_mib"]) for k, v in results["models"].items()})
        return

    results = {"models": {}, "peer": peer}
    train = LMStream(docs["train"], t.batch_size, t.bptt, seed=t.seed)
    valid_docs = docs["valid"][: args.valid_docs] if args.valid_docs else docs["valid"]
    valid = LMStream(valid_docs, 16, t.bptt, shuffle=False, random_bptt=False)
    batches = []
    for batch in train.batches(0):  # the same batches, in the same order, for every model
        batches.append(batch)
        if sum(b.n_tokens for b in batches) >= args.tokens:
            break
    entries = {}
    for kind in kinds:
        torch.manual_seed(0)
        model = KINDS[kind](*sizes)
        entries[kind] = {
            "model": model,
            "opt": torch.optim.AdamW(model.model.parameters(), lr=args.lr, weight_decay=0.01),
            "losses": [],
            "tokens": 0,
            "seconds": 0.0,
            "regularize": kind != "plain",
        }
    for start in range(0, len(batches), args.chunk):
        for kind in kinds:
            train_chunk(entries[kind], batches[start : start + args.chunk], t.alpha, t.beta, t.clip)
        done = min(start + args.chunk, len(batches))
        print(
            f"step {done}/{len(batches)}: "
            + ", ".join(f"{k} {e['tokens'] / e['seconds']:.0f} tok/s" for k, e in entries.items()),
            flush=True,
        )
    for kind in kinds:
        entry = entries[kind]
        loss = evaluate(entry["model"], valid)
        results["models"][kind] = {
            "name": entry["model"].name,
            "train_tokens": entry["tokens"],
            "train_seconds": round(entry["seconds"], 2),
            "tokens_per_s": round(entry["tokens"] / entry["seconds"], 1),
            "valid_loss": round(loss, 4),
            "valid_perplexity": round(math.exp(loss), 2),
            "final_train_loss_mean10": round(float(np.mean(entry["losses"][-10:])), 4),
            "parameters": sum(p.numel() for p in entry["model"].model.parameters()),
        }
        print(kind, results["models"][kind], flush=True)
    if not args.skip_rss:
        measure_rss(results)
    r = results["models"]
    ratios = {"textkit_over_plain_seconds": round(r["textkit"]["train_seconds"] / r["plain"]["train_seconds"], 3)}
    if "fastai" in r:
        ratios["textkit_over_fastai_tokens_per_s"] = round(
            r["textkit"]["tokens_per_s"] / r["fastai"]["tokens_per_s"], 3
        )
        ratios["fastai_over_plain_seconds"] = round(r["fastai"]["train_seconds"] / r["plain"]["train_seconds"], 3)
    results["ratios"] = ratios
    results["baselines"] = ngram_baselines(docs["train"], {"valid": valid_docs, "test": docs["test"]}, len(pipeline))
    results["setup"] = {
        "recipe": Path(args.recipe).name,
        "quick": args.quick,
        "max_docs_per_split": args.max_docs,
        "model": m,
        "batch_size": t.batch_size,
        "bptt": t.bptt,
        "random_bptt": True,
        "steps": len(batches),
        "tokens_per_model": sum(b.n_tokens for b in batches),
        "optimizer": f"AdamW lr={args.lr} wd=0.01 constant",
        "clip": t.clip,
        "ar_tar": [t.alpha, t.beta],
        "dropouts": DROPOUTS,
        "vocab_size": len(pipeline),
        "valid_tokens": valid.tokens_per_epoch,
        "threads": args.threads,
        "interleaved_chunk_steps": args.chunk,
        "loop": "our own minimal loop for all three (not fastai's Learner)",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }
    try:
        import fastai

        results["setup"]["fastai"] = fastai.__version__
    except ImportError:
        pass
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["ratios"]), json.dumps(results["baselines"]))


if __name__ == "__main__":
    main()
