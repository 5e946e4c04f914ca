"""Reading a user's own texts (and labels) from files: CSV, TSV, JSON Lines, fastText's
``__label__x text`` lines, plain text (one document per line) and a folder of class
subfolders (the aclImdb layout).

Every reader streams: ``iter_table`` yields one ``Row`` at a time, so prediction never
holds a large file in memory; ``read_table`` collects the rows for training. Problems raise
``DataFileError`` naming the file, the line (and byte offset for encoding errors) and what
to do, before any model is written.

Files are untrusted input. A line is read with a bound (``max_line_bytes``), so memory stays
at the limit whatever the file; devices and sockets are refused; a folder follows no symbolic
link out of itself; a UTF-8/16/32 byte-order mark decides the encoding; labels are text as
written (see ``iter_table``); ``neutralize_csv_cell`` makes a CSV cell safe for spreadsheets.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
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
    # the row's own columns or keys asked for with ``keep=`` (an id to join on, fields to pass through)
    fields: dict[str, Any] | None = None

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
    # the CSV/TSV column or JSON key read for the text and the label (None: fastText tags, folders, plain text)
    text_column: str | None = None
    label_column: str | None = None

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


_BOMS = (  # UTF-32 first: its little-endian mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_UNICODE = ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be")
_CHUNK = 1 << 16
# how far past the limit an over-long line is read (in chunks) to say how long it is
_MEASURE_LIMIT = 64 << 20
# bytes every line-based format relies on: an encoding that writes them as ASCII can be split
# into lines before decoding; any other (UTF-16/32, EBCDIC, UTF-7) is recoded to UTF-8 first
_SYNTAX = "\n\r\t ,\"'{}[]:_abcXYZ0189"


def _check_encoding(encoding: str) -> str:
    """The codec's canonical name; DataFileError for an unknown codec or one that is not a
    text encoding (``rot13``, ``base64``), naming it."""
    try:
        info = codecs.lookup(encoding)
    except (LookupError, TypeError, ValueError):
        raise DataFileError(
            f"unknown encoding {encoding!r}; pass a Python codec name such as utf-8, utf-16 or cp1252 to --encoding"
        ) from None
    if not getattr(info, "_is_text_encoding", True):
        raise DataFileError(
            f"--encoding {encoding!r} is not a text encoding (it maps bytes to bytes); pass one such as utf-8 or cp1252"
        )
    return "utf-8" if info.name == "utf-8-sig" else info.name


def _ascii_compatible(encoding: str) -> bool:
    try:
        return _SYNTAX.encode(encoding) == _SYNTAX.encode("ascii")
    except (UnicodeError, LookupError):
        return False


def _bom(head: bytes) -> tuple[bytes, str] | None:
    for mark, codec in _BOMS:
        if head.startswith(mark):
            return mark, codec
    return None


def _encoding_for(head: bytes, encoding: str, name: str) -> tuple[str, int]:
    """(the encoding to read with, the length of the byte-order mark to skip). A UTF-8/16/32
    byte-order mark decides, unless --encoding names another, non-Unicode codec: then the file
    and the option disagree, and guessing either way yields garbage."""
    found = _bom(head)
    if found is None:
        if encoding in ("utf-16", "utf-32"):
            raise DataFileError(
                f"{name} has no byte-order mark, so {encoding} does not say which byte order it is in; pass "
                f"--encoding {encoding}-le (Windows files usually are) or {encoding}-be"
            )
        return encoding, 0
    mark, codec = found
    if encoding not in _UNICODE:
        raise DataFileError(
            f"{name} starts with a {codec.upper()} byte-order mark, but --encoding {encoding} was given; drop "
            "--encoding (textkit reads UTF-8, UTF-16 and UTF-32 files with a byte-order mark by themselves)"
        )
    return codec, len(mark)


class _Recoder(io.RawIOBase):
    """A byte stream in ``encoding`` read as UTF-8, a chunk at a time, so lines of a UTF-16 or
    UTF-32 file can be split on ``b"\n"`` and bounded exactly like any other file's."""

    def __init__(self, source: IO[bytes], encoding: str, name: str, skipped: int) -> None:
        super().__init__()
        self._source = source
        self._encoding = encoding
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        self._name = name
        self._fed = skipped  # bytes of the file passed to the decoder (after a skipped BOM)
        self._newlines = 0
        self._out = b""
        self._at = 0
        self._eof = False

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed and self._source is not sys.stdin.buffer:
            self._source.close()
        super().close()

    def readinto(self, buffer: Any) -> int:
        while self._at == len(self._out) and not self._eof:
            chunk = self._source.read(_CHUNK)
            self._eof = not chunk
            held = len(self._decoder.getstate()[0])
            try:
                text = self._decoder.decode(chunk, final=self._eof)
            except UnicodeDecodeError as exc:  # (a plain UnicodeError cannot happen: the BOM was checked)
                line = self._newlines + 1 + exc.object[: exc.start].decode(self._encoding, "replace").count("\n")
                raise DataFileError(
                    f"{self._name}, line {line}: bytes {exc.object[exc.start : exc.end]!r} at byte offset "
                    f"{self._fed - held + exc.start:,} are not valid {self._encoding} ({exc.reason}). The file is "
                    "damaged, or in another encoding: pass it with --encoding, or convert the file to UTF-8"
                ) from None
            self._fed += len(chunk)
            self._newlines += text.count("\n")
            try:
                self._out, self._at = text.encode("utf-8"), 0
            except UnicodeEncodeError:
                raise DataFileError(
                    f"{self._name}, near line {self._newlines}: the {self._encoding} text holds a lone surrogate "
                    "code point, which is not a character; the file is damaged"
                ) from None
        size = min(len(buffer), len(self._out) - self._at)
        buffer[:size] = self._out[self._at : self._at + size]
        self._at += size
        return size


