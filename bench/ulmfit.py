"""ULMFiT classifier benchmark: textkit.transfer vs fastai 2.8 at the same model size and data.

Three numbers per library, on Rotten Tomatoes snippets (``textkit.data.load("rotten-tomatoes")``,
a seeded permutation: the first ``--train-docs`` train, the next ``--test-docs`` are held out):

* **classifier training throughput** (docs/s): one stage, all layer groups trainable, one epoch
  of ``--train-docs`` documents at the same batch size, BPTT and ``max_len``, followed (as in
  fastai's ``fit_one_cycle``) by the validation pass over the held-out docs. fastai times its
  ``fit_one_cycle`` calls; textkit times ``train_classifier`` minus the tokenization of its
  train + held-out texts (measured just before on the same texts), since fastai tokenizes
  before ``fit``. textkit's own step-only rate (no batching, no validation) is also recorded.
* **inference throughput** (docs/s): raw text to class probabilities, *tokenization
  included*: textkit ``TextClassifier.predict_proba`` vs fastai ``test_dl`` + ``get_preds``,
  batch size 64, CPU, on ``--docs`` texts (the held-out texts repeated in order, exactly as
  ``bench/ulmfit_fastai.py`` builds its list), after a warm-up batch. textkit's time is also
  split into tokenization + numericalization and batching + model + softmax.
* **load time** of an exported classifier: ``TextClassifier.load`` (JSON + safetensors) vs
  ``load_learner`` (pickle), best of 3, in a process that already imported the library.

The models are the same size (AWD-LSTM, ``--emb/--hidden/--layers``; default 128/512/2 =
``awd_lstm-small``), the same classifier head (50 hidden units, concat pooling) and both start
from (nearly) random weights, since no number here depends on accuracy: textkit's classifier
starts from scratch; fastai's peer script always runs its LM stages, so they get one short
epoch each (pretraining on ``--brown-docs`` Brown files, one frozen fine-tuning epoch; the
script fails with 0 epochs, in ``valid_loss``). textkit runs in this process; fastai runs
``bench/ulmfit_fastai.py`` in the benchmark venv (``--fastai-python``) as a subprocess on the
same texts, written to its data files. Both use ``--threads`` torch threads (default 1). When
that Python is missing or has no fastai, the textkit side still runs and the JSON's ``peer``
records fastai as unavailable, with the reason.

Goal: textkit inference docs/s >= 2x fastai's on CPU.

    .venv/bin/python bench/ulmfit.py --quick                    # smoke run, under a minute
    .venv/bin/python bench/ulmfit.py --out bench/results/ulmfit.json
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOAL_INFERENCE_RATIO = 2.0
QUICK = {"emb": 32, "hidden": 64, "layers": 2, "train_docs": 200, "test_docs": 100, "docs": 300}


def load_split(seed: int, n_train: int, n_test: int):
    import numpy as np

    from textkit import data

    records = data.load("rotten-tomatoes")
    if n_train + n_test > len(records):
        raise SystemExit(f"--train-docs + --test-docs = {n_train + n_test} exceeds the {len(records)} snippets")
    order = np.random.default_rng(seed).permutation(len(records))
    train = [records[i] for i in order[:n_train]]
    test = [records[i] for i in order[n_train : n_train + n_test]]
    return (
        [r["text"] for r in train],
        [r["label"] for r in train],
        [r["text"] for r in test],
        [r["label"] for r in test],
    )


def inference_texts(test_texts: list[str], n_docs: int) -> list[str]:
    """The list bench/ulmfit_fastai.py's measure_inference builds: held-out texts, repeated in order."""
    return [test_texts[i % len(test_texts)] for i in range(n_docs)]


def settings_for(args) -> dict:
    """One settings dict for both sides (bench/ulmfit_fastai.py's schema)."""
    return {
        "seed": args.seed,
        "pretrain": {
            "emb_size": args.emb,
            "hidden_size": args.hidden,
            "n_layers": args.layers,
            "drop_mult": 0.5,
            "epochs": 1,
            "lr": 0.005,
            "batch_size": args.batch_size,
            "bptt": args.bptt,
            "max_vocab": args.max_vocab,
            "min_freq": args.min_freq,
            "wd": 0.01,
            "clip": 0.4,
        },
        "finetune": {
            "epochs_frozen": 1,
            "lr_frozen": 0.02,
            "epochs": 0,
            "lr": 0.002,
            "batch_size": args.batch_size,
            "bptt": args.bptt,
            "drop_mult": 0.5,
            "valid_fraction": 0.1,
        },
        "classifier": {
            "batch_size": args.batch_size,
            "bptt": args.bptt,
            "max_len": args.max_len,
            "drop_mult": 0.5,
            "lr_factor": 2.6,
            "moms": [0.8, 0.7, 0.8],
            "stages": [{"groups": "all", "epochs": args.epochs, "lr": 0.002}],
        },
    }


