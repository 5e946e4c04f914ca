"""Reading a user's own texts (and labels) from files: CSV, TSV, JSON Lines, fastText's
``__label__x text`` lines, plain text (one document per line) and a folder of class
subfolders (the aclImdb layout).

Every reader streams: ``iter_table`` yields one ``Row`` at a time, so prediction never
holds a large file in memory; ``read_table`` collects the rows for training. Problems raise
``DataFileError`` naming the file, the line (and byte offset for encoding errors) and what
to do, before any model is written.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NamedTuple

FORMATS = ("csv", "tsv", "jsonl", "fasttext", "text", "folder")
TEXT_COLUMNS = ("text", "review", "sentence", "document", "content", "body", "comment", "tweet")
LABEL_COLUMNS = ("label", "labels", "class", "category", "target", "sentiment", "y")
FASTTEXT_PREFIX = "__label__"
# A longer line is almost always a broken file (a missing newline, a binary blob); users with
# genuinely longer documents raise it (``--max-line-bytes``).
DEFAULT_MAX_LINE_BYTES = 1 << 20
_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".txt": "text",
    ".text": "text",
}


class DataFileError(ValueError):
    """A user data file that cannot be read as asked; the message names the place and the fix."""


class Row(NamedTuple):
    text: str
    label: str | None
    line: int  # 1-based line where the row starts; 0 for a document that is a whole file
    source: str  # the file it came from

    @property
    def where(self) -> str:
        return f"{self.source}, line {self.line}" if self.line else self.source


@dataclass
class Table:
    """Rows of one data file held in memory (for training and evaluation)."""

    source: str
    texts: list[str] = field(default_factory=list)
    labels: list[str | None] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # per row, only for folders

    def __len__(self) -> int:
        return len(self.texts)

    def where(self, index: int) -> str:
        return self.files[index] if self.files else f"{self.source}, line {self.lines[index]}"


def detect_format(path: str | os.PathLike, head: bytes = b"") -> str:
    """The format of a data file from its suffix (or its first bytes for stdin and ``.txt``)."""
    if str(path) != "-" and Path(path).is_dir():
        return "folder"
    suffix = Path(str(path)).suffix.lower()
    guessed = _SUFFIXES.get(suffix)
    if guessed in (None, "text"):
        start = head.lstrip()
        if start.startswith(b"{"):
            return "jsonl"
        if start.startswith(FASTTEXT_PREFIX.encode()):
            return "fasttext"
        if guessed is None and str(path) != "-":
            raise DataFileError(
                f"{path}: cannot tell the format from the suffix {suffix or '(none)'!r}; pass --format "
                f"({', '.join(FORMATS)})"
            )
        return "text"
    return guessed


def _check_encoding(encoding: str) -> str:
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise DataFileError(f"unknown encoding {encoding!r}; use a Python codec name such as utf-8 or cp1252") from None
    if info.name.startswith(("utf-16", "utf-32")):
        raise DataFileError(
            f"encoding {encoding!r} is not line-based; convert the file to UTF-8 first "
            f"(e.g. `iconv -f {encoding} -t utf-8 in > out`)"
        )
    return info.name


def _open_binary(path: str | os.PathLike) -> IO[bytes]:
    if str(path) == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"data file {path} does not exist") from None
    except IsADirectoryError:
        raise DataFileError(f"{path} is a folder; pass --format folder for a folder of class subfolders") from None


def _decoded_lines(handle: IO[bytes], name: str, encoding: str, max_line_bytes: int) -> Iterator[tuple[int, str]]:
    """(1-based line number, decoded line with its newline) from a binary stream; each line
    is checked for length and decoded strictly, so an error names the line and byte offset."""
    offset = 0
    for number, raw in enumerate(handle, start=1):
        if len(raw) > max_line_bytes:
            raise DataFileError(
                f"{name}, line {number}: the line is {len(raw):,} bytes long, over the limit of {max_line_bytes:,}. "
                "A missing newline or a binary file usually causes this; if it really is one document, raise the "
                "limit with --max-line-bytes"
            )
        if number == 1 and encoding == "utf-8" and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
            offset += len(codecs.BOM_UTF8)
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise DataFileError(
                f"{name}, line {number}: byte {raw[exc.start : exc.start + 1]!r} at byte offset {offset + exc.start:,} "
                f"is not valid {encoding}. Convert the file to UTF-8, or pass the file's encoding with --encoding "
                "(e.g. --encoding cp1252)"
            ) from None
        offset += len(raw)
        yield number, text


def _pick_column(
    kind: str, columns: list[str], wanted: str | None, candidates: tuple[str, ...], name: str
) -> str | None:
    if wanted is not None:
        if wanted not in columns:
            raise DataFileError(
                f"{name}: no {kind} column {wanted!r}; the columns are {columns}. Pass --{kind}-column with one of them"
            )
        return wanted
    lowered = {c.strip().lower(): c for c in columns}
    found = [lowered[c] for c in candidates if c in lowered]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise DataFileError(
            f"{name}: columns {found} could each be the {kind} column; pass --{kind}-column to choose one"
        )
    return None


def _resolve_columns(
    columns: list[str], text_column: str | None, label_column: str | None, labels: str, name: str
) -> tuple[str, str | None]:
    label = None
    if labels != "ignore":
        label = _pick_column("label", columns, label_column, LABEL_COLUMNS, name)
    others = columns if text_column is not None else [c for c in columns if c != label]
    text = _pick_column("text", others, text_column, TEXT_COLUMNS, name)
    if text is None:
        rest = [c for c in columns if c != label]
        if len(rest) == 1:  # e.g. "label,review" or a single column: no ambiguity
            text = rest[0]
        else:
            raise DataFileError(
                f"{name}: cannot tell which column holds the text; the columns are {columns}. Pass --text-column"
            )
    if label is None and labels == "required":
        raise DataFileError(
            f"{name}: no label column found among {columns} (looked for {', '.join(LABEL_COLUMNS)}). "
            "Pass --label-column"
        )
    return text, label


def _label_value(value: object, name: str, line: int) -> str | None:
    if value is None:
        return None
    if isinstance(value, (bool, dict, list)):
        raise DataFileError(
            f"{name}, line {line}: the label {value!r} is a {type(value).__name__}; textkit classify takes one "
            "string or integer label per row"
        )
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _iter_delimited(
    lines: Iterator[tuple[int, str]],
    delimiter: str,
    name: str,
    text_column: str | None,
    label_column: str | None,
    labels: str,
) -> Iterator[Row]:
    numbered = iter(lines)
    current = {"line": 0}

    def physical() -> Iterator[str]:
        for number, text in numbered:
            current["line"] = number
            yield text

    # TSV has no quoting (a tab never occurs inside a field), so quotes in texts stay literal
    if delimiter == ",":
        reader = csv.reader(physical(), delimiter=delimiter, strict=True)
    else:
        reader = csv.reader(physical(), delimiter=delimiter, strict=True, quoting=csv.QUOTE_NONE)
    try:
        header = next(reader)
    except StopIteration:
        raise DataFileError(
            f"{name} is empty: expected a header row naming the columns, then one row per text"
        ) from None
    except csv.Error as exc:
        raise DataFileError(f"{name}, line {current['line']}: malformed header ({exc})") from None
    header = [h.strip() for h in header]
    text_col, label_col = _resolve_columns(header, text_column, label_column, labels, name)
    text_at = header.index(text_col)
    label_at = header.index(label_col) if label_col is not None else None
    while True:
        start = current["line"] + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            field_limit = "field larger than field limit" in str(exc)
            hint = (
                "one field is over 131,072 characters: usually a quote that is never closed, which makes the rest of "
                "the file one field. Check the quotes from that line on; for very long documents use JSON Lines"
                if field_limit
                else "a quote is not closed or is followed by other characters. Quote fields that hold the delimiter, "
                'quotes or newlines, and double quotes inside them ("say ""hi""")'
            )
            raise DataFileError(
                f"{name}, line {start}: malformed {'CSV' if delimiter == ',' else 'TSV'} row: {hint}"
            ) from None
        if not fields or fields == [""]:
            continue  # a blank line between rows
        if len(fields) != len(header):
            raise DataFileError(
                f"{name}, line {start}: the row has {len(fields)} fields but the header has {len(header)} "
                f"({header}). Quote fields that contain the delimiter"
            )
        label = fields[label_at].strip() if label_at is not None else None
        yield Row(fields[text_at], label, start, name)


