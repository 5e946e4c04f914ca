"""Bias of a contextual model: sentence encodings from a causal LM, SEAT over them, a report.

SEAT (May et al. 2019) is WEAT over sentence encodings: each word of the four sets is put into
"semantically bleached" templates (``"This is {}."``) and every sentence is one unit of the test.
For a decoder-only model the sentence encoding is built from the final hidden states (after
the final norm) of the sentence's tokens:

- ``pooling="mean"`` (default): the mean over the sentence's real tokens;
- ``pooling="last"``: the state of its last token, the only position that has read the whole
  sentence. This is what May et al. used for OpenAI's GPT.

Batches are right-padded. Attention is causal, so a real position never attends to the padding
after it (no key mask is needed, as in :meth:`LlamaLanguageModel.run_blocks`), and the pooling
reads real positions only; a sentence encoded alone or in a padded batch gives the same vector
(a test checks it to 1e-5). Encoding runs under ``torch.no_grad`` in eval mode: no dropout, no
randomness. Randomness lives in the permutation test and the bootstrap, which take ``seed``.

:func:`encode_sentences` is the maths; :class:`SentenceEncoder` wraps a model and tokenizer as
the ``encode(list[str]) -> ndarray`` callable :func:`textkit.bias.weat.seat` takes, with a
cache so sentences shared by several tests (the pleasant/unpleasant lists) are encoded once.
:func:`seat_audit` runs a battery of tests on any such callable; :func:`write_seat_report`
writes ``report.md``, ``results.json`` and ``effect_sizes.png`` like the embeddings audit.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from textkit.bias.weat import (
    DEFAULT_EXACT_LIMIT,
    DEFAULT_MC_PERMUTATIONS,
    SEAT_TEMPLATES,
    count_partitions,
    permutation_p_value,
    seat,
)
from textkit.bias.wordsets import InsufficientWordsError, WeatTest, prepare_sets
from textkit.nn.modes import eval_mode
from textkit.nn.pooling import pool_states

__all__ = [
    "POOLINGS",
    "EncoderSentences",
    "SeatReport",
    "SentenceEncoder",
    "encode_sentences",
    "pool_hidden",
    "seat_audit",
    "word_level_p_value",
    "write_seat_report",
]

POOLINGS = ("mean", "last")


def pool_hidden(hidden: torch.Tensor, lengths: torch.Tensor, pooling: str = "mean") -> torch.Tensor:
    """One vector per row of right-padded hidden states (B, T, D) whose first ``lengths[i]``
    positions are real: their mean (``"mean"``) or the state at ``lengths[i] - 1`` (``"last"``). (B, D)"""
    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}; use one of {POOLINGS}")
    return pool_states(hidden, lengths, (pooling,))


def encode_sentences(
    model: torch.nn.Module,
    tokenizer: Any,
    sentences: Sequence[str],
    *,
    pooling: str = "mean",
    batch_size: int = 32,
) -> np.ndarray:
    """Pooled final hidden states of each sentence: float32 array (len(sentences), D).

    ``model`` needs ``features(ids (B, T)) -> (hidden (B, T, D), state)`` (a
    :class:`~textkit.nn.llama.LlamaLanguageModel`); ``tokenizer`` needs ``encode_documents``
    (a BOS token is prepended only when the tokenizer itself adds one). Sentences are batched
    by length (fewer pad positions) and returned in the order given. The hidden states are read
    in float32 whatever the model's dtype.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}; use one of {POOLINGS}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if not hasattr(model, "features"):
        raise TypeError(
            f"{type(model).__name__} has no features(ids) method; sentence encodings need a decoder "
            "that returns its final hidden states (a Llama-style model such as smollm2-135m)"
        )
    sentences = list(sentences)
    docs = [np.asarray(ids, dtype=np.int64) for ids in tokenizer.encode_documents(sentences)]
    empty = [s for s, ids in zip(sentences, docs, strict=True) if len(ids) == 0]
    if empty:
        raise ValueError(f"{len(empty)} sentences have no tokens (first: {empty[0]!r}); give non-empty text")
    limit = getattr(getattr(model, "config", None), "max_len", None)
    too_long = [s for s, ids in zip(sentences, docs, strict=True) if limit is not None and len(ids) > limit]
    if too_long:
        raise ValueError(
            f"{len(too_long)} sentences exceed the model's context of {limit} tokens (first: {too_long[0][:80]!r})"
        )
    device = next(model.parameters()).device
    features = cast(Any, model).features
    order = sorted(range(len(docs)), key=lambda i: len(docs[i]))  # stable: ties keep input order
    pooled = []
    with torch.no_grad(), eval_mode(model):
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            lengths = torch.tensor([len(docs[i]) for i in rows])
            ids = torch.zeros(len(rows), int(lengths.max()), dtype=torch.long)  # (B, T); pad id 0 is never read
            for j, i in enumerate(rows):
                ids[j, : len(docs[i])] = torch.from_numpy(docs[i])
            hidden, _ = features(ids.to(device))  # (B, T, D)
            pooled.append(pool_hidden(hidden.float(), lengths, pooling).cpu().numpy())  # (B, D)
    if not pooled:
        return np.empty((0, 0), dtype=np.float32)
    out = np.empty((len(docs), pooled[0].shape[1]), dtype=np.float32)
    out[order] = np.concatenate(pooled)
    return out