class _Stream(NamedTuple):
    handle: IO[bytes]  # positioned after any byte-order mark
    encoding: str  # what its lines decode with
    offset: int  # the file offset of its first byte
    recoded_from: str | None  # the file's own encoding, when ``handle`` yields it recoded to UTF-8


def _open_stream(path: str | os.PathLike, encoding: str, name: str) -> _Stream:
    """The open binary stream of a data file (or stdin). A file in an encoding that is not
    ASCII-compatible (UTF-16, UTF-32, EBCDIC) comes back recoded to UTF-8."""
    handle: IO[bytes]
    if str(path) == "-":
        handle = sys.stdin.buffer
    else:
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed by iter_table
        except FileNotFoundError:
            raise FileNotFoundError(f"data file {path} does not exist") from None
        except IsADirectoryError:
            raise DataFileError(f"{path} is a folder; pass --format folder for a folder of class subfolders") from None
        except PermissionError:
            raise DataFileError(f"data file {path} cannot be read: permission denied") from None
    try:
        head = handle.peek(4)[:4] if hasattr(handle, "peek") else b""
        encoding, skip = _encoding_for(head, encoding, name)
    except BaseException:
        if handle is not sys.stdin.buffer:
            handle.close()
        raise
    if skip:
        handle.read(skip)
    if _ascii_compatible(encoding):
        return _Stream(handle, encoding, skip, None)
    return _Stream(io.BufferedReader(_Recoder(handle, encoding, name, skip)), "utf-8", skip, encoding)


def _too_long(handle: IO[bytes], name: str, number: int, raw: bytes, limit: int) -> DataFileError:
    # read on (in chunks, nothing kept) to say how long the line is, up to a bound
    seen, ended = len(raw), raw.endswith(b"\n")
    while not ended and seen <= limit + _MEASURE_LIMIT:
        piece = handle.readline(_CHUNK)
        seen += len(piece)
        ended = not piece or piece.endswith(b"\n")
    length = f"{seen:,} bytes long" if ended else f"over {limit + _MEASURE_LIMIT:,} bytes long"
    return DataFileError(
        f"{name}, line {number}: the line is {length}, over the limit of {limit:,}. A missing newline or a binary "
        "file usually causes this; if it really is one document, raise the limit with --max-line-bytes"
    )


