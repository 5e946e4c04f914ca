"""PNG charts for the classical experiments, and the bar-chart helpers the ``textkit reproduce``
modules share (matplotlib, Agg backend, imported on use)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "accuracy_figure",
    "barh_panel",
    "plot_accuracy_comparison",
    "plot_confusion_matrix",
    "plot_top_words",
    "pyplot",
    "save_figure",
]


def pyplot() -> ModuleType:
    """matplotlib.pyplot on the Agg backend (imported only when a plot is drawn)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` as PNG (atomically: a reader never sees half a file) and close
    it in pyplot; the figure object stays readable."""
    from textkit._io import atomic_open

    path = Path(path)
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110, bbox_inches="tight")
    pyplot().close(fig)
    return path


def plot_top_words(
    components: np.ndarray, vocab: Sequence[str], path: str | Path, *, n: int = 10, title: str = ""
) -> Path:
    """One horizontal bar chart per topic: its ``n`` highest-weighted terms."""
    plt = pyplot()
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
    return save_figure(fig, path)


def barh_panel(
    ax: Axes,
    names: Sequence[str],
    values: Sequence[float],
    *,
    errors: Sequence[float] | None = None,
    colors: Sequence[str] | str = "tab:blue",
    references: Mapping[str, float] | None = None,
    reference_label: str = "published",
    baseline: float | None = None,
    baseline_label: str = "baseline",
    fmt: str = "{:.2f}",
    legend: bool = True,
) -> None:
    """Horizontal bars, first name on top, each labelled with its value (``fmt``); ``references``
    (name -> value) as red diamonds on their rows, ``baseline`` as a dashed vertical line, and a
    legend for those two right of the axes unless ``legend=False`` (several panels: one figure
    legend). The value axis is the caller's to scale."""
    y = np.arange(len(names))[::-1]
    vals = np.asarray(values, dtype=np.float64)
    err = np.zeros_like(vals) if errors is None else np.asarray(errors, dtype=np.float64)
    ax.barh(y, vals, xerr=err if errors is not None else None, color=colors, alpha=0.85)
    for yi, name, v, e in zip(y, names, vals, err, strict=True):
        end = max(v + e, references[name]) if references and name in references else v + e  # clear of the marker
        ax.annotate(fmt.format(v), (end, yi), xytext=(5, 0), textcoords="offset points", va="center", fontsize=8)
    if references:
        ref_y = [yi for yi, m in zip(y, names, strict=True) if m in references]
        ref_x = [references[m] for m in names if m in references]
        ax.scatter(ref_x, ref_y, marker="D", color="tab:red", zorder=3, label=reference_label)
    if baseline is not None:
        ax.axvline(baseline, color="black", linestyle="--", linewidth=1, label=baseline_label)
    ax.set_yticks(y, list(names))
    if legend and (references or baseline is not None):
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def accuracy_figure(
    metrics: Mapping[str, Mapping[str, float | None]],
    *,
    references: Mapping[str, float] | None = None,
    reference_label: str = "published",
    baseline: float | None = None,
    baseline_label: str = "majority class",
    title: str = "",
) -> Figure:
    """Mean accuracy (%) per method with its spread (``std``, if any), on an axis from 0 to 100 %
    so that bar lengths compare honestly; published figures (%) as markers and the
    majority-class ``baseline`` (a fraction, as the accuracies) as a dashed line."""
    plt = pyplot()
    names = list(metrics)
    acc = [100 * float(metrics[m]["accuracy"] or 0.0) for m in names]
    err = [100 * float(metrics[m].get("std") or 0.0) for m in names]
    fig, ax = plt.subplots(figsize=(7, 0.38 * len(names) + 1.4))
    colors = ["tab:gray" if m.startswith("sklearn") else "tab:blue" for m in names]
    base = None if baseline is None else 100 * baseline
    label = baseline_label if base is None else f"{baseline_label} {base:.1f}%"
    barh_panel(
        ax,
        names,
        acc,
        errors=err,
        colors=colors,
        references=references,
        reference_label=reference_label,
        baseline=base,
        baseline_label=label,
    )
    ax.set_xlim(0.0, 100.0)
    ax.set_xlabel("accuracy (%); axis from 0" + ("; dashed line: majority class" if base is not None else ""))
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_accuracy_comparison(
    metrics: Mapping[str, Mapping[str, float | None]],
    path: str | Path,
    *,
    references: Mapping[str, float] | None = None,
    reference_label: str = "published",
    baseline: float | None = None,
    title: str = "",
) -> Path:
    """``accuracy_figure`` written to ``path`` as PNG."""
    fig = accuracy_figure(
        metrics, references=references, reference_label=reference_label, baseline=baseline, title=title
    )
    return save_figure(fig, path)


def plot_confusion_matrix(
    matrix: Sequence[Sequence[int]], classes: Sequence[str], path: str | Path, *, title: str = ""
) -> Path:
    """Counts of (true class, predicted class), each cell annotated; rows are true classes."""
    plt = pyplot()
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
    return save_figure(fig, path)