def _iter_jsonl(
    lines: Iterator[tuple[int, str]], name: str, text_column: str | None, label_column: str | None, labels: str
) -> Iterator[Row]:
    columns: tuple[str, str | None] | None = None
    for number, line in lines:
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataFileError(
                f"{name}, line {number}: not valid JSON ({exc.msg} at column {exc.colno}); JSON Lines holds one "
                'object per line, e.g. {"text": "...", "label": "pos"}'
            ) from None
        if not isinstance(obj, dict):
            raise DataFileError(f"{name}, line {number}: expected a JSON object, got {type(obj).__name__}")
        if columns is None:
            columns = _resolve_columns(list(obj), text_column, label_column, labels, name)
        text_key, label_key = columns
        if text_key not in obj:
            raise DataFileError(f"{name}, line {number}: the object has no {text_key!r} key (keys: {list(obj)})")
        text = obj[text_key]
        if not isinstance(text, str):
            raise DataFileError(f"{name}, line {number}: {text_key!r} is a {type(text).__name__}, not a string")
        label = _label_value(obj.get(label_key), name, number) if label_key is not None else None
        yield Row(text, label, number, name)


def _iter_fasttext(lines: Iterator[tuple[int, str]], name: str, labels: str) -> Iterator[Row]:
    for number, line in lines:
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        words = line.split(" ")
        tags = []
        while words and words[0].startswith(FASTTEXT_PREFIX):
            tags.append(words.pop(0)[len(FASTTEXT_PREFIX) :])
        if len(tags) > 1 and labels != "ignore":
            raise DataFileError(
                f"{name}, line {number}: {len(tags)} labels ({', '.join(tags)}); textkit classify is single-label: "
                "keep one __label__ per line"
            )
        yield Row(" ".join(words), (tags[0] if tags else None) if labels != "ignore" else None, number, name)


