"""``textkit lm pretrain | generate | evaluate``: thin wrappers over
``textkit.recipes.language_model``."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from textkit.data.tables import DEFAULT_MAX_LINE_BYTES, FORMATS

FILE_OPTIONS = ("format", "text_column", "encoding", "max_line_bytes")
LLM_PRECISIONS = ("fp32", "bf16", "int8", "q4")  # textkit.nn.quantize.PRECISIONS (not imported: no torch here)


def _add_file_options(parser: argparse.ArgumentParser) -> None:
    """How --data files are read (``textkit.data.read_table``); the same options as ``classify``'s."""
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="format of the --data files (default: from the suffix; .txt is one document per line)",
    )
    parser.add_argument("--text-column", default=None, help="CSV/TSV column or JSON key holding the text")
    parser.add_argument("--encoding", default=None, help="text encoding of the --data files (default utf-8)")
    parser.add_argument(
        "--max-line-bytes",
        type=int,
        default=None,
        help=f"refuse longer lines/documents in --data files (default {DEFAULT_MAX_LINE_BYTES:,})",
    )


def _file_options(args: argparse.Namespace) -> dict:
    """--format/--text-column/... as ``DataSettings`` fields; an error when given without --data."""
    given = {name: getattr(args, name) for name in FILE_OPTIONS if getattr(args, name) is not None}
    if given and not args.data:
        names = ", ".join("--" + name.replace("_", "-") for name in given)
        raise ValueError(f"{names} describe(s) --data files; give --data FILE, or drop {names}")
    return {("file_format" if name == "format" else name): value for name, value in given.items()}


def _data_files(paths: list[str]) -> tuple[str, ...]:
    if "-" in paths:
        raise ValueError(
            "--data - (stdin) cannot be used here: the model records each file's path and sha256, and "
            "`textkit lm evaluate` reads the files again; save the text to a file first"
        )
    for path in paths:
        if not Path(path).exists():
            raise FileNotFoundError(f"data file {path} does not exist")
    return tuple(str(Path(path).resolve()) for path in paths)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="lm_action", required=True)

    pre = actions.add_parser("pretrain", help="train a language model from a recipe and save a model folder")
    source = pre.add_mutually_exclusive_group()
    source.add_argument("--corpus", default=None, help="corpus name (default: the recipe's, e.g. brown)")
    source.add_argument(
        "--data",
        nargs="+",
        default=None,
        metavar="FILE",
        help="train on your own text instead of a corpus: .txt files (one document per line), CSV/TSV/JSON Lines "
        "(--text-column) or folders of .txt files (one document per file). Non-empty documents are split into "
        "train/valid/test by document: their keys (file:line) are sorted, permuted with the recipe's split_seed "
        "(default 0) and cut into its fractions (default 80/10/10), so the same files give the same split. Each "
        "file's absolute path and sha256 are recorded in config.json and the model card",
    )
    _add_file_options(pre)
    pre.add_argument(
        "--tokenizer", choices=["word", "sentencepiece"], default=None, help="override the recipe's tokenizer"
    )
    pre.add_argument(
        "--config",
        required=True,
        help="a shipped recipe's name (e.g. awd_lstm-small; see models/) or a recipe JSON file",
    )
    pre.add_argument("--out", required=True, help="output model folder (a new folder; see --overwrite and --resume)")
    pre.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing LM folder: the new run trains apart and is swapped in only once it is complete",
    )
    pre.add_argument("--max-steps", type=int, default=None)
    pre.add_argument("--epochs", type=int, default=None)
    pre.add_argument("--seed", type=int, default=None)
    pre.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the recipe's)")
    pre.add_argument(
        "--init-from",
        default=None,
        metavar="DIR",
        help="start from this trained LM folder's weights and vocabulary (same recipe and direction) with a "
        "fresh optimizer and schedule: a second training cycle",
    )
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
    gen.add_argument("model_dir", help="an LM folder, or a pretrained LLM's name (smollm2-135m)")
    gen.add_argument("--chat", action="store_true", help="pretrained chat LLMs: answer the prompt as a user message")
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
    gen.add_argument(
        "--precision",
        choices=LLM_PRECISIONS,
        default=None,
        help="pretrained LLMs on the CPU: fp32, bf16, int8, or q4 (the GGUF's own 4-bit weights; fastest); default: "
        "the model's generation precision (`textkit models info NAME`; q4 for smollm2-135m)",
    )

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
    ev_source = ev.add_mutually_exclusive_group()
    ev_source.add_argument(
        "--corpus", default=None, help="default: the corpus (or the split of the --data files) the model was trained on"
    )
    ev_source.add_argument(
        "--data",
        nargs="+",
        default=None,
        metavar="FILE",
        help="evaluate on every document of these files (held-out text of your own) instead of a split",
    )
    _add_file_options(ev)
    ev.add_argument("--split", default="test", choices=["train", "valid", "test"])
    ev.add_argument("--bptt", type=int, default=70, help="tokens per sequence (default 70)")
    ev.add_argument(
        "--batch-size", type=int, default=16, help="sequences per batch (default 16; fewer when the text is short)"
    )
    ev.add_argument(
        "--precision",
        choices=LLM_PRECISIONS,
        default=None,
        help="pretrained LLMs on the CPU: fp32 (default), bf16, int8, or q4 (the GGUF's own 4-bit weights)",
    )
    ev.add_argument("--json", action="store_true", help="print the metrics as JSON")


