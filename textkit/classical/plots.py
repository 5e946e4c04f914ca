"""PNG charts for the classical experiments (matplotlib, Agg backend, imported on use)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_accuracy_comparison", "plot_confusion_matrix", "plot_top_words"]


def _pyplot() -> ModuleType:
    """matplotlib.pyplot on the Agg backend (imported only when a plot is drawn)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Figure, path: str | Path) -> Path:
    from textkit._io import atomic_open

    path = Path(path)
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110, bbox_inches="tight")
    return path


def plot_top_words(
    components: np.ndarray, vocab: Sequence[str], path: str | Path, *, n: int = 10, title: str = ""
) -> Path:
    """One horizontal bar chart per topic: its ``n`` highest-weighted terms."""
    plt = _pyplot()
    components = np.asarray(components)
    terms = np.asarray(list(vocab), dtype=object)
    k = components.shape[0]
    cols = min(k, 5)
    rows = int(np.ceil(k / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 0.28 * n * rows + 1.2), squeeze=False)
    for t, ax in enumerate(axes.ravel()):
        if t >= k:
            ax.axis("off")
            continue
        top = np.argsort(-components[t], kind="stable")[:n]
        ax.barh(range(len(top))[::-1], components[t, top], color="tab:blue")
        ax.set_yticks(range(len(top))[::-1], [str(w) for w in terms[top]], fontsize=8)
        ax.set_title(f"topic {t}", fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = _save(fig, path)
    plt.close(fig)
    return out


def plot_accuracy_comparison(
    metrics: Mapping[str, Mapping[str, float]],
    path: str | Path,
    *,
    references: Mapping[str, float] | None = None,
    reference_label: str = "published",
    title: str = "",
) -> Path:
    """Mean accuracy (%) per method with its fold spread, and published figures as markers."""
    plt = _pyplot()
    names = list(metrics)
    acc = np.array([100 * metrics[m]["accuracy"] for m in names])
    err = np.array([100 * metrics[m].get("std", 0.0) for m in names])
    fig, ax = plt.subplots(figsize=(7, 0.38 * len(names) + 1.2))
    y = np.arange(len(names))[::-1]
    colors = ["tab:gray" if m.startswith("sklearn") else "tab:blue" for m in names]
    ax.barh(y, acc, xerr=err, color=colors, alpha=0.85)
    for yi, a, e in zip(y, acc, err, strict=True):
        ax.text(a + e + 0.1, yi, f"{a:.2f}", va="center", fontsize=8)
    if references:
        ref_y = [yi for yi, m in zip(y, names, strict=True) if m in references]
        ref_x = [references[m] for m in names if m in references]
        ax.scatter(ref_x, ref_y, marker="D", color="tab:red", zorder=3, label=reference_label)
        ax.legend(loc="lower right", fontsize=8)
    ax.set_yticks(y, names)
    shown = list(acc) + [references[m] for m in names if references and m in references]
    ax.set_xlim(max(0.0, min(shown) - 5), min(100.0, max(shown) + 3))
    ax.set_xlabel("accuracy (%)")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    out = _save(fig, path)
    plt.close(fig)
    return out


def plot_confusion_matrix(
    matrix: Sequence[Sequence[int]], classes: Sequence[str], path: str | Path, *, title: str = ""
) -> Path:
    """Counts of (true class, predicted class), each cell annotated; rows are true classes."""
    plt = _pyplot()
    counts = np.asarray(matrix, dtype=np.int64)
    n = len(classes)
    size = max(3.5, 0.55 * n + 2.0)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(counts, cmap="Blues")
    threshold = counts.max() / 2 if counts.size else 0
    for i in range(n):
        for j in range(n):
            color = "white" if counts[i, j] > threshold else "black"
            ax.text(j, i, f"{counts[i, j]:,}", ha="center", va="center", color=color, fontsize=8)
    labels = [str(c) for c in classes]
    ax.set_xticks(range(n), labels, rotation=45 if n > 4 else 0, ha="right" if n > 4 else "center")
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    out = _save(fig, path)
    plt.close(fig)
    return out
