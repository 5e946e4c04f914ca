"""``textkit reproduce occupations``: gender association of 40 occupations vs % women.

Garg et al. (2018) found that embedding gender association tracks the share of women in each
occupation. Scores are the per-word relative norm distance (Garg) and the projection on
Bolukbasi's gender direction; writes ``results.json``, ``report.md`` and ``occupations.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--embeddings",
        default="word2vec-bolukbasi",
        help="registry name or path (default word2vec-bolukbasi: 36 of the 40 occupations present)",
    )
    parser.add_argument("--out", required=True, help="output folder")


def run(args: argparse.Namespace) -> int:
    from textkit._io import atomic_write_json, atomic_write_text
    from textkit.bias.embeddings import load_embeddings
    from textkit.bias.occupations import occupation_correlation

    emb = load_embeddings(args.embeddings)
    results = [occupation_correlation(emb, method=m) for m in ("rnd", "projection")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "embeddings": {"name": emb.name, "words": len(emb), "dim": emb.dim},
        "results": [r.to_dict() for r in results],
    }
    atomic_write_json(out / "results.json", payload)
    plot_scatter(results, out / "occupations.png", emb.name)
    lines = ["| score | Pearson r | p | occupations | missing |", "|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.method} | {r.pearson_r:.3f} | {r.p_value:.1e} | {r.n} | {', '.join(r.missing) or 'none'} |")
    text = "\n".join(lines)
    atomic_write_text(out / "report.md", text + "\n\n![occupations](occupations.png)\n")
    print(text)
    return 0


def plot_scatter(results: list[Any], path: Path, title: str) -> None:
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from textkit._io import atomic_open

    fig, axes = plt.subplots(1, len(results), figsize=(5.2 * len(results), 4.4))
    labels = {
        "rnd": "relative norm distance (+: closer to women's words)",
        "projection": "cosine with gender direction (+: she side)",
    }
    for ax, r in zip(axes, results, strict=True):
        words = list(r.scores)
        xs = [r.percentages[w] for w in words]
        ys = [r.scores[w] for w in words]
        ax.scatter(xs, ys, s=14)
        for w, x, y in zip(words, xs, ys, strict=True):
            ax.annotate(w, (x, y), fontsize=6, alpha=0.8)
        fit = np.polyfit(xs, ys, 1)
        ax.plot([0, 100], [fit[1], fit[0] * 100 + fit[1]], color="tab:orange", lw=1)
        ax.set_xlabel("% women in occupation")
        ax.set_ylabel(labels[r.method], fontsize=8)
        ax.set_title(f"{r.method}: r = {r.pearson_r:.2f}, p = {r.p_value:.1e}, n = {r.n}", fontsize=9)
    fig.suptitle(f"Occupations: gender association vs share of women ({title})", fontsize=9)
    fig.tight_layout()
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)