def best_of(fn, tries: int) -> float:
    best = float("inf")
    for _ in range(tries):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def run_textkit(args, settings, train_texts, train_labels, test_texts, test_labels, work: Path) -> dict:
    import numpy as np
    import torch

    from textkit.nn.awd_lstm import AWDLSTMConfig
    from textkit.recipes.language_model import TokenizerSettings, build_pipeline, pad_index_of
    from textkit.transfer import TextClassifier, settings_from_dict, train_classifier
    from textkit.transfer.text_classifier import encode_texts, predict_docs

    cl = settings["classifier"]
    _, clf_settings = settings_from_dict({"classifier": {**cl, "schedule": "one_cycle"}})  # fastai: fit_one_cycle
    load_before = os.getloadavg()[0]
    # the vocabulary a pretrained textkit LM would be adapted to (adapt_to_texts: same tokenizer, same bounds)
    pipeline = build_pipeline(
        TokenizerSettings(kind="word", min_freq=args.min_freq, max_vocab=args.max_vocab), train_texts
    )
    config = AWDLSTMConfig(
        vocab_size=len(pipeline),
        emb_size=args.emb,
        hidden_size=args.hidden,
        n_layers=args.layers,
        pad_index=pad_index_of(pipeline),
        drop_mult=settings["pretrain"]["drop_mult"],
    )

    # warm-up (imports, first autograd and allocator calls); fastai's process is warm from its LM stages
    warm = 2 * args.batch_size
    train_classifier(
        config,
        pipeline,
        train_texts[:warm],
        train_labels[:warm],
        clf_settings,
        valid=(test_texts[:warm], test_labels[:warm]),
        seed=args.seed,
        device="cpu",
        quiet=True,
    )
    # training: train_classifier's wall time less its tokenization (fastai tokenizes before fit)
    started = time.perf_counter()
    encode_texts(pipeline, train_texts), encode_texts(pipeline, test_texts)
    tokenize_s = time.perf_counter() - started
    started = time.perf_counter()
    clf, metrics = train_classifier(
        config,
        pipeline,
        train_texts,
        train_labels,
        clf_settings,
        valid=(test_texts, test_labels),
        seed=args.seed,
        device="cpu",
        quiet=True,
    )
    wall = time.perf_counter() - started
    fit_s = wall - tokenize_s
    n_epochs = sum(s["epochs"] for s in cl["stages"])
    accuracy = metrics["stages"][-1]["valid_accuracy"]
    print(
        f"textkit: trained {len(train_texts)} docs x {n_epochs} epoch(s) in {wall:.1f} s "
        f"({tokenize_s:.1f} s of it tokenizing), held-out accuracy {accuracy:.3f}",
        flush=True,
    )

    # inference: raw text -> probabilities, tokenization included
    docs = inference_texts(test_texts, args.docs)
    clf.predict_proba(docs[:64], batch_size=64)  # warm-up
    started = time.perf_counter()
    proba = clf.predict_proba(docs, batch_size=64)
    infer_s = time.perf_counter() - started
    assert proba.shape == (len(docs), len(clf.classes)) and np.allclose(proba.sum(1), 1.0)
    # the opt-in bfloat16 path (autocast), same texts
    clf.predict_proba(docs[:64], batch_size=64, precision="bf16")  # warm-up
    started = time.perf_counter()
    proba_bf16 = clf.predict_proba(docs, batch_size=64, precision="bf16")
    infer_bf16_s = time.perf_counter() - started
    bf16_diff = float(np.abs(proba_bf16 - proba).max())
    bf16_agree = float(np.mean(proba_bf16.argmax(1) == proba.argmax(1)))
    print(
        f"textkit: inference with precision='bf16' {len(docs) / infer_bf16_s:.0f} docs/s "
        f"(max |p - p_fp32| {bf16_diff:.1e}, same label for {100 * bf16_agree:.2f}% of texts)",
        flush=True,
    )
    # where the time goes (a second pass, split in two)
    model = clf.members["forward"]
    started = time.perf_counter()
    encoded = encode_texts(pipeline, docs)
    encode_s = time.perf_counter() - started
    started = time.perf_counter()
    predict_docs(model, encoded, clf.pad_index, batch_size=64)
    model_s = time.perf_counter() - started
    n_tokens = int(sum(len(d) for d in encoded))
    print(
        f"textkit: inference {len(docs) / infer_s:.0f} docs/s ({infer_s:.1f} s; split: tokenize + numericalize "
        f"{encode_s:.1f} s, batch + model + softmax {model_s:.1f} s)",
        flush=True,
    )

    # load an exported classifier (best of 3)
    folder = clf.save(work / "textkit_classifier")
    load_s = best_of(lambda: TextClassifier.load(folder), args.load_tries)
    reloaded = TextClassifier.load(folder)
    assert np.array_equal(reloaded.predict_proba(docs[:64]), clf.predict_proba(docs[:64]))
    assert np.allclose(reloaded.predict_proba(docs[:64]), proba[:64], atol=1e-6)  # other batches: float noise only
    size = sum(p.stat().st_size for p in folder.iterdir())
    print(
        f"textkit: TextClassifier.load {1000 * load_s:.1f} ms (best of {args.load_tries}, {size / 1e6:.1f} MB folder)",
        flush=True,
    )

    return {
        "classifier_train_docs_per_s": len(train_texts) * n_epochs / fit_s,
        "classifier_train_docs_per_s_steps_only": metrics["train_docs_per_s"],
        "classifier_fit_seconds": fit_s,
        "classifier_tokenize_seconds": tokenize_s,
        "inference_docs_per_s": len(docs) / infer_s,
        "inference_docs_per_s_bf16": len(docs) / infer_bf16_s,
        "bf16_max_abs_prob_diff": bf16_diff,
        "bf16_same_label_fraction": bf16_agree,
        "inference_docs": len(docs),
        "inference_seconds": infer_s,
        "inference_breakdown_seconds": {"tokenize_numericalize": encode_s, "batch_model_softmax": model_s},
        "inference_tokens": n_tokens,
        "load_seconds": load_s,
        "export_bytes": size,
        "held_out_accuracy": accuracy,
        "vocab_size": len(pipeline),
        "parameters": sum(p.numel() for p in model.parameters()),
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": [load_before, os.getloadavg()[0]],
    }


