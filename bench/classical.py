"""textkit.classical beside scikit-learn, same features, one process.

    .venv/bin/python bench/classical.py [--out bench/results/classical.json] [--repeats 3]

Measures, on CPU with one BLAS / torch thread for both libraries:

- vectorizer fit+transform time and peak Python-heap memory (tracemalloc, separate run):
  ``TextVectorizer(analyzer="regex-words")`` vs ``CountVectorizer`` (same token pattern,
  identical matrices, checked), uni/bi/trigrams, on rotten-tomatoes and BBC News;
- naive Bayes fit and fit+predict: ``NaiveBayesClassifier`` vs ``MultinomialNB`` (same
  accuracy, checked); NBSVM fit+predict beside ``LogisticRegression`` on the same features;
- randomized SVD (k=5) and NMF (k=5) on the BBC tf-idf matrix and on a 10x one (BBC stacked
  10 times, each copy's values jittered by a seeded factor in [0.5, 1.5]). Ratios are taken
  at equal error: for SVD the smallest textkit ``n_iter`` whose largest relative singular
  value error (vs ARPACK) is <= scikit-learn's; for NMF the fastest textkit setting whose
  ``||X - WH||_F`` is within 1e-6 (relative) of scikit-learn's NMF(init="nndsvd") or below.

Times are the best of ``--repeats`` runs after a warm-up. Both wall and process-CPU seconds
are recorded; ratios use CPU seconds, which on a machine shared with other jobs are not
inflated by them (with one thread, CPU time is wall time on an idle machine). The load
average before and after is recorded too.
"""

from __future__ import annotations

import sys
from pathlib import Path


import argparse
import os
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]


def timed(fn: Callable[[], object], repeats: int) -> dict:
    fn()  # warm-up
    wall, cpu, out = [], [], None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return {"cpu_seconds": min(cpu), "wall_seconds": min(wall), "result": out}


