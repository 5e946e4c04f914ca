"""``textkit reproduce ulmfit --backbone minilm-l6``: a pretrained bidirectional encoder
(all-MiniLM-L6-v2) fine-tuned on rotten-tomatoes fold 0 (the split of ``reproduce ulmfit``,
``reproduce sentiment`` and the SmolLM2 run), beside the frozen-embedding probe and the figures
already measured on the same split.

1. **Frozen-embedding probe**: the encoder's mean-pooled, L2-normalized sentence embeddings
   (``textkit.nn.encode``) -> standardised -> logistic regression, C by grouped inner CV on the
   training part only.
2. **Fine-tuned**: :func:`textkit.transfer.encoder_classifier.train_encoder_classifier`, the
   ULMFiT recipe (gradual unfreezing, discriminative rates, slanted triangular) and, with
   ``--mode full``, plain full fine-tuning (the ablation). The test part is scored after every
   epoch for the learning curve and never used for a choice (the settings are fixed in advance).
3. The classifier is saved, loaded back and checked to predict the same.

Writes ``OUT/results.json``: accuracy, per-epoch curve, wall and process-CPU seconds, torch
threads, settings, seed, versions, the command, and the reference figures on the same split
(NBSVM-bi, the SmolLM2 probe, the AWD-LSTM ensemble) read from the committed
``bench/results`` files they come from. :func:`combine` merges one folder per seed into one
JSON with the mean over seeds.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

CORPUS = "rotten-tomatoes"
DEFAULT_BACKBONE = "minilm-l6"
SPLIT_SEED = 0  # fold 0 is the same whatever the training seed
GOAL = 0.85
STRETCH = 0.87
CPU_MINUTES_BUDGET = 30
QUICK = {"max_train_docs": 300, "max_test_docs": 100}
PROBE: dict[str, Any] = {"C": [0.01, 0.03, 0.1, 0.3, 1.0, 3.0], "inner_folds": 3, "max_iter": 3000}
# committed results on the same split: (file, metric key, what)
REFERENCES = {
    "nbsvm-bi": ("bench/results/ulmfit_smollm2.json", "nbsvm-bi", "NBSVM, uni+bigrams (inner-CV tuned)"),
    "smollm2-probe": (
        "bench/results/ulmfit_smollm2.json",
        "llm-probe-pooled",
        "frozen SmolLM2-135M, pooled [last, mean, max] states -> logistic regression",
    ),
    "smollm2-finetuned": (
        "bench/results/ulmfit_smollm2.json",
        "llm-finetuned",
        "SmolLM2-135M classifier, gradual unfreezing of the top 2 blocks",
    ),
    "awd-lstm-ensemble": (
        "bench/results/ulmfit_awd_lstm_en_retrained.json",
        "ulmfit-ensemble",
        "ULMFiT AWD-LSTM (shipped awd_lstm-en), forward + backward ensemble, mean of 3 seeds",
    ),
}


def references(root: Path | None = None) -> dict:
    """The reference accuracies from the committed result files (None where a file is absent)."""
    root = Path(root) if root is not None else Path.cwd()
    out = {}
    for key, (rel, metric, what) in REFERENCES.items():
        path = root / rel
        accuracy = None
        if path.is_file():
            accuracy = json.loads(path.read_text(encoding="utf-8")).get("metrics", {}).get(metric, {}).get("accuracy")
        out[key] = {"accuracy": accuracy, "source": f"{rel} metrics.{metric}", "description": what}
    return out


def run_ulmfit_encoder(
    out: str | Path,
    *,
    backbone: str = DEFAULT_BACKBONE,
    seed: int = 0,
    mode: str = "ulmfit",
    quick: bool = False,
    probe: bool = True,
    device: str = "cpu",
    command: str | None = None,
    log=print,
) -> dict:
    import torch

    from textkit._io import atomic_write_json, versions
    from textkit.nn.sentence import load_encoder
    from textkit.reproduce.ulmfit import N_FOLDS, fold_zero_split
    from textkit.reproduce.ulmfit_llm import fit_probe
    from textkit.transfer.encoder_classifier import EncoderClassifier, train_encoder_classifier

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    split = fold_zero_split(SPLIT_SEED, QUICK if quick else {})
    train_texts, train_labels, test_texts, test_labels = split[0], split[1], split[2], split[3]
    y_test = np.asarray(test_labels)
    encoder = load_encoder(backbone)
    log(
        f"{CORPUS} fold 0 of {N_FOLDS}: {len(train_texts)} train / {len(test_texts)} test; backbone {backbone}, "
        f"seed {seed}, mode {mode}, {torch.get_num_threads()} torch threads"
    )
    metrics: dict[str, dict[str, Any]] = {}
    timings: dict = {"wall": {}, "cpu": {}}

    if probe:
        from textkit.nn.sentence import encode

        w, c = time.perf_counter(), time.process_time()
        x_train = encode(train_texts, encoder, batch_size=64)
        x_test = encode(test_texts, encoder, batch_size=64)
        _, groups = np.unique(np.asarray(train_texts, dtype=object).astype(str), return_inverse=True)
        grid: dict[str, Any] = PROBE if not quick else {"C": [0.1, 1.0], "inner_folds": 2, "max_iter": 500}
        fitted = fit_probe(
            x_train,
            np.asarray(train_labels),
            x_test,
            groups,
            C_grid=grid["C"],
            inner_folds=int(grid["inner_folds"]),
            seed=SPLIT_SEED,
            max_iter=int(grid["max_iter"]),
        )
        metrics["minilm-probe"] = {
            "accuracy": float(np.mean(fitted["pred"] == y_test)),
            "C": fitted["C"],
            "inner_cv_accuracy": fitted["inner_cv_accuracy"],
            "description": "frozen MiniLM, mean-pooled normalized sentence embedding -> logistic regression "
            "(C by grouped inner CV on the training part)",
        }
        timings["wall"]["probe"] = round(time.perf_counter() - w, 1)
        timings["cpu"]["probe"] = round(time.process_time() - c, 1)
        log(f"minilm-probe: accuracy {metrics['minilm-probe']['accuracy']:.4f} (C {fitted['C']:g})")

    w, c = time.perf_counter(), time.process_time()
    clf = train_encoder_classifier(
        train_texts,
        train_labels,
        model=encoder,
        valid=(test_texts, test_labels),
        seed=seed,
        device=device,
        mode=mode,
        quiet=True,
        log=log,
    )
    timings["wall"]["finetune"] = round(time.perf_counter() - w, 1)
    timings["cpu"]["finetune"] = round(time.process_time() - c, 1)
    w, c = time.perf_counter(), time.process_time()
    proba = clf.predict_proba(test_texts)
    accuracy = float(np.mean(clf.labels.decode(proba.argmax(1)) == y_test))
    timings["wall"]["predict"] = round(time.perf_counter() - w, 1)
    timings["cpu"]["predict"] = round(time.process_time() - c, 1)
    key = f"minilm-{mode}"
    metrics[key] = {
        "accuracy": accuracy,
        "epochs": clf.info["epochs"],
        "train_examples_per_s": clf.info["train_examples_per_s"],
        "description": "MiniLM fine-tuned: "
        + (
            "gradual unfreezing, discriminative rates, slanted triangular (ULMFiT)"
            if mode == "ulmfit"
            else "every parameter at one rate, warm-up then linear decay (plain full fine-tuning)"
        ),
    }
    log(f"{key}: accuracy {accuracy:.4f}")

    w, c = time.perf_counter(), time.process_time()
    folder = out / f"classifier_{mode}_seed{seed}"
    if folder.exists() and not any(folder.iterdir()):
        folder.rmdir()
    round_trip: dict[str, Any]
    if not folder.exists():
        folder.mkdir()
        clf.save(folder)
        again = EncoderClassifier.load(folder).predict_proba(test_texts[:64])
        round_trip = {"texts": min(64, len(test_texts)), "max_abs_proba_diff": float(np.abs(again - proba[:64]).max())}
    else:
        round_trip = {"skipped": f"{folder} exists"}
    timings["wall"]["save_load_check"] = round(time.perf_counter() - w, 1)
    timings["cpu"]["save_load_check"] = round(time.process_time() - c, 1)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    timings["wall"]["total"], timings["cpu"]["total"] = round(wall, 1), round(cpu, 1)
    results = {
        "metrics": metrics,
        "references": references(),
        "goals": {
            f"{key} >= {100 * GOAL:.1f}% (this seed)": accuracy >= GOAL,
            f"fine-tuning <= {CPU_MINUTES_BUDGET} CPU-minutes (process CPU, all threads)": timings["cpu"]["finetune"]
            <= 60 * CPU_MINUTES_BUDGET,
        },
        "timings_s": timings,
        "cpu_minutes_finetune": round(timings["cpu"]["finetune"] / 60, 2),
        "round_trip": round_trip,
        "classifier_info": clf.info,
        "config": {
            "command": command
            or f"textkit reproduce ulmfit --backbone {backbone} --seed {seed} --out {out}"
            + (" --quick" if quick else ""),
            "corpus": CORPUS,
            "fold": 0,
            "n_folds": N_FOLDS,
            "split_seed": SPLIT_SEED,
            "n_train": len(train_texts),
            "n_test": len(test_texts),
            "backbone": backbone,
            "backbone_sha256": clf.info.get("encoder_sha256"),
            "mode": mode,
            "torch_threads": torch.get_num_threads(),
            "device": device,
            "quick": quick,
            "test_texts": "scored after each epoch for the curve, never used for a choice (settings fixed in advance)",
        },
        "seed": seed,
        "versions": versions(("tokenizers", "safetensors"), git=True),
    }
    atomic_write_json(out / f"results_{mode}_seed{seed}.json", results)
    log(
        f"{key} {100 * accuracy:.2f}%"
        + (f", minilm-probe {100 * metrics['minilm-probe']['accuracy']:.2f}%" if "minilm-probe" in metrics else "")
        + f"; fine-tuning {timings['wall']['finetune']:.0f} s wall, {timings['cpu']['finetune']:.0f} CPU-s"
    )
    log(f"wrote {out / f'results_{mode}_seed{seed}.json'}")
    return results


def combine(paths: list[str | Path], out: str | Path, command: str = "", peer: str | Path | None = None) -> dict:
    """Merge per-seed ``results_<mode>_seed<N>.json`` files into one JSON: per-seed accuracies,
    mean and standard deviation per method, the probe, the references and the goals; ``peer``
    adds ``bench/encoder_finetune.py``'s JSON (transformers ``BertForSequenceClassification``
    with the settings of ``--mode full``) beside textkit's full fine-tuning."""
    from textkit._io import atomic_write_json

    runs = [json.loads(Path(p).read_text(encoding="utf-8")) for p in paths]
    methods: dict[str, dict] = {}
    for run in runs:
        for key, m in run["metrics"].items():
            entry = methods.setdefault(
                key, {"per_seed": {}, "cpu_minutes_finetune": {}, "description": m["description"]}
            )
            entry["per_seed"][str(run["seed"])] = m["accuracy"]
            if key != "minilm-probe":
                entry["cpu_minutes_finetune"][str(run["seed"])] = run["cpu_minutes_finetune"]
                entry.setdefault("train_examples_per_s", {})[str(run["seed"])] = m.get("train_examples_per_s")
                entry.setdefault("epochs", {})[str(run["seed"])] = m.get("epochs")
    for entry in methods.values():
        values = list(entry["per_seed"].values())
        entry["accuracy"] = float(np.mean(values))
        entry["std"] = float(np.std(values))
        entry["n_seeds"] = len(values)
    goals = {}
    if "minilm-ulmfit" in methods:
        m = methods["minilm-ulmfit"]
        goals[f"minilm-ulmfit >= {100 * GOAL:.1f}%, mean of {m['n_seeds']} seed(s)"] = m["accuracy"] >= GOAL
        goals[f"minilm-ulmfit >= {100 * STRETCH:.1f}% (stretch)"] = m["accuracy"] >= STRETCH
        goals[f"<= {CPU_MINUTES_BUDGET} CPU-minutes per seed"] = all(
            v <= CPU_MINUTES_BUDGET for v in m["cpu_minutes_finetune"].values()
        )
    peer_summary = None
    if peer is not None:
        raw = json.loads(Path(peer).read_text(encoding="utf-8"))
        accuracy = (raw.get("peer_accuracy") or {}).get("accuracy")
        speed = raw.get("speed") or {}
        full = methods.get("minilm-full", {})
        peer_summary = {
            "source": str(peer),
            "what": "transformers BertForSequenceClassification from the same weights, plain PyTorch loop, the "
            "settings of --mode full (epochs, batch size, lr, schedule, precision, threads)",
            "accuracy": accuracy,
            "seed": raw.get("seed"),
            "train_examples_per_s_full_run": (raw.get("peer_accuracy") or {}).get("train_examples_per_s"),
            "speed_interleaved": speed,
            "settings": raw.get("settings"),
        }
        if accuracy is not None and full:
            goals["textkit full fine-tuning accuracy >= the peer's (seed 0)"] = (
                full["per_seed"].get("0", full["accuracy"]) >= accuracy
            )
        if speed.get("ratio_median") is not None:
            goals["textkit training examples/s >= 1.2x the peer's (interleaved, median)"] = speed["ratio_median"] >= 1.2
    result = {
        "metrics": methods,
        "peer": peer_summary,
        "references": runs[0]["references"],
        "goals": goals,
        "runs": [str(p) for p in paths],
        "config": {**runs[0]["config"], "command": command or runs[0]["config"]["command"]},
        "settings": {run["config"]["mode"]: run["classifier_info"]["settings"] for run in runs},
        "torch_threads": sorted({run["config"]["torch_threads"] for run in runs}),
        "versions": runs[0]["versions"],
    }
    atomic_write_json(Path(out), result)
    return result


