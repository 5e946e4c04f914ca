"""Audit reports: run a battery of WEAT tests (plus sanity benchmarks) and write
``report.md``, ``results.json`` and ``effect_sizes.png``.

A test that cannot run (too many missing words, unequal sizes under ``unequal="error"``) is
kept in the report with the reason and the missing words, never silently dropped.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from textkit._io import versions
from textkit.bias.embeddings import Embeddings
from textkit.bias.weat import weat
from textkit.bias.wordsets import InsufficientWordsError, WeatTest

__all__ = ["AuditReport", "audit", "format_p", "plot_effect_sizes", "write_report"]


@dataclass
class AuditReport:
    embeddings: dict[str, Any]
    tests: list[dict[str, Any]]
    config: dict[str, Any]
    sanity: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "embeddings": self.embeddings,
            "config": self.config,
            "tests": self.tests,
            "sanity": self.sanity,
            "warnings": self.warnings,
        }

    def to_markdown(self, title: str = "Embedding bias audit") -> str:
        return render_markdown(self, title)


def format_p(p: float | None, method: str = "", n_permutations: int = 0) -> str:
    """A p-value for tables; a Monte-Carlo p at its floor 1/(n+1) (no draw as extreme) prints as ``<=``."""
    if p is None:
        return "–"
    text = f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"
    if method != "exact" and n_permutations and p <= 1.0 / (n_permutations + 1) * (1 + 1e-9):
        text = "≤ " + text
    return text + (" (MC)" if method == "monte-carlo" else "")


def audit(
    emb: Embeddings,
    tests: Sequence[WeatTest],
    *,
    n_permutations: int | None = None,
    n_bootstrap: int = 2000,
    seed: int = 0,
    min_size: int = 2,
    max_missing_fraction: float | None = 0.2,
    unequal: str = "keep",
    std_ddof: int = 1,
    sanity: bool = True,
    analogies: bool = True,
) -> AuditReport:
    """Run every test in ``tests`` on ``emb`` and collect results, refusals and warnings."""
    rows: list[dict[str, Any]] = []
    caught: list[str] = []
    for test in tests:
        started = time.perf_counter()
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            try:
                result = weat(
                    emb,
                    test.X,
                    test.Y,
                    test.A,
                    test.B,
                    n_permutations=n_permutations,
                    seed=seed,
                    name=test.name,
                    min_size=min_size,
                    max_missing_fraction=max_missing_fraction,
                    unequal=unequal,
                    n_bootstrap=n_bootstrap,
                    std_ddof=std_ddof,
                )
                row = result.to_dict()
            except InsufficientWordsError as exc:
                missing = {ws.name: [w for w in ws.words if w not in emb] for ws in (test.X, test.Y, test.A, test.B)}
                row = test.refused_row(exc, missing=missing)
        caught += [f"{test.name}: {w.message}" for w in record]
        row["seconds"] = round(time.perf_counter() - started, 4)
        row["reference"] = dict(test.reference)
        if "paper_effect_size" in test.reference:
            row["paper_effect_size"] = test.reference["paper_effect_size"]
        rows.append(row)
    sanity_out = None
    if sanity:
        from textkit.bias.sanity import sanity_benchmarks

        sanity_out = sanity_benchmarks(emb, analogies=analogies)
    config = {
        "n_permutations": n_permutations,
        "n_bootstrap": n_bootstrap,
        "seed": seed,
        "min_size": min_size,
        "max_missing_fraction": max_missing_fraction,
        "unequal": unequal,
        "std_ddof": std_ddof,
        "versions": versions(),
    }
    info = {"name": emb.name, "source": emb.source, "words": len(emb), "dim": emb.dim}
    return AuditReport(info, rows, config, sanity_out, caught)


def plot_effect_sizes(
    rows: Sequence[dict[str, Any]],
    path: str | os.PathLike,
    *,
    title: str = "WEAT effect sizes",
    labels: Sequence[str] | None = None,
) -> Path:
    """Forest plot: effect size with its bootstrap CI per test, the paper's value as an open marker."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from textkit._io import atomic_open

    n = len(rows)
    fig, ax = plt.subplots(figsize=(7, 0.45 * n + 1.4))
    ys = np.arange(n)[::-1]
    for y, row in zip(ys, rows, strict=True):
        d = row.get("effect_size")
        if d is not None and math.isfinite(d):
            ci = row.get("ci")
            if ci:
                ax.plot(ci, [y, y], color="tab:blue", lw=2, alpha=0.6)
            ax.plot([d], [y], "o", color="tab:blue")
        else:
            ax.text(0, y, "refused: missing words", va="center", fontsize=8, color="tab:red")
        paper = row.get("paper_effect_size")
        if paper is not None:
            ax.plot([paper], [y], "D", mfc="none", color="tab:orange")
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(ys)
    ax.set_yticklabels(labels or [r["name"] for r in rows], fontsize=8)
    ax.set_xlabel("effect size d (dot: measured, bar: 95% bootstrap CI, diamond: paper)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)
    return path


def render_markdown(report: AuditReport, title: str) -> str:
    e = report.embeddings
    cfg = report.config
    lines = [
        f"# {title}",
        "",
        f"Embeddings: `{e['name']}` ({e['words']:,} words x {e['dim']}), source `{e['source']}`.",
        "",
        f"Settings: permutations {cfg['n_permutations'] or 'exact when <= 1e6 partitions, else 100,000 Monte-Carlo'}, "
        f"bootstrap {cfg['n_bootstrap']}, seed {cfg['seed']}, min_size {cfg['min_size']}, "
        f"max_missing_fraction {cfg['max_missing_fraction']}, unequal sizes: {cfg['unequal']}, "
        f"std ddof {cfg['std_ddof']}.",
        "",
        "| test | d | 95% CI | p (one-sided) | method | sizes | paper d | missing |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in report.tests:
        missing = "; ".join(f"{k}: {', '.join(v)}" for k, v in row.get("missing", {}).items() if v) or "none"
        paper = row.get("paper_effect_size")
        paper_s = f"{paper:.2f}" if paper is not None else "–"
        if row.get("error"):
            lines.append(f"| {row['name']} | refused | – | – | – | – | {paper_s} | {missing} |")
            continue
        ci = row.get("ci")
        ci_s = f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "–"
        sizes = "/".join(str(v) for v in row["sizes"].values())
        lines.append(
            f"| {row['name']} | {row['effect_size']:.3f} | {ci_s} | "
            f"{format_p(row['p_value'], '', row['n_permutations'] if row['p_value_method'] == 'monte-carlo' else 0)} "
            "| "
            f"{row['p_value_method']} | {sizes} | {paper_s} | {missing} |"
        )
    refused = [r for r in report.tests if r.get("error")]
    if refused:
        lines += ["", "## Tests that refused to run", ""]
        lines += [f"- **{r['name']}**: {r['error']}" for r in refused]
    if report.warnings:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in report.warnings]
    lines += [
        "",
        "d is Caliskan et al.'s effect size (difference of mean associations over the pooled sample "
        "standard deviation). p is the share of equal-size re-partitions of the target words whose "
        "statistic is at least the observed one: exact over all partitions, or Monte-Carlo (MC) over "
        "seeded true permutations. The CI is a percentile bootstrap over words of all four sets, so it "
        "says how much the result depends on the particular words chosen.",
    ]
    if report.sanity:
        lines += ["", "## Sanity benchmarks", "", "| word similarity | Spearman rho | pairs used |", "|---|---|---|"]
        for s in report.sanity.get("word_similarity", []):
            rho = "–" if not math.isfinite(s["spearman"]) else f"{s['spearman']:.3f}"
            lines.append(f"| {s['name']} | {rho} | {s['n_used']}/{s['n_pairs']} |")
        if report.sanity.get("analogies"):
            lines += ["", "| analogies | method | accuracy | questions used |", "|---|---|---|---|"]
            for a in report.sanity["analogies"]:
                acc = "–" if not math.isfinite(a["accuracy"]) else f"{a['accuracy']:.3f}"
                lines.append(f"| {a['name']} | {a['method']} | {acc} | {a['n_used']}/{a['n_questions']} |")
            lines += [
                "",
                "Analogy answers are searched in the embeddings' own vocabulary, excluding the three "
                "question words; a small vocabulary makes this easier than on the full model.",
            ]
    lines += [
        "",
        "## What this can and cannot show",
        "",
        "WEAT measures differential cosine association between chosen word lists in one set of vectors. "
        "It depends on the lists (the CI shows how much), says nothing about behaviour of systems "
        "built on the vectors, and a non-significant result is not evidence of no bias.",
        "",
    ]
    return "\n".join(lines)


def write_report(
    report: AuditReport, out_dir: str | os.PathLike, *, title: str = "Embedding bias audit"
) -> dict[str, Path]:
    """Write ``report.md``, ``results.json`` and ``effect_sizes.png`` into ``out_dir`` (atomically)."""
    from textkit._io import atomic_write_json, atomic_write_text, to_jsonable

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "results.json", "markdown": out / "report.md", "plot": out / "effect_sizes.png"}
    atomic_write_json(paths["json"], to_jsonable(report.to_dict()))
    plot_effect_sizes(report.tests, paths["plot"], title=f"WEAT effect sizes: {report.embeddings['name']}")
    atomic_write_text(paths["markdown"], report.to_markdown(title) + "\n![effect sizes](effect_sizes.png)\n")
    return paths
