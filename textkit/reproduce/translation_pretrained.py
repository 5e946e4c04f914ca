"""``textkit reproduce translation --pretrained transformer-es-en``: the shipped es->en model
beside a real MT system and the copy floor, on the held-out LibreOffice help pages, the
held-out Bible chapters, and 418 program messages outside both domains (``gnu-messages-es-en``).

Systems, each on the same sources at one thread:

- textkit greedy and beam 5;
- Apertium ``spa-eng`` (rule-based; Debian ``apertium`` + ``apertium-eng-spa``, used only when
  installed: ``apt-get install --no-install-recommends apertium apertium-eng-spa``);
- copy: the source as the output (LibreOffice help leaves code and names untranslated).

Scores are sacreBLEU (with its signature) and chrF; speed is sentences/s of wall time. Writes
``results.json``, every system's hypotheses and ``bleu.png``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from textkit._io import atomic_write_json, atomic_write_text, versions

# the two held-out sets of the training domains, then text outside both (program messages)
TEST_SETS = {
    "libreoffice-help": "libreoffice-help-es-en",
    "bible": "bible-es-en",
    "gnu-messages (out of domain)": "gnu-messages-es-en",
}
APERTIUM = ("apertium", "-u", "-f", "line", "spa-eng")
APERTIUM_INSTALL = "apt-get install --no-install-recommends apertium apertium-eng-spa"


def apertium_available() -> bool:
    return shutil.which(APERTIUM[0]) is not None


def apertium_translate(sources: list[str]) -> list[str]:
    """Apertium's translation of each line (newlines inside a source become spaces)."""
    text = "".join(" ".join(s.split()) + "\n" for s in sources)
    done = subprocess.run(APERTIUM, input=text, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"apertium failed ({done.returncode}): {done.stderr.strip()[:300]}")
    lines = done.stdout.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != len(sources):
        raise RuntimeError(f"apertium returned {len(lines)} lines for {len(sources)} sources")
    return [" ".join(line.split()) for line in lines]


def _timed(function, *args):
    started = time.perf_counter()
    out = function(*args)
    return out, time.perf_counter() - started


def run_comparison(
    model: str = "transformer-es-en",
    out: str | Path = "runs/translation-pretrained",
    *,
    max_sentences: int | None = None,
    beam: int = 5,
    log=print,
) -> dict:
    import torch

    from textkit.data.parallel_text import clean_pairs, load_parallel
    from textkit.evaluate import corpus_bleu, corpus_chrf
    from textkit.recipes.translation import load_translator, translate

    torch.set_num_threads(1)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    bundle = load_translator(model)
    results: dict = {"model": model, "metrics": {}, "signatures": {}, "sentences": {}}
    have_apertium = apertium_available()
    if not have_apertium:
        log(f"apertium is not installed: its rows are left out ({APERTIUM_INSTALL})")
    for name, corpus in TEST_SETS.items():
        records, _ = clean_pairs(load_parallel(corpus, "test"))
        if max_sentences is not None:
            records = records[:max_sentences]
        sources = [" ".join(r["source"].split()) for r in records]
        references = [" ".join(r["target"].split()) for r in records]
        results["sentences"][name] = len(sources)
        systems: dict[str, tuple[list[str], float]] = {
            "textkit greedy": _timed(lambda s: translate(s, bundle, beam_size=1), sources),
            f"textkit beam {beam}": _timed(lambda s: translate(s, bundle, beam_size=beam), sources),
        }
        if have_apertium:
            systems["apertium spa-eng"] = _timed(apertium_translate, sources)
        systems["copy source"] = (sources, 0.0)
        rows = {}
        for system, (hypotheses, seconds) in systems.items():
            bleu, chrf = corpus_bleu(hypotheses, references), corpus_chrf(hypotheses, references)
            results["signatures"] = {"bleu": bleu.signature, "chrf": chrf.signature}
            rows[system] = {
                "bleu": round(bleu.score, 2),
                "chrf": round(chrf.score, 2),
                "sentences_per_s": round(len(sources) / seconds, 2) if seconds else None,
                "seconds": round(seconds, 2),
            }
            slug = system.replace(" ", "_").replace("-", "_")
            atomic_write_text(out / f"{name.split()[0]}.{slug}.txt", "".join(h + "\n" for h in hypotheses))
            log(f"[{name}] {system}: BLEU {bleu.score:.2f}, chrF {chrf.score:.2f}, {rows[system]['seconds']} s")
        atomic_write_text(out / f"{name.split()[0]}.references.txt", "".join(r + "\n" for r in references))
        results["metrics"][name] = rows
    results.update(
        {
            "threads": 1,
            "beam": beam,
            "seed": 0,
            "apertium": _apertium_version() if have_apertium else None,
            "versions": versions(("sacrebleu",), git=True),
            "command": "textkit " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["reproduce"] else None,
        }
    )
    atomic_write_json(out / "results.json", results)
    plot_scores(results, out / "bleu.png")
    log(format_table(results))
    return results


def _apertium_version() -> str:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", "apertium-eng-spa"], capture_output=True, text=True, check=False
    )
    return f"apertium-eng-spa {done.stdout.strip()}" if done.returncode == 0 else "apertium-eng-spa (version unknown)"


def format_table(results: dict) -> str:
    lines = ["| test set | system | BLEU | chrF | sentences/s (1 thread) |", "|---|---|---|---|---|"]
    for name, rows in results["metrics"].items():
        for system, row in rows.items():
            speed = f"{row['sentences_per_s']:.1f}" if row["sentences_per_s"] else "-"
            label = f"{name} ({results['sentences'][name]})"
            lines.append(f"| {label} | {system} | {row['bleu']:.2f} | {row['chrf']:.2f} | {speed} |")
    lines.append(f"\nBLEU: {results['signatures'].get('bleu', '')}\nchrF: {results['signatures'].get('chrf', '')}")
    return "\n".join(lines)


def plot_scores(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    sets = list(results["metrics"])
    systems = list(next(iter(results["metrics"].values())))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.8 / len(systems)
    for i, system in enumerate(systems):
        scores = [results["metrics"][s][system]["bleu"] for s in sets]
        ax.bar(np.arange(len(sets)) + i * width, scores, width, label=system)
    ax.set_xticks(np.arange(len(sets)) + 0.4 - width / 2, [f"{s} test" for s in sets])
    ax.set_ylabel("BLEU (sacreBLEU)")
    ax.set_title(f"es->en: {results['model']} vs Apertium and the copy baseline")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