class SentenceEncoder:
    """``encode(list[str]) -> ndarray (n, D)`` over a causal LM, for :func:`textkit.bias.weat.seat`.

    Each distinct sentence is encoded once and remembered (``cache_size`` says how many are).
    """

    def __init__(self, model: torch.nn.Module, tokenizer: Any, *, pooling: str = "mean", batch_size: int = 32):
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; use one of {POOLINGS}")
        self.model = model
        self.tokenizer = tokenizer
        self.pooling = pooling
        self.batch_size = batch_size
        self._cache: dict[str, np.ndarray] = {}

    @property
    def cache_size(self) -> int:
        return len(self._cache)

    def __call__(self, sentences: list[str]) -> np.ndarray:
        if not sentences:
            raise ValueError("no sentences to encode")
        new = list(dict.fromkeys(s for s in sentences if s not in self._cache))
        if new:
            vectors = encode_sentences(
                self.model, self.tokenizer, new, pooling=self.pooling, batch_size=self.batch_size
            )
            self._cache.update(zip(new, vectors, strict=True))
        return np.stack([self._cache[s] for s in sentences])


class EncoderSentences:
    """``encode(list[str]) -> ndarray (n, D)`` over a pretrained bidirectional encoder (a loaded
    :class:`textkit.nn.sentence.SentenceEncoder`, e.g. ``minilm-l6``): its own sentence
    embedding (the mean over the sentence's word pieces for all-MiniLM-L6-v2), cached per
    distinct sentence like :class:`SentenceEncoder`."""

    def __init__(self, encoder: Any, *, batch_size: int = 32) -> None:
        self.encoder, self.batch_size = encoder, batch_size
        self._cache: dict[str, np.ndarray] = {}

    @property
    def pooling(self) -> str:
        return str(self.encoder.pooling)

    @property
    def cache_size(self) -> int:
        return len(self._cache)

    def __call__(self, sentences: list[str]) -> np.ndarray:
        if not sentences:
            raise ValueError("no sentences to encode")
        new = list(dict.fromkeys(s for s in sentences if s not in self._cache))
        if new:
            vectors = self.encoder.encode(new, batch_size=self.batch_size, normalize=False)
            self._cache.update(zip(new, vectors, strict=True))
        return np.stack([self._cache[s] for s in sentences])