def fastai_peer(args) -> dict:
    """Whether ``--fastai-python`` can run the fastai peer; without it the textkit side still runs."""
    if args.skip_fastai:
        return {"name": "fastai", "available": False, "reason": "--skip-fastai"}
    python = Path(args.fastai_python)
    if not python.exists():
        reason = f"no Python at {python} (the fastai venv); see bench/requirements-tokenize.txt"
        return {"name": "fastai", "available": False, "reason": reason}
    probe = subprocess.run([str(python), "-c", "import fastai"], capture_output=True, text=True)
    if probe.returncode != 0:
        reason = f"fastai is not installed in {python}'s environment; see bench/requirements-tokenize.txt"
        return {"name": "fastai", "available": False, "reason": reason}
    return {"name": "fastai", "available": True, "python": str(python)}


def run_fastai(args, settings, train_texts, train_labels, test_texts, test_labels, work: Path) -> dict:
    from textkit._io import atomic_write_json, read_json
    from textkit.recipes.language_model import DataSettings, corpus_splits

    data_dir = work / "fastai_data"
    data_dir.mkdir(parents=True, exist_ok=True)
    # a few Brown files: fastai's LM stages need text; they run one short epoch (not timed here)
    brown = corpus_splits(DataSettings(corpus="brown", split_seed=0, max_docs=args.brown_docs))
    atomic_write_json(data_dir / "pretrain.json", {"train": brown["train"], "valid": brown["valid"]}, indent=None)
    atomic_write_json(
        data_dir / "task.json",
        {
            "train": {"texts": train_texts, "labels": train_labels},
            "test": {"texts": test_texts, "labels": test_labels},
            "labels": sorted(set(train_labels)),
        },
        indent=None,
    )
    atomic_write_json(work / "fastai_settings.json", settings)
    limit = max(len(train_texts), len(test_texts), args.brown_docs)  # the files are already cut; a guard only
    command = [
        args.fastai_python,
        str(ROOT / "bench" / "ulmfit_fastai.py"),
        "--data",
        str(data_dir),
        "--settings",
        str(work / "fastai_settings.json"),
        "--out",
        str(work / "fastai_results.json"),
        "--threads",
        str(args.threads),
        "--work",
        str(work / "fastai_work"),
        "--limit",
        str(limit),
        "--inference-docs",
        str(args.docs),
    ]
    print("fastai: " + " ".join(command), flush=True)
    load_before = os.getloadavg()[0]
    log_path = work / "fastai_log.txt"
    with open(log_path, "w") as log:
        code = subprocess.call(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)},
        )
    if code != 0 or not (work / "fastai_results.json").exists():
        raise SystemExit(f"fastai peer failed (exit {code}):\n{log_path.read_text(errors='replace')[-3000:]}")
    peer = read_json(work / "fastai_results.json", "fastai results")
    print(
        f"fastai: trained in {peer['seconds']['classifier']:.1f} s (classifier stage), held-out accuracy "
        f"{peer['accuracy']:.3f}; inference {peer['inference_docs_per_s']:.0f} docs/s; "
        f"load_learner {1000 * peer['load_seconds']:.1f} ms",
        flush=True,
    )
    keep = (
        "classifier_train_docs_per_s",
        "inference_docs_per_s",
        "inference_docs_per_s_bf16",
        "inference_docs",
        "load_seconds",
        "accuracy",
        "n_train",
        "n_test",
        "seconds",
        "peak_rss_mb",
        "versions",
        "threads",
    )
    out = {k: peer[k] for k in keep if k in peer}
    out["held_out_accuracy"] = out.pop("accuracy", None)
    out["vocab_size"] = peer.get("finetune", {}).get("vocab_size")
    out["command"] = " ".join(command[1:])
    out["load_average_1min"] = [load_before, os.getloadavg()[0]]
    return out


