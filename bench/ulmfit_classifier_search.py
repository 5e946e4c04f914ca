"""Classifier recipe search for `textkit reproduce ulmfit`, on an inner split of fold 0's training texts.

The shipped recipe's classifier schedule was chosen for the *random* encoder of the
no-pretraining ablation (``ulmfit_recipe_audit.json``). This script asks the same question for a
*pretrained* encoder: it trains classifiers from a fine-tuned LM folder (written by ``reproduce
ulmfit`` under ``OUT/finetuned/fwd``) with each candidate setting and scores them on 10% of the
distinct training texts held out (the fold-0 test texts are never read). Every candidate runs on
the same split and seeds; ``--scratch`` also trains each candidate from a random encoder of the
same size, so a change of schedule can be given to the ablation as well.

    .venv/bin/python bench/ulmfit_classifier_search.py --finetuned runs/ulmfit/finetuned/fwd \
        --out bench/results/ulmfit_classifier_search.json [--seeds 0,1] [--only NAME,...] [--scratch]

``--lm NAME|DIR --finetune-epochs 1,3`` instead fine-tunes the pretrained forward LM on the
inner training texts (the held-out ones are not seen, as the fold's test texts are not in the
real recipe) with ``reproduce ulmfit``'s fine-tuning settings and each number of unfrozen epochs,
then trains the candidates on each fine-tuned LM (``encoder`` is then ``finetuned-<epochs>``).

A held-out set of ~1,150 snippets has a standard error near 1.2 points, so differences below
about two points between candidates are not evidence; the JSON records every run for that reason.
Results are appended as they finish (a rerun with ``--only`` adds to the same file).
``--quick`` trains on 200 texts for a few steps (smoke test).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from textkit.reproduce.ulmfit import FULL_SETTINGS

# reproduce ulmfit's classifier settings with the two epochs it trained before this search
BASE = {**FULL_SETTINGS["classifier"], "stages": FULL_SETTINGS["classifier"]["stages"][:2]}
CANDIDATES = {
    "two_epochs": {},  # the default before this search
    "three_epochs": {"stages": [*BASE["stages"], {"groups": "all", "epochs": 1, "lr": 0.001}]},
    "drop_0.7": {"drop_mult": 0.7},
    "discriminative_2.6": {
        "lr_factor": 2.6,
        "stages": [{"groups": "all", "epochs": 1, "lr": 0.01}, {"groups": "all", "epochs": 1, "lr": 0.004}],
    },
    "batch_32": {"batch_size": 32},
    "head_first": {"stages": [{"groups": 1, "epochs": 1, "lr": 0.02}, *BASE["stages"]]},
}


def inner_split(seed: int = 1234, fraction: float = 0.1):
    """Fold 0's training texts split into (train, valid) by distinct text (duplicates stay together)."""
    from textkit.reproduce.ulmfit import fold_zero_split

    split = fold_zero_split(0, FULL_SETTINGS)
    texts, labels = split.train_texts, split.train_labels
    distinct = sorted(set(texts))
    rng = np.random.default_rng(seed)
    held = {distinct[i] for i in rng.choice(len(distinct), round(fraction * len(distinct)), replace=False)}
    train = [(t, y) for t, y in zip(texts, labels, strict=True) if t not in held]
    valid = [(t, y) for t, y in zip(texts, labels, strict=True) if t in held]
    return [t for t, _ in train], [y for _, y in train], [t for t, _ in valid], [y for _, y in valid]


