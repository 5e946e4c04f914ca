"""``textkit translate``: translate a file, one source sentence per line, with a shipped
translation model by name (``transformer-es-en``) or a model folder (``textkit translate train``
and ``textkit reproduce translation`` write them).

    textkit translate transformer-es-en --data sources.txt --out hypotheses.txt
    cat sources.txt | textkit translate ./runs/my-model/best --data - --beam 1

The input is read and translated a chunk of lines at a time, so a large file is never held
in memory; the output keeps the input's order, one line per input line. Thin wrapper over
``textkit.recipes.translation.translate``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

from textkit.commands.data_options import add_data_arguments, table_options

CHUNK_LINES = 256  # lines read, translated and written at a time: memory stays flat however long the input
STRUCTURED_SUFFIXES = (".csv", ".tsv", ".tab", ".jsonl", ".ndjson", ".json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model_dir",
        metavar="MODEL",
        help="a shipped model's name (transformer-es-en) or a translation model folder (a path, e.g. ./my-model); "
        "`textkit translate train --help` trains one on your own parallel data",
    )
    add_data_arguments(
        parser,
        data_help="source sentences: plain text, one per line (the default for any suffix but .csv/.tsv/.jsonl), "
        "or CSV/TSV/JSON Lines with --text-column",
        stdin=True,
        labels=False,
    )
    parser.add_argument("--beam", type=int, default=5, help="beam size (default 5; 1 decodes greedily)")
    parser.add_argument("--out", default="-", help="output file (default stdout); written only when complete")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    parser.add_argument("--batch-size", type=int, default=64, help="sentences decoded together (default 64)")
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        default=None,
        help="most target tokens per sentence (default 1.5 x the longest source in a batch + 10, capped by the "
        "model's max_len - 1)",
    )
    parser.add_argument("--device", default="auto", help="auto (default: CUDA when available), cpu or cuda")


def run(args: argparse.Namespace) -> int:
    from textkit._device import resolve_device
    from textkit._io import atomic_open
    from textkit.data.tables import iter_table
    from textkit.nn.serialization import load_translation_model
    from textkit.recipes.translation import translate_texts

    for name in ("beam", "batch_size", "max_new_tokens"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    from textkit._folders import check_output
    from textkit.data.resolver import resolve_model

    if args.out != "-":
        check_output(args.out, kind=None, inputs=[args.data, args.model_dir], overwrite=args.overwrite)
    # a path stays a path; a name becomes its verified folder; another kind is refused
    folder = resolve_model(args.model_dir, expects=("translation",), verb="textkit translate")
    check_translation_folder(folder)
    bundle = load_translation_model(folder, device=resolve_device(args.device))
    options = table_options(args, "ignore")
    if options["format"] is None and not str(args.data).lower().endswith(STRUCTURED_SUFFIXES):
        options["format"] = "text"  # a sentence that starts with "{" or "__label__" is still a sentence
    rows = iter_table(args.data, **options)
    target = nullcontext(sys.stdout) if args.out == "-" else atomic_open(args.out, "w", encoding="utf-8")
    n_lines = n_empty = n_truncated = 0
    with target as handle:
        for chunk in _chunks(rows, CHUNK_LINES):
            texts = [row.text for row in chunk]
            hypotheses, truncated = translate_texts(
                bundle,
                texts,
                beam_size=args.beam,
                batch_size=args.batch_size,
                max_new_tokens=args.max_new_tokens,
            )
            handle.write("".join(h + "\n" for h in hypotheses))
            handle.flush()
            n_lines += len(texts)
            n_empty += sum(not t.strip() for t in texts)
            n_truncated += truncated
        if n_lines == 0:  # raised inside the block: an --out file is not written
            source = "standard input" if args.data == "-" else args.data
            raise ValueError(f"{source} holds no lines: nothing to translate (give one source sentence per line)")
    notes = []
    if n_empty:
        notes.append(f"{n_empty:,} empty line(s) left empty")
    if n_truncated:
        notes.append(
            f"{n_truncated:,} source(s) longer than the model's {bundle.model.config.max_len - 1} tokens truncated"
        )
    where = "stdout" if args.out == "-" else args.out
    print(
        f"translated {n_lines:,} line(s) with beam {args.beam}"
        + (f" ({'; '.join(notes)})" if notes else "")
        + f" -> {where}",
        file=sys.stderr,
    )
    return 0


def check_translation_folder(folder: Path) -> None:
    """Refuse, with a message naming what it is, a folder that is not a translation model."""
    from textkit._io import read_json

    if not folder.is_dir():
        raise FileNotFoundError(
            f"model folder {folder} does not exist; `textkit reproduce translation` writes one to OUT/<model>/model"
        )
    use = "`textkit translate` reads translation model folders (config.json, model.safetensors, source_tokenizer/)"
    if (folder / "classifier.json").exists():
        raise ValueError(f"{folder} holds a textkit classifier (`textkit classify`), not a translation model; {use}")
    if (folder / "topics.json").exists():
        raise ValueError(f"{folder} holds topics (`textkit topics`), not a translation model; {use}")
    config = folder / "config.json"
    if not config.exists():
        nested = folder / "model" / "config.json"
        hint = f"; did you mean {folder / 'model'}?" if nested.exists() else f"; {use}"
        if (folder / "manifest.json").exists():
            hint = f": it looks like a pretrained language model export (manifest.json); {use}"
        raise ValueError(f"{folder} is not a textkit translation model folder (no config.json){hint}")
    raw = read_json(config, "model config")
    if not isinstance(raw, dict):
        raise ValueError(f"{config} must hold a JSON object; {use}")
    from textkit.nn.registry import LANGUAGE_MODELS, TRANSLATION_MODELS

    arch = raw.get("arch")
    if "joint_vocabulary" not in raw and (arch in LANGUAGE_MODELS or (folder / "vocab.json").exists()):
        raise ValueError(
            f"{folder} holds a textkit {arch} language model (`textkit lm pretrain`), not a translation model; {use}"
        )
    if arch not in TRANSLATION_MODELS:
        raise ValueError(
            f"{config}: unknown translation architecture {arch!r}; this textkit reads {sorted(TRANSLATION_MODELS)}. "
            "A model from a newer textkit needs an upgrade (pip install -U textkit)"
        )


def _chunks(rows: Iterator, size: int) -> Iterator[list]:
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