def peak_memory(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def strip(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k != "result"}


def bench_vectorizers(corpora: dict[str, list[str]], repeats: int) -> list[dict]:
    from sklearn.feature_extraction.text import CountVectorizer

    from textkit.classical import TextVectorizer

    rows = []
    for name, texts in corpora.items():
        for ngram in ((1, 1), (1, 2), (1, 3)):

            def ours(ngram=ngram, texts=texts):
                return TextVectorizer(analyzer="regex-words", ngram_range=ngram).fit_transform(texts)

            def theirs(ngram=ngram, texts=texts):
                return CountVectorizer(ngram_range=ngram).fit_transform(texts)

            t_ours, t_theirs = timed(ours, repeats), timed(theirs, repeats)
            X, R = t_ours["result"], t_theirs["result"]
            identical = X.shape == R.shape and abs(X - R).max() == 0
            rows.append(
                {
                    "corpus": name,
                    "ngram_range": list(ngram),
                    "n_docs": len(texts),
                    "n_features": X.shape[1],
                    "identical": bool(identical),
                    "textkit": {**strip(t_ours), "peak_bytes": peak_memory(ours)},
                    "sklearn": {**strip(t_theirs), "peak_bytes": peak_memory(theirs)},
                    "cpu_ratio_textkit_over_sklearn": t_ours["cpu_seconds"] / t_theirs["cpu_seconds"],
                }
            )  # fmt: skip
            print(
                f"vectorizer {name} {ngram}: textkit {t_ours['cpu_seconds']:.3f}s  sklearn "
                f"{t_theirs['cpu_seconds']:.3f}s  identical={identical}",
                flush=True,
            )
    return rows


def bench_classifiers(texts: list[str], labels: list[str], repeats: int, seed: int) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.naive_bayes import MultinomialNB

    from textkit.classical import NaiveBayesClassifier, NBSVMClassifier, TextVectorizer

    train, test = train_test_split(np.arange(len(texts)), test_size=0.2, stratify=labels, random_state=seed)
    vectorizer = TextVectorizer(analyzer="regex-words", ngram_range=(1, 2))
    X_train = vectorizer.fit_transform([texts[i] for i in train])
    X_test = vectorizer.transform([texts[i] for i in test])
    y = np.asarray(labels)
    y_train, y_test = y[train], y[test]
    out = {
        "features": "rotten-tomatoes, 80/20 stratified split, uni+bigram counts (regex-words)",
        "n_features": X_train.shape[1],
    }
    pairs = {
        "naive_bayes": (lambda: NaiveBayesClassifier(), lambda: MultinomialNB()),
        "nbsvm_vs_logistic_regression": (
            lambda: NBSVMClassifier(classifier="logistic", C=1.0, beta=0.25, random_state=seed),
            lambda: LogisticRegression(solver="liblinear", dual=True, C=1.0, random_state=seed),
        ),
    }
    for name, (make_ours, make_theirs) in pairs.items():
        entry = {}
        for side, make in (("textkit", make_ours), ("sklearn", make_theirs)):
            fit = timed(lambda make=make: make().fit(X_train, y_train), repeats)
            both = timed(lambda make=make: make().fit(X_train, y_train).predict(X_test), repeats)
            entry[side] = {
                "fit": strip(fit), "fit_predict": strip(both),
                "accuracy": float(np.mean(both["result"] == y_test)), "model": repr(make()),
            }  # fmt: skip
        entry["fit_cpu_ratio_textkit_over_sklearn"] = (
            entry["textkit"]["fit"]["cpu_seconds"] / entry["sklearn"]["fit"]["cpu_seconds"]
        )
        entry["fit_predict_cpu_ratio_textkit_over_sklearn"] = (
            entry["textkit"]["fit_predict"]["cpu_seconds"] / entry["sklearn"]["fit_predict"]["cpu_seconds"]
        )
        out[name] = entry
        ours, theirs = entry["textkit"], entry["sklearn"]
        print(
            f"{name}: textkit fit {ours['fit']['cpu_seconds']:.4f}s acc {ours['accuracy']:.4f} | "
            f"sklearn fit {theirs['fit']['cpu_seconds']:.4f}s acc {theirs['accuracy']:.4f}",
            flush=True,
        )
    return out


def bench_svd(X: sp.csr_matrix, k: int, repeats: int, seed: int) -> dict:
    from sklearn.decomposition import TruncatedSVD
    from sklearn.utils.extmath import randomized_svd as sk_randomized_svd

    from textkit.classical import exact_svd, randomized_svd

    reference = exact_svd(X, k, method="arpack")[1]

    def error(S: np.ndarray) -> float:
        return float(np.max(np.abs(np.asarray(S) - reference) / reference))

    sk = timed(lambda: sk_randomized_svd(X, k, random_state=seed), repeats)
    sk_err = error(sk["result"][1])
    tsvd = timed(lambda: TruncatedSVD(k, random_state=seed).fit(X), repeats)
    out = {
        "reference": "scipy.sparse.linalg.svds (ARPACK)",
        "error": "max_i |s_i - s_i(ARPACK)| / s_i(ARPACK)",
        "sklearn_randomized_svd": {**strip(sk), "error": sk_err},
        "sklearn_truncated_svd": {**strip(tsvd), "error": error(tsvd["result"].singular_values_)},
        "textkit": [],
    }
    chosen = None
    for n_iter in range(1, 9):
        run = timed(lambda n_iter=n_iter: randomized_svd(X, k, n_iter=n_iter, seed=seed), repeats)
        entry = {"n_iter": n_iter, **strip(run), "error": error(run["result"][1])}
        out["textkit"].append(entry)
        if chosen is None and entry["error"] <= sk_err:
            chosen = entry
    out["textkit_at_equal_error"] = chosen
    if chosen is not None:
        out["cpu_speedup_vs_randomized_svd"] = sk["cpu_seconds"] / chosen["cpu_seconds"]
        out["cpu_speedup_vs_truncated_svd"] = tsvd["cpu_seconds"] / chosen["cpu_seconds"]
    reached = (
        f"n_iter={chosen['n_iter']} {chosen['cpu_seconds']:.3f}s err {chosen['error']:.1e}"
        if chosen
        else "never reached it"
    )
    print(f"svd {X.shape}: sklearn {sk['cpu_seconds']:.3f}s err {sk_err:.1e} | textkit " + reached, flush=True)
    return out


def bench_nmf(X: sp.csr_matrix, k: int, repeats: int, seed: int) -> dict:
    from sklearn.decomposition import NMF

    from textkit.classical import nmf, reconstruction_error

    def sklearn_nmf() -> tuple[object, np.ndarray]:
        model = NMF(k, init="nndsvd", random_state=seed)
        return model, model.fit_transform(X)

    sk = timed(sklearn_nmf, repeats)
    model, W_sk = sk["result"]
    sk_err = reconstruction_error(X, W_sk, model.components_)  # the same float64 formula as textkit's
    out = {"sklearn_nmf": {**strip(sk), "reconstruction_err": sk_err, "n_iter": int(model.n_iter_)}, "textkit": []}
    chosen = None
    for dtype in ("float32", "float64"):
        for tol in (1e-3, 3e-4, 1e-4, 1e-5):
            run = timed(
                lambda dtype=dtype, tol=tol: nmf(X, k, dtype=dtype, tol=tol, seed=seed, return_info=True), repeats
            )
            W, H, info = run["result"]
            err = reconstruction_error(X, W, H)
            entry = {"dtype": dtype, "tol": tol, **strip(run), "reconstruction_err": err, "n_iter": info["n_iter"]}
            entry["equal_error"] = err <= sk_err * (1 + 1e-6)
            out["textkit"].append(entry)
            if entry["equal_error"] and (chosen is None or entry["cpu_seconds"] < chosen["cpu_seconds"]):
                chosen = entry
    out["equal_error_rule"] = "textkit error <= scikit-learn error * (1 + 1e-6)"
    out["textkit_at_equal_error"] = chosen
    if chosen is not None:
        out["cpu_speedup_vs_sklearn"] = sk["cpu_seconds"] / chosen["cpu_seconds"]
    reached = (
        f"{chosen['dtype']} tol={chosen['tol']} {chosen['cpu_seconds']:.3f}s err {chosen['reconstruction_err']:.9f}"
        if chosen
        else "never reached it"
    )
    print(f"nmf {X.shape}: sklearn {sk['cpu_seconds']:.3f}s err {sk_err:.9f} | textkit " + reached, flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "classical.json"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args(argv)

    import torch
    from threadpoolctl import threadpool_limits

    from textkit import data
    from textkit._io import atomic_write_json
    from textkit.classical import TextVectorizer
    from textkit.reproduce.experiments import versions

    torch.set_num_threads(1)
    load_before = os.getloadavg()
    start = time.perf_counter()
    rt = data.load("rotten-tomatoes")
    bbc = data.load("bbc-news")
    results: dict = {}
    with threadpool_limits(1):
        results["vectorizer"] = bench_vectorizers(
            {"rotten-tomatoes": [r["text"] for r in rt], "bbc-news": [r["text"] for r in bbc]}, args.repeats
        )
        results["classifiers"] = bench_classifiers(
            [r["text"] for r in rt], [r["label"] for r in rt], args.repeats, args.seed
        )
        X = TextVectorizer(
            analyzer="regex-words", stop_words="english", min_df=2, max_df=0.95, weighting="tfidf"
        ).fit_transform([r["text"] for r in bbc])
        rng = np.random.default_rng(args.seed)
        X10 = sp.vstack([X] * 10).tocsr()
        X10.data = X10.data * rng.uniform(0.5, 1.5, size=X10.nnz)
        for name, M in (("bbc", X), ("bbc_x10", X10)):
            results[f"svd_{name}"] = {
                "shape": list(M.shape),
                "nnz": int(M.nnz),
                **bench_svd(M, args.k, args.repeats, args.seed),
            }
            results[f"nmf_{name}"] = {
                "shape": list(M.shape),
                "nnz": int(M.nnz),
                **bench_nmf(M, args.k, args.repeats, args.seed),
            }
    results["goals"] = goals(results)
    report = {
        "seed": args.seed,
        "versions": versions(),
        "config": {
            "command": "python bench/classical.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "repeats": args.repeats, "k": args.k, "threads": "1 BLAS thread (threadpoolctl), 1 torch thread",
            "cpu_count": os.cpu_count(), "load_average_before": load_before, "load_average_after": os.getloadavg(),
            "seconds": time.perf_counter() - start,
        },
        "results": results,
    }  # fmt: skip
    atomic_write_json(args.out, report)
    for goal, (met, detail) in results["goals"].items():
        print(f"goal {'MET    ' if met else 'NOT MET'} {goal}: {detail}")
    print(f"wrote {args.out}")
    return 0


def goals(results: dict) -> dict[str, tuple[bool, str]]:
    out = {}
    for name in ("bbc", "bbc_x10"):
        svd = results[f"svd_{name}"].get("cpu_speedup_vs_randomized_svd")
        out[f"randomized SVD >= 2x faster than sklearn randomized_svd at equal error ({name})"] = (
            bool(svd and svd >= 2),
            f"x{svd:.2f}" if svd else "textkit never reached sklearn's error",
        )
        nmf = results[f"nmf_{name}"].get("cpu_speedup_vs_sklearn")
        out[f"NMF >= 2x faster than sklearn NMF at equal error ({name})"] = (
            bool(nmf and nmf >= 2),
            f"x{nmf:.2f}" if nmf else "never reached",
        )
    nb = results["classifiers"]["naive_bayes"]["fit_cpu_ratio_textkit_over_sklearn"]
    out["NB fit no slower than MultinomialNB"] = (nb <= 1.0, f"textkit/sklearn CPU time = {nb:.2f}")
    worst = max(r["cpu_ratio_textkit_over_sklearn"] for r in results["vectorizer"])
    out["vectorizer within 1.5x of CountVectorizer (worst case)"] = (
        worst <= 1.5,
        f"worst textkit/sklearn CPU time = {worst:.2f}",
    )
    return out


if __name__ == "__main__":
    sys.exit(main())
