"""Why `tokenize_many` with 2 processes scaled 1.81x in bench/results/tokenize.json (50 MB, with
Brown, best of 2) and 1.32x (median) in a later re-measure (25.9 MB of BBC + rotten-tomatoes x4):
a model of `textkit.text.parallel`'s schedule from measured CPU costs, which a loaded machine
cannot distort as it distorts wall-clock scaling.

    .venv/bin/python bench/tokenize_scaling_model.py [--out bench/results/tokenize_scaling_model.json]

For each corpus it measures, in CPU seconds (``time.process_time``) of one process:
- the tokenization of each 512-text batch (the default ``batch_size``);
- what the caller pays for each batch a worker does: unpickling the reply and splitting the joined
  tokens (``_Tokenize.unpack``), and pickling the batch it sends;
- what the worker pays besides tokenizing: joining the tokens and pickling the reply;
- the cyclic garbage collector's share of a one-process run (``gc`` on vs off);
- the first call's fixed cost (start-method checks, fork) beside later calls.
It then replays ``_WorkerPool.imap``'s policy (each worker holds at most 2 batches, at most
``2 * n_workers`` batches unyielded, the caller tokenizes a batch itself whenever the next result
is not ready) on those costs and reports the speedup that schedule allows with two processes
that each get a whole core. A measured wall-clock speedup far below it points at the machine
(cores that are not whole: SMT siblings, CPU quota or steal, shared caches), not the schedule.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import random
import statistics
import sys
import time
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPORA = {
    "artifact (tokenize.json): rotten-tomatoes + bbc-news + brown, 50 MB": (
        ("rotten-tomatoes", "bbc-news", "brown"),
        50_000_000,
    ),
    "re-measure: bbc-news + rotten-tomatoes x4, 25.9 MB": (("bbc-news", "rotten-tomatoes"), 25_800_000),
}


def cpu(function):
    start = time.process_time()
    result = function()
    return time.process_time() - start, result


def texts_of(names: tuple[str, ...]) -> list[str]:
    from textkit import data

    texts = [r["text"] for name in names for r in data.load(name)]
    texts = [t for t in texts if t.strip()]
    random.Random(0).shuffle(texts)
    return texts


def measure(texts: list[str], batch_size: int = 512) -> dict:
    from textkit.text import Tokenizer
    from textkit.text.parallel import _batches, _Tokenize

    job = _Tokenize(Tokenizer(lang="en"))
    batches = list(_batches(texts, batch_size))
    costs = [cpu(lambda b=b: job.tokenize_batch(b))[0] for b in batches]
    pack, packed = cpu(lambda: [job(b) for b in batches])
    dumps, blobs = cpu(
        lambda: [pickle.dumps((i, p, None), protocol=pickle.HIGHEST_PROTOCOL) for i, p in enumerate(packed)]
    )
    loads, replies = cpu(lambda: [pickle.loads(b) for b in blobs])
    unpack, _ = cpu(lambda: [_Tokenize.unpack(r[1]) for r in replies])
    send, _ = cpu(lambda: [pickle.dumps((i, b), protocol=pickle.HIGHEST_PROTOCOL) for i, b in enumerate(batches)])
    total = sum(costs)
    return {
        "costs": costs,
        "caller_overhead": (loads + unpack + send) / total,  # per second of a worker's tokenizing
        "worker_overhead": max(0.0, (pack - total + dumps) / total),
        "parts_cpu_s": {
            "tokenize": round(total, 3),
            "worker_join_and_tokenize": round(pack, 3),
            "worker_pickle": round(dumps, 3),
            "caller_unpickle": round(loads, 3),
            "caller_unpack": round(unpack, 3),
            "caller_send": round(send, 3),
        },
    }


def gc_share(texts: list[str]) -> float:
    from textkit.text import Tokenizer

    tokenizer = Tokenizer(lang="en")
    times = {}
    for mode in ("on", "off", "on", "off"):
        gc.collect()
        if mode == "off":
            gc.disable()
        seconds, out = cpu(lambda: tokenizer.tokenize_many(texts, n_workers=1))
        gc.enable()
        del out
        times.setdefault(mode, []).append(seconds)
    return 1 - min(times["off"]) / min(times["on"])  # of one pass; the share grows little with passes


def replay(costs: list[float], caller_overhead: float, worker_overhead: float, window_factor: int = 2) -> float:
    """The speedup ``_WorkerPool.imap`` allows with the caller and one worker on whole cores."""
    n, window = len(costs), window_factor * 2
    t = worker_free = 0.0
    inflight: deque[tuple[int, float]] = deque()
    done: set[int] = set()
    sent = yielded = 0
    while True:
        while sent - yielded < window and sent < n and len(inflight) < 2:
            worker_free = max(worker_free, t) + costs[sent] * (1 + worker_overhead)
            inflight.append((sent, worker_free))
            sent += 1
        if yielded in done:
            done.discard(yielded)
            yielded += 1
            continue
        if sent == n and yielded == sent:
            return sum(costs) / t
        if inflight and inflight[0][1] <= t:
            i, _ = inflight.popleft()
            done.add(i)
            t += caller_overhead * costs[i]
        if yielded in done:
            continue
        if sent - yielded < window and sent < n:
            t += costs[sent]
            done.add(sent)
            sent += 1
        else:
            i, finish = inflight.popleft()
            t = max(t, finish) + caller_overhead * costs[i]
            done.add(i)


def first_call_seconds() -> dict:
    from textkit.text import Tokenizer

    tokenizer = Tokenizer(lang="en")
    out = []
    for _ in range(3):
        start = time.perf_counter()
        tokenizer.tokenize_many(["a short text."] * 10, n_workers=2)
        out.append(round(time.perf_counter() - start, 3))
    return {"first_call_s": out[0], "later_calls_s": out[1:]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "tokenize_scaling_model.json"))
    parser.add_argument("--quick", action="store_true", help="smoke size: the first corpus, 2,000 texts, one pass")
    args = parser.parse_args()
    from textkit._io import atomic_write_json, versions

    load_before = os.getloadavg()
    results = {}
    for label, (names, target) in list(CORPORA.items())[: 1 if args.quick else None]:
        texts = texts_of(names)[: 2000 if args.quick else None]
        passes = 1 if args.quick else -(-target // sum(map(len, texts)))
        measured = measure(texts)
        costs = measured.pop("costs") * passes  # the corpus is one shuffled pass repeated
        mean = statistics.mean(costs)
        results[label] = {
            **measured,
            "passes": passes,
            "batches": len(costs),
            "batch_cpu_ms_mean": round(1e3 * mean, 2),
            "batch_cost_cv": round(statistics.pstdev(costs) / mean, 3),
            "gc_share_of_one_process_run": round(gc_share(texts), 3),
            "modelled_speedup_2_processes": {
                f"window {2 * f}": round(replay(costs, measured["caller_overhead"], measured["worker_overhead"], f), 3)
                for f in (2, 4)
            },
        }
        print(label, json.dumps(results[label]), flush=True)
    report = {
        "benchmark": "tokenize_many 2-process scaling: a model of the schedule from measured CPU costs",
        "method": __doc__.split("For each corpus", 1)[1].strip(),
        "results": results,
        "startup": first_call_seconds(),
        "machine": {"cpus": os.cpu_count(), "load_before": load_before, "load_after": os.getloadavg()},
        "versions": versions(git=True),
        "quick": args.quick,
    }
    atomic_write_json(args.out, report)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