def _iter_text(lines: Iterator[tuple[int, str]], name: str) -> Iterator[Row]:
    for number, line in lines:
        yield Row(line.rstrip("\r\n"), None, number, name)


def _iter_folder(root: Path, encoding: str, max_line_bytes: int, labels: str) -> Iterator[Row]:
    """aclImdb layout: ``root/<label>/*.txt``, one document per file; or ``root/*.txt``
    unlabelled. Files are read in sorted order so rows are reproducible."""
    subfolders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    groups: list[tuple[str | None, list[Path]]]
    if subfolders and labels != "ignore":
        groups = [
            (p.name, sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith("."))) for p in subfolders
        ]
    else:
        files = sorted(f for f in root.rglob("*") if f.is_file() and not any(part.startswith(".") for part in f.parts))
        groups = [(None, files)]
    for label, files in groups:
        for path in files:
            raw = path.read_bytes()
            if len(raw) > max_line_bytes:
                raise DataFileError(
                    f"{path}: {len(raw):,} bytes is over the limit of {max_line_bytes:,} for one document; "
                    "raise it with --max-line-bytes if this file really is one text"
                )
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                raise DataFileError(
                    f"{path}: byte {raw[exc.start : exc.start + 1]!r} at byte offset {exc.start:,} is not valid "
                    f"{encoding}. Convert the file to UTF-8 or pass --encoding"
                ) from None
            yield Row(text.strip(), label, 0, str(path))


def iter_table(
    path: str | os.PathLike,
    *,
    format: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    labels: str = "optional",
    encoding: str = "utf-8",
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Iterator[Row]:
    """Rows of a data file, one at a time (``path="-"`` reads stdin).

    ``labels``: ``"required"`` (every row must carry one; training), ``"optional"`` (read
    labels where the file has them; evaluation and prediction) or ``"ignore"``. Columns are
    guessed from common names only when exactly one candidate fits; otherwise pass them.
    """
    if labels not in ("required", "optional", "ignore"):
        raise ValueError(f"labels must be 'required', 'optional' or 'ignore', got {labels!r}")
    if format is not None and format not in FORMATS:
        raise DataFileError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    encoding = _check_encoding(encoding)
    name = "<stdin>" if str(path) == "-" else str(path)
    if str(path) != "-" and not Path(path).exists():
        raise FileNotFoundError(f"data file {path} does not exist")
    if format == "folder" or (format is None and str(path) != "-" and Path(path).is_dir()):
        if not Path(path).is_dir():
            raise DataFileError(f"{path} is not a folder")
        yield from _check_rows(_iter_folder(Path(path), encoding, max_line_bytes, labels), labels)
        return
    handle = _open_binary(path)
    try:
        if format is None:
            head = handle.peek(4096)[:4096] if hasattr(handle, "peek") else b""
            format = detect_format(path, head)
        lines = _decoded_lines(handle, name, encoding, max_line_bytes)
        if format in ("csv", "tsv"):
            rows = _iter_delimited(lines, "," if format == "csv" else "\t", name, text_column, label_column, labels)
        elif format == "jsonl":
            rows = _iter_jsonl(lines, name, text_column, label_column, labels)
        elif format == "fasttext":
            rows = _iter_fasttext(lines, name, labels)
        else:
            rows = _iter_text(lines, name)
            if labels == "required":
                raise DataFileError(
                    f"{name}: plain text (one document per line) has no labels; use CSV/TSV with a label column, "
                    "JSON Lines, fastText's __label__ lines or a folder of class subfolders"
                )
        yield from _check_rows(rows, labels)
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()


def _check_rows(rows: Iterator[Row], labels: str) -> Iterator[Row]:
    for row in rows:
        if labels == "required" and not row.label:
            raise DataFileError(
                f"{row.where}: the row has no label. Every training row needs one: fill it in or remove the row"
            )
        yield row


def read_table(path: str | os.PathLike, **options: Any) -> Table:
    """Every row of a data file in memory (see ``iter_table`` for the options). An empty file
    is an error: there is nothing to train or evaluate on."""
    name = "<stdin>" if str(path) == "-" else str(path)
    table = Table(source=name)
    is_folder = options.get("format") == "folder" or (str(path) != "-" and Path(path).is_dir())
    for row in iter_table(path, **options):
        table.texts.append(row.text)
        table.labels.append(row.label)
        table.lines.append(row.line)
        if is_folder:
            table.files.append(row.source)
    if not table.texts:
        raise DataFileError(f"{name} holds no rows (an empty file, or only a header); nothing to read")
    return table
