"""Benchmark: textkit.bias against WEFE 1.0.1 on Caliskan et al.'s 10 WEAT tests.

Same vectors (WEFE's own ``test_model.kv`` slice of word2vec GoogleNews, read by gensim on the
WEFE side and by textkit's restricted unpickler on ours), same word lists (WEFE's
``WEAT.json``). Checks that effect sizes agree to 1e-6 (WEFE divides by the population standard
deviation, so textkit runs with ``std_ddof=0`` for the comparison) and times both.

How the timing is made fair:

- **One thread on both sides.** textkit runs under ``threadpoolctl.threadpool_limits(1)`` (and
  ``torch.set_num_threads(1)`` if torch got imported); the WEFE worker runs under the same
  ``threadpool_limits(1)`` with ``OMP/OPENBLAS/MKL_NUM_THREADS=1``.
- **Warm-up.** Both sides run every test once, untimed, before the first timed round (the WEFE
  worker is one long-lived process that loads the vectors once, so no start-up is timed).
- **Interleaved, best of N.** ``--repeats`` rounds alternate textkit, WEFE, textkit, WEFE, ...;
  each side's time per test is its best round, so both see the same machine load.
- **Extrapolation (unchanged method).** WEFE's permutation loop costs the same for every draw,
  so when ``--wefe-permutations`` is below ``--permutations`` its time at the full count is
  extrapolated linearly: best time of a run without p-value + measured per-draw cost x the full
  count, where per-draw cost = (best time with p-value - best time without) / WEFE's draws. The
  JSON says so next to the figure (``wefe_seconds_method``).

Setup of the peer environment (WEFE is never a runtime dependency of textkit)::

    python3 -m venv .venv-bench-bias
    .venv-bench-bias/bin/pip install --no-deps wefe==1.0.1
    .venv-bench-bias/bin/pip install numpy==1.26.4 scipy==1.12.0 "pandas<2.3" scikit-learn==1.5.2 \
        gensim==4.3.3 semantic_version tqdm requests plotly threadpoolctl

Run (from the repository root, with textkit's own venv)::

    .venv/bin/python bench/bias.py --wefe-permutations 30 --repeats 3   # WEFE's part in minutes
    .venv/bin/python bench/bias.py --quick                              # smoke size, < 30 s

Writes ``bench/results/bias.json`` (``bias_quick.json`` with ``--quick``): versions, seed,
config, per-test numbers, every timed round. The WEFE side runs in a subprocess under
``.venv-bench-bias/bin/python`` (``--peer-python``).
"""

from __future__ import annotations

import os
import sys

import argparse
import json
import platform
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# --quick: 3 tests covering both p-value paths (Monte-Carlo, exact) and young/old for the unseeded check
QUICK_TESTS = ("flowers/insects", "career/family", "young/old")
QUICK = {"permutations": 1_000, "wefe_permutations": 2, "repeats": 2, "check_iterations": 20, "tests": QUICK_TESTS}
EXTRAPOLATION = (
    "WEFE at the full count = best time without p-value + per-draw cost x permutations, "
    "per-draw cost = (best time with p-value - best time without) / wefe_permutations "
    "(linear: WEFE's permutation loop costs the same for every draw)"
)


# ---------------------------------------------------------------------- WEFE side (peer venv)
def wefe_worker(queries_path: str, kv_path: str) -> None:
    """Runs under the peer venv: one long-lived process answering JSON commands, one per line.

    ``{"cmd": "run", "iterations": n}`` times every query without and with a p-value;
    ``{"cmd": "checks", "iterations": n}`` inspects WEFE's p-value code; ``{"cmd": "quit"}``.
    """
    import inspect

    out = sys.stdout
    sys.stdout = sys.stderr  # anything WEFE or gensim prints must not corrupt the protocol

    import gensim
    import numpy as np
    import threadpoolctl
    import wefe
    from gensim.models import KeyedVectors
    from wefe.metrics import WEAT
    from wefe.query import Query
    from wefe.word_embedding_model import WordEmbeddingModel

    def reply(obj: dict) -> None:
        out.write(json.dumps(obj) + "\n")
        out.flush()

    with threadpoolctl.threadpool_limits(1):
        queries = json.loads(Path(queries_path).read_text())
        model = WordEmbeddingModel(KeyedVectors.load(kv_path), "word2vec-weat")
        metric = WEAT()
        built = [Query([q["X"], q["Y"]], [q["A"], q["B"]], ["X", "Y"], ["A", "B"]) for q in queries]

        def run(iterations: int) -> list[dict]:
            rows = []
            for q, query in zip(queries, built, strict=True):
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
            return rows

        def checks(iterations: int) -> dict:
            # WEFE's p-value: read its source and show it is unseeded
            source = inspect.getsource(WEAT._calc_p_value)
            young_old = [i for i, q in enumerate(queries) if q["name"] == "young/old"]
            query = built[young_old[0]] if young_old else built[-1]  # p far from its floor: noise shows
            repeats = [
                float(metric.run_query(query, model, calculate_p_value=True, p_value_iterations=iterations)["p_value"])
                for _ in range(3)
            ]
            return {
                "draws_with_replacement": "rng.choice(pool_target_words, size=number_of_target_words)" in source
                and "replace=False" not in source,
                "unseeded_generator": "np.random.default_rng()" in source,
                "check_test": queries[young_old[0] if young_old else -1]["name"],
                "check_iterations": iterations,
                "p_values_of_three_identical_runs": repeats,
            }

        reply(
            {
                "ready": True,
                "versions": {
                    "wefe": wefe.__version__,
                    "gensim": gensim.__version__,
                    "numpy": np.__version__,
                    "python": platform.python_version(),
                },
                "threadpools": threadpoolctl.threadpool_info(),
            }
        )
        for line in sys.stdin:
            cmd = json.loads(line)
            if cmd["cmd"] == "run":
                reply({"tests": run(int(cmd["iterations"]))})
            elif cmd["cmd"] == "checks":
                reply({"checks": checks(int(cmd["iterations"]))})
            else:
                break