def run(args: argparse.Namespace) -> int:
    from textkit.recipes import language_model as lm

    if args.lm_action == "pretrain":
        import dataclasses

        from textkit.data.models import find_recipe

        recipe = lm.LMRecipe.load(find_recipe(args.config))
        file_options = _file_options(args)
        if args.corpus:
            recipe = dataclasses.replace(recipe, data=dataclasses.replace(recipe.data, corpus=args.corpus, files=()))
        if args.data:
            data = dataclasses.replace(recipe.data, corpus="", files=_data_files(args.data), **file_options)
            recipe = dataclasses.replace(recipe, data=data)
        if args.tokenizer:
            recipe = dataclasses.replace(recipe, tokenizer=dataclasses.replace(recipe.tokenizer, kind=args.tokenizer))
        train = recipe.train
        for name in ("seed", "lr", "device", "precision"):
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
        from contextlib import nullcontext

        from textkit._folders import check_output
        from textkit._io import atomic_folder

        out = Path(args.out)
        replacing = False
        if not args.resume:
            inputs = [args.pipeline, args.init_from, *recipe.data.files]
            check_output(out, kind="language_model", inputs=inputs, overwrite=args.overwrite)
            # an existing model is replaced only by a complete run: an interrupted one leaves it untouched
            replacing = out.is_dir() and any(out.iterdir())
        target = atomic_folder(out) if replacing else nullcontext(out)
        with target as folder:
            metrics = lm.pretrain_language_model(
                recipe,
                folder,
                epochs=args.epochs,
                max_steps=args.max_steps,
                resume=args.resume,
                quiet=args.quiet,
                command=command,
                n_workers=args.workers,
                pipeline=pipeline,
                init_from=args.init_from,
            )
        from textkit.train.distributed import current

        if not current().is_main:  # under torchrun only rank 0 reports
            return 0
        trained_on = f" on {lm.data_name(recipe.data)}" if recipe.data.files else ""
        print(
            f"{recipe.name}{trained_on}: validation perplexity {metrics['valid_perplexity']:.2f} (loss "
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
                chat=args.chat,
                precision=args.precision,
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
        file_options = _file_options(args)
        metrics = lm.evaluate_language_model(
            args.model_dir,
            args.corpus,
            args.split,
            args.batch_size,
            args.bptt,
            files=_data_files(args.data) if args.data else None,
            file_options=file_options,
            precision=args.precision,
        )
        if metrics.get("batch_size", args.batch_size) < args.batch_size:  # a short text: the batch shrank to fit
            what = metrics["corpus"] + ("" if metrics["split"] == "all" else f" ({metrics['split']} split)")
            print(
                f"textkit: {what} is too short for --batch-size {args.batch_size} (each row of a batch needs at least "
                f"2 of its tokens); evaluated with --batch-size {metrics['batch_size']}",
                file=sys.stderr,
            )
        if args.json:
            print(json.dumps(metrics))
        else:
            print(
                f"{metrics['corpus']} {metrics['split']}: perplexity {metrics['perplexity']:.2f} "
                f"(loss {metrics['loss']:.4f}, accuracy {metrics['accuracy']:.4f}, {metrics['tokens']} tokens)"
            )
        return 0
    raise ValueError(f"unknown lm action {args.lm_action!r}")
