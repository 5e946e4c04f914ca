"""``textkit reproduce topics``: SVD and NMF topics on BBC News, textkit beside scikit-learn.

Prints the top words per topic, coherence (NPMI, UMass), agreement with the 5 BBC categories
(NMI, purity), reconstruction error and time; writes ``results.json`` and one top-word chart
per model into ``--out``. The work is done by ``textkit.reproduce.experiments.topics_experiment``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

CORPORA = ("bbc-news",)
QUICK_DOCUMENTS = 800
REFERENCE = {
    "source": (
        "scikit-learn NMF(k=5, init='nndsvd') on BBC tf-idf (English stop words, min_df=2, max_df=0.95: 17,473 terms)"
    ),
    "nmi": 0.78,
    "n_terms": 17473,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", choices=CORPORA, default="bbc-news")
    parser.add_argument("--k", type=int, default=5, help="number of topics")
    parser.add_argument("--out", required=True, help="folder for results.json and the PNG charts")
    parser.add_argument(
        "--quick", action="store_true", help=f"small version: {QUICK_DOCUMENTS} documents, one timing run"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="timing runs per method (best is kept)")


def run_topics(
    corpus: str = "bbc-news",
    out: str | Path = "runs/topics",
    *,
    k: int = 5,
    quick: bool = False,
    seed: int = 0,
    repeats: int = 3,
    echo: Callable[[str], None] = print,
) -> dict:
    """Run the experiment, print the tables, write ``results.json`` and PNGs; return the results."""
    from textkit import data
    from textkit._io import atomic_write_json
    from textkit.reproduce.experiments import topics_experiment
    from textkit.classical.plots import plot_top_words

    if corpus not in CORPORA:
        raise ValueError(f"unknown corpus {corpus!r}; choose one of {CORPORA}")
    if k < 1:
        raise ValueError(f"--k must be a positive number of topics, got {k}")
    start = time.perf_counter()
    records = data.load(corpus)
    if quick:
        from sklearn.model_selection import train_test_split

        keep, _ = train_test_split(
            np.arange(len(records)),
            train_size=QUICK_DOCUMENTS,
            stratify=[r["label"] for r in records],
            random_state=seed,
        )
        records = [records[i] for i in np.sort(keep)]
        repeats = 1
    echo(f"{corpus}: {len(records)} documents, k={k}")
    results = topics_experiment(records, k=k, seed=seed, repeats=repeats, progress=echo)
    components, vocab = results.pop("_components"), results.pop("_vocab")
    results["config"].update(
        {
            "corpus": corpus,
            "quick": quick,
            "command": "textkit reproduce topics",
            "seconds": time.perf_counter() - start,
        }
    )
    results["reference"] = REFERENCE
    results["goals"] = _goals(results, quick)

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "results.json", results)
    charts = []
    for key in ("textkit-nmf", "textkit-svd"):
        charts.append(
            plot_top_words(components[key], vocab, out / f"top_words_{key}.png", title=f"{key}: {corpus}, k={k}")
        )
    echo(format_tables(results))
    echo(f"wrote {out / 'results.json'}, " + ", ".join(str(c) for c in charts))
    return results


def _goals(results: dict, quick: bool) -> dict:
    m = results["metrics"]
    tk, sk = m["textkit-nmf"], m["sklearn-nmf"]
    speedup = sk["cpu_seconds"] / tk["cpu_seconds"]
    goals = {
        "textkit NMF NMI >= scikit-learn NMF NMI": tk["nmi"] >= sk["nmi"],
        "textkit NMF reconstruction error at most 0.1% above scikit-learn's": tk["reconstruction_err"]
        <= sk["reconstruction_err"] * (1 + 1e-3),
        f"textkit NMF >= 2x scikit-learn's speed, both at their defaults (x{speedup:.2f})": speedup >= 2.0,
    }
    if quick:
        goals = {f"{g} [quick run]": v for g, v in goals.items()}
    return goals


def format_tables(results: dict) -> str:
    lines = []
    for key, words in results["topics"].items():
        if key.startswith("textkit"):
            lines.append(f"{key} top words:")
            lines.extend(f"  topic {t}: {' '.join(w)}" for t, w in enumerate(words))
    lines.append("")
    lines.append(
        f"{'method':24s} {'NMI':>6s} {'purity':>6s} {'NPMI':>6s} {'UMass':>6s} {'recon err':>14s} {'wall s':>7s} "
        f"{'CPU s':>7s}"
    )
    for key, m in results["metrics"].items():
        recon = f"{m['reconstruction_err']:.9f}" if "reconstruction_err" in m else "-"
        lines.append(
            f"{key:24s} {m['nmi']:6.3f} {m['purity']:6.3f} {m['coherence_npmi']:6.3f} {m['coherence_umass']:6.2f} "
            f"{recon:>14s} {m['seconds']:7.3f} {m['cpu_seconds']:7.3f}"
        )
    m = results["metrics"]
    nmf_gap = m["textkit-nmf"]["reconstruction_err"] / m["sklearn-nmf"]["reconstruction_err"] - 1
    lines.append(
        "speed-up vs scikit-learn, both at their defaults (CPU time): NMF "
        f"x{m['sklearn-nmf']['cpu_seconds'] / m['textkit-nmf']['cpu_seconds']:.2f} "
        f"(reconstruction error {100 * nmf_gap:+.2e}% vs scikit-learn's), "
        f"SVD x{m['sklearn-svd']['cpu_seconds'] / m['textkit-svd']['cpu_seconds']:.2f} (TruncatedSVD), "
        f"x{m['sklearn-randomized-svd']['cpu_seconds'] / m['textkit-svd']['cpu_seconds']:.2f} (randomized_svd)"
    )
    if "singular_values" in m["textkit-svd"] and "singular_values" in m["sklearn-svd"]:
        ours, theirs = np.array(m["textkit-svd"]["singular_values"]), np.array(m["sklearn-svd"]["singular_values"])
        lines.append(
            "  the SVD speed-ups are not at equal accuracy: largest relative singular-value difference from "
            f"TruncatedSVD's {float(np.max(np.abs(ours - theirs) / theirs)):.1e} (see bench/classical.py for "
            "ratios at equal error)"
        )
    ref = results.get("reference")
    if ref:
        lines.append(f"reference: {ref['source']}: NMI {ref['nmi']}; here {results['config']['n_terms']} terms")
    for goal, met in results.get("goals", {}).items():
        lines.append(f"goal {'MET    ' if met else 'NOT MET'} {goal}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    run_topics(args.corpus, args.out, k=args.k, quick=args.quick, seed=args.seed, repeats=args.repeats)
    return 0