class Peer:
    """The WEFE worker process, driven one command at a time."""

    def __init__(self, python: str, queries_path: Path, kv_path: Path) -> None:
        cmd = [python, "-P", str(Path(__file__).resolve()), "--worker", str(queries_path), str(kv_path)]
        # stderr to a file, not a pipe nobody reads while the worker runs (a full pipe would block it)
        self.err_path = queries_path.with_name("worker.stderr")
        self.err = self.err_path.open("w")
        try:
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.err,
                text=True,
                env={**os.environ, **THREAD_ENV},
            )
        except FileNotFoundError as exc:
            raise RuntimeError(f"no peer python at {python}: set it up as this file's docstring says") from exc
        self.hello = self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            raise RuntimeError(
                f"WEFE worker failed (is {self.proc.args[0]} set up? see this file's docstring):\n"
                + self.err_path.read_text()[-3000:]
            )
        return json.loads(line)

    def ask(self, **cmd) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=60)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.err.close()


# ---------------------------------------------------------------------- textkit side
def run_benchmark(args: argparse.Namespace) -> dict:
    import tempfile

    import numpy as np
    import threadpoolctl

    import textkit
    from textkit import data
    from textkit.bias import caliskan_tests, load_embeddings, weat

    kv_path = data.fetch("wefe-data") / "test_model.kv"
    tests = [t for t in caliskan_tests("wefe") if args.tests is None or t.name in args.tests]
    queries = [
        {"name": t.name, "X": list(t.X.words), "Y": list(t.Y.words), "A": list(t.A.words), "B": list(t.B.words)}
        for t in tests
    ]
    started = time.perf_counter()
    emb = load_embeddings(kv_path)
    load_seconds = time.perf_counter() - started

    def textkit_round(permutations: int) -> list[tuple[float, object]]:
        out = []
        for t in tests:
            started = time.perf_counter()
            kwargs = dict(name=t.name, seed=args.seed, n_bootstrap=0, std_ddof=0)
            r = weat(emb, t.X, t.Y, t.A, t.B, n_permutations=permutations, exact_limit=0, **kwargs)
            out.append((time.perf_counter() - started, r))
        return out

    with threadpoolctl.threadpool_limits(1), tempfile.TemporaryDirectory() as tmp:
        if "torch" in sys.modules:  # not imported by textkit.bias today; hold it to one thread if it ever is
            sys.modules["torch"].set_num_threads(1)
        qpath = Path(tmp) / "queries.json"
        qpath.write_text(json.dumps(queries))
        started = time.perf_counter()
        peer: Peer | None = None
        peer_missing = None
        try:
            peer = Peer(args.peer_python, qpath, kv_path)
        except RuntimeError as exc:  # no WEFE venv here: time textkit alone and say why
            peer_missing = f"WEFE peer unavailable: {str(exc).splitlines()[0]}"
        peer_start_seconds = time.perf_counter() - started
        wefe_checks: dict | None = None
        try:
            # warm-up, untimed: every test once on each side
            textkit_round(min(100, args.permutations))
            if peer is not None:
                peer.ask(cmd="run", iterations=1)
            tk_rounds: list[list[float]] = []
            wefe_rounds: list[list[dict]] = []
            mc_results = None
            for _ in range(args.repeats):  # interleaved: textkit, WEFE, textkit, WEFE, ...
                tk = textkit_round(args.permutations)
                tk_rounds.append([s for s, _ in tk])
                mc_results = [r for _, r in tk]
                if peer is not None:
                    wefe_rounds.append(peer.ask(cmd="run", iterations=args.wefe_permutations)["tests"])
            if peer is not None:
                wefe_checks = peer.ask(cmd="checks", iterations=args.check_iterations)["checks"]
        finally:
            if peer is not None:
                peer.close()
        textkit_threadpools = threadpoolctl.threadpool_info()

    # textkit's default call (exact when <= 1e6 partitions, else 100k permutations; CI; ddof=1):
    # the numbers of `textkit reproduce weat`'s table, timed once for reference (not compared)
    rows = []
    for i, t in enumerate(tests):
        started = time.perf_counter()
        default = weat(emb, t.X, t.Y, t.A, t.B, name=t.name, seed=args.seed)
        default_seconds = time.perf_counter() - started
        mc = mc_results[i]
        tk_best = min(r[i] for r in tk_rounds)
        if peer is None:
            rows.append(
                {
                    "name": t.name,
                    "paper_effect_size": t.reference["paper_effect_size"],
                    "textkit_effect_size_ddof0": mc.effect_size,
                    "textkit_effect_size": default.effect_size,
                    "textkit_p_value_mc": mc.p_value,
                    "textkit_seconds_mc": tk_best,
                    "textkit_p_value_default": default.p_value,
                    "textkit_seconds_default": default_seconds,
                    "missing": default.missing,
                }
            )
            continue
        w_runs = [r[i] for r in wefe_rounds]
        w_best = min(w["seconds"] for w in w_runs)
        w_fixed = min(w["seconds_without_p_value"] for w in w_runs)
        per_draw = max(0.0, w_best - w_fixed) / args.wefe_permutations
        rows.append(
            {
                "name": t.name,
                "paper_effect_size": t.reference["paper_effect_size"],
                "textkit_effect_size_ddof0": mc.effect_size,
                "textkit_effect_size": default.effect_size,
                "textkit_p_value_mc": mc.p_value,
                "textkit_seconds_mc": tk_best,
                "textkit_seconds_mc_rounds": [r[i] for r in tk_rounds],
                "textkit_p_value_default": default.p_value,
                "textkit_p_method_default": default.p_value_method,
                "textkit_ci_default": list(default.ci) if default.ci else None,
                "textkit_seconds_default": default_seconds,
                "missing": default.missing,
                "wefe_effect_size": w_runs[-1]["effect_size"],
                "wefe_p_value": w_runs[-1]["p_value"],
                "wefe_seconds": w_best,
                "wefe_seconds_rounds": [w["seconds"] for w in w_runs],
                "wefe_seconds_without_p_value": w_fixed,
                "wefe_seconds_per_permutation": per_draw,
                "wefe_seconds_extrapolated": w_fixed + per_draw * args.permutations,
                "abs_diff_effect_size": abs(w_runs[-1]["effect_size"] - mc.effect_size),
            }
        )
    tk_total = sum(r["textkit_seconds_mc"] for r in rows)
    if peer is None:
        return {
            "benchmark": "WEAT, Caliskan et al. 10 tests, word2vec-weat: textkit only (no WEFE peer here)",
            "quick": args.quick,
            "peer": {"available": False, "reason": peer_missing},
            "config": {
                "tests": len(tests),
                "permutations": args.permutations,
                "repeats": args.repeats,
                "seed": args.seed,
            },
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
            "versions": {"textkit": textkit.__version__, "numpy": np.__version__, "python": platform.python_version()},
            "textkit_load_seconds": load_seconds,
            "textkit_seconds_total": tk_total,
            "tests": rows,
        }
    extrapolated = args.wefe_permutations != args.permutations
    max_diff = max(r["abs_diff_effect_size"] for r in rows)
    wefe_total = sum(r["wefe_seconds"] for r in rows)
    wefe_total_full = sum(r["wefe_seconds_extrapolated"] for r in rows) if extrapolated else wefe_total
    return {
        "benchmark": "WEAT, Caliskan et al. 10 tests, word2vec-weat (WEFE test_model.kv), WEFE WEAT.json lists",
        "quick": args.quick,
        "config": {
            "tests": len(tests),
            "permutations": args.permutations,
            "wefe_permutations": args.wefe_permutations,
            "repeats": args.repeats,
            "seed": args.seed,
            "textkit_timed": "weat(n_permutations=P, exact_limit=0, n_bootstrap=0, std_ddof=0): "
            "Monte-Carlo with P true permutations, no CI",
            "wefe_timed": "WEAT().run_query(return_effect_size, calculate_p_value, p_value_iterations=P_wefe, "
            "p_value_method='approximate', p_value_test_type='right-sided')",
            "timing": "one thread on both sides (threadpoolctl.threadpool_limits(1) in both processes; "
            "OMP/OPENBLAS/MKL_NUM_THREADS=1 for WEFE); every test run once untimed on each side first; "
            f"then {args.repeats} interleaved rounds (textkit, WEFE, textkit, WEFE, ...), best round per test "
            "and side; WEFE loads the vectors once in a long-lived worker (load not timed)",
            "thread_env": THREAD_ENV,
            "textkit_torch_loaded": "torch" in sys.modules,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_at_end": list(os.getloadavg()),
        },
        "peer": {"available": True},
        "versions": {
            "textkit": textkit.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
            "peer": peer.hello["versions"],
        },
        "threadpools": {"textkit": textkit_threadpools, "wefe": peer.hello["threadpools"]},
        "textkit_load_seconds": load_seconds,
        "peer_start_seconds": peer_start_seconds,
        "max_abs_diff_effect_size": max_diff,
        "agree_to_1e-6": max_diff <= 1e-6,
        "textkit_seconds_total": tk_total,
        "wefe_seconds_total_measured": wefe_total,
        "wefe_seconds_total_at_full_permutations": wefe_total_full,
        "wefe_extrapolated": extrapolated,
        "wefe_seconds_method": EXTRAPOLATION if extrapolated else "measured at the full count",
        "speedup": wefe_total_full / tk_total,
        "wefe_checks": wefe_checks,
        "tests": rows,
    }