def word_level_p_value(
    scores_x: np.ndarray,
    scores_y: np.ndarray,
    n_templates: int,
    *,
    n_permutations: int | None = None,
    exact_limit: int = DEFAULT_EXACT_LIMIT,
    seed: int = 0,
) -> tuple[float | None, str, int, int]:
    """SEAT's p-value with **whole words** permuted, as in the WEAT test it extends.

    ``scores_x`` and ``scores_y`` are the sentences' associations ``s(w, A, B)``, word-major
    (each word's ``n_templates`` sentences together, as :func:`textkit.bias.weat.seat` builds
    them). A word's unit is the sum of its sentences' scores, so the test statistic is the
    sentence-level one exactly; only the null distribution changes: the partitions are of the
    target *words* (``C(|X| + |Y|, |X|)``, usually few enough to count exactly) instead of their
    sentences, which treats the sentences of one word as the one draw they are. Returns
    ``(p, method, n, n_partitions)``; ``n_permutations=0`` gives no p-value."""
    sx, sy = np.asarray(scores_x, dtype=np.float64), np.asarray(scores_y, dtype=np.float64)
    if n_templates < 1 or sx.size % n_templates or sy.size % n_templates:
        raise ValueError(f"{sx.size} and {sy.size} sentence scores are not whole words of {n_templates} templates")
    words_x, words_y = sx.reshape(-1, n_templates).sum(1), sy.reshape(-1, n_templates).sum(1)
    n_partitions = count_partitions(len(words_x), len(words_y))
    if n_permutations == 0:
        return None, "none", 0, n_partitions
    p, method, n = permutation_p_value(
        np.concatenate([words_x, words_y]),
        len(words_x),
        n_permutations=DEFAULT_MC_PERMUTATIONS if n_permutations is None else n_permutations,
        exact_limit=exact_limit,
        seed=np.random.default_rng([seed, 1]),
    )
    return p, method, n, n_partitions


class _EveryWord:
    """A vocabulary that holds every word: a sentence encoder reads any text, so SEAT never
    misses a word, but the word sets still go through :func:`prepare_sets` (duplicates, sizes)."""

    name = "sentence encoder"

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and bool(word.strip())


def seat_audit(
    encode: Callable[[list[str]], np.ndarray],
    tests: Sequence[WeatTest],
    *,
    templates: Sequence[str] | None = SEAT_TEMPLATES,
    n_permutations: int | None = None,
    n_bootstrap: int = 2000,
    seed: int = 0,
    unequal: str = "keep",
    std_ddof: int = 1,
    exact_limit: int = DEFAULT_EXACT_LIMIT,
) -> tuple[list[dict[str, Any]], list[str]]:
    """SEAT on every test in ``tests``: one result row per test (refusals kept with the reason),
    and the warnings raised (repeated words, words in both target sets).

    Word sets are de-duplicated as in WEAT (:func:`textkit.bias.wordsets.prepare_sets`); each
    word gives ``len(templates)`` sentences and each sentence is one unit of the permutation
    test and of the bootstrap, as in May et al. (``p_value``: the paper's). Each row also has
    ``p_value_words``: the same statistic with whole words permuted (:func:`word_level_p_value`),
    as in the WEAT test SEAT extends; it is the honest one when a word's sentences are not
    independent draws. ``scores`` maps each target word to the mean association of its sentences.
    """
    rows: list[dict[str, Any]] = []
    caught: list[str] = []
    n_templates = 1 if templates is None else len(templates)
    for test in tests:
        started = time.perf_counter()
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            try:
                sets = prepare_sets(
                    _EveryWord(),
                    {"X": test.X, "Y": test.Y, "A": test.A, "B": test.B},
                    min_size=2,
                    max_missing_fraction=None,
                    unequal=unequal,
                    seed=seed,
                    test_name=test.name,
                )
                x, y, a, b = (sets.words[k] for k in "XYAB")
                stats = seat(
                    encode,
                    x,
                    y,
                    a,
                    b,
                    templates=templates,
                    n_permutations=n_permutations,
                    seed=seed,
                    exact_limit=exact_limit,
                    n_bootstrap=n_bootstrap,
                    std_ddof=std_ddof,
                )
                per_word = np.concatenate([stats.scores_x, stats.scores_y]).reshape(-1, n_templates).mean(1)
                p_words, method_words, n_words, partitions_words = word_level_p_value(
                    stats.scores_x,
                    stats.scores_y,
                    n_templates,
                    n_permutations=n_permutations,
                    exact_limit=exact_limit,
                    seed=seed,
                )
                scores = {w: float(v) for w, v in zip(x + y, per_word, strict=True)}
                row: dict[str, Any] = {
                    "name": test.name,
                    "sets": dict(zip("XYAB", (sets.names[k] for k in "XYAB"), strict=True)),
                    "statistic": stats.statistic,
                    "effect_size": stats.effect_size,
                    "p_value": stats.p_value,
                    "p_value_method": stats.p_value_method,
                    "n_permutations": stats.n_permutations,
                    "n_partitions": stats.n_partitions,
                    "p_value_unit": "sentence",  # May et al.'s: every sentence one unit
                    "p_value_words": p_words,  # whole words permuted, as in WEAT
                    "p_value_words_method": method_words,
                    "n_permutations_words": n_words,
                    "n_partitions_words": partitions_words,
                    "ci": list(stats.ci) if stats.ci else None,
                    "ci_level": stats.ci_level,
                    "n_bootstrap": stats.n_bootstrap,
                    "std_ddof": std_ddof,
                    "sizes": {sets.names[k]: len(sets.words[k]) for k in "XYAB"},
                    "sentences": {sets.names[k]: len(sets.words[k]) * n_templates for k in "XYAB"},
                    "missing": {k: v for k, v in sets.missing.items() if v},
                    "dropped": sets.dropped,
                    "duplicates": sets.duplicates,
                    "scores": scores,
                }
            except InsufficientWordsError as exc:
                row = test.refused_row(exc)
        caught += [f"{test.name}: {w.message}" for w in record]
        row["seconds"] = round(time.perf_counter() - started, 4)
        row["reference"] = dict(test.reference)
        rows.append(row)
    return rows, caught


