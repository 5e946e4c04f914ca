"""Brown language-model perplexities (docs/neural.md, "Language models on Brown"): the runs and their artifact.

Runs ``textkit lm pretrain --corpus brown --config RECIPE --epochs N`` for each requested
``RECIPE:N`` (as subprocesses, ``--jobs`` at a time, each with one torch/BLAS thread), and the
unigram (add-one) and interpolated-bigram baselines of ``bench/lm.py`` on the same tokens and
vocabulary (Brown split by file with the recipes' seed 0). Each run's metrics are copied from the
``config.json`` / ``history.json`` that ``textkit lm pretrain`` writes into its output folder; the
JSON adds the exact command, seed, versions, git commit, wall time and the load average sampled
while it ran (the machine is shared: tokens/s depend on it, perplexities do not). The JSON is
rewritten after every finished run, so a long session leaves what it has done.

    .venv/bin/python bench/lm_brown.py --runs awd_lstm-small:1 gru-small:1 awd_lstm-small:2 --jobs 3

writes ``bench/results/lm_brown/lm_brown.json``; model folders go under ``--work`` (default
``runs/lm_brown``). The committed artifacts were written one run per process (so that each ran
as its own low-priority job on a shared machine), and the baselines alone (``--runs`` with no
run):

    R=bench/results/lm_brown
    .venv/bin/python bench/lm_brown.py --runs awd_lstm-small:2 --skip-baselines --out $R/awd_lstm-small_2ep.json
    .venv/bin/python bench/lm_brown.py --runs gru-small:1 --skip-baselines --out $R/gru-small_1ep.json
    .venv/bin/python bench/lm_brown.py --runs awd_lstm-small:1 --skip-baselines --out $R/awd_lstm-small_1ep.json
    .venv/bin/python bench/lm_brown.py --runs --out $R/ngram.json

``--quick`` is a smoke size: a copy of each recipe cut to 10 Brown files per split, a tiny model
(16/32/1) and 3 training steps.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import threading
import time

from textkit._io import versions
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
QUICK_MODEL = {"emb_size": 16, "hidden_size": 32, "n_layers": 1}
QUICK_DOCS, QUICK_STEPS = 10, 3


class LoadSampler:
    """The 1-minute load average every ``every`` seconds while a run goes on."""

    def __init__(self, every: float = 30.0) -> None:
        self.samples: list[float] = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(every,), daemon=True)
        self._thread.start()

    def _loop(self, every: float) -> None:
        while not self._stop.wait(every):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])
        s = self.samples
        return {"start": s[0], "end": s[-1], "mean": round(sum(s) / len(s), 2), "max": max(s), "samples": len(s)}


def recipe_path(name: str, quick: bool, tmp: Path) -> Path:
    """The shipped recipe, or under --quick a cut-down copy of it."""
    path = ROOT / "models" / f"{name}.json"
    if not quick:
        return path
    recipe = json.loads(path.read_text(encoding="utf-8"))
    recipe["model"] = {**recipe["model"], **QUICK_MODEL}
    recipe["data"] = {**recipe["data"], "max_docs": QUICK_DOCS}
    recipe["train"] = {**recipe["train"], "eval_every": QUICK_STEPS, "checkpoint_every": 0}
    copy = tmp / f"{name}_quick.json"
    copy.write_text(json.dumps(recipe), encoding="utf-8")
    return copy


def parameters(folder: Path) -> int:
    from textkit.nn.serialization import load_language_model

    model = load_language_model(folder).model
    return sum(p.numel() for p in model.parameters())  # tied weights counted once


def run_one(spec: str, args, tmp: Path) -> dict:
    name, _, epochs = spec.partition(":")
    epochs = int(epochs or 1)
    out = Path(args.work) / f"{name}_{epochs}ep"
    cmd = [
        sys.executable, "-m", "textkit.cli", "lm", "pretrain", "--corpus", "brown",
        "--config", str(recipe_path(name, args.quick, tmp)), "--out", str(out), "--epochs", str(epochs),
        "--seed", str(args.seed), "--device", "cpu", "--quiet",
    ]  # fmt: skip
    if args.quick:
        cmd += ["--max-steps", str(QUICK_STEPS)]
    env = {**os.environ, **dict.fromkeys(THREAD_VARS, str(args.threads))}
    log = Path(args.work) / f"{name}_{epochs}ep.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"start {spec}: {shlex.join(cmd)}", flush=True)
    load = LoadSampler()
    started, wall = time.strftime("%Y-%m-%dT%H:%M:%S%z"), time.perf_counter()
    with open(log, "w", encoding="utf-8") as handle:
        done = subprocess.run(cmd, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - wall
    load_avg = load.stop()
    if done.returncode:
        raise RuntimeError(f"{spec} failed ({done.returncode}); see {log}:\n{log.read_text()[-3000:]}")
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    history = json.loads((out / "history.json").read_text(encoding="utf-8"))
    print(f"done {spec}: {config['metrics']}", flush=True)
    return {
        "recipe": name,
        "epochs": epochs,
        "command": "OMP_NUM_THREADS={} {}".format(args.threads, shlex.join(["textkit", *cmd[3:]])),
        "seed": args.seed,
        "threads": args.threads,
        "started": started,
        "wall_seconds": round(wall, 1),
        "load_average_1min": load_avg,
        "parameters": parameters(out),
        "metrics": config["metrics"],  # copied from OUT/config.json, as written by textkit lm pretrain
        "history": history,  # OUT/history.json: one row per validation
        "model": config.get("recipe", {}).get("model"),
        "effective_train": config.get("effective_train"),
        "data": {k: v for k, v in config.get("data", {}).items() if k not in ("valid_keys", "test_keys")},
    }


def baselines(recipe_file: Path) -> dict:
    """bench/lm.py's unigram and interpolated-bigram baselines on the recipe's tokens and vocabulary
    (lambda chosen on the validation split), with the token counts to compare with the runs'."""
    from lm import load_data, ngram_baselines

    started = time.perf_counter()
    _, pipeline, docs = load_data(str(recipe_file))
    out = ngram_baselines(docs["train"], {"valid": docs["valid"], "test": docs["test"]}, len(pipeline))
    out["tokens"] = {name: int(sum(len(d) for d in split)) for name, split in docs.items()}
    out["vocab_size"] = len(pipeline)
    out["method"] = (
        "bench/lm.py ngram_baselines: unigram add-one; bigram MLE interpolated with that unigram, "
        "lambda in 0.05..0.95 (step 0.05) maximizing validation log-likelihood; streams are the "
        "concatenated documents (each starts with xxbos), as the LM evaluation reads them"
    )
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--runs",
        nargs="*",
        default=["awd_lstm-small:1", "gru-small:1", "awd_lstm-small:2"],
        help="RECIPE:EPOCHS for each textkit lm pretrain run (a recipe in models/)",
    )
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time")
    parser.add_argument("--threads", type=int, default=1, help="torch/BLAS threads per run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument("--work", default=None, help="model folders and logs (default runs/lm_brown)")
    parser.add_argument("--quick", action="store_true", help="smoke size (see the module docstring)")
    parser.add_argument("--out", default=None, help="default bench/results/lm_brown/lm_brown.json (..._quick.json)")
    args = parser.parse_args()
    results_dir = ROOT / "bench" / "results" / "lm_brown"
    out = Path(args.out or results_dir / ("lm_brown_quick.json" if args.quick else "lm_brown.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    report: dict = {
        "what": "Brown LM perplexities, seed 0 (docs/neural.md, 'Language models on Brown')",
        "quick": args.quick,
        "command": shlex.join(["python", "bench/lm_brown.py", *sys.argv[1:]]),
        "seed": args.seed,
        "threads_per_run": args.threads,
        "concurrent_runs": args.jobs,
        "versions": {**versions(git=True), "machine": platform.machine(), "cpus": os.cpu_count()},
        "load_average_at_start": list(os.getloadavg()),
        "runs": {},
        "complete": False,
    }
    lock = threading.Lock()

    def save() -> None:
        with lock:
            out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.work is None:
            args.work = str(tmp / "runs") if args.quick else str(ROOT / "runs" / "lm_brown")
        started = time.perf_counter()

        def job(spec: str) -> None:
            row = run_one(spec, args, tmp)
            with lock:
                report["runs"][f"{row['recipe']}:{row['epochs']}"] = row
            save()

        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = [pool.submit(job, spec) for spec in args.runs]
            if not args.skip_baselines:  # in this process, while the runs train
                recipe = recipe_path(args.runs[0].partition(":")[0] if args.runs else "awd_lstm-small", args.quick, tmp)
                report["baselines"] = baselines(recipe)
                save()
            errors = [f.exception() for f in futures if f.exception() is not None]
        report["wall_seconds"] = round(time.perf_counter() - started, 1)
    for row in report["runs"].values():  # the baselines must score the same token streams
        if "baselines" in report and row["metrics"]["tokens"] != report["baselines"]["tokens"]:
            report.setdefault("warnings", []).append(
                f"{row['recipe']}:{row['epochs']} tokens {row['metrics']['tokens']} differ from the baselines' "
                f"{report['baselines']['tokens']} (the tokenizer changed between them)"
            )
    report["complete"] = not errors
    report["load_average_at_end"] = list(os.getloadavg())
    save()
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    print(f"wrote {out}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
