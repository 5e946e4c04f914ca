"""``textkit reproduce embeddings-over-time``: gender measures in skip-gram embeddings trained on
the King James Bible (1769), the Brown corpus (1961) and the World English Bible (2015).

Trains one model per corpus and seed, computes the same WEAT tests and relative norm distance
on identical word lists, and writes ``results.json``, ``report.md`` and ``measures_by_year.png``.
The logic lives in :mod:`textkit.bias.over_time`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "render_report", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--corpora",
        default="bible-kjv,brown,bible-web",
        help="comma-separated registry corpora (years known for bible-kjv, brown, bible-web)",
    )
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per corpus")
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument(
        "--max-tokens", type=int, default=None, help="use about N tokens of each corpus (evenly spaced sentences)"
    )
    parser.add_argument("--bootstrap", type=int, default=1000, help="word-bootstrap resamples per model")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small run: 2 seeds, dim 50, 2 epochs, 300k tokens per corpus (every k-th sentence), 200 resamples",
    )


def run(args: argparse.Namespace) -> int:
    from textkit._io import atomic_write_json, atomic_write_text, to_jsonable
    from textkit.bias.over_time import CORPUS_YEARS, CorpusSpec, compare_corpora, corpus_sentences
    from textkit.bias.sgns import SGNSConfig

    names = [c.strip() for c in args.corpora.split(",") if c.strip()]
    unknown = [c for c in names if c not in CORPUS_YEARS]
    if unknown:
        raise ValueError(f"no year known for corpora {unknown}; use some of {sorted(CORPUS_YEARS)}")
    seeds, dim, epochs, max_tokens, n_boot = args.seeds, args.dim, args.epochs, args.max_tokens, args.bootstrap
    if args.quick:
        seeds, dim, epochs = min(seeds, 2), min(dim, 50), min(epochs, 2)
        max_tokens, n_boot = max_tokens or 300_000, min(n_boot, 200)
    corpora = [CorpusSpec(n, CORPUS_YEARS[n], corpus_sentences(n, max_tokens=max_tokens)) for n in names]
    config = SGNSConfig(dim=dim, epochs=epochs, min_count=args.min_count)
    result = compare_corpora(corpora, config=config, seeds=tuple(range(seeds)), n_bootstrap=n_boot, verbose=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "results.json", to_jsonable(result))
    plot_measures(result, out / "measures_by_year.png")
    text = render_report(result)
    atomic_write_text(out / "report.md", text + "\n![measures by year](measures_by_year.png)\n")
    print(text)
    return 0


def render_report(result: dict[str, Any]) -> str:
    corpora = sorted(result["corpora"].items(), key=lambda kv: kv[1]["year"])
    measures = list(corpora[0][1]["measures"])
    lines = [
        "| measure | " + " | ".join(f"{n} ({c['year']})" for n, c in corpora) + " |",
        "|---|" + "---|" * len(corpora),
    ]
    for m in measures:
        cells = []
        for _, c in corpora:
            e = c["measures"][m]
            cells.append(f"{e['mean']:+.3f} [{e['interval'][0]:+.2f}, {e['interval'][1]:+.2f}]")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Mean over seeds [pooled 95% interval over seeds and word resamples].",
        "",
        "| measure | a | b | a - b | 95% interval | real? |",
        "|---|---|---|---|---|---|",
    ]
    for d in result["differences"]:
        lines.append(
            f"| {d['measure']} | {d['a']} | {d['b']} | {d['difference']:+.3f} | "
            f"[{d['interval'][0]:+.2f}, {d['interval'][1]:+.2f}] | {'yes' if d['real'] else 'no'} |"
        )
    cfg = result["config"]
    lines += [
        "",
        f"Seeds {result['seeds']}, SGNS dim {cfg['dim']}, window {cfg['window']}, {cfg['epochs']} epochs, "
        f"min_count {cfg['min_count']}; {result['n_bootstrap']} word resamples per model.",
        "Words used (present in every model): "
        + "; ".join(f"{k}: {', '.join(v)}" for k, v in result["word_sets"].items()),
        "Missing per corpus: " + ("; ".join(f"{c}: {m}" for c, m in result["missing"].items()) or "none"),
    ]
    return "\n".join(lines)


def plot_measures(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from textkit._io import atomic_open

    corpora = sorted(result["corpora"].items(), key=lambda kv: kv[1]["year"])
    measures = list(corpora[0][1]["measures"])
    fig, axes = plt.subplots(1, len(measures), figsize=(4.2 * len(measures), 3.6))
    for ax, m in zip(axes, measures, strict=True):
        years = [c["year"] for _, c in corpora]
        for (name, c), x in zip(corpora, years, strict=True):
            e = c["measures"][m]
            ax.plot([x, x], e["interval"], color="tab:blue", lw=3, alpha=0.4)
            ax.plot([x] * len(e["per_seed"]), e["per_seed"], ".", color="tab:blue", alpha=0.7)
            ax.plot([x], [e["mean"]], "o", color="tab:blue")
            ax.annotate(name, (x, e["interval"][1]), fontsize=7, ha="center", va="bottom")
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_title(m, fontsize=9)
        ax.set_xlabel("year of text")
    fig.suptitle("Gender measures by corpus (dots: seeds; bar: 95% interval over seeds and words)", fontsize=9)
    fig.tight_layout()
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)
