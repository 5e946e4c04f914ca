"""Bias in embeddings trained on English from different eras, with honest uncertainty.

Embeddings are trained with :func:`textkit.bias.sgns.train_sgns` on each corpus and several
seeds; the same gender measures are computed on each model:

- WEAT "work/home x male/female": targets are work words and home words, attributes are male
  and female terms (words chosen to occur in all three corpora, see :data:`GENDER_SETS`);
- WEAT "strength/beauty x male/female";
- Garg et al.'s relative norm distance of neutral role words between male and female terms,
  reported as the mean per word (negative: the roles sit closer to the male terms).

Only words present in every corpus's model enter a measure (missing words are listed per
corpus), so the corpora are compared on identical word lists. Uncertainty comes from two
sources, combined by pooling: the training seed (one model per seed) and the choice of words
(bootstrap over the words of every set, per model). A difference between two corpora is called
real when the pooled bootstrap interval of the difference excludes 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from textkit.bias.embeddings import Embeddings
from textkit.bias.metrics import relative_norm_distance_vectors
from textkit.bias.sgns import SGNSConfig, train_sgns, word_tokenize
from textkit.bias.weat import bootstrap_effect_sizes, weat_vectors

__all__ = ["CORPUS_YEARS", "GENDER_SETS", "CorpusSpec", "compare_corpora", "corpus_sentences", "measure_embeddings"]

# year of the text: KJV in its standard 1769 Oxford edition, Brown's texts were published in
# 1961, the World English Bible's text as distributed in 2015 (the dating).
CORPUS_YEARS: dict[str, int] = {"bible-kjv": 1769, "brown": 1961, "bible-web": 2015}

GENDER_SETS: dict[str, list[str]] = {
    "male": ["he", "him", "his", "himself", "man", "men", "son", "father", "husband", "king", "brother", "male"],
    "female": [
        "she",
        "her",
        "herself",
        "woman",
        "women",
        "daughter",
        "mother",
        "wife",
        "queen",
        "sister",
        "female",
        "widow",
    ],
    "work": ["work", "business", "money", "office", "law", "power", "wages", "city"],
    "home": ["home", "house", "children", "family", "marriage", "child", "household", "married"],
    "strength": ["strong", "mighty", "strength", "war", "battle", "army"],
    "beauty": ["beauty", "fair", "beautiful", "tender", "weak", "love"],
    "roles": [
        "servant",
        "priest",
        "judge",
        "merchant",
        "captain",
        "physician",
        "governor",
        "officer",
        "master",
        "musician",
        "messenger",
        "witness",
        "baker",
        "nurse",
        "teacher",
        "shepherd",
        "scribe",
    ],
}
WEAT_TESTS: dict[str, tuple[str, str, str, str]] = {
    "work/home x male/female": ("work", "home", "male", "female"),
    "strength/beauty x male/female": ("strength", "beauty", "male", "female"),
}
RND_NAME = "RND roles (male vs female), mean per word"


@dataclass(frozen=True)
class CorpusSpec:
    name: str
    year: int
    sentences: list[list[str]]


def corpus_sentences(name: str, *, max_tokens: int | None = None) -> list[list[str]]:
    """Lowercased word sentences of a registry corpus (Bible verses, Brown sentences).

    ``max_tokens`` keeps evenly spaced sentences (every k-th) up to about that many tokens, so
    a small sample still spans the whole corpus rather than its first book.
    """
    from textkit import data

    chunks: list[str] = []
    for rec in data.load(name):
        text = rec.get("text") or ""
        chunks.extend(c for c in (text.split("\n") if name == "brown" else [text]) if c.strip())
    if max_tokens is not None:
        total = sum(c.count(" ") + 1 for c in chunks)  # cheap estimate before tokenizing
        if total > max_tokens:
            stride = total / max_tokens
            chunks = [chunks[int(i * stride)] for i in range(int(len(chunks) / stride))]
    return [words for words in map(word_tokenize, chunks) if words]


def _set_matrices(emb: Embeddings, words: Mapping[str, Sequence[str]]) -> dict[str, np.ndarray]:
    return {k: emb.matrix(list(v)) for k, v in words.items()}


def measure_embeddings(
    emb: Embeddings, common: Mapping[str, Sequence[str]], *, n_bootstrap: int, seed: int
) -> dict[str, Any]:
    """Point estimates and word-bootstrap replicates of every measure on one model."""
    mats = _set_matrices(emb, common)
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    for test, (x, y, a, b) in WEAT_TESTS.items():
        stats = weat_vectors(mats[x], mats[y], mats[a], mats[b], n_permutations=None, seed=seed, n_bootstrap=0)
        boot = bootstrap_effect_sizes(mats[x], mats[y], mats[a], mats[b], n_bootstrap=n_bootstrap, seed=rng)
        out[test] = {
            "value": stats.effect_size,
            "p_value": stats.p_value,
            "p_value_method": stats.p_value_method,
            "boot": boot[np.isfinite(boot)],
        }
    terms = relative_norm_distance_vectors(mats["male"], mats["female"], mats["roles"])
    idx = rng.integers(0, len(terms), (n_bootstrap, len(terms)))
    out[RND_NAME] = {
        "value": float(terms.mean()),
        "boot": terms[idx].mean(axis=1),
        "per_word": {w: float(t) for w, t in zip(common["roles"], terms, strict=True)},
    }
    return out


def _interval(values: np.ndarray, level: float = 0.95) -> list[float]:
    alpha = (1 - level) / 2
    return [float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))]


def compare_corpora(
    corpora: Sequence[CorpusSpec],
    *,
    config: SGNSConfig | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    n_bootstrap: int = 1000,
    word_sets: Mapping[str, Sequence[str]] | None = None,
    min_words: int = 3,
    verbose: bool = False,
) -> dict[str, Any]:
    """Train one model per (corpus, seed), measure each on the words common to all models, and
    summarize: per corpus the mean over seeds, the seed range and a pooled 95% interval; per
    pair of corpora the pooled interval of the difference and whether it excludes 0."""
    cfg = config or SGNSConfig()
    sets = {k: list(v) for k, v in (word_sets or GENDER_SETS).items()}
    models: dict[str, list[Embeddings]] = {}
    for spec in corpora:
        models[spec.name] = [
            train_sgns(spec.sentences, cfg, seed=s, name=f"{spec.name}-seed{s}", verbose=verbose) for s in seeds
        ]
    missing: dict[str, dict[str, list[str]]] = {}
    common: dict[str, list[str]] = {}
    for key, words in sets.items():
        present = [w for w in words if all(w in m for ms in models.values() for m in ms)]
        for spec in corpora:
            lost = [w for w in words if w not in models[spec.name][0]]
            if lost:
                missing.setdefault(spec.name, {})[key] = lost
        if len(present) < min_words:
            raise ValueError(
                f"word set {key!r}: only {present} occur often enough (min_count={cfg.min_count}) in every corpus; "
                f"missing per corpus: { {c: m.get(key) for c, m in missing.items()} }. Use more text or a lower "
                "min_count."
            )
        common[key] = present
    per_corpus: dict[str, Any] = {}
    pooled: dict[str, dict[str, np.ndarray]] = {}
    for spec in corpora:
        runs = [
            measure_embeddings(m, common, n_bootstrap=n_bootstrap, seed=1000 + s)
            for m, s in zip(models[spec.name], seeds, strict=True)
        ]
        summary: dict[str, Any] = {
            "year": spec.year,
            "tokens": sum(len(s) for s in spec.sentences),
            "vocab": len(models[spec.name][0]),
            "measures": {},
        }
        pooled[spec.name] = {}
        for measure in runs[0]:
            values = np.array([r[measure]["value"] for r in runs])
            boots = np.concatenate([r[measure]["boot"] for r in runs])
            pooled[spec.name][measure] = boots
            entry = {
                "mean": float(values.mean()),
                "per_seed": values.tolist(),
                "seed_range": [float(values.min()), float(values.max())],
                "interval": _interval(boots),
                "interval_width": float(np.diff(_interval(boots))[0]),
            }
            if "p_value" in runs[0][measure]:
                entry["p_values"] = [r[measure]["p_value"] for r in runs]
            summary["measures"][measure] = entry
        per_corpus[spec.name] = summary
    differences = []
    rng = np.random.default_rng(12345)
    names = [c.name for c in corpora]
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            for measure in pooled[a]:
                ba, bb = pooled[a][measure], pooled[b][measure]
                n = min(len(ba), len(bb))
                diff = rng.choice(ba, n, replace=False) - rng.choice(bb, n, replace=False)
                lo, hi = _interval(diff)
                differences.append(
                    {
                        "measure": measure,
                        "a": a,
                        "b": b,
                        "difference": per_corpus[a]["measures"][measure]["mean"]
                        - per_corpus[b]["measures"][measure]["mean"],
                        "interval": [lo, hi],
                        "real": bool(lo > 0 or hi < 0),
                    }
                )
    return {
        "config": cfg.to_dict(),
        "seeds": list(seeds),
        "n_bootstrap": n_bootstrap,
        "word_sets": common,
        "missing": missing,
        "corpora": per_corpus,
        "differences": differences,
    }