@dataclass
class SeatReport:
    """A SEAT audit of one model: what was encoded how, the settings, one row per test."""

    model: dict[str, Any]
    encoder: dict[str, Any]
    tests: list[dict[str, Any]]
    config: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "encoder": self.encoder,
            "config": self.config,
            "tests": self.tests,
            "warnings": self.warnings,
        }

    def to_markdown(self, title: str | None = None) -> str:
        return render_seat_markdown(self, title or f"SEAT bias audit: {self.model.get('name', 'model')}")


def _p_text(row: dict[str, Any], words: bool = False) -> str:
    from textkit.bias.report import format_p

    suffix = "_words" if words else ""
    if words and "p_value_words" not in row:
        return "–"
    n = (
        row[f"n_permutations{suffix}"]
        if row[f"p_value{suffix}_method" if words else "p_value_method"] == "monte-carlo"
        else 0
    )
    return format_p(row[f"p_value{suffix}"], "", n)


def render_seat_markdown(report: SeatReport, title: str) -> str:
    m, enc, cfg = report.model, report.encoder, report.config
    pooling_text = {
        "mean": "the mean of the final-layer hidden states (after the final norm) over the sentence's tokens",
        "last": "the final-layer hidden state (after the final norm) of the sentence's last token",
        "cls": "the final-layer hidden state of the [CLS] token",
    }[enc["pooling"]]
    bidirectional = enc.get("attention") == "bidirectional"
    templates = enc.get("templates")
    n_templates = 1 if templates is None else len(templates)
    perms = cfg["n_permutations"] or "exact when <= 1e6 partitions, else 100,000 Monte-Carlo"
    source = m.get("source") or {}
    converted = f", converted from `{source['file']}` (sha256 `{source.get('sha256')}`)" if source.get("file") else ""
    bos = "A BOS token starts each sentence." if enc.get("bos") else "No BOS token is added (the tokenizer adds none)."
    theirs = "this run does too." if enc["pooling"] == "last" else "this run uses the mean (`--pooling last`: theirs)."
    if bidirectional:
        reading = (
            "right-padded with a padding mask (a sentence's states are those it has alone), no gradients, eval mode. "
            "May et al. (2019) used BERT's [CLS] state; this run uses the encoder's own sentence embedding "
            f"({enc['pooling']} pooling, the pooling it was trained with)."
        )
    else:
        reading = (
            "right-padded (causal attention never reads the padding), no gradients, eval mode. "
            f"{bos} May et al. (2019) used the last token's representation for GPT; {theirs}"
        )
    lines = [
        f"# {title}",
        "",
        f"Model: `{m.get('name')}` ({m.get('arch')}, {m.get('n_layers')} layers x {m.get('d_model')}, "
        f"{m.get('dtype')}), weights sha256 `{m.get('weights_sha256')}`{converted}.",
        "",
        f"Sentence encoding: **{enc['pooling']} pooling**, {pooling_text}; batches of {enc['batch_size']}, " + reading,
        "",
        f"Templates ({n_templates}, each word in each; every sentence is one unit of the test): "
        + (", ".join(f"`{t}`" for t in templates) if templates else "none (the sets are sentences)")
        + ".",
        "",
        f"Settings: test set `{cfg.get('test_set')}`, permutations {perms}, bootstrap {cfg['n_bootstrap']}, "
        f"seed {cfg['seed']}, unequal sizes: {cfg['unequal']}, std ddof {cfg['std_ddof']}.",
        "",
        "| test | d | 95% CI | p, sentences permuted (May et al.) | method | p, words permuted | words X/Y/A/B "
        "| sentences | WEAT d, GloVe (Caliskan 2017) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report.tests:
        glove = row.get("reference", {}).get("paper_effect_size_glove")
        glove_s = f"{glove:.2f}" if glove is not None else "–"
        if row.get("error"):
            lines.append(f"| {row['name']} | refused | – | – | – | – | – | – | {glove_s} |")
            continue
        d = row["effect_size"]
        d_s = f"{d:.3f}" if d is not None and math.isfinite(d) else "nan"
        ci = row.get("ci")
        ci_s = f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "–"
        sizes = "/".join(str(v) for v in row["sizes"].values())
        sentences = "/".join(str(v) for v in row["sentences"].values())
        lines.append(
            f"| {row['name']} | {d_s} | {ci_s} | {_p_text(row)} | {row['p_value_method']} | "
            f"{_p_text(row, words=True)} | {sizes} | "
            f"{sentences} | {glove_s} |"
        )
    refused = [r for r in report.tests if r.get("error")]
    if refused:
        lines += ["", "## Tests that refused to run", ""] + [f"- **{r['name']}**: {r['error']}" for r in refused]
    if report.warnings:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in report.warnings]
    lines += [
        "",
        "## Published numbers",
        "",
        "No published SEAT figures for this model are recorded in textkit's reference file (May et al. 2019 "
        "measured older encoders, ELMo, GPT and BERT), so none are printed here; nothing is quoted from memory. "
        "The last column is Caliskan et al.'s WEAT "
        "effect size on GloVe word vectors for the same word lists, for orientation only: a different "
        "method (single words, not sentences), a different model and different training data.",
        "",
        "## How to read this",
        "",
        "d is Caliskan et al.'s effect size computed over sentence encodings (May et al.'s SEAT): difference "
        "of mean cosine associations of the X and Y sentences with the A and B sentences, over the pooled "
        "sample standard deviation. p is the share of equal-size re-partitions of the target sentences whose "
        "statistic is at least the observed one (exact, or Monte-Carlo over seeded true permutations). "
        "Each word appears in every template and each sentence counts as one unit, as in May et al. (the "
        "paper's p-value, 'sentences permuted'); sentences of one word are not independent, so that p-value "
        "and the CI are optimistic. 'Words permuted' re-partitions whole target words (all of a word's "
        "sentences move together), as the WEAT test SEAT extends does: same statistic, an honest null. The CI "
        "is a percentile bootstrap over sentences of all four sets.",
        "",
        "SEAT measures association between chosen word lists in one model's sentence representations "
        "under one pooling. It depends on the lists, the templates and the pooling, says nothing direct "
        "about the model's generations or about systems built on it, and a non-significant result is not "
        "evidence of no bias (May et al. found SEAT results on contextual models inconsistent).",
        "",
    ]
    return "\n".join(lines)


def write_seat_report(report: SeatReport, out_dir: str | os.PathLike, *, title: str | None = None) -> dict[str, Path]:
    """Write ``report.md``, ``results.json`` and ``effect_sizes.png`` into ``out_dir`` (atomically)."""
    from textkit._io import atomic_write_json, atomic_write_text, to_jsonable
    from textkit.bias.report import plot_effect_sizes

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "results.json", "markdown": out / "report.md", "plot": out / "effect_sizes.png"}
    atomic_write_json(paths["json"], to_jsonable(report.to_dict()))
    plot_effect_sizes(
        report.tests,
        paths["plot"],
        title=f"SEAT effect sizes: {report.model.get('name')} ({report.encoder['pooling']} pooling)",
    )
    atomic_write_text(paths["markdown"], report.to_markdown(title) + "\n![effect sizes](effect_sizes.png)\n")
    return paths
