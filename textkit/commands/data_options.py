"""The options every command that reads a user's data file shares (``--data``,
``--format``, column names, ``--no-header``, encoding, the line limit), and their translation
into ``read_table`` options."""

from __future__ import annotations

import argparse

from textkit.data.tables import DEFAULT_MAX_LINE_BYTES, FORMATS


def add_data_arguments(
    parser: argparse.ArgumentParser, *, data_help: str, stdin: bool = False, labels: bool = True
) -> None:
    """``--data`` and the options to read it; ``labels=False`` for commands that read no labels."""
    parser.add_argument("--data", required=True, help=data_help + (" ('-' reads stdin)" if stdin else ""))
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="file format (default: from the suffix: .csv .tsv .jsonl .txt; a folder of class subfolders; "
        "__label__ lines are recognised as fastText's)",
    )
    parser.add_argument(
        "--text-column", default=None, help="CSV/TSV column or JSON key holding the text (a number with --no-header)"
    )
    if labels:
        parser.add_argument(
            "--label-column",
            default=None,
            help="CSV/TSV column or JSON key holding the label (a number with --no-header)",
        )
    parser.add_argument(
        "--no-header",
        action="store_true",
        help="the CSV/TSV file has no header row: its first row is data, and columns are named by number (1, 2, ...)",
    )
    parser.add_argument(
        "--encoding",
        default="utf-8",
        help="text encoding of the file (default utf-8; a UTF-8/16/32 byte-order mark is recognised by itself)",
    )
    parser.add_argument(
        "--max-line-bytes",
        type=int,
        default=DEFAULT_MAX_LINE_BYTES,
        help=f"refuse longer lines/documents (default {DEFAULT_MAX_LINE_BYTES:,}: longer is usually a broken file)",
    )


def table_options(args: argparse.Namespace, labels: str) -> dict:
    """``iter_table``/``read_table`` keyword arguments from the parsed options."""
    return {
        "format": args.format,
        "text_column": args.text_column,
        "label_column": getattr(args, "label_column", None),
        "labels": labels,
        "encoding": args.encoding,
        "max_line_bytes": args.max_line_bytes,
        "no_header": getattr(args, "no_header", False),
    }