def render(result: dict) -> str:
    cfg = result["config"]
    if not result.get("peer", {}).get("available", True):
        return (
            f"{result['peer']['reason']}\ntextkit: {result['textkit_seconds_total']:.3f} s for {cfg['tests']} tests x "
            f"{cfg['permutations']:,} permutations"
        )
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
            f"{r['textkit_seconds_mc']:.3f} | {r['wefe_seconds']:.2f} |"
        )
    extra = f" (extrapolated: {result['wefe_seconds_method']})" if result["wefe_extrapolated"] else ""
    checks = result["wefe_checks"]
    lines += [
        "",
        f"best of {cfg['repeats']} interleaved rounds, one thread each side, after a warm-up",
        f"max |d_textkit - d_WEFE| = {result['max_abs_diff_effect_size']:.1e} "
        f"(agree to 1e-6: {result['agree_to_1e-6']})",
        f"textkit: {result['textkit_seconds_total']:.3f} s for {cfg['tests']} tests x {cfg['permutations']:,} "
        f"permutations; WEFE: {result['wefe_seconds_total_measured']:.1f} s measured at "
        f"{cfg['wefe_permutations']:,} draws, {result['wefe_seconds_total_at_full_permutations']:.0f} s at "
        f"{cfg['permutations']:,}{extra}; speed-up {result['speedup']:.0f}x",
        f"WEFE p-value draws with replacement: {checks['draws_with_replacement']}; unseeded: "
        f"{checks['unseeded_generator']} (three identical runs of {checks['check_test']}, "
        f"{checks['check_iterations']} draws, gave {checks['p_values_of_three_identical_runs']})",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--permutations", type=int, default=None, help="textkit's draws per test (default 10,000)")
    parser.add_argument(
        "--wefe-permutations",
        type=int,
        default=None,
        help="WEFE's iterations per test (default: --permutations); fewer are extrapolated",
    )
    parser.add_argument("--repeats", type=int, default=None, help="interleaved timed rounds, best kept (default 3)")
    parser.add_argument(
        "--check-iterations", type=int, default=None, help="draws for the WEFE unseeded check (default 200)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke size ({len(QUICK_TESTS)} tests, {QUICK['permutations']:,} permutations, "
        f"{QUICK['wefe_permutations']} WEFE draws, {QUICK['repeats']} rounds); writes bias_quick.json",
    )
    parser.add_argument("--peer-python", default=str(ROOT / ".venv-bench-bias" / "bin" / "python"))
    parser.add_argument("--out", default=None, help="default bench/results/bias.json (bias_quick.json with --quick)")
    parser.add_argument("--worker", nargs=2, metavar=("QUERIES", "KV"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        wefe_worker(args.worker[0], args.worker[1])
        return 0
    defaults = QUICK if args.quick else {"permutations": 10_000, "repeats": 3, "check_iterations": 200, "tests": None}
    args.permutations = args.permutations or defaults["permutations"]
    args.wefe_permutations = args.wefe_permutations or defaults.get("wefe_permutations") or args.permutations
    args.repeats = args.repeats or defaults["repeats"]
    args.check_iterations = args.check_iterations or defaults["check_iterations"]
    args.tests = defaults["tests"]
    args.out = args.out or str(ROOT / "bench" / "results" / ("bias_quick.json" if args.quick else "bias.json"))
    os.environ.update(THREAD_ENV)  # before numpy is imported on this side
    sys.path.insert(0, str(ROOT))
    from textkit._io import atomic_write_json

    result = run_benchmark(args)
    atomic_write_json(args.out, result)
    print(render(result))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
