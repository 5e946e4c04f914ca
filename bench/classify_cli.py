"""`textkit classify` (NBSVM) beside fastText and scikit-learn's streaming hashing model, on
the same files, one thread each.

    .venv-bench/bin/python bench/classify_cli.py [--lines 1000000] [--out bench/results/classify_cli.json]

The environment: .venv-bench (make bench-tokenization-env) plus the peer,
``.venv-bench/bin/pip install -r bench/requirements-classify.txt``.

Data (written once under --work, never committed):
- rotten-tomatoes, fold 0 of `textkit reproduce sentiment` (train 11,525 / test 1,283 snippets);
- bbc-news sentences: the documents' sentences labelled with their document's category;
  the train file repeats the sentences of the training documents (in a seeded shuffle) up to
  ``--lines`` lines, the test file holds the sentences of held-out documents, so nothing in it
  was seen in training. Prediction is also run on 10%, 30% and 100% of the train file to show
  how peak memory grows (or does not) with the input.

A peer that is not installed (fastText in textkit's own venv) is left out and recorded in the
JSON's ``peers`` as unavailable, with the reason; textkit's side runs regardless.

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
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
CHUNK = 10_000
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


def make_datasets(work: Path, lines: int, seed: int) -> dict:
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
    shuffler = random.Random(seed)
    repeated = []
    while len(repeated) < lines:
        chunk = list(train_sentences)
        shuffler.shuffle(chunk)
        repeated.extend(chunk[: lines - len(repeated)])
    sets["bbc-sentences"] = {
        "train": write_csv(work / "bbc_train.csv", repeated),
        "test": write_csv(work / "bbc_test.csv", test_sentences),
        "unique_train_sentences": len(train_sentences),
        "note": f"bbc-news sentences (>= 4 words) labelled by category; train repeats the sentences of 90% of the "
        f"documents to {lines:,} lines; test holds the sentences of the other 10% (seed {seed})",
    }
    for fraction in (0.1, 0.3):
        n = int(lines * fraction)
        write_csv(work / f"bbc_predict_{int(fraction * 100)}.csv", repeated[:n])
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


def run_step(name: str, *args: str) -> dict:
    """Run one step in a fresh process; its wall time and peak RSS."""
    env = {**os.environ, **dict.fromkeys(THREAD_VARS, "1")}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--step", name, *args], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return {"seconds": round(wall, 2), "peak_rss_mb": report["peak_rss_mb"]}


def _truth(path: Path) -> list[str]:
    with open(path, encoding="utf-8", newline="") as handle:
        return [row["label"] for row in csv.DictReader(handle)]


def _predicted(path: Path, peer: str) -> list[str]:
    if peer == "textkit":
        return [json.loads(line)["label"] for line in path.read_text(encoding="utf-8").splitlines()]
    return path.read_text(encoding="utf-8").splitlines()


PEER_MODULES = {"fasttext": ("fasttext", "bench/requirements-classify.txt"), "sklearn": ("sklearn", "scikit-learn")}


def peer_status() -> dict:
    """Which peers can run here; the textkit side always runs."""
    import importlib.util

    out = {}
    for peer, (module, where) in PEER_MODULES.items():
        if importlib.util.find_spec(module) is None:
            out[peer] = {"available": False, "reason": f"{module} is not installed in this environment; see {where}"}
        else:
            out[peer] = {"available": True}
    return out


def benchmark(work: Path, name: str, repeats: int, predict_files: list[str], log, peers: dict) -> dict:
    truth = _truth(work / f"{name}_test.csv")
    results = {}
    for peer in ("textkit", *(p for p, status in peers.items() if status["available"])):
        suffix = ".ft" if peer == "fasttext" else ".csv"
        model = str(work / f"{name}_{peer}_model") + {"fasttext": ".bin", "sklearn": ".safetensors"}.get(peer, "")
        trains = [run_step(f"{peer}_train", str(work / f"{name}_train{suffix}"), model) for _ in range(repeats)]
        out = work / f"{name}_{peer}_pred.txt"
        predicts = [
            run_step(f"{peer}_predict", model, str(work / f"{name}_test.csv"), str(out)) for _ in range(repeats)
        ]
        predicted = _predicted(out, peer)
        accuracy = sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth)
        best_train = min(trains, key=lambda r: r["seconds"])
        best_predict = min(predicts, key=lambda r: r["seconds"])
        entry = {
            "accuracy": round(accuracy, 4),
            "train_seconds": best_train["seconds"],
            "train_peak_rss_mb": max(r["peak_rss_mb"] for r in trains),
            "predict_seconds": best_predict["seconds"],
            "predict_peak_rss_mb": max(r["peak_rss_mb"] for r in predicts),
            "test_rows": len(truth),
        }
        scaling = {}
        for file_name in predict_files:
            rows = len(_truth(work / file_name))
            step = run_step(f"{peer}_predict", model, str(work / file_name), str(work / f"{name}_{peer}_scale.txt"))
            scaling[str(rows)] = step
        if scaling:
            entry["predict_scaling"] = scaling
        results[peer] = entry
        log(f"  {name} {peer}: {json.dumps(entry)}")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--step", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines of the bbc-sentences train file")
    parser.add_argument("--repeats", type=int, default=3, help="rotten-tomatoes repeats (best time kept); bbc: 1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", default="/tmp/textkit-classify-bench")
    parser.add_argument(
        "--out", default=None, help="default bench/results/classify_cli.json (classify_cli_quick.json with --quick)"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 20,000 lines, one repeat")
    args, rest = parser.parse_known_args()
    if args.step:
        STEPS[args.step](*rest)
        peak = peak_rss_kib() / 1024
        print(json.dumps({"peak_rss_mb": round(peak, 1)}))
        return 0
    if args.quick:
        args.lines, args.repeats = 20_000, 1
    if args.out is None:
        args.out = str(ROOT / "bench" / "results" / ("classify_cli_quick.json" if args.quick else "classify_cli.json"))

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
    results = {
        "rotten-tomatoes": benchmark(work, "rt", args.repeats, [], log, peers),
        "bbc-sentences": benchmark(
            work, "bbc", 1, ["bbc_predict_10.csv", "bbc_predict_30.csv", "bbc_train.csv"], log, peers
        ),
    }
    from textkit._io import atomic_write_json, versions

    report = {
        "benchmark": "textkit classify (nbsvm) vs fastText supervised vs sklearn HashingVectorizer + SGDClassifier",
        "treatment": __doc__.split("Every step", 1)[1].strip(),
        "data": sets,
        "fasttext_preprocessing_seconds": prep,
        "results": results,
        "peers": peers,
        "quick": args.quick,
        "seed": args.seed,
        "repeats": {"rotten-tomatoes": args.repeats, "bbc-sentences": 1},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_before": load_before},
        "load_after": os.getloadavg(),
        "versions": versions(("fasttext-numpy2-wheel",), git=True),
    }
    atomic_write_json(args.out, report)
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
