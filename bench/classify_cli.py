"""`textkit classify` (NBSVM) beside fastText and scikit-learn's streaming hashing model, on
the same files, one thread each.

    .venv-bench/bin/python bench/classify_cli.py [--lines 1000000] [--lines-large 10000000]
        [--fasttext-python PYTHON] [--out bench/results/classify_cli.json]

The environment: .venv-bench (make bench-tokenization-env) plus the peer,
``.venv-bench/bin/pip install -r bench/requirements-classify.txt``; or textkit's own venv with
``--fasttext-python`` naming a Python that has only the peer installed (fastText's steps import
nothing of textkit).

Data (written once under --work, never committed):
- rotten-tomatoes, fold 0 of `textkit reproduce sentiment` (train 11,525 / test 1,283 snippets);
- bbc-news sentences: the documents' sentences labelled with their document's category;
  the train file repeats the sentences of the training documents (in a seeded shuffle) up to
  ``--lines`` lines, the test file holds the sentences of held-out documents, so nothing in it
  was seen in training. Prediction is also run on 10%, 30% and 100% of the train file to show
  how peak memory grows (or does not) with the input.

A peer that is not installed (fastText in textkit's own venv) is left out and recorded in the
JSON's ``peers`` as unavailable, with the reason; textkit's side runs regardless.

Rows besides the three peers' defaults: ``textkit-streaming`` (the same command with
``--memory-budget 0``: two passes over 10,000-row chunks, the exact same model); ``large``, a
``--lines-large`` train file built the same way (the training sentences repeated, shuffled, up
to that many lines) trained by streaming, once, for peak memory against the 1M-line figure; and
``dask``, ``textkit classify predict --dask`` on the 1M-line file with a LocalCluster of 1 and
of 2 worker processes (one thread each), checked line for line against the single-process output.

Every step runs in its own process (peak RSS is that process's ``VmHWM`` from /proc, not ``ru_maxrss``,
which Linux carries over from the parent across fork and exec) with one BLAS
thread; fastText gets ``thread=1``. Treatment: defaults for all three, no tuning. textkit:
`textkit classify train --method nbsvm` (uni+bigrams, NBSVM with logistic loss, C=1,
beta=0.25). fastText: ``train_supervised`` with ``wordNgrams=2`` (its own recipe for
sentiment) and its other defaults (5 epochs, lr 0.1, dim 100), on text lowercased and split
into words and punctuation as its tutorial does; that preprocessing runs once, timed
separately. scikit-learn: ``HashingVectorizer(ngram_range=(1, 2), alternate_sign=False)`` +
``SGDClassifier(loss="log_loss")``, the out-of-core recipe of its documentation: training
streams 10,000-line chunks through ``partial_fit`` (one pass), prediction streams too.
Same treatment for every side: before each side's runs its input files are read once (so every
side starts from the page cache), then each step runs ``--repeats`` times (the large row once);
(the 10% and 30% prediction slices once); the JSON keeps the best time (``*_seconds``, as before), the median beside it
(``*_seconds_median``) and every run, and the peak RSS is the largest of the runs. The load
average is recorded before and after each row: another job may share the machine.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import platform
import random
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
CHUNK = 10_000
FASTTEXT_VERSION = "from importlib.metadata import version as v; print(v('fasttext-numpy2-wheel'))"
FASTTEXT_TOKENS = re.compile(r"\w+|[^\w\s]")


# -- data ------------------------------------------------------------------------------------


def fasttext_line(text: str, label: str | None = None) -> str:
    words = " ".join(FASTTEXT_TOKENS.findall(text.lower()))
    return f"__label__{label} {words}" if label is not None else words


def write_csv(path: Path, rows) -> int:
    n = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for text, label in rows:
            writer.writerow([text, label])
            n += 1
    return n


def make_datasets(work: Path, lines: int, seed: int, predict_slices: bool = True) -> dict:
    import numpy as np

    from textkit import data
    from textkit.reproduce.ulmfit import fold_zero

    work.mkdir(parents=True, exist_ok=True)
    sets = {}
    records = data.load("rotten-tomatoes")
    texts = [r["text"] for r in records]
    labels = [r["label"] for r in records]
    train, test = fold_zero(texts, labels, seed)
    sets["rotten-tomatoes"] = {
        "train": write_csv(work / "rt_train.csv", ((texts[i], labels[i]) for i in train)),
        "test": write_csv(work / "rt_test.csv", ((texts[i], labels[i]) for i in test)),
        "note": "fold 0 of `textkit reproduce sentiment` (grouped, stratified, seed 0)",
    }
    bbc = data.load("bbc-news")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(bbc))
    held_out = set(order[: len(bbc) // 10].tolist())
    splitter = re.compile(r"(?<=[.!?])\s+")
    train_sentences, test_sentences = [], []
    for i, record in enumerate(bbc):
        for sentence in splitter.split(record["text"].replace("\n", " ")):
            if len(sentence.split()) >= 4:
                (test_sentences if i in held_out else train_sentences).append((sentence.strip(), record["label"]))

    def repeated_lines():  # seeded shuffles of the training sentences, one after another, up to `lines`
        shuffler, written = random.Random(seed), 0
        while written < lines:
            chunk = list(train_sentences)
            shuffler.shuffle(chunk)
            yield from chunk[: lines - written]
            written += min(len(chunk), lines - written)

    sets["bbc-sentences"] = {
        "train": write_csv(work / "bbc_train.csv", repeated_lines()),
        "test": write_csv(work / "bbc_test.csv", test_sentences),
        "unique_train_sentences": len(train_sentences),
        "note": f"bbc-news sentences (>= 4 words) labelled by category; train repeats the sentences of 90% of the "
        f"documents to {lines:,} lines; test holds the sentences of the other 10% (seed {seed})",
    }
    for fraction in (0.1, 0.3) if predict_slices else ():
        n = int(lines * fraction)
        write_csv(work / f"bbc_predict_{int(fraction * 100)}.csv", itertools.islice(repeated_lines(), n))
    return sets


def fasttext_files(work: Path, name: str) -> float:
    """fastText's input: lowercased, words and punctuation split. Returns the seconds it took."""
    start = time.perf_counter()
    for split in ("train", "test"):
        with (
            open(work / f"{name}_{split}.csv", encoding="utf-8", newline="") as src,
            open(work / f"{name}_{split}.ft", "w", encoding="utf-8") as dst,
        ):
            for row in csv.DictReader(src):
                dst.write(fasttext_line(row["text"], row["label"]) + "\n")
    return time.perf_counter() - start


