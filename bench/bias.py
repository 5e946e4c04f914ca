"""Benchmark: textkit.bias against WEFE 1.0.1 on Caliskan et al.'s 10 WEAT tests.

Same vectors (WEFE's own ``test_model.kv`` slice of word2vec GoogleNews, read by gensim on the
WEFE side and by textkit's restricted unpickler on ours), same word lists (WEFE's
``WEAT.json``). Checks that effect sizes agree to 1e-6 (WEFE divides by the population standard
deviation, so textkit runs with ``std_ddof=0`` for the comparison) and times both with the same
number of permutations per test. WEFE's permutation loop costs the same for every draw, so when
``--wefe-permutations`` is below ``--permutations`` its time is also extrapolated linearly to
the full count: the time of a run without p-value plus the measured per-draw cost times the
full count (reported separately, and labelled as such).

Setup of the peer environment (WEFE is never a runtime dependency of textkit)::

    python3 -m venv .venv-bench-bias
    .venv-bench-bias/bin/pip install --no-deps wefe==1.0.1
    .venv-bench-bias/bin/pip install numpy==1.26.4 scipy==1.12.0 "pandas<2.3" scikit-learn==1.5.2 \
        gensim==4.3.3 semantic_version tqdm requests plotly

Run (from the repository root, with textkit's own venv)::

    .venv/bin/python bench/bias.py                          # 10k permutations for both
    .venv/bin/python bench/bias.py --wefe-permutations 500  # WEFE's part in minutes, not hours

Writes ``bench/results/bias.json`` (versions, seed, config, per-test numbers).
The WEFE side runs in a subprocess under ``.venv-bench-bias/bin/python`` (``--peer-python``).
"""

from __future__ import annotations

import os
import sys

import argparse
import json
import platform
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


# ---------------------------------------------------------------------- WEFE side (peer venv)
def wefe_worker(queries_path: str, kv_path: str, iterations: int) -> None:
    """Runs under the peer venv: WEFE's WEAT on every query; prints JSON."""
    import inspect

    import gensim
    import numpy as np
    import wefe
    from gensim.models import KeyedVectors
    from wefe.metrics import WEAT
    from wefe.query import Query
    from wefe.word_embedding_model import WordEmbeddingModel

    queries = json.loads(Path(queries_path).read_text())
    model = WordEmbeddingModel(KeyedVectors.load(kv_path), "word2vec-weat")
    metric = WEAT()
    rows = []
    for q in queries:
        query = Query([q["X"], q["Y"]], [q["A"], q["B"]], ["X", "Y"], ["A", "B"])
        started = time.perf_counter()
        metric.run_query(query, model, return_effect_size=True, calculate_p_value=False)
        fixed = time.perf_counter() - started
        started = time.perf_counter()
        res = metric.run_query(
            query,
            model,
            return_effect_size=True,
            calculate_p_value=True,
            p_value_iterations=iterations,
            p_value_method="approximate",
            p_value_test_type="right-sided",
        )
        seconds = time.perf_counter() - started
        rows.append(
            {
                "name": q["name"],
                "effect_size": float(res["effect_size"]),
                "p_value": float(res["p_value"]),
                "seconds": seconds,
                "seconds_without_p_value": fixed,
                "iterations": iterations,
            }
        )
    # WEFE's p-value: read its source and show it is unseeded
    source = inspect.getsource(WEAT._calc_p_value)
    q = queries[9]  # young/old: p far from its floor, so run-to-run noise shows
    query = Query([q["X"], q["Y"]], [q["A"], q["B"]], ["X", "Y"], ["A", "B"])
    repeats = [
        float(metric.run_query(query, model, calculate_p_value=True, p_value_iterations=200)["p_value"])
        for _ in range(3)
    ]
    checks = {
        "draws_with_replacement": "rng.choice(pool_target_words, size=number_of_target_words)" in source
        and "replace=False" not in source,
        "unseeded_generator": "np.random.default_rng()" in source,
        "p_values_of_three_identical_runs_200_iterations": repeats,
    }
    print(
        json.dumps(
            {
                "versions": {
                    "wefe": wefe.__version__,
                    "gensim": gensim.__version__,
                    "numpy": np.__version__,
                    "python": platform.python_version(),
                },
                "tests": rows,
                "checks": checks,
            }
        )
    )


