"""`textkit classify train --method ulmfit` with its defaults, against `textkit reproduce ulmfit`.

Writes rotten-tomatoes fold 0 (the split `reproduce ulmfit` uses) as CSV files, runs the CLI a
user would run on them, and records its accuracy beside the forward model of
`bench/results/ulmfit_awd_lstm_en_retrained.json` (mean of 3 seeds, and its seed 0).

    python bench/ulmfit_cli.py [--work runs/ulmfit-cli] [--threads 2] [--out bench/results/ulmfit_cli.json]

``--quick`` (the smoke test): 300 training and 100 test rows, the `ulmfit-quick` recipe, one
classifier epoch; its accuracy means nothing, the plumbing is what it checks.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
REFERENCE = RESULTS / "ulmfit_awd_lstm_en_retrained.json"


def write_split(folder: Path, quick: bool) -> tuple[Path, Path, int]:
    from textkit.reproduce.ulmfit import FULL_SETTINGS, fold_zero_split

    limits = {"max_train_docs": 300, "max_test_docs": 100} if quick else {}
    split = fold_zero_split(FULL_SETTINGS["seed"], {**FULL_SETTINGS, **limits})
    paths = []
    for name, texts, labels in (
        ("train", split.train_texts, split.train_labels),
        ("test", split.test_texts, split.test_labels),
    ):
        path = folder / f"{name}.csv"
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows(zip(texts, labels, strict=True))
        paths.append(path)
    return paths[0], paths[1], len(split.test_texts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="runs/ulmfit-cli", help="folder for the CSV files and the model")
    parser.add_argument("--out", default=str(RESULTS / "ulmfit_cli.json"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    train, test, n_test = write_split(work, args.quick)
    model = work / "model"
    command = [
        "textkit",
        "classify",
        "train",
        "--data",
        str(train),
        "--valid",
        str(test),
        "--method",
        "ulmfit",
        "--out",
        str(model),
        "--overwrite",
        *(["--recipe", "ulmfit-quick", "--epochs", "1"] if args.quick else []),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    started, cpu_before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "textkit.cli", *command[1:]], check=True, env=env)
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    training = json.loads((model / "classifier.json").read_text(encoding="utf-8"))["info"]["training"]
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))["metrics"]["ulmfit-fwd"]
    accuracy = training["valid_accuracy"]
    from textkit._io import versions

    result = {
        "benchmark": "textkit classify train --method ulmfit (defaults) vs textkit reproduce ulmfit's forward model",
        "command": " ".join(command),
        "data": f"rotten-tomatoes fold 0 of `reproduce ulmfit` (seed 0) as CSV: train {train.name}, test {n_test} rows",
        "accuracy": round(accuracy, 4),
        "majority_baseline": round(training["valid_majority_baseline"], 4),
        "reference": {
            "artifact": str(REFERENCE.relative_to(ROOT)),
            "ulmfit_fwd_mean_3_seeds": round(reference["accuracy"], 4),
            "ulmfit_fwd_seed_0": round(reference["per_seed"]["0"], 4),
        },
        "goal": "within 1 point of reproduce ulmfit's forward model (80.07%)",
        "goal_met": abs(accuracy - reference["accuracy"]) <= 0.01,
        "recipe": training.get("recipe"),
        "settings": training.get("settings"),
        "seed": training.get("seed"),
        "quick": args.quick,
        "threads": args.threads,
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "load_average_at_end": os.getloadavg(),
        "versions": versions(git=True),
    }
    from textkit._io import atomic_write_json

    atomic_write_json(Path(args.out), result)
    print(json.dumps({k: result[k] for k in ("accuracy", "reference", "goal_met", "wall_seconds")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