def scratch_encoder(train_texts: list[str], pretrained: list):
    """A random encoder's config (the pretrained one's sizes, else tiny ones) and a pipeline on a
    vocabulary of the training texts, as the no-pretraining ablation builds them."""
    from textkit.nn.awd_lstm import AWDLSTMConfig
    from textkit.text import TextPipeline, Tokenizer, Vocab

    tokenizer = Tokenizer(add_bos=True)
    pipeline = TextPipeline(tokenizer, Vocab.build(tokenizer.tokenize_many(train_texts), min_freq=2, max_size=16000))
    size = pretrained[0].model.config if pretrained else None
    config = AWDLSTMConfig(
        vocab_size=len(pipeline),
        pad_index=pipeline.pad_index,
        emb_size=size.emb_size if size else 16,
        hidden_size=size.hidden_size if size else 32,
        n_layers=size.n_layers if size else 2,
    )
    return config, pipeline


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--finetuned", type=Path, help="a fine-tuned forward LM folder (reproduce ulmfit OUT/finetuned/fwd)"
    )
    parser.add_argument("--lm", default=None, help="a pretrained forward LM (name or folder) to fine-tune here")
    parser.add_argument("--finetune-epochs", default="1", help="with --lm: unfrozen fine-tuning epochs to compare")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--only", default=None, help="comma-separated candidate names (default: all)")
    parser.add_argument("--scratch", action="store_true", help="also train each candidate from a random encoder")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)

    import torch

    from textkit._io import atomic_write_json, versions
    from textkit.transfer import load_pretrained
    from textkit.transfer.training import settings_from_dict, train_classifier

    torch.set_num_threads(args.threads)
    names = args.only.split(",") if args.only else list(CANDIDATES)
    unknown = sorted(set(names) - set(CANDIDATES))
    if unknown:
        parser.error(f"unknown candidates {unknown}; known: {sorted(CANDIDATES)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    train_texts, train_labels, valid_texts, valid_labels = inner_split()
    if args.quick:
        train_texts, train_labels, valid_texts, valid_labels = (
            train_texts[:200],
            train_labels[:200],
            valid_texts[:100],
            valid_labels[:100],
        )
    finetuning: dict[str, dict] = {}
    if args.lm is not None:
        from textkit.transfer import adapt_to_texts, fine_tune_language_model

        encoders = {}
        for epochs in [int(e) for e in args.finetune_epochs.split(",")]:
            bundle = load_pretrained(args.lm)
            raw_ft = {**FULL_SETTINGS["finetune"], "epochs": epochs}
            finetune, _ = settings_from_dict({"finetune": raw_ft})
            started = time.perf_counter()
            model, pipeline, _ = adapt_to_texts(
                bundle, train_texts, min_freq=finetune.min_freq, max_vocab=finetune.max_vocab
            )
            model, ft_metrics = fine_tune_language_model(model, pipeline, train_texts, finetune, seed=0, device="cpu")
            name = f"finetuned-{epochs}"
            encoders[name] = type(bundle)(model, pipeline, bundle.config)
            finetuning[name] = {
                "settings": raw_ft,
                "perplexity": ft_metrics["perplexity"],
                "seconds": round(time.perf_counter() - started, 1),
            }
            print(f"{name}: LM valid perplexity {ft_metrics['perplexity']:.2f}", file=sys.stderr, flush=True)
    elif args.finetuned is None:
        if not args.quick:
            parser.error("--finetuned or --lm is required (or --quick, which trains a tiny random LM)")
        encoders: dict = {"scratch": None}
    else:
        bundle = load_pretrained(args.finetuned)
        if bundle.config.get("data", {}).get("backwards", False):
            parser.error(f"{args.finetuned} is a backward LM; give the forward one")
        encoders = {"pretrained": bundle}
    # what train_classifier starts from: a fine-tuned LM (its encoder's weights are copied) or a config
    trainable = {kind: (bundle.model, bundle.pipeline) for kind, bundle in encoders.items() if bundle is not None}
    if "scratch" in encoders or args.scratch:
        trainable["scratch"] = scratch_encoder(train_texts, [e for e in encoders.values() if e is not None])
    report = json.loads(args.out.read_text()) if args.out.exists() else {"runs": []}
    report.update(
        {
            "what": __doc__.split("\n\n")[0],
            "data": {
                "corpus": "rotten-tomatoes",
                "fold": 0,
                "inner_split": "10% of fold 0's distinct training texts, numpy default_rng(1234)",
                "n_train": len(train_texts),
                "n_valid": len(valid_texts),
            },
            "finetuned": str(args.finetuned) if args.finetuned else None,
            "finetuned_config": (
                {"finetune": encoders["pretrained"].config.get("finetune")} if "pretrained" in encoders else None
            ),
            "lm": args.lm,
            "finetuning": finetuning,
            "quick": args.quick,
            "threads": args.threads,
            "versions": versions(git=True),
        }
    )
    for name in names:
        raw = {**BASE, **CANDIDATES[name]}
        if args.quick:
            raw = {**raw, "stages": [{"groups": "all", "epochs": 1, "lr": 0.005}], "batch_size": 32}
        _, settings = settings_from_dict({"classifier": raw})
        for kind, (encoder, pipeline) in trainable.items():
            for seed in seeds:
                started = time.perf_counter()
                clf, metrics = train_classifier(
                    encoder,
                    pipeline,
                    train_texts,
                    train_labels,
                    settings,
                    valid=(valid_texts, valid_labels),
                    seed=seed,
                    device="cpu",
                )
                accuracy = clf.score(valid_texts, valid_labels)
                run = {
                    "candidate": name,
                    "encoder": kind,
                    "seed": seed,
                    "inner_valid_accuracy": accuracy,
                    "seconds": round(time.perf_counter() - started, 1),
                    "stages": metrics["stages"],
                    "settings": raw,
                }
                print(f"{name} {kind} seed {seed}: {accuracy:.4f} ({run['seconds']} s)", file=sys.stderr, flush=True)
                report["runs"].append(run)
                atomic_write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