def run_from_args(args) -> int:
    """``textkit reproduce ulmfit --backbone minilm-l6 [--seed N] [--mode ulmfit|full] [--quick]``."""
    run_ulmfit_encoder(
        args.out,
        backbone=args.backbone,
        seed=0 if args.seed is None else args.seed,
        mode=getattr(args, "mode", None) or "ulmfit",
        quick=args.quick,
        device="cpu" if args.device == "auto" else args.device,
    )
    return 0


def is_encoder(backbone: str) -> bool:
    """Whether ``backbone`` names a pretrained encoder, or is a converted encoder folder."""
    from textkit.data.encoders import find_encoder

    if find_encoder(backbone) is not None:
        return True
    config = Path(backbone) / "config.json"
    if config.is_file():
        try:
            return json.loads(config.read_text(encoding="utf-8")).get("arch") == "bert"
        except (ValueError, AttributeError):
            return False
    return False


def main(argv: list[str] | None = None) -> int:
    import argparse

    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--backbone", default=DEFAULT_BACKBONE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", choices=("ulmfit", "full"), default="ulmfit")
    parser.add_argument("--no-probe", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--combine", nargs="+", help="per-seed results files to merge into --out (a .json)")
    parser.add_argument("--peer", default=None, help="with --combine: bench/encoder_finetune.py's JSON")
    args = parser.parse_args(argv)
    if args.combine:
        command = f"python -m textkit.reproduce.ulmfit_encoder --combine {' '.join(args.combine)} --out {args.out}"
        combine(args.combine, args.out, command=command + (f" --peer {args.peer}" if args.peer else ""), peer=args.peer)
        return 0
    torch.set_num_threads(args.threads)
    command = (
        f"python -m textkit.reproduce.ulmfit_encoder --out {args.out} --seed {args.seed} --mode {args.mode} "
        f"--threads {args.threads}" + (" --no-probe" if args.no_probe else "") + (" --quick" if args.quick else "")
    )
    run_ulmfit_encoder(
        args.out,
        backbone=args.backbone,
        seed=args.seed,
        mode=args.mode,
        quick=args.quick,
        probe=not args.no_probe,
        command=command,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["combine", "is_encoder", "references", "run_ulmfit_encoder"]