METRICS = (  # key, label, unit, higher is better
    ("classifier_train_docs_per_s", "classifier training", "docs/s", True),
    ("inference_docs_per_s", "inference, raw text -> probs", "docs/s", True),
    ("load_seconds", "load exported model, best of 3", "ms", False),
)


def _bf16_ratio(textkit: dict, fastai: dict | None) -> float | None:
    """textkit bf16 over fastai bf16 docs/s; None without fastai or a fastai run that predates bf16."""
    if not fastai or not fastai.get("inference_docs_per_s_bf16"):
        return None
    return textkit["inference_docs_per_s_bf16"] / fastai["inference_docs_per_s_bf16"]


def format_table(results: dict) -> str:
    tk, fa, ratios = results["textkit"], results.get("fastai"), results.get("ratios", {})
    lines = [f"{'':40s} {'textkit':>10s} {'fastai':>10s} {'textkit/fastai':>15s}"]
    for key, label, unit, _ in METRICS:
        scale = 1000.0 if unit == "ms" else 1.0
        theirs = f"{scale * fa[key]:10.1f}" if fa else f"{'-':>10s}"
        ratio = f"{ratios[key]:15.2f}" if key in ratios else f"{'-':>15s}"
        lines.append(f"{label + ' (' + unit + ')':40s} {scale * tk[key]:10.1f} {theirs} {ratio}")
    bf16 = tk["inference_docs_per_s_bf16"]
    fastai_bf16 = fa.get("inference_docs_per_s_bf16") if fa else None
    theirs = f"{fastai_bf16:10.1f}" if fastai_bf16 else f"{'-':>10s}"
    ratio = f"{bf16 / fastai_bf16:15.2f}" if fastai_bf16 else f"{'-':>15s}"
    lines.append(f"{'inference, both bf16 autocast (docs/s)':40s} {bf16:10.1f} {theirs} {ratio}")
    quick = " [quick run: tiny model, not the goal's setting]" if results["settings"].get("quick") else ""
    for goal in (results["goal"], results["goal_bf16"]):
        status = "n/a" if goal["met"] is None else "MET" if goal["met"] else "NOT MET"
        lines.append(f"goal {status}: {goal['description']}{quick}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--docs", type=int, default=None, help="texts in the inference run (default 10000; --quick 300)"
    )
    parser.add_argument("--train-docs", type=int, default=None, help="training docs (default 2000; --quick 200)")
    parser.add_argument("--test-docs", type=int, default=None, help="held-out docs (default 1000; --quick 100)")
    parser.add_argument("--emb", type=int, default=None, help="embedding size (default 128)")
    parser.add_argument("--hidden", type=int, default=None, help="LSTM hidden size (default 512)")
    parser.add_argument("--layers", type=int, default=None, help="LSTM layers (default 2)")
    parser.add_argument(
        "--batch-size", type=int, default=32, help="training batch size (inference uses 64 on both sides)"
    )
    parser.add_argument("--bptt", type=int, default=70)
    parser.add_argument("--max-len", type=int, default=1400)
    parser.add_argument("--epochs", type=int, default=1, help="classifier epochs (one stage, every group trainable)")
    parser.add_argument("--min-freq", type=int, default=2)
    parser.add_argument("--max-vocab", type=int, default=60000)
    parser.add_argument(
        "--brown-docs", type=int, default=2, help="Brown files per split for fastai's (untimed) LM pretraining"
    )
    parser.add_argument("--load-tries", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads on both sides (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny model and a few hundred docs (smoke run)")
    parser.add_argument(
        "--fastai-python",
        default=str(ROOT / ".venv-bench" / "bin" / "python"),
        help="a Python with fastai 2.8 (default .venv-bench/bin/python)",
    )
    parser.add_argument("--skip-fastai", action="store_true")
    parser.add_argument(
        "--out",
        default=None,
        help="results JSON (default bench/results/ulmfit.json; --quick: runs/bench_ulmfit_quick.json)",
    )
    args = parser.parse_args(argv)
    defaults = {"emb": 128, "hidden": 512, "layers": 2, "train_docs": 2000, "test_docs": 1000, "docs": 10_000}
    for key, value in (QUICK if args.quick else defaults).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.out is None:
        args.out = str(ROOT / ("runs/bench_ulmfit_quick.json" if args.quick else "bench/results/ulmfit.json"))

    import torch

    torch.set_num_threads(args.threads)
    from textkit._io import atomic_write_json
    from textkit.reproduce.experiments import versions

    settings = settings_for(args)
    train_texts, train_labels, test_texts, test_labels = load_split(args.seed, args.train_docs, args.test_docs)
    print(
        f"rotten-tomatoes: {len(train_texts)} train / {len(test_texts)} held-out snippets; AWD-LSTM emb {args.emb}, "
        f"hidden {args.hidden}, {args.layers} layers; batch {args.batch_size}, bptt {args.bptt}; {args.threads} "
        "thread(s); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
        flush=True,
    )
    peer = fastai_peer(args)
    if not peer["available"]:
        print(f"fastai peer not run: {peer['reason']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-ulmfit-") as tmp:
        work = Path(tmp)
        textkit = run_textkit(args, settings, train_texts, train_labels, test_texts, test_labels, work)
        fastai = (
            run_fastai(args, settings, train_texts, train_labels, test_texts, test_labels, work)
            if peer["available"]
            else None
        )

    ratios = {key: textkit[key] / fastai[key] for key, *_ in METRICS} if fastai else {}
    inference_ratio = ratios.get("inference_docs_per_s")
    results = {
        "benchmark": "ULMFiT text classifier: textkit.transfer vs fastai 2.8 (CPU)",
        "textkit": textkit,
        "fastai": fastai,
        "peer": peer,
        "ratios": ratios,
        "ratios_note": "textkit / fastai: above 1 is better for docs/s, below 1 is better for load_seconds",
        "goal": {
            "description": f"textkit inference docs/s >= {GOAL_INFERENCE_RATIO:g}x fastai's on CPU "
            f"({args.threads} thread(s), batch 64, tokenization included)",
            "ratio": inference_ratio,
            "met": None if inference_ratio is None else inference_ratio >= GOAL_INFERENCE_RATIO,
        },
        "goal_bf16": {
            "description": (
                "the same at equal precision: textkit precision='bf16' vs fastai get_preds under "
                "torch.autocast('cpu', dtype=torch.bfloat16)"
            ),
            "ratio": _bf16_ratio(textkit, fastai),
            "met": None
            if _bf16_ratio(textkit, fastai) is None
            else _bf16_ratio(textkit, fastai) >= GOAL_INFERENCE_RATIO,
        },
        "settings": {
            **settings,
            "train_docs": args.train_docs,
            "test_docs": args.test_docs,
            "inference_docs": args.docs,
            "inference_batch_size": 64,
            "threads": args.threads,
            "load_tries": args.load_tries,
            "quick": args.quick,
            "classifier_schedule": "one-cycle on both sides; one stage, all groups trainable",
            "weights": "random (no pretraining): speed only",
        },
        "seed": args.seed,
        "command": " ".join(
            [Path(sys.executable).name, "bench/ulmfit.py", *(argv if argv is not None else sys.argv[1:])]
        ),
        "versions": versions(),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
        },
    }
    results = _rounded(results)
    atomic_write_json(args.out, results)
    print(format_table(results))
    print(f"wrote {args.out}")
    return 0


def _rounded(obj):
    if isinstance(obj, float):
        return round(obj, 4)
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_rounded(v) for v in obj]
    return obj


if __name__ == "__main__":
    raise SystemExit(main())