# ---------------------------------------------------------------------- textkit side
def run_benchmark(args: argparse.Namespace) -> dict:
    import numpy as np

    import textkit
    from textkit import data
    from textkit.bias import caliskan_tests, load_embeddings, weat

    kv_path = data.fetch("wefe-data") / "test_model.kv"
    tests = caliskan_tests("wefe")
    queries = [
        {"name": t.name, "X": list(t.X.words), "Y": list(t.Y.words), "A": list(t.A.words), "B": list(t.B.words)}
        for t in tests
    ]
    started = time.perf_counter()
    emb = load_embeddings(kv_path)
    load_seconds = time.perf_counter() - started

    rows = []
    for t in tests:
        kwargs = dict(name=t.name, seed=args.seed, n_bootstrap=0, std_ddof=0)
        started = time.perf_counter()
        mc = weat(emb, t.X, t.Y, t.A, t.B, n_permutations=args.permutations, exact_limit=0, **kwargs)
        mc_seconds = time.perf_counter() - started
        started = time.perf_counter()
        default = weat(emb, t.X, t.Y, t.A, t.B, name=t.name, seed=args.seed)  # exact when <= 1e6, CI, ddof=1
        default_seconds = time.perf_counter() - started
        rows.append(
            {
                "name": t.name,
                "paper_effect_size": t.reference["paper_effect_size"],
                "textkit_effect_size_ddof0": mc.effect_size,
                "textkit_effect_size": default.effect_size,
                "textkit_p_value_mc": mc.p_value,
                "textkit_seconds_mc": mc_seconds,
                "textkit_p_value_default": default.p_value,
                "textkit_p_method_default": default.p_value_method,
                "textkit_ci_default": list(default.ci) if default.ci else None,
                "textkit_seconds_default": default_seconds,
                "missing": default.missing,
            }
        )

    with tempfile.TemporaryDirectory() as tmp:
        qpath = Path(tmp) / "queries.json"
        qpath.write_text(json.dumps(queries))
        started = time.perf_counter()
        proc = subprocess.run(
            [
                args.peer_python,
                "-P",
                str(Path(__file__).resolve()),
                "--worker",
                str(qpath),
                str(kv_path),
                str(args.wefe_permutations),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, **PEER_ENV},
            check=False,
        )
        worker_seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(
            f"WEFE worker failed (is {args.peer_python} set up? see this file's docstring):\n" + proc.stderr[-3000:]
        )
    peer = json.loads(proc.stdout.strip().splitlines()[-1])
    scale = args.permutations / args.wefe_permutations
    max_diff = 0.0
    for row, w in zip(rows, peer["tests"], strict=True):
        row["wefe_effect_size"] = w["effect_size"]
        row["wefe_p_value"] = w["p_value"]
        row["wefe_seconds"] = w["seconds"]
        per_draw = max(0.0, w["seconds"] - w["seconds_without_p_value"]) / w["iterations"]
        row["wefe_seconds_per_permutation"] = per_draw
        row["wefe_seconds_extrapolated"] = w["seconds_without_p_value"] + per_draw * args.permutations
        row["abs_diff_effect_size"] = abs(w["effect_size"] - row["textkit_effect_size_ddof0"])
        max_diff = max(max_diff, row["abs_diff_effect_size"])
    tk_total = sum(r["textkit_seconds_mc"] for r in rows)
    wefe_total = sum(r["wefe_seconds"] for r in rows)
    wefe_total_full = sum(r["wefe_seconds_extrapolated"] for r in rows) if scale != 1 else wefe_total
    return {
        "benchmark": "WEAT, Caliskan et al. 10 tests, word2vec-weat (WEFE test_model.kv), WEFE WEAT.json lists",
        "config": {
            "permutations": args.permutations,
            "wefe_permutations": args.wefe_permutations,
            "seed": args.seed,
            "textkit_timed": "weat(n_permutations=P, exact_limit=0, n_bootstrap=0, std_ddof=0): "
            "Monte-Carlo with P true permutations, no CI",
            "wefe_timed": "WEAT().run_query(return_effect_size, calculate_p_value, p_value_iterations=P_wefe)",
            "peer_thread_env": PEER_ENV,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_at_end": list(os.getloadavg()),
        },
        "versions": {
            "textkit": textkit.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
            "peer": peer["versions"],
        },
        "textkit_load_seconds": load_seconds,
        "worker_wall_seconds": worker_seconds,
        "max_abs_diff_effect_size": max_diff,
        "agree_to_1e-6": max_diff <= 1e-6,
        "textkit_seconds_total": tk_total,
        "wefe_seconds_total_measured": wefe_total,
        "wefe_seconds_total_at_full_permutations": wefe_total_full,
        "wefe_extrapolated": scale != 1,
        "speedup": wefe_total_full / tk_total,
        "wefe_checks": peer["checks"],
        "tests": rows,
    }


def render(result: dict) -> str:
    cfg = result["config"]
    lines = [
        "| test | paper d | textkit d | WEFE d (ddof 0) | textkit d (ddof 0) | abs diff | textkit s "
        f"({cfg['permutations']:,}) | "
        f"WEFE s ({cfg['wefe_permutations']:,}) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["tests"]:
        lines.append(
            f"| {r['name']} | {r['paper_effect_size']:.2f} | {r['textkit_effect_size']:.3f} | "
            f"{r['wefe_effect_size']:.6f} | {r['textkit_effect_size_ddof0']:.6f} | {r['abs_diff_effect_size']:.1e} | "
            f"{r['textkit_seconds_mc']:.3f} | {r['wefe_seconds']:.1f} |"
        )
    extra = " (extrapolated linearly from the measured runs)" if result["wefe_extrapolated"] else ""
    lines += [
        "",
        f"max |d_textkit - d_WEFE| = {result['max_abs_diff_effect_size']:.1e} "
        f"(agree to 1e-6: {result['agree_to_1e-6']})",
        f"textkit: {result['textkit_seconds_total']:.2f} s for 10 tests x {cfg['permutations']:,} permutations; "
        f"WEFE: {result['wefe_seconds_total_at_full_permutations']:.0f} s{extra}; "
        f"speed-up {result['speedup']:.0f}x",
        f"WEFE p-value draws with replacement: {result['wefe_checks']['draws_with_replacement']}; unseeded: "
        f"{result['wefe_checks']['unseeded_generator']} (three identical runs gave "
        f"{result['wefe_checks']['p_values_of_three_identical_runs_200_iterations']})",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--permutations", type=int, default=10_000)
    parser.add_argument(
        "--wefe-permutations",
        type=int,
        default=None,
        help="WEFE's iterations per test (default: --permutations); fewer are extrapolated",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--peer-python", default=str(ROOT / ".venv-bench-bias" / "bin" / "python"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "bias.json"))
    parser.add_argument("--worker", nargs=3, metavar=("QUERIES", "KV", "ITERATIONS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        wefe_worker(args.worker[0], args.worker[1], int(args.worker[2]))
        return 0
    args.wefe_permutations = args.wefe_permutations or args.permutations
    sys.path.insert(0, str(ROOT))
    from textkit._io import atomic_write_json

    result = run_benchmark(args)
    atomic_write_json(args.out, result)
    print(render(result))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
