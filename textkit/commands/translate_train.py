"""``textkit translate train``: a Transformer on your own parallel data (or registry corpora).

    textkit translate train --data pairs.tsv --src-column es --tgt-column en --out runs/es-en
    textkit translate train --data pairs.tsv ... --out runs/es-en --resume       # exactly where it stopped
    textkit translate train --corpus bible-es-en --init-from transformer-es-en --out runs/bible

The run folder keeps the tokenizer, exact-resume checkpoints and ``best/``, the model folder
with the lowest validation loss, which ``textkit translate ./runs/es-en/best`` then uses.
Rows are read with the same rules as ``classify train``: a clear error naming the file and
line for a short row, an empty side, or a missing column. Thin wrapper over
``textkit.recipes.translation_training``.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["train"], help="train a translation model")
    parser.add_argument(
        "--data",
        default=None,
        help="parallel data: CSV/TSV/JSON Lines with --src-column and --tgt-column (a header row names the columns); "
        "3%% of the sources (by hash) are held out for validation and 3%% for test",
    )
    parser.add_argument("--src-column", default=None, help="the source-language column (name or 0-based index)")
    parser.add_argument("--tgt-column", default=None, help="the target-language column (name or 0-based index)")
    parser.add_argument(
        "--corpus", action="append", default=[], help="a registry parallel corpus (repeatable), e.g. bible-es-en"
    )
    parser.add_argument("--out", required=True, help="the run folder (created; an existing run needs --resume)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out exactly where it stopped")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run folder in --out")
    parser.add_argument("--init-from", default=None, help="warm start from a translation model (name or folder)")
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--layers", type=int, default=3, help="encoder and decoder layers each (default 3)")
    parser.add_argument("--max-steps", type=int, default=20_000)
    parser.add_argument("--max-tokens", type=int, default=4000, help="padded tokens per batch (default 4000)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from textkit._folders import check_output
    from textkit.recipes.translation_training import TranslationTrainingConfig, file_spec, train_translation

    data = list(args.corpus)
    if args.data is not None:
        if args.src_column is None or args.tgt_column is None:
            raise ValueError("--data needs --src-column and --tgt-column (names from the header, or 0-based indices)")
        data.append(file_spec(args.data, args.src_column, args.tgt_column))
    if not data:
        raise ValueError("give --data FILE (with --src-column/--tgt-column) or --corpus NAME")
    if not args.resume:
        check_output(args.out, kind="translation_run", inputs=[args.data, args.init_from], overwrite=args.overwrite)
        if args.overwrite and Path(args.out).is_dir():
            import shutil

            shutil.rmtree(args.out)  # a same-kind run folder, checked above
    config = TranslationTrainingConfig(
        data=tuple(data),
        vocab_size=args.vocab_size,
        d_model=args.d_model,
        n_encoder_layers=args.layers,
        n_decoder_layers=args.layers,
        d_ff=4 * args.d_model,
        max_steps=args.max_steps,
        max_tokens=args.max_tokens,
        lr=args.lr,
        eval_every=args.eval_every,
        checkpoint_every=args.eval_every,
        precision=args.precision,
        seed=args.seed,
    )
    summary = train_translation(
        config,
        args.out,
        resume=args.resume,
        init_from=args.init_from,
        threads=args.threads,
        log=lambda m: print(m, file=sys.stderr, flush=True),
    )
    print(
        f"trained {summary['steps']:,} steps ({summary['tokens_seen']:,} target tokens, "
        f"{summary['train_seconds'] / 60:.1f} min); best valid loss {summary['best_valid_loss']:.4f} at step "
        f"{summary['best_step']:,} -> {Path(args.out) / 'best'}"
    )
    return 0