# -- steps, each run in a fresh process -------------------------------------------------------


def step_textkit_train(train: str, model: str) -> dict:
    from textkit.cli import main

    code = main(["classify", "train", "--data", train, "--method", "nbsvm", "--out", model, "--quiet", "--overwrite"])
    if code:
        raise SystemExit(code)
    return {}


def step_textkit_streaming_train(train: str, model: str) -> dict:
    from textkit.cli import main

    argv = ["classify", "train", "--data", train, "--method", "nbsvm", "--out", model, "--quiet", "--overwrite"]
    code = main([*argv, "--memory-budget", "0"])
    if code:
        raise SystemExit(code)
    return {}


def _vm_hwm_kib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        return next(float(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def step_dask_predict(model: str, data_file: str, out: str, workers: str) -> dict:
    """`classify predict --dask` on a LocalCluster of ``workers`` processes (one thread each); the
    time is the command's alone (the cluster's start is reported beside it), the peak RSS is the
    client's plus every worker's (their VmHWM, read on the workers)."""
    import distributed

    from textkit.cli import main

    start = time.perf_counter()
    with distributed.LocalCluster(
        n_workers=int(workers), processes=True, threads_per_worker=1, dashboard_address=None, memory_limit=None
    ) as cluster:
        started = time.perf_counter() - start
        begin = time.perf_counter()
        argv = ["classify", "predict", model, "--data", data_file, "--out", out, "--overwrite"]
        code = main([*argv, "--dask", cluster.scheduler_address])
        seconds = time.perf_counter() - begin
        with distributed.Client(cluster) as client:
            workers_kib = client.run(_vm_hwm_kib)
    if code:
        raise SystemExit(code)
    return {
        "command_seconds": round(seconds, 2),
        "cluster_start_seconds": round(started, 2),
        "workers_peak_rss_mb": [round(v / 1024, 1) for v in workers_kib.values()],
    }


def step_textkit_predict(model: str, data_file: str, out: str) -> dict:
    from textkit.cli import main

    code = main(["classify", "predict", model, "--data", data_file, "--out", out, "--overwrite"])
    if code:
        raise SystemExit(code)
    return {}


def step_fasttext_train(train: str, model: str) -> dict:
    import fasttext

    trained = fasttext.train_supervised(input=train, wordNgrams=2, thread=1, verbose=0, seed=0)
    trained.save_model(model)
    return {}


def step_fasttext_predict(model: str, data_file: str, out: str) -> dict:
    """Streams the CSV in chunks; the per-line preprocessing is part of prediction here."""
    import fasttext

    loaded = fasttext.load_model(model)
    with open(data_file, encoding="utf-8", newline="") as src, open(out, "w", encoding="utf-8") as dst:
        batch = []
        for row in csv.DictReader(src):
            batch.append(fasttext_line(row["text"]))
            if len(batch) == CHUNK:
                labels, _ = loaded.predict(batch)
                dst.writelines(label[0][len("__label__") :] + "\n" for label in labels)
                batch = []
        if batch:
            labels, _ = loaded.predict(batch)
            dst.writelines(label[0][len("__label__") :] + "\n" for label in labels)
    return {}


def _csv_chunks(path: str):
    with open(path, encoding="utf-8", newline="") as handle:
        texts, labels = [], []
        for row in csv.DictReader(handle):
            texts.append(row["text"])
            labels.append(row["label"])
            if len(texts) == CHUNK:
                yield texts, labels
                texts, labels = [], []
        if texts:
            yield texts, labels


def _hashing():
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(ngram_range=(1, 2), alternate_sign=False, norm="l2")


def step_sklearn_train(train: str, model: str) -> dict:
    import numpy as np
    from safetensors.numpy import save_file
    from sklearn.linear_model import SGDClassifier

    classes = sorted({label for _, labels in _csv_chunks(train) for label in labels})
    vectorizer, clf = _hashing(), SGDClassifier(loss="log_loss", random_state=0)
    for texts, labels in _csv_chunks(train):
        clf.partial_fit(vectorizer.transform(texts), labels, classes=classes)
    save_file({"coef": np.ascontiguousarray(clf.coef_), "intercept": clf.intercept_}, model)
    Path(model + ".classes.json").write_text(json.dumps(list(map(str, clf.classes_))))
    return {}


def step_sklearn_predict(model: str, data_file: str, out: str) -> dict:
    import numpy as np
    from safetensors.numpy import load_file

    weights = load_file(model)
    classes = json.loads(Path(model + ".classes.json").read_text())
    vectorizer = _hashing()
    with open(out, "w", encoding="utf-8") as dst:
        for texts, _ in _csv_chunks(data_file):
            scores = vectorizer.transform(texts) @ weights["coef"].T + weights["intercept"]
            picked = (scores[:, 0] > 0).astype(int) if len(classes) == 2 else np.argmax(scores, axis=1)
            dst.writelines(classes[i] + "\n" for i in np.asarray(picked).ravel())
    return {}


STEPS = {
    "textkit_train": step_textkit_train,
    "textkit-streaming_train": step_textkit_streaming_train,
    "textkit-streaming_predict": step_textkit_predict,
    "dask_predict": step_dask_predict,
    "textkit_predict": step_textkit_predict,
    "fasttext_train": step_fasttext_train,
    "fasttext_predict": step_fasttext_predict,
    "sklearn_train": step_sklearn_train,
    "sklearn_predict": step_sklearn_predict,
}


def peak_rss_kib() -> float:
    """This process's own peak resident set (VmHWM). ``ru_maxrss`` would not do: Linux keeps
    the parent's peak in it across fork and exec, so a small child reports its parent's size."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: the best there is


PYTHONS: dict[str, str] = {}  # peer -> interpreter, where it is not this one (--fasttext-python)


def run_step(name: str, *args: str) -> dict:
    """Run one step in a fresh process; its wall time and peak RSS (and what the step reports)."""
    env = {**os.environ, **dict.fromkeys(THREAD_VARS, "1")}
    python = PYTHONS.get(name.split("_", 1)[0], sys.executable)
    start = time.perf_counter()
    done = subprocess.run([python, __file__, "--step", name, *args], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return {"seconds": round(wall, 2), **report}


def warm(*paths: Path) -> None:
    """Read the files once, so the timed runs start from the page cache (every side alike)."""
    for path in paths:
        with open(path, "rb") as handle:
            while handle.read(1 << 24):
                pass


def repeat_step(name: str, args: list[str], repeats: int) -> dict:
    """``repeats`` runs of a step: best and median time, largest peak RSS, and every run."""
    runs = [run_step(name, *args) for _ in range(repeats)]
    seconds = [r["seconds"] for r in runs]
    return {
        "best": min(seconds),
        "median": round(statistics.median(seconds), 2),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "runs": runs,
    }


def _truth(path: Path) -> list[str]:
    with open(path, encoding="utf-8", newline="") as handle:
        return [row["label"] for row in csv.DictReader(handle)]


def _predicted(path: Path, peer: str) -> list[str]:
    if peer.startswith(("textkit", "dask")):
        return [json.loads(line)["label"] for line in path.read_text(encoding="utf-8").splitlines()]
    return path.read_text(encoding="utf-8").splitlines()


PEER_MODULES = {"fasttext": ("fasttext", "bench/requirements-classify.txt"), "sklearn": ("sklearn", "scikit-learn")}


def peer_status() -> dict:
    """Which peers can run here (in their own interpreter where one is given); textkit always runs."""
    import importlib.util

    out = {}
    for peer, (module, where) in PEER_MODULES.items():
        python = PYTHONS.get(peer)
        if python is not None:
            found = subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode == 0
        else:
            found = importlib.util.find_spec(module) is not None
        if not found:
            out[peer] = {"available": False, "reason": f"{module} is not installed in this environment; see {where}"}
        else:
            out[peer] = {"available": True, **({"python": python} if python else {})}
    return out


def _accuracy(out: Path, peer: str, truth: list[str]) -> float:
    predicted = _predicted(out, peer)
    return round(sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth), 4)


def benchmark(work: Path, name: str, repeats: int, predict_files: list[str], log, peers: dict, sides) -> dict:
    truth = _truth(work / f"{name}_test.csv")
    results = {}
    for peer in sides:
        suffix = ".ft" if peer == "fasttext" else ".csv"
        model = str(work / f"{name}_{peer}_model") + {"fasttext": ".bin", "sklearn": ".safetensors"}.get(peer, "")
        train_file, test_file = work / f"{name}_train{suffix}", work / f"{name}_test.csv"
        load_before = os.getloadavg()
        warm(train_file, test_file)
        trains = repeat_step(f"{peer}_train", [str(train_file), model], repeats)
        out = work / f"{name}_{peer}_pred.txt"
        predicts = repeat_step(f"{peer}_predict", [model, str(test_file), str(out)], repeats)
        entry = {
            "accuracy": _accuracy(out, peer, truth),
            "train_seconds": trains["best"],
            "train_seconds_median": trains["median"],
            "train_peak_rss_mb": trains["peak_rss_mb"],
            "predict_seconds": predicts["best"],
            "predict_seconds_median": predicts["median"],
            "predict_peak_rss_mb": predicts["peak_rss_mb"],
            "test_rows": len(truth),
            "train_runs": [r["seconds"] for r in trains["runs"]],
            "predict_runs": [r["seconds"] for r in predicts["runs"]],
        }
        scaling = {}
        for file_name in predict_files:
            rows = len(_truth(work / file_name))
            warm(work / file_name)
            runs = repeats if file_name == predict_files[-1] else 1  # the whole file: repeated; slices: once
            step = repeat_step(
                f"{peer}_predict", [model, str(work / file_name), str(work / f"{name}_{peer}_scale.txt")], runs
            )
            scaling[str(rows)] = {
                "seconds": step["best"],
                "seconds_median": step["median"],
                "peak_rss_mb": step["peak_rss_mb"],
                "lines_per_second_median": round(rows / step["median"]),
            }
        if scaling:
            entry["predict_scaling"] = scaling
        entry["load_before"], entry["load_after"] = load_before, os.getloadavg()
        results[peer] = entry
        log(f"  {name} {peer}: {json.dumps(entry)}")
    return results


def make_large(work: Path, lines: int, seed: int) -> dict:
    """The large train file: the 1M file's recipe (training sentences, seeded shuffles, repeated)
    at ``lines`` lines; the test file is the 1M row's."""
    sub = work / "large"
    sets = make_datasets(sub, lines, seed, predict_slices=False)
    return {**sets["bbc-sentences"], "train_file": str(sub / "bbc_train.csv")}


def large_row(work: Path, lines: int, seed: int, repeats: int, log) -> dict:
    info = make_large(work, lines, seed)
    truth = _truth(work / "bbc_test.csv")
    model = str(work / "large_textkit_model")
    load_before = os.getloadavg()
    warm(Path(info["train_file"]))
    train = repeat_step("textkit-streaming_train", [info["train_file"], model], repeats)
    out = work / "large_textkit_pred.txt"
    run_step("textkit_predict", model, str(work / "bbc_test.csv"), str(out))
    entry = {
        "side": "textkit-streaming (nbsvm, --memory-budget 0)",
        "train_rows": info["train"],
        "unique_train_sentences": info["unique_train_sentences"],
        "note": info["note"],
        "accuracy": _accuracy(out, "textkit", truth),
        "train_seconds": train["best"],
        "train_seconds_median": train["median"],
        "train_peak_rss_mb": train["peak_rss_mb"],
        "train_runs": [r["seconds"] for r in train["runs"]],
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }
    log(f"  large: {json.dumps(entry)}")
    Path(info["train_file"]).unlink()  # gigabytes: not kept
    return entry


def dask_rows(work: Path, name: str, repeats: int, log) -> dict:
    """`classify predict --dask` on the 1M-line train file, LocalCluster of 1 and of 2 workers."""
    model = str(work / f"{name}_textkit_model")
    data_file = work / f"{name}_train.csv"
    reference = work / f"{name}_dask_reference.jsonl"
    run_step("textkit_predict", model, str(data_file), str(reference))  # the single-process output
    rows = {}
    for workers in (1, 2):
        load_before = os.getloadavg()
        warm(data_file)
        out = work / f"{name}_dask_{workers}.jsonl"
        runs = [run_step("dask_predict", model, str(data_file), str(out), str(workers)) for _ in range(repeats)]
        seconds = [r["command_seconds"] for r in runs]
        n_lines = len(_truth(data_file))
        rows[f"{workers}_workers"] = {
            "predict_seconds": min(seconds),
            "predict_seconds_median": round(statistics.median(seconds), 2),
            "lines_per_second_median": round(n_lines / statistics.median(seconds)),
            "cluster_start_seconds": [r["cluster_start_seconds"] for r in runs],
            "client_peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "workers_peak_rss_mb": max((r["workers_peak_rss_mb"] for r in runs), key=max),
            "identical_to_single_process": out.read_bytes() == reference.read_bytes(),
            "runs": seconds,
            "load_before": load_before,
            "load_after": os.getloadavg(),
        }
        log(f"  dask {workers} workers: {json.dumps(rows[f'{workers}_workers'])}")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--step", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines of the bbc-sentences train file")
    parser.add_argument(
        "--lines-large", type=int, default=10_000_000, help="lines of the large row's train file (0: no large row)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs of every step (best and median kept)")
    parser.add_argument("--repeats-large", type=int, default=1, help="runs of the large row's training")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", default="/tmp/textkit-classify-bench")
    parser.add_argument("--fasttext-python", default=None, help="a Python with fastText installed (default: this one)")
    parser.add_argument("--no-dask", action="store_true", help="leave out the Dask rows")
    parser.add_argument(
        "--out", default=None, help="default bench/results/classify_cli.json (classify_cli_quick.json with --quick)"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 20,000 lines, one repeat")
    args, rest = parser.parse_known_args()
    if args.step:
        extra = STEPS[args.step](*rest)
        peak = peak_rss_kib() / 1024
        print(json.dumps({**(extra or {}), "peak_rss_mb": round(peak, 1)}))
        return 0
    if args.quick:
        args.lines, args.repeats, args.lines_large = 20_000, 1, 40_000
    if args.out is None:
        args.out = str(ROOT / "bench" / "results" / ("classify_cli_quick.json" if args.quick else "classify_cli.json"))
    if args.fasttext_python:
        PYTHONS["fasttext"] = args.fasttext_python

    def log(message: str) -> None:
        print(message, flush=True)

    work = Path(args.work)
    peers = peer_status()
    for peer, status in peers.items():
        if not status["available"]:
            log(f"{peer} not run: {status['reason']}")
    load_before = os.getloadavg()
    sets = make_datasets(work, args.lines, args.seed)
    prep = {name: round(fasttext_files(work, short), 2) for name, short in (("rotten-tomatoes", "rt"), ("bbc", "bbc"))}
    log(f"data: {json.dumps(sets)}")
    others = [p for p, status in peers.items() if status["available"]]
    results = {
        "rotten-tomatoes": benchmark(work, "rt", args.repeats, [], log, peers, ["textkit", *others]),
        "bbc-sentences": benchmark(
            work,
            "bbc",
            args.repeats,
            ["bbc_predict_10.csv", "bbc_predict_30.csv", "bbc_train.csv"],
            log,
            peers,
            ["textkit", "textkit-streaming", *others],
        ),
    }
    if not args.no_dask:
        results["bbc-sentences-dask"] = dask_rows(work, "bbc", args.repeats, log)
    if args.lines_large:
        results["bbc-sentences-large"] = large_row(work, args.lines_large, args.seed, args.repeats_large, log)
        base = results["bbc-sentences"]["textkit-streaming"]["train_peak_rss_mb"]
        results["bbc-sentences-large"]["peak_rss_over_1m_streaming"] = round(
            results["bbc-sentences-large"]["train_peak_rss_mb"] / base, 3
        )
    from textkit._io import atomic_write_json, versions

    extra_versions = {}
    if args.fasttext_python:
        done = subprocess.run(
            [
                args.fasttext_python,
                "-c",
                "from importlib.metadata import version as v; print(v('fasttext-numpy2-wheel'))",
            ],
            capture_output=True,
            text=True,
        )
        extra_versions["fasttext-numpy2-wheel"] = done.stdout.strip() or "not installed"
    report = {
        "benchmark": "textkit classify (nbsvm) vs fastText supervised vs sklearn HashingVectorizer + SGDClassifier",
        "treatment": __doc__.split("Every step", 1)[1].strip(),
        "data": sets,
        "fasttext_preprocessing_seconds": prep,
        "results": results,
        "peers": peers,
        "quick": args.quick,
        "seed": args.seed,
        "repeats": {"rotten-tomatoes": args.repeats, "bbc-sentences": args.repeats, "large": args.repeats_large},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_before": load_before},
        "load_after": os.getloadavg(),
        "versions": {
            **versions(("fasttext-numpy2-wheel", "dask", "distributed"), git=True),
            **extra_versions,
        },
    }
    atomic_write_json(args.out, report)
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