def _decoded_lines(
    handle: IO[bytes], name: str, encoding: str, max_line_bytes: int, offset: int = 0, recoded_from: str | None = None
) -> Iterator[tuple[int, str]]:
    """(1-based line number, decoded line with its newline) from a binary stream. Each line is
    read with ``readline(max_line_bytes + 1)``, so memory stays at the limit whatever the file
    (one without a newline, ``/dev/zero`` on stdin); it is then decoded strictly, so an error
    names the line and byte offset. A NUL byte is refused: no text file holds one."""
    number = 0
    while raw := handle.readline(max_line_bytes + 1):
        number += 1
        if len(raw) > max_line_bytes:
            raise _too_long(handle, name, number, raw, max_line_bytes)
        nul = raw.find(b"\x00")
        if nul >= 0:
            if recoded_from:
                raise DataFileError(
                    f"{name}, line {number}: the text holds the character U+0000 (NUL); no text file does. "
                    f"The file is damaged, or not in {recoded_from}"
                )
            raise DataFileError(
                f"{name}, line {number}: a NUL byte at byte offset {offset + nul:,}. This is a binary file, or text in "
                "UTF-16/UTF-32 without a byte-order mark: then pass --encoding utf-16-le (or utf-16-be, utf-32-le, "
                "utf-32-be), or convert it with `iconv -f utf-16 -t utf-8 in > out`"
            )
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


def _show(columns: list[str]) -> str:
    """Column names for a message: each cut to 40 characters, at most 12 of them (a header
    row that is really data may hold a whole review)."""
    shown = [c if len(c) <= 40 else c[:40] + "..." for c in columns[:12]]
    return repr(shown)[:-1] + (f", ... ({len(columns)} in all)]" if len(columns) > 12 else "]")


_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _looks_like_data(columns: list[str]) -> bool:
    """A first row that is more likely a text and its label than column names: a number, or
    a long or many-worded cell, where names are short words."""
    return any(_NUMBER.fullmatch(c.strip()) or len(c) > 30 or len(c.split()) > 2 for c in columns)


def _no_header_hint(columns: list[str]) -> str:
    if not _looks_like_data(columns):
        return ""
    return (
        ". That first row looks like data, not column names: if the file has no header row, pass --no-header "
        "(and --text-column/--label-column by number, 1 for the first column)"
    )


def _pick_column(
    kind: str, columns: list[str], wanted: str | None, candidates: tuple[str, ...], name: str
) -> str | None:
    if wanted is not None:
        if wanted not in columns:
            raise DataFileError(
                f"{name}: no {kind} column {wanted!r}; the columns are {_show(columns)}. Pass --{kind}-column with "
                f"one of them" + _no_header_hint(columns)
            )
        return wanted
    # every column whose name is a usual one, however it is capitalised: "Text" and "text" are two
    found = [c for c in columns if c.strip().lower() in candidates]
    found.sort(key=lambda c: candidates.index(c.strip().lower()))
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
                f"{name}: cannot tell which column holds the text; the columns are {_show(columns)}. Pass "
                "--text-column" + _no_header_hint(columns)
            )
    if label is None and labels == "required":
        raise DataFileError(
            f"{name}: no label column found among {_show(columns)} (looked for {', '.join(LABEL_COLUMNS)}). "
            "Pass --label-column" + _no_header_hint(columns)
        )
    return text, label


def _numbered_columns(
    width: int, text_column: str | None, label_column: str | None, labels: str, name: str, first: list[str]
) -> tuple[int, int | None]:
    """(text, label) field indexes of a header-less file, from --text-column/--label-column
    given as column numbers (1 is the first column). Nothing is guessed but the obvious: one
    column is the text; with --label-column and two columns, the other one is."""

    def number(kind: str, value: str) -> int:
        if not value.strip().isdigit() or not 1 <= int(value) <= width:
            raise DataFileError(
                f"{name}: with --no-header, --{kind}-column is a column number from 1 to {width}, got {value!r}"
            )
        return int(value) - 1

    label = number("label", label_column) if label_column is not None and labels != "ignore" else None
    if label is None and labels == "required":
        raise DataFileError(
            f"{name}: with --no-header, pass --label-column N (the number of the label column, 1 for the first); "
            f"the first row has {width} fields: {_show(first)}"
        )
    if text_column is not None:
        text = number("text", text_column)
    else:
        rest = [i for i in range(width) if i != label]
        if len(rest) != 1:
            raise DataFileError(
                f"{name}: with --no-header, pass --text-column N (the number of the text column, 1 for the first); "
                f"the first row has {width} fields: {_show(first)}"
            )
        text = rest[0]
    return text, label


