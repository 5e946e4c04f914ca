"""``textkit lm pretrain | generate | evaluate``: thin wrappers over
``textkit.recipes.language_model``."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="lm_action", required=True)

    pre = actions.add_parser("pretrain", help="train a language model from a recipe and save a model folder")
    pre.add_argument("--corpus", default=None, help="corpus name (default: the recipe's, e.g. brown)")
    pre.add_argument(
        "--tokenizer", choices=["word", "sentencepiece"], default=None, help="override the recipe's tokenizer"
    )
    pre.add_argument(
        "--config",
        required=True,
        help="a shipped recipe's name (e.g. awd_lstm-small; see models/) or a recipe JSON file",
    )
    pre.add_argument("--out", required=True, help="output model folder")
    pre.add_argument("--max-steps", type=int, default=None)
    pre.add_argument("--epochs", type=int, default=None)
    pre.add_argument("--seed", type=int, default=None)
    pre.add_argument("--device", default=None, help="auto (default), cpu or cuda")
    pre.add_argument("--precision", default=None, choices=["auto", "fp32", "bf16", "fp16"])
    pre.add_argument("--resume", action="store_true", help="continue exactly from OUT/checkpoints")
    pre.add_argument("--workers", type=int, default=1, help="tokenizer worker processes")
    pre.add_argument("--quiet", action="store_true", help="no progress bar or per-validation lines")
    pre.add_argument("--backwards", action="store_true", help="train a backward LM (documents read right to left)")
    pre.add_argument(
        "--pipeline",
        default=None,
        help="reuse the tokenizer + vocabulary saved in this folder (a backward LM shares its forward twin's)",
    )

    gen = actions.add_parser("generate", help="sample a continuation of a prompt (seeded)")
    gen.add_argument("model_dir")
    gen.add_argument("--prompt", required=True)
    gen.add_argument("--max-new-tokens", type=int, default=50)
    gen.add_argument("--temperature", type=float, default=1.0)
    gen.add_argument("--top-k", type=int, default=None)
    gen.add_argument(
        "--top-p",
        type=float,
        default=None,
        help="nucleus sampling: keep the smallest set with mass >= p (textkit.decode)",
    )
    gen.add_argument("--min-p", type=float, default=None, help="drop tokens below min_p x the top probability")
    gen.add_argument("--repetition-penalty", type=float, default=None, help="CTRL penalty (> 1 discourages repeats)")
    gen.add_argument("--no-repeat-ngram", type=int, default=None, help="never repeat an n-gram of this size")
    gen.add_argument(
        "--beam",
        type=int,
        default=None,
        help="beam search with this many beams (deterministic; ignores sampling options)",
    )
    gen.add_argument("--seed", type=int, default=0)

    exp = actions.add_parser(
        "export", help="turn trained LM folders into a shipped pretrained model (bf16 weights, sha256 manifest)"
    )
    exp.add_argument("--forward", default=None, help="the forward LM folder (textkit lm pretrain --out)")
    exp.add_argument("--backward", default=None, help="the backward LM folder (textkit lm pretrain --backwards)")
    exp.add_argument("--name", required=True, help="the model's name, e.g. awd_lstm-en")
    exp.add_argument("--to", default="models", help="the folder that receives NAME/ (default: models)")
    exp.add_argument("--dtype", default="bf16", choices=["bf16", "fp16", "fp32"], help="storage type of the weights")

    ev = actions.add_parser("evaluate", help="perplexity of a saved model on a corpus split")
    ev.add_argument("model_dir")
    ev.add_argument("--corpus", default=None, help="default: the corpus the model was trained on")
    ev.add_argument("--split", default="test", choices=["train", "valid", "test"])
    ev.add_argument("--bptt", type=int, default=70)
    ev.add_argument("--batch-size", type=int, default=16)
    ev.add_argument("--json", action="store_true", help="print the metrics as JSON")


def run(args: argparse.Namespace) -> int:
    from textkit.recipes import language_model as lm

    if args.lm_action == "pretrain":
        import dataclasses

        from textkit.data.models import find_recipe

        recipe = lm.LMRecipe.load(find_recipe(args.config))
        if args.corpus:
            recipe = dataclasses.replace(recipe, data=dataclasses.replace(recipe.data, corpus=args.corpus))
        if args.tokenizer:
            recipe = dataclasses.replace(recipe, tokenizer=dataclasses.replace(recipe.tokenizer, kind=args.tokenizer))
        train = recipe.train
        for name in ("seed", "device", "precision"):
            if getattr(args, name) is not None:
                train = dataclasses.replace(train, **{name: getattr(args, name)})
        recipe = dataclasses.replace(recipe, train=train)
        if args.backwards:
            recipe = dataclasses.replace(recipe, data=dataclasses.replace(recipe.data, backwards=True))
        pipeline = None
        if args.pipeline:
            from textkit.text import load_pipeline

            pipeline = load_pipeline(args.pipeline)
        command = "textkit " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["lm"] else None
        metrics = lm.pretrain_language_model(
            recipe,
            args.out,
            epochs=args.epochs,
            max_steps=args.max_steps,
            resume=args.resume,
            quiet=args.quiet,
            command=command,
            n_workers=args.workers,
            pipeline=pipeline,
        )
        from textkit.train.distributed import current

        if not current().is_main:  # under torchrun only rank 0 reports
            return 0
        print(
            f"{recipe.name}: validation perplexity {metrics['valid_perplexity']:.2f} (loss "
            f"{metrics['valid_loss']:.4f}), "
            f"test perplexity {metrics['test_perplexity']:.2f}; {metrics['steps']} steps, "
            f"{metrics['train_tokens_per_s']} tokens/s; saved to {Path(args.out)}"
        )
        return 0
    if args.lm_action == "generate":
        print(
            lm.generate_text(
                args.model_dir,
                args.prompt,
                args.max_new_tokens,
                temperature=args.temperature,
                seed=args.seed,
                top_k=args.top_k,
                top_p=args.top_p,
                min_p=args.min_p,
                repetition_penalty=args.repetition_penalty,
                no_repeat_ngram=args.no_repeat_ngram,
                beam=args.beam,
            )
        )
        return 0
    if args.lm_action == "export":
        from textkit.recipes.pretrained import export_pretrained

        runs = {d: getattr(args, d) for d in ("forward", "backward") if getattr(args, d)}
        if not runs:
            raise ValueError("give --forward and/or --backward LM folders to export")
        manifest = export_pretrained(runs, args.name, args.to, dtype=args.dtype)
        for direction, facts in manifest["directions"].items():
            print(
                f"{args.name} {direction}: {facts['bytes']:,} bytes ({facts['stored_dtype']}), perplexity valid "
                f"{facts['perplexity']['valid']:.2f} / test {facts['perplexity']['test']:.2f}"
            )
        print(f"wrote {Path(args.to) / args.name}/manifest.json")
        return 0
    if args.lm_action == "evaluate":
        metrics = lm.evaluate_language_model(args.model_dir, args.corpus, args.split, args.batch_size, args.bptt)
        if args.json:
            print(json.dumps(metrics))
        else:
            print(
                f"{metrics['corpus']} {metrics['split']}: perplexity {metrics['perplexity']:.2f} "
                f"(loss {metrics['loss']:.4f}, accuracy {metrics['accuracy']:.4f}, {metrics['tokens']} tokens)"
            )
        return 0
    raise ValueError(f"unknown lm action {args.lm_action!r}")
