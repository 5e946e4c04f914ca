"""``textkit embed``: sentence embeddings of your texts with a pretrained encoder.

    textkit embed --data texts.txt --model minilm-l6 --out embeddings.npy
    cut -f2 reviews.tsv | textkit embed --data - --out reviews.npy --precision int8

Row ``i`` of the ``.npy`` (float32, ``(N, dim)``, L2-normalized unless ``--no-normalize``) is
the embedding of the ``i``-th text of ``--data``, whatever order the texts were batched in.
An empty text is refused (exit 1, naming its line); a text over 510 word pieces is cut to the
model's 512 positions, with a notice naming its line. The file is written under a temporary
name and renamed when complete; an existing ``--out`` is replaced only with ``--overwrite``.
Thin wrapper over ``textkit.nn.sentence``.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from textkit.commands.data_options import add_data_arguments, table_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_arguments(
        parser,
        data_help="texts to embed: plain text (one per line), CSV, TSV, JSON Lines, fastText lines or a folder",
        stdin=True,
        labels=False,
    )
    parser.add_argument(
        "--model",
        default="minilm-l6",
        help="a pretrained encoder's name (default minilm-l6: fetched and converted once) or a converted folder",
    )
    parser.add_argument("--out", required=True, help="the .npy file to write: float32 (texts, dim), in input order")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    parser.add_argument("--batch-size", type=int, default=32, help="texts per forward pass (default 32)")
    parser.add_argument(
        "--precision",
        choices=("fp32", "int8"),
        default="fp32",
        help="fp32 (exact) or int8 (dynamic quantization of the linear layers: faster, cosine ~0.97 to fp32)",
    )
    parser.add_argument("--no-normalize", action="store_true", help="keep the mean-pooled vectors unnormalized")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")


def _check_out(args: argparse.Namespace) -> Path:
    out = Path(args.out)
    if out.suffix.lower() != ".npy":
        raise ValueError(f"--out {out}: textkit embed writes a NumPy .npy file; give a name ending in .npy")
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; give the path of a .npy file")
    if out.exists() and args.data != "-" and Path(args.data).exists() and os.path.samefile(args.data, out):
        raise ValueError(f"--out {out} is the input file --data; write the embeddings elsewhere")
    if out.exists() and not args.overwrite:
        raise ValueError(f"--out {out} exists; pass --overwrite to replace it, or choose another name")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be at least 1, got {args.threads}")
    return out


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from textkit._io import atomic_open
    from textkit.data.tables import DataFileError, read_table

    out = _check_out(args)
    table = read_table(args.data, **table_options(args, "ignore"))
    for i, text in enumerate(table.texts):
        if not text.strip():
            raise DataFileError(
                f"{table.where(i)}: the text is empty. textkit embed refuses empty texts (every one would get the "
                "same vector); remove the row or give it text"
            )

    import torch

    from textkit.nn.sentence import load_encoder
    from textkit.text.wordpiece import EmptyTextError, TruncationWarning, truncation_message

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    encoder = load_encoder(args.model, precision=args.precision)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TruncationWarning)
        try:
            vectors = encoder.encode(
                table.texts,
                batch_size=args.batch_size,
                normalize=not args.no_normalize,
                progress=sys.stderr.isatty(),
            )
        except EmptyTextError as exc:  # no word pieces although not blank: control characters only
            raise DataFileError(f"{table.where(exc.index)}: the text has no word pieces; remove the row") from None
    for warning in caught:
        if isinstance(warning.message, TruncationWarning):
            indices = warning.message.indices
            where = [table.where(i) for i in indices]
            print(
                f"textkit: note: {truncation_message(indices, len(table), encoder.tokenizer.max_length, where)}",
                file=sys.stderr,
            )
        else:
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
    with atomic_open(out, "wb") as handle:
        np.save(handle, vectors)
    label = encoder.name or args.model
    print(f"{len(vectors):,} embeddings of dimension {vectors.shape[1]} ({label}, {args.precision}) written to {out}")
    return 0