class _JsonNumber(str):
    """A JSON number kept as written (``1``, ``1.0``, ``-2e3``): labels compare as text."""


def _json_object(pairs: list[tuple[str, Any]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):  # a key given twice: name it instead of keeping the last silently
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


class _DuplicateKey(Exception):
    pass


def _json_kind(value: object) -> str:
    if isinstance(value, _JsonNumber):
        return "number"
    if value is None:
        return "null"
    kinds: dict[type, str] = {dict: "object", list: "array", str: "string", bool: "boolean"}
    return kinds.get(type(value), type(value).__name__)


def _label_value(value: object, name: str, line: int) -> str | None:
    """A JSON label as text. Strings are stripped; numbers are kept as written (1 is "1", 1.0 is
    "1.0"), so a JSON 1 and a CSV 1 are the same class, and 1, 1.0 and 01 never merge."""
    if value is None:
        return None
    if not isinstance(value, str):  # bool, object, array
        raise DataFileError(
            f"{name}, line {line}: the label is a JSON {_json_kind(value)}; textkit classify takes one string or "
            "number label per row"
        )
    return str(value).strip()


def _iter_delimited(
    lines: Iterator[tuple[int, str]],
    delimiter: str,
    name: str,
    text_column: str | None,
    label_column: str | None,
    labels: str,
    no_header: bool,
    max_record: int,
    keep: tuple[str, ...] = (),
    columns_out: dict[str, str | None] | None = None,
) -> Iterator[Row]:
    numbered = iter(lines)
    current = {"line": 0, "size": 0}
    what = "CSV" if delimiter == "," else "TSV"

    def physical() -> Iterator[str]:
        for number, text in numbered:
            current["line"] = number
            current["size"] += len(text)
            # a quoted field may span lines: bound the whole row as one line is bounded
            if current["size"] > max_record:
                raise DataFileError(
                    f"{name}, line {number}: the {what} row that starts on an earlier line is over {max_record:,} "
                    "characters (a quote that is never closed?). Check the quotes, or raise --max-line-bytes"
                )
            yield text

    # TSV has no quoting (a tab never occurs inside a field), so quotes in texts stay literal
    if delimiter == ",":
        reader = csv.reader(physical(), delimiter=delimiter, strict=True)
    else:
        reader = csv.reader(physical(), delimiter=delimiter, strict=True, quoting=csv.QUOTE_NONE)

    def next_row() -> list[str] | None:
        current["size"] = 0
        try:
            return next(reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            field_limit = "field larger than field limit" in str(exc)
            hint = (
                "one field is over 131,072 characters: usually a quote that is never closed, which makes the rest of "
                "the file one field. Check the quotes from that line on; for very long documents use JSON Lines"
                if field_limit
                else "a quote is not closed or is followed by other characters. Quote fields that hold the delimiter, "
                'quotes or newlines, and double quotes inside them ("say ""hi""")'
            )
            raise DataFileError(f"{name}, line {start}: malformed {what} row: {hint}") from None

    start = 1
    first: list[str] | None = []
    while first == [] or first == [""]:  # blank lines before the first row
        start = current["line"] + 1
        first = next_row()
    if first is None:
        raise DataFileError(
            f"{name} is empty: expected a header row naming the columns, then one row per text"
            if not no_header
            else f"{name} is empty: expected one row per text"
        )
    if no_header:
        header = [str(i + 1) for i in range(len(first))]
        text_at, label_at = _numbered_columns(len(first), text_column, label_column, labels, name, first)
        pending: list[str] | None = first
    else:
        header = [h.strip() for h in first]
        for i, column in enumerate(header):
            if column and column in header[:i]:
                raise DataFileError(
                    f"{name}, line {start}: the header names the column {column!r} twice (fields "
                    f"{header.index(column) + 1} and {i + 1}); give each column its own name"
                )
        text_col, label_col = _resolve_columns(header, text_column, label_column, labels, name)
        text_at = header.index(text_col)
        label_at = header.index(label_col) if label_col is not None else None
        pending = None
    kept = [(column, _kept_index(column, header, no_header, name)) for column in keep]
    if columns_out is not None:
        columns_out["text"] = header[text_at]
        columns_out["label"] = header[label_at] if label_at is not None else None
    while True:
        if pending is not None:
            fields, pending = pending, None
        else:
            start = current["line"] + 1
            read = next_row()
            if read is None:
                return
            fields = read
        if not fields or fields == [""]:
            continue  # a blank line between rows
        if len(fields) != len(header):
            shown = f" ({_show(header)})" if not no_header else " (the first row's count, as --no-header reads it)"
            raise DataFileError(
                f"{name}, line {start}: the row has {len(fields)} fields but the header has {len(header)}"
                f"{shown}. Quote fields that contain the delimiter"
            )
        label = fields[label_at].strip() if label_at is not None else None
        extra = {column: fields[at] for column, at in kept} if kept else None
        yield Row(fields[text_at], label, start, name, extra)


def _kept_index(column: str, header: list[str], no_header: bool, name: str) -> int:
    """The field index of a column asked for with ``keep=`` (a number with --no-header)."""
    if no_header:
        if not column.strip().isdigit() or not 1 <= int(column) <= len(header):
            raise DataFileError(
                f"{name}: with --no-header, columns are numbered 1 to {len(header)}; got {column!r} for a column "
                "to keep (--id-column, --keep-fields)"
            )
        return int(column) - 1
    if column not in header:
        raise DataFileError(
            f"{name}: no column {column!r} to pass through (--id-column, --keep-fields); the columns are "
            f"{_show(header)}"
        )
    return header.index(column)


def _plain_json(value: Any) -> Any:
    """A JSON value as the file wrote it, for passing through: numbers back to numbers."""
    if isinstance(value, _JsonNumber):
        return json.loads(value) if value not in ("NaN", "Infinity", "-Infinity") else str(value)
    if isinstance(value, dict):
        return {k: _plain_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_json(v) for v in value]
    return value


def _iter_jsonl(
    lines: Iterator[tuple[int, str]],
    name: str,
    text_column: str | None,
    label_column: str | None,
    labels: str,
    keep: tuple[str, ...] = (),
    columns_out: dict[str, str | None] | None = None,
) -> Iterator[Row]:
    columns: tuple[str, str | None] | None = None
    for number, line in lines:
        if not line.strip():
            continue
        try:
            obj = json.loads(
                line,
                parse_int=_JsonNumber,
                parse_float=_JsonNumber,
                parse_constant=_JsonNumber,
                object_pairs_hook=_json_object,
            )
        except json.JSONDecodeError as exc:
            raise DataFileError(
                f"{name}, line {number}: not valid JSON ({exc.msg} at column {exc.colno}); JSON Lines holds one "
                'object per line, e.g. {"text": "...", "label": "pos"}'
            ) from None
        except _DuplicateKey as exc:
            raise DataFileError(
                f"{name}, line {number}: the object has the key {exc.args[0]!r} twice; give each key once"
            ) from None
        except RecursionError:
            raise DataFileError(
                f"{name}, line {number}: the JSON is nested too deeply to read; a row is one flat object, "
                'e.g. {"text": "...", "label": "pos"}'
            ) from None
        if not isinstance(obj, dict):
            raise DataFileError(f"{name}, line {number}: expected a JSON object, got a JSON {_json_kind(obj)}")
        if columns is None:
            columns = _resolve_columns(list(obj), text_column, label_column, labels, name)
            if columns_out is not None:
                columns_out["text"], columns_out["label"] = columns
        text_key, label_key = columns
        if text_key not in obj:
            raise DataFileError(f"{name}, line {number}: the object has no {text_key!r} key (keys: {_show(list(obj))})")
        text = obj[text_key]
        if type(text) is not str:
            raise DataFileError(f"{name}, line {number}: {text_key!r} is a JSON {_json_kind(text)}, not a string")
        label = _label_value(obj.get(label_key), name, number) if label_key is not None else None
        extra = {key: _plain_json(obj.get(key)) for key in keep} if keep else None
        yield Row(text, label, number, name, extra)


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


_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((what for test, what in _KINDS if test(mode)), "not a regular file")


def _folder_entry(path: Path, base: Path) -> str:
    """``"dir"`` or ``"file"`` for an entry of a data folder; DataFileError for a symbolic
    link that leads out of the folder (or nowhere) and for a device, FIFO or socket."""
    if path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(base):
            raise DataFileError(
                f"{path} is a symbolic link to {target}, outside the data folder {base}; textkit follows no link out "
                "of a data folder. Copy the file into the folder, or remove the link"
            )
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise DataFileError(f"{path} is a symbolic link to nothing ({os.readlink(path)}); remove it") from None
    except OSError as exc:
        raise DataFileError(f"{path} cannot be read ({exc.strerror}); fix its permissions or remove it") from None
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    raise DataFileError(f"{path} in the data folder is {_kind(mode)}, not a document; remove it from the folder")


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def _folder_files(root: Path, base: Path) -> list[Path]:
    """Every non-hidden document file under ``root``, at any depth. Links are checked but
    linked folders are not entered (as ``Path.rglob``), so a loop of links cannot recur."""
    found: list[Path] = []
    for entry in _visible(root):
        kind = _folder_entry(entry, base)
        if kind == "file":
            found.append(entry)
        elif not entry.is_symlink():
            found.extend(_folder_files(entry, base))
    return found


def _read_document(path: Path, encoding: str, max_line_bytes: int) -> str:
    """One document file, reading at most ``max_line_bytes + 1`` bytes. Opened without
    following a link (a checked link is opened at its target), so a link swapped in after the
    check is refused, not followed."""
    target = path.resolve() if path.is_symlink() else path
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(target, flags)
    except OSError as exc:
        raise DataFileError(f"{path} cannot be read ({exc.strerror}); fix its permissions or remove it") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise DataFileError(f"{path} in the data folder is {_kind(mode)}, not a document; remove it")
    with os.fdopen(fd, "rb") as handle:
        raw = handle.read(max_line_bytes + 1)
    if len(raw) > max_line_bytes:
        raise DataFileError(
            f"{path}: the document is over the limit of {max_line_bytes:,} bytes; "
            "raise it with --max-line-bytes if this file really is one text"
        )
    codec, skip = _encoding_for(raw[:4], encoding, str(path))
    raw = raw[skip:]
    nul = raw.find(b"\x00")
    if _ascii_compatible(codec) and nul >= 0:
        raise DataFileError(
            f"{path}: a NUL byte at byte offset {skip + nul:,}: a binary file, or UTF-16/UTF-32 "
            "without a byte-order mark (then pass --encoding utf-16-le or utf-16-be); remove it from the folder"
        )
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        raise DataFileError(
            f"{path}: byte {raw[exc.start : exc.start + 1]!r} at byte offset {skip + exc.start:,} is not valid "
            f"{codec}. Convert the file to UTF-8 or pass --encoding"
        ) from None


def _iter_folder(root: Path, encoding: str, max_line_bytes: int, labels: str) -> Iterator[Row]:
    """aclImdb layout: ``root/<label>/*.txt``, one document per file; or ``root/*.txt``
    unlabelled. Files are read in sorted order so rows are reproducible; hidden files and
    folders are skipped, and no symbolic link is followed out of ``root``."""
    base = root.resolve()
    entries = [(entry, _folder_entry(entry, base)) for entry in _visible(root)]
    subfolders = [entry for entry, kind in entries if kind == "dir"]
    groups: list[tuple[str | None, list[Path]]]
    if subfolders and labels != "ignore":
        groups = [(p.name, [f for f in _visible(p) if _folder_entry(f, base) == "file"]) for p in subfolders]
    else:
        groups = [(None, _folder_files(root, base))]
    for label, files in groups:
        for path in files:
            yield Row(_read_document(path, encoding, max_line_bytes).strip(), label, 0, str(path))


def iter_table(
    path: str | os.PathLike,
    *,
    format: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    labels: str = "optional",
    encoding: str = "utf-8",
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    no_header: bool = False,
    keep: tuple[str, ...] = (),
    columns_out: dict[str, str | None] | None = None,
) -> Iterator[Row]:
    """Rows of a data file, one at a time (``path="-"`` reads stdin).

    ``labels``: ``"required"`` (every row must carry one; training), ``"optional"`` (read
    labels where the file has them; evaluation and prediction) or ``"ignore"``. Columns are
    guessed from common names only when exactly one candidate fits; otherwise pass them.
    ``no_header``: a CSV/TSV file whose first row is data; columns are then named by number
    (``text_column="2"``; 1 is the first).

    Labels are text as written in the file, surrounding spaces removed. A JSON number label
    is kept as written too (``1`` is ``"1"``, ``1.0`` is ``"1.0"``), so CSV ``1`` and JSON
    ``1`` are one class, while ``1``, ``1.0`` and ``01`` are never merged (``read_table``
    refuses training labels that spell one number two ways).

    Memory is bounded whatever the file: a line (a CSV row, a folder's document) longer than
    ``max_line_bytes`` is refused while it is read. Character devices and sockets are refused;
    a FIFO is read like stdin. A UTF-8, UTF-16 or UTF-32 byte-order mark decides the encoding.

    ``keep``: CSV/TSV columns or JSON keys to carry along in ``Row.fields`` (an id to join
    predictions back on, fields to pass through). A CSV/TSV column that is not there is an
    error; a JSON key missing from one object is ``None`` there. Other formats have no named
    fields and refuse ``keep``. ``columns_out``: a dict that gets the CSV/TSV column or JSON
    key read for ``"text"`` and ``"label"`` once they are known (nothing for other formats).
    """
    if labels not in ("required", "optional", "ignore"):
        raise ValueError(f"labels must be 'required', 'optional' or 'ignore', got {labels!r}")
    if format is not None and format not in FORMATS:
        raise DataFileError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    if isinstance(max_line_bytes, bool) or not isinstance(max_line_bytes, int) or max_line_bytes < 1:
        raise DataFileError(f"--max-line-bytes must be a whole number of at least 1, got {max_line_bytes!r}")
    encoding = _check_encoding(encoding)
    name = "<stdin>" if str(path) == "-" else str(path)
    mode = None
    if str(path) != "-":
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            raise FileNotFoundError(f"data file {path} does not exist") from None
        except (OSError, ValueError) as exc:
            raise DataFileError(f"data file {path} cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    if format == "folder" or (format is None and mode is not None and stat.S_ISDIR(mode)):
        if mode is None or not stat.S_ISDIR(mode):
            raise DataFileError(f"{path} is not a folder")
        if no_header:
            raise DataFileError(f"{path}: --no-header is for CSV and TSV files, not a folder of documents")
        if keep:
            raise DataFileError(
                f"{path} is a folder of documents, which have no named fields to pass through (--id-column, "
                "--keep-fields); each prediction's line is its file"
            )
        yield from _check_rows(_iter_folder(Path(path), encoding, max_line_bytes, labels), labels)
        return
    if mode is not None and stat.S_ISDIR(mode):
        raise DataFileError(f"{path} is a folder, but --format {format} reads one file; drop --format to read a folder")
    if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        raise DataFileError(
            f"{path} is {_kind(mode)}, not a data file; save the data to a file (or pipe it to --data -)"
        )
    stream = _open_stream(path, encoding, name)
    handle = stream.handle
    try:
        if format is None:
            head = handle.peek(4096)[:4096] if hasattr(handle, "peek") else b""
            format = detect_format(path, head)
        if no_header and format not in ("csv", "tsv"):
            raise DataFileError(f"{name}: --no-header is for CSV and TSV files; this one is read as {format}")
        if keep and format not in ("csv", "tsv", "jsonl"):
            raise DataFileError(
                f"{name} is read as {format}, which has no named fields to pass through (--id-column, "
                "--keep-fields); use CSV, TSV or JSON Lines, or drop those options"
            )
        lines = _decoded_lines(handle, name, stream.encoding, max_line_bytes, stream.offset, stream.recoded_from)
        if format in ("csv", "tsv"):
            delimiter = "," if format == "csv" else "\t"
            rows = _iter_delimited(
                lines, delimiter, name, text_column, label_column, labels, no_header, max_line_bytes, keep, columns_out
            )
        elif format == "jsonl":
            rows = _iter_jsonl(lines, name, text_column, label_column, labels, keep, columns_out)
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


def _check_label_spellings(table: Table) -> None:
    """Labels are compared as written; two spellings of one number (``1`` and ``1.0`` or
    ``01``) would silently become two classes, so they are refused, naming both."""
    first: dict[str, int] = {}
    for index, label in enumerate(table.labels):
        if label is not None and label not in first:
            first[label] = index
    by_value: dict[Decimal, str] = {}
    for label, index in first.items():
        if not _NUMBER.fullmatch(label):
            continue
        try:
            value = Decimal(label)  # exact: 1e400 and 2e400 stay apart (as floats both are inf)
        except InvalidOperation:  # an exponent past what decimal holds: no other spelling to clash with
            continue
        if value in by_value:
            other = by_value[value]
            raise DataFileError(
                f"{table.source}: the labels {other!r} (first at {table.where(first[other])}) and {label!r} (first "
                f"at {table.where(index)}) are one number written two ways. Labels are compared as written, so they "
                "would be two classes: write each label one way"
            )
        by_value[value] = label


def read_table(path: str | os.PathLike, **options: Any) -> Table:
    """Every row of a data file in memory (see ``iter_table`` for the options). An empty file
    is an error: there is nothing to train or evaluate on; so are training labels that spell
    one number two ways (``1`` and ``1.0``)."""
    name = "<stdin>" if str(path) == "-" else str(path)
    table = Table(source=name)
    is_folder = options.get("format") == "folder" or (str(path) != "-" and Path(path).is_dir())
    columns: dict[str, str | None] = {}
    for row in iter_table(path, **options, columns_out=columns):
        table.texts.append(row.text)
        table.labels.append(row.label)
        table.lines.append(row.line)
        if is_folder:
            table.files.append(row.source)
    if not table.texts:
        raise DataFileError(f"{name} holds no rows (an empty file, or only a header); nothing to read")
    table.text_column, table.label_column = columns.get("text"), columns.get("label")
    if options.get("labels") == "required":
        _check_label_spellings(table)
    return table


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralize_csv_cell(value: str) -> str:
    """A cell safe to open in a spreadsheet (OWASP's advice on CSV injection): a value that
    starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``, so
    Excel, LibreOffice and Google Sheets show it as text instead of running it as a formula
    (``=HYPERLINK(...)``). Plain numbers (``-1``, ``+0.5``, ``-2e3``) are left as they are: a
    spreadsheet reads them as numbers, never as formulas."""
    if value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def training_warnings(table: Table, *, naive_bayes: bool = False) -> list[str]:
    """One-line warnings about labelled training data that reads but is probably not what was
    meant: a label column with a different value on every row (an id?), classes with a single
    example for naive Bayes, a text column that holds numbers. Each names the column and what
    to check; none stops the run."""
    label_place = f"the label column {table.label_column!r}" if table.label_column else "the labels"
    text_place = f"the text column {table.text_column!r}" if table.text_column else "the texts"
    counts: dict[str, int] = {}
    for label in table.labels:
        if label is not None:
            counts[label] = counts.get(label, 0) + 1
    warnings = []
    n = len(table.labels)
    if n >= ID_LIKE_MIN_ROWS and len(counts) == n:
        warnings.append(
            f"warning: {label_place} has a different value on every one of the {n:,} rows (an id, or a score?): "
            "each class is one text. Check --label-column"
        )
    single = sorted(label for label, count in counts.items() if count == 1)
    if naive_bayes and single:
        shown = ", ".join(repr(s) for s in single[:3]) + (", ..." if len(single) > 3 else "")
        every = "every class has" if len(single) == len(counts) else f"{len(single):,} of {len(counts):,} classes have"
        warnings.append(
            f"warning: naive Bayes: {every} one training example ({shown}), so its word probabilities come from one "
            f"text. Check {label_place} (--label-column), or add examples"
        )
    texts = [t.strip() for t in table.texts if t.strip()]
    numeric = [t for t in texts if _NUMBER.fullmatch(t.replace(",", ""))]
    if texts and len(numeric) >= NUMERIC_TEXT_SHARE * len(texts):
        warnings.append(
            f"warning: {text_place} looks numeric ({len(numeric):,} of {len(texts):,} texts are numbers, such as "
            f"{numeric[0]!r}): is it the column you meant? Check --text-column"
        )
    return warnings


ID_LIKE_MIN_ROWS = 5  # fewer rows with distinct labels are a toy file more often than an id column
NUMERIC_TEXT_SHARE = 0.9  # this share of non-empty texts being numbers marks a numeric column
