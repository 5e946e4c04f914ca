"""Hostile and careless data files (issue 28): every refusal is a DataFileError (a ValueError)
naming the file, line or field and what to do; big inputs are refused within bounded memory;
a data folder follows no link out of itself; UTF-16/32 files are read; labels follow one rule;
CSV outputs are safe to open in a spreadsheet."""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from textkit.data.tables import DataFileError, iter_table, neutralize_csv_cell, read_table

TEXTKIT = Path(sys.executable).with_name("textkit")


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


# --- bounded memory: big inputs in a subprocess, peak RSS measured -------------------------------

BIG = 24 << 20  # bytes of the over-long line: small enough to write fast, far over the limit and the bound
LIMIT = 64 << 10  # --max-line-bytes for these cases
GROWTH_KB = 4 << 10  # allowed peak RSS growth while reading: the limit plus a constant, far under BIG

_CHILD = r"""
import json, os, resource, sys, threading
# a safety net: a runaway read fails here instead of eating the machine
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from textkit.data.tables import read_table

case, path, limit, big = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if case == "fifo":
    os.mkfifo(path)

    def feed():
        with open(path, "wb") as pipe:
            try:
                for _ in range(big // (1 << 20)):
                    pipe.write(b"x" * (1 << 20))
            except BrokenPipeError:
                pass

    threading.Thread(target=feed, daemon=True).start()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    read_table(path, max_line_bytes=limit, labels="ignore")
    error = None
except Exception as exc:
    error = f"{type(exc).__name__}: {exc}"
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"error": error, "grown_kb": grown}))
"""


def _big_input(case: str, tmp_path: Path) -> tuple[str, object]:
    """(the --data path, what stdin is) of a case; files are written here, a FIFO by the child."""
    line = b"x" * BIG
    if case == "text-no-newline":
        return str(write(tmp_path / "big.txt", line)), None
    if case == "csv-no-newline":
        return str(write(tmp_path / "big.csv", b"text,label\n" + line)), None
    if case == "jsonl-no-newline":
        return str(write(tmp_path / "big.jsonl", b'{"text": "' + line)), None
    if case == "utf16-no-newline":
        return str(write(tmp_path / "big.csv", codecs.BOM_UTF16_LE + "text\n".encode("utf-16-le") + line)), None
    if case == "csv-unclosed-quote":
        rows = b"".join(b"more text inside one quoted field %d\n" % i for i in range(BIG // 40))
        return str(write(tmp_path / "q.csv", b'text,label\n"never closed,' + rows)), None
    if case == "folder-big-document":
        write(tmp_path / "docs" / "pos" / "a.txt", b"fine")
        write(tmp_path / "docs" / "neg" / "big.txt", line)
        return str(tmp_path / "docs"), None
    if case == "stdin-dev-zero":
        return "-", open("/dev/zero", "rb")  # closed by the caller
    if case == "fifo":
        return str(tmp_path / "pipe.txt"), None
    raise AssertionError(case)


BIG_CASES = {
    "text-no-newline": r"big.txt, line 1: the line is 25,165,824 bytes long, over the limit of 65,536",
    "csv-no-newline": r"big.csv, line 2: the line is 25,165,824 bytes long",
    "jsonl-no-newline": r"big.jsonl, line 1: the line is 25,165,834 bytes long",
    "utf16-no-newline": r"big.csv, line 2: the line is \S+ bytes long, over the limit of 65,536",
    "csv-unclosed-quote": r"q.csv, line \d+: the CSV row that starts on an earlier line is over 65,536 characters",
    "folder-big-document": r"big.txt: the document is over the limit of 65,536 bytes",
    "stdin-dev-zero": r"<stdin>, line 1: the line is over 67,174,400 bytes long",
    "fifo": r"pipe.txt, line 1: the line is 25,165,824 bytes long",
}


@pytest.mark.parametrize("case", list(BIG_CASES))
def test_hostile_big_input_is_refused_in_bounded_memory(tmp_path, case):
    """Before: the whole line was read first (a 1.5 GB line reached 1.7 GB RSS and a
    MemoryError). After: refused while reading, peak RSS within the limit plus a constant."""
    path, stdin = _big_input(case, tmp_path)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, case, path, str(LIMIT), str(BIG)],
            stdin=stdin or subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        if stdin is not None:
            stdin.close()
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["error"] and result["error"].startswith("DataFileError: "), result
    assert re.search(BIG_CASES[case], result["error"]), result["error"]
    assert result["grown_kb"] < GROWTH_KB, f"peak RSS grew {result['grown_kb']:,} kB reading {BIG:,} bytes"


def test_hostile_big_line_read_when_the_limit_allows(tmp_path):
    path = write(tmp_path / "d.txt", "a" * 5000 + "\nshort\n")
    assert [len(r.text) for r in iter_table(path, max_line_bytes=5001)] == [5000, 5]
    with pytest.raises(DataFileError, match=r"line 1: the line is 5,001 bytes long, over the limit of 5,000"):
        list(iter_table(path, max_line_bytes=5000))


@pytest.mark.parametrize("limit", [0, -1, 1.5, True, "10"])
def test_hostile_max_line_bytes_option(tmp_path, limit):
    path = write(tmp_path / "d.txt", "a\n")
    with pytest.raises(DataFileError, match="--max-line-bytes must be a whole number of at least 1"):
        read_table(path, max_line_bytes=limit)


# --- devices, FIFOs, sockets ----------------------------------------------------------------------


@pytest.mark.parametrize(("device", "kind"), [("/dev/zero", "a character device"), ("/dev/null", "a character device")])
def test_hostile_device_file_is_refused(device, kind):
    with pytest.raises(DataFileError, match=f"{device} is {kind}, not a data file; save the data to a file"):
        read_table(device)


def test_hostile_folder_read_as_one_file_is_named(tmp_path):
    write(tmp_path / "docs" / "a.txt", "x")
    with pytest.raises(DataFileError, match=r"docs is a folder, but --format csv reads one file; drop --format"):
        read_table(tmp_path / "docs", format="csv")


def test_hostile_socket_is_refused(tmp_path):
    path = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
        with pytest.raises(DataFileError, match="s.sock is a socket, not a data file"):
            read_table(path)
    finally:
        server.close()


def test_hostile_fifo_is_streamed_like_stdin(tmp_path):
    path = tmp_path / "pipe.txt"
    os.mkfifo(path)

    def feed():
        with open(path, "wb") as pipe:
            pipe.write(b"first\nsecond\n")

    thread = threading.Thread(target=feed)
    thread.start()
    assert read_table(path).texts == ["first", "second"]
    thread.join()


def test_hostile_stdin_still_reads_and_detects_a_bom(monkeypatch):
    raw = codecs.BOM_UTF16_BE + '{"text": "héllo", "label": 2}\n'.encode("utf-16-be")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(raw))))
    assert [(r.text, r.label) for r in iter_table("-")] == [("héllo", "2")]


# --- a folder of documents: no link out ----------------------------------------------------------


@pytest.fixture
def outside(tmp_path) -> Path:
    """A secret file and folder beside the data folder."""
    write(tmp_path / "secret" / "hostname", "secret-host\n")
    return tmp_path / "secret"


@pytest.mark.parametrize(
    ("layout", "labels", "culprit"),
    [
        ("file-link-in-a-label-folder", "required", "docs/pos/leak.txt"),
        ("label-folder-is-a-link", "required", "docs/neg"),
        ("nested-link-unlabelled", "ignore", "docs/deep/er/leak.txt"),
        ("absolute-link-to-etc", "required", "docs/pos/hostname.txt"),
        ("link-to-parent", "ignore", "docs/up"),
    ],
)
def test_hostile_folder_link_out_is_refused(tmp_path, outside, layout, labels, culprit):
    """Before: /etc/hostname ended up in a model's vocabulary. After: refused, naming the link."""
    write(tmp_path / "docs" / "pos" / "a.txt", "good")
    if layout == "file-link-in-a-label-folder":
        (tmp_path / "docs" / "pos" / "leak.txt").symlink_to(outside / "hostname")
    elif layout == "label-folder-is-a-link":
        (tmp_path / "docs" / "neg").symlink_to(outside, target_is_directory=True)
    elif layout == "nested-link-unlabelled":
        (tmp_path / "docs" / "deep" / "er").mkdir(parents=True)
        (tmp_path / "docs" / "deep" / "er" / "leak.txt").symlink_to(outside / "hostname")
    elif layout == "absolute-link-to-etc":
        (tmp_path / "docs" / "pos" / "hostname.txt").symlink_to("/etc/hostname")
    else:
        (tmp_path / "docs" / "up").symlink_to("..", target_is_directory=True)
    with pytest.raises(DataFileError, match="follows no link out of a data folder") as info:
        read_table(tmp_path / "docs", labels=labels)
    assert str(tmp_path / culprit) in str(info.value) and "secret-host" not in str(info.value)


def test_hostile_folder_links_inside_are_read(tmp_path):
    write(tmp_path / "docs" / "pos" / "a.txt", "good")
    write(tmp_path / "docs" / "neg" / "b.txt", "bad")
    (tmp_path / "docs" / "pos" / "c.txt").symlink_to("../neg/b.txt")
    table = read_table(tmp_path / "docs", labels="required")
    assert sorted(zip(table.labels, table.texts, strict=True)) == [("neg", "bad"), ("pos", "bad"), ("pos", "good")]


@pytest.mark.parametrize("kind", ["fifo", "dangling", "nul-bytes"])
def test_hostile_folder_odd_entries_are_named(tmp_path, kind):
    write(tmp_path / "docs" / "pos" / "a.txt", "good")
    odd = tmp_path / "docs" / "pos" / "odd.txt"
    if kind == "fifo":
        os.mkfifo(odd)  # no writer: opening it would hang; it is refused before
        message = "odd.txt in the data folder is a FIFO"
    elif kind == "dangling":
        odd.symlink_to("gone.txt")
        message = r"odd.txt is a symbolic link to nothing \(gone.txt\); remove it"
    else:
        write(odd, b"\x89PNG\r\n\x1a\n\x00\x00")
        message = "odd.txt: a NUL byte at byte offset 8: a binary file"
    with pytest.raises(DataFileError, match=message):
        read_table(tmp_path / "docs", labels="required")


def test_hostile_folder_under_a_hidden_folder_is_read(tmp_path):
    """Before: every file under a path with a hidden part (~/.cache/...) was skipped."""
    write(tmp_path / ".cache" / "docs" / "a.txt", "one")
    write(tmp_path / ".cache" / "docs" / "sub" / "b.txt", "two")
    write(tmp_path / ".cache" / "docs" / ".git" / "c.txt", "hidden")
    assert read_table(tmp_path / ".cache" / "docs", labels="ignore").texts == ["one", "two"]


def test_hostile_folder_utf16_document(tmp_path):
    write(tmp_path / "docs" / "pos" / "a.txt", codecs.BOM_UTF16_LE + "café".encode("utf-16-le"))
    write(tmp_path / "docs" / "neg" / "b.txt", "thé")
    table = read_table(tmp_path / "docs", labels="required")
    assert sorted(table.texts) == ["café", "thé"]


# --- encodings -------------------------------------------------------------------------------------

BOMS = {
    "utf-8": codecs.BOM_UTF8,
    "utf-16-le": codecs.BOM_UTF16_LE,
    "utf-16-be": codecs.BOM_UTF16_BE,
    "utf-32-le": codecs.BOM_UTF32_LE,
    "utf-32-be": codecs.BOM_UTF32_BE,
}


@pytest.mark.parametrize("codec", list(BOMS))
@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".tsv"])
def test_hostile_unicode_file_with_a_bom_is_read(tmp_path, codec, suffix):
    """Before: a UTF-16 file got the hint --encoding cp1252, which gave columns like
    'ÿþt\\x00e\\x00x\\x00t\\x00'. After: the byte-order mark decides."""
    text = {
        ".csv": 'text,label\n"café, ""ok""",pos\nthé 日本,neg\n',
        ".tsv": 'text\tlabel\ncafé, "ok"\tpos\nthé 日本\tneg\n',
        ".jsonl": '{"text": "café, \\"ok\\"", "label": "pos"}\n{"text": "thé 日本", "label": "neg"}\n',
    }[suffix]
    path = write(tmp_path / f"d{suffix}", BOMS[codec] + text.encode(codec))
    table = read_table(path, labels="required")
    assert table.texts == ['café, "ok"', "thé 日本"] and table.labels == ["pos", "neg"]
    assert table.lines == ([1, 2] if suffix == ".jsonl" else [2, 3])


@pytest.mark.parametrize(
    ("content", "options", "message"),
    [
        (
            "text,label\ncafé,pos\n".encode("utf-16-le"),
            {},
            r"line 1: a NUL byte at byte offset 1.*--encoding utf-16-le",
        ),
        ("text,label\ncafé,pos\n".encode("utf-16-le"), {"encoding": "utf-16"}, r"no byte-order mark.*utf-16-le"),
        ("text,label\nok,pos\n".encode("utf-32-be"), {"encoding": "utf-32"}, r"no byte-order mark.*utf-32-le"),
        (
            codecs.BOM_UTF16_LE + b"t\x00\n\x00",
            {"encoding": "cp1252"},
            r"UTF-16-LE byte-order mark, but --encoding cp1252",
        ),
        (
            codecs.BOM_UTF8 + b"text\nx\n",
            {"encoding": "latin-1"},
            r"UTF-8 byte-order mark, but --encoding iso8859-1 was given; drop --encoding",
        ),
        (b"text\nx\n", {"encoding": "rot13"}, r"--encoding 'rot13' is not a text encoding"),
        (b"text\nx\n", {"encoding": "base64"}, r"--encoding 'base64' is not a text encoding"),
        (b"text\nx\n", {"encoding": "no-such-codec"}, r"unknown encoding 'no-such-codec'"),
        (b"text\nx\n", {"encoding": ""}, r"unknown encoding ''"),
        (
            codecs.BOM_UTF16_LE + "text\nab".encode("utf-16-le") + b"\x00\xd8" + "c\n".encode("utf-16-le"),
            {},
            r"line 2: bytes .* at byte offset 16 are not valid utf-16-le \(illegal UTF-16 surrogate\)",
        ),
        (codecs.BOM_UTF16_LE + "text\nab\n".encode("utf-16-le") + b"x", {}, r"not valid utf-16-le \(truncated data\)"),
        (b"text\ncaf\xe9\n", {}, r"line 2: byte b'\\xe9' at byte offset 8 is not valid utf-8.*--encoding cp1252"),
        (b"text\nabc\x00def\n", {}, r"line 2: a NUL byte at byte offset 8"),
        (
            codecs.BOM_UTF16_LE + "text\nab\x00c\n".encode("utf-16-le"),
            {},
            r"line 2: the text holds the character U\+0000",
        ),
    ],
)
def test_hostile_encodings_are_named(tmp_path, content, options, message):
    path = write(tmp_path / "d.csv", content)
    with pytest.raises(DataFileError, match=message) as info:
        read_table(path, **options)
    assert "d.csv" in str(info.value) or "encoding" in str(info.value)


def test_hostile_bomless_utf16_read_with_its_byte_order(tmp_path):
    path = write(tmp_path / "d.csv", "text,label\ncafé,pos\n".encode("utf-16-le"))
    assert read_table(path, encoding="utf-16-le").texts == ["café"]
    path = write(tmp_path / "e.csv", "text,label\ncafé,pos\n".encode("cp500"))  # EBCDIC: recoded too
    assert read_table(path, encoding="cp500").labels == ["pos"]


def test_hostile_utf16_line_limit_applies(tmp_path):
    path = write(tmp_path / "d.txt", codecs.BOM_UTF16_LE + ("ok\n" + "y" * 500 + "\n").encode("utf-16-le"))
    with pytest.raises(DataFileError, match=r"d.txt, line 2: the line is 501 bytes long, over the limit of 100"):
        read_table(path, max_line_bytes=100)


# --- headers --------------------------------------------------------------------------------------

HEADERLESS = "1,the rock is destined to be the 21st century's new conan\n0,a dull film\n"


def test_hostile_headerless_csv_gets_the_no_header_hint(tmp_path):
    """Before: "cannot tell which column holds the text; the columns are ['1', 'the rock is
    destined…']" with no hint. After: the message says to pass --no-header."""
    path = write(tmp_path / "d.csv", HEADERLESS)
    for labels in ("required", "optional", "ignore"):
        with pytest.raises(DataFileError, match=r"d.csv: cannot tell which column.*looks like data.*pass --no-header"):
            read_table(path, labels=labels)
    with pytest.raises(DataFileError, match=r"no label column found.*looks like data.*pass --no-header"):
        read_table(write(tmp_path / "e.csv", "the rock is destined to be\n"), labels="required")
    with pytest.raises(DataFileError, match=r"no text column 'review'.*looks like data.*--no-header"):
        read_table(path, text_column="review")


@pytest.mark.parametrize(
    ("options", "texts", "labels"),
    [
        ({"label_column": "1"}, ["the rock is destined to be the 21st century's new conan", "a dull film"], ["1", "0"]),
        (
            {"text_column": "2"},
            ["the rock is destined to be the 21st century's new conan", "a dull film"],
            [None, None],
        ),
        (
            {"text_column": "1", "label_column": "2"},
            ["1", "0"],
            ["the rock is destined to be the 21st century's new conan", "a dull film"],
        ),
    ],
)
def test_hostile_no_header_reads_the_first_row_as_data(tmp_path, options, texts, labels):
    table = read_table(write(tmp_path / "d.csv", HEADERLESS), no_header=True, **options)
    assert table.texts == texts and table.labels == labels and table.lines == [1, 2]


@pytest.mark.parametrize(
    ("name", "content", "options", "message"),
    [
        ("d.csv", HEADERLESS, {"labels": "required"}, r"with --no-header, pass --label-column N"),
        ("d.csv", "a,b,c\n", {}, r"with --no-header, pass --text-column N.*3 fields"),
        ("d.csv", HEADERLESS, {"text_column": "3"}, r"--text-column is a column number from 1 to 2, got '3'"),
        ("d.csv", HEADERLESS, {"text_column": "text"}, r"--text-column is a column number from 1 to 2, got 'text'"),
        ("d.csv", HEADERLESS, {"label_column": "0"}, r"--label-column is a column number from 1 to 2, got '0'"),
        ("d.csv", "1,a\n0,b,extra\n", {"label_column": "1"}, r"line 2: the row has 3 fields but the header has 2"),
        ("d.jsonl", '{"text": "a"}\n', {}, r"--no-header is for CSV and TSV files; this one is read as jsonl"),
        ("d.csv", "", {}, r"d.csv is empty: expected one row per text"),
    ],
)
def test_hostile_no_header_mistakes(tmp_path, name, content, options, message):
    with pytest.raises(DataFileError, match=message):
        read_table(write(tmp_path / name, content), no_header=True, **options)


def test_hostile_no_header_on_a_folder(tmp_path):
    write(tmp_path / "docs" / "a.txt", "x")
    with pytest.raises(DataFileError, match="--no-header is for CSV and TSV files, not a folder"):
        read_table(tmp_path / "docs", no_header=True)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("text,label,text\na,b,c\n", r"d.csv, line 1: the header names the column 'text' twice \(fields 1 and 3\)"),
        ("label,text,label\na,b,c\n", r"the header names the column 'label' twice \(fields 1 and 3\)"),
        (" text ,label,text\na,b,c\n", r"the header names the column 'text' twice"),
        ("\n\ntext,label,label\na,b,c\n", r"d.csv, line 3: the header names the column 'label' twice"),
        ("Text,text,label\na,b,c\n", r"columns \['Text', 'text'\] could each be the text column"),
    ],
)
def test_hostile_duplicate_columns_are_refused(tmp_path, content, message):
    """Before: a duplicate column silently used the first one."""
    with pytest.raises(DataFileError, match=message):
        read_table(write(tmp_path / "d.csv", content))


def test_hostile_duplicate_json_key_is_refused(tmp_path):
    path = write(tmp_path / "d.jsonl", '{"text": "a", "label": "x"}\n{"text": "b", "text": "c", "label": "y"}\n')
    with pytest.raises(DataFileError, match=r"d.jsonl, line 2: the object has the key 'text' twice"):
        read_table(path)


def test_hostile_blank_lines_before_the_header_and_empty_column_names(tmp_path):
    table = read_table(write(tmp_path / "d.csv", "\n\ntext,label,,\nhello,pos,,\n"), labels="required")
    assert table.texts == ["hello"] and table.lines == [4]


def test_hostile_long_header_cells_are_cut_in_messages(tmp_path):
    path = write(tmp_path / "d.csv", "x" * 5000 + "," + "y" * 5000 + "\na,b\n")
    with pytest.raises(DataFileError) as info:
        read_table(path)
    assert len(str(info.value)) < 600 and "x" * 40 + "..." in str(info.value)


# --- labels: one rule for CSV and JSON --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "first", "second"),
    [
        ("d.csv", "text,label\na,1\nb,1.0\n", "'1' (first at {p}, line 2)", "'1.0' (first at {p}, line 3)"),
        ("d.csv", "text,label\na,1\nb,01\n", "'1'", "'01'"),
        ("d.csv", "text,label\na,-1\nb,-1.00\nc,2\n", "'-1'", "'-1.00'"),
        ("d.tsv", "text\tlabel\na\t1e2\nb\t100\n", "'1e2'", "'100'"),
        ("d.jsonl", '{"text": "a", "label": 1}\n{"text": "b", "label": 1.0}\n', "'1'", "'1.0'"),
        ("d.jsonl", '{"text": "a", "label": "1"}\n{"text": "b", "label": 1.0}\n', "'1'", "'1.0'"),
        ("d.txt", "__label__1 a\n__label__01 b\n", "'1'", "'01'"),
    ],
)
def test_hostile_one_number_spelled_two_ways_is_refused(tmp_path, name, content, first, second):
    """Before: 1, 1.0 and 01 were three classes from CSV, while JSON merged 1 and 1.0."""
    path = write(tmp_path / name, content)
    with pytest.raises(DataFileError, match="are one number written two ways") as info:
        read_table(path, labels="required")
    assert first.format(p=path) in str(info.value) and second.format(p=path) in str(info.value)


def test_hostile_labels_agree_across_csv_and_json(tmp_path):
    csv_table = read_table(write(tmp_path / "d.csv", "text,label\na,1\nb, 2 \nc,1.5\n"), labels="required")
    json_rows = '{"text": "a", "label": 1}\n{"text": "b", "label": " 2"}\n{"text": "c", "label": 1.5}\n'
    json_table = read_table(write(tmp_path / "d.jsonl", json_rows), labels="required")
    assert csv_table.labels == json_table.labels == ["1", "2", "1.5"]
    unlabelled = read_table(write(tmp_path / "e.jsonl", '{"text": "a", "label": 1.0}\n'))
    assert unlabelled.labels == ["1.0"]  # kept as written, never rewritten to "1"
    huge = "text,label\na,1e400\nb,2e400\nc,1e99999999999999999999\nd,10e99999999999999999999\n"
    assert read_table(write(tmp_path / "h.csv", huge), labels="required").labels[:2] == ["1e400", "2e400"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ('{"text": "a", "label": true}', r"line 1: the label is a JSON boolean"),
        ('{"text": "a", "label": {"x": 1}}', r"line 1: the label is a JSON object"),
        ('{"text": "a", "label": [1, 2]}', r"line 1: the label is a JSON array"),
        ('{"text": 5, "label": "x"}', r"line 1: 'text' is a JSON number, not a string"),
        ('{"text": null, "label": "x"}', r"line 1: 'text' is a JSON null, not a string"),
        ("[1, 2]", r"line 1: expected a JSON object, got a JSON array"),
        ("7", r"line 1: expected a JSON object, got a JSON number"),
        ('{"text": ' + "[" * 50000, r"line 1: the JSON is nested too deeply to read"),
        ('{"text": "a", "label": 1' + "0" * 5000 + "}", None),
    ],
)
def test_hostile_json_values(tmp_path, row, message):
    path = write(tmp_path / "d.jsonl", row + "\n")
    if message is None:  # a 5,000-digit number: kept as written, no int-conversion limit error
        assert read_table(path).labels == ["1" + "0" * 5000]
        return
    with pytest.raises(DataFileError, match=message):
        read_table(path)


# --- CSV formula injection ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://evil","click")', '\'=HYPERLINK("http://evil","click")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("-1", "-1"),
        ("+0.5", "+0.5"),
        ("-2e3", "-2e3"),
        ("pos", "pos"),
        ("p_=1+1", "p_=1+1"),
        ("", ""),
        ("'=already", "'=already"),
    ],
)
def test_hostile_csv_cells_are_neutralised(cell, written):
    assert neutralize_csv_cell(cell) == written


# --- the command line: exit 1, one message naming the culprit, no traceback, no output ----------


def _textkit(args: list[str], cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "TEXTKIT_HOME": str(cwd.parent / "home")}
    return subprocess.run([str(TEXTKIT), *args], capture_output=True, input=stdin, env=env, cwd=cwd, timeout=300)


@pytest.mark.parametrize(
    ("case", "extra", "message"),
    [
        ("dev-zero", [], "/dev/zero is a character device, not a data file"),
        ("rot13", ["--encoding", "rot13"], "--encoding 'rot13' is not a text encoding"),
        ("headerless", [], "looks like data, not column names: if the file has no header row, pass --no-header"),
        ("folder-link", [], "follows no link out of a data folder"),
        ("long-line", ["--max-line-bytes", "100"], "d.csv, line 2: the line is 1,005 bytes long"),
        ("utf16-no-bom", [], "a NUL byte at byte offset 1"),
        ("duplicate", [], "the header names the column 'text' twice"),
        ("labels", [], "'1' (first at"),
    ],
)
def test_hostile_classify_train_on_the_command_line(tmp_path, case, extra, message):
    work = tmp_path / "work"
    work.mkdir()
    contents: dict[str, str | bytes] = {
        "headerless": HEADERLESS,
        "long-line": "text,label\n" + "x" * 1000 + ",pos\n",
        "utf16-no-bom": "text,label\nok,pos\n".encode("utf-16-le"),
        "duplicate": "text,label,text\na,b,c\n",
        "labels": "text,label\na,1\nb,1.0\n",
    }
    data: Path | str = write(tmp_path / "d.csv", contents.get(case, "text,label\na,pos\nb,neg\n"))
    if case == "dev-zero":
        data = "/dev/zero"
    elif case == "folder-link":
        write(tmp_path / "docs" / "pos" / "a.txt", "good")
        write(tmp_path / "secret.txt", "secret-host")
        (tmp_path / "docs" / "neg").mkdir()
        (tmp_path / "docs" / "neg" / "b.txt").symlink_to(tmp_path / "secret.txt")
        data = tmp_path / "docs"
    out = tmp_path / "model"
    proc = _textkit(["classify", "train", "--data", str(data), "--out", str(out), *extra], work)
    stderr = proc.stderr.decode()
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr
    assert message in stderr and stderr.count("\n") == 1
    assert not out.exists() and not any(work.iterdir())


def test_hostile_predict_csv_neutralises_formula_labels(tmp_path):
    """Before: labels like =HYPERLINK(...) were written raw into predict CSVs. After: a leading
    ' (OWASP), unless --raw-csv; JSON Lines output keeps them as they are. The training file
    has no header (--no-header --label-column 1)."""
    work = tmp_path / "work"
    work.mkdir()
    evil = '=HYPERLINK("http://evil.example","click")'
    rows = [f'"{evil.replace(chr(34), chr(34) * 2)}",bad film awful plot'] * 3 + ["@SUM(1),good film great cast"] * 3
    data = write(tmp_path / "train.csv", "\n".join(rows) + "\n")
    model = tmp_path / "model"
    proc = _textkit(
        [
            "classify",
            "train",
            "--data",
            str(data),
            "--no-header",
            "--label-column",
            "1",
            "--method",
            "nb",
            "--out",
            str(model),
            "--quiet",
        ],
        work,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    texts = write(tmp_path / "new.txt", "awful plot\ngreat cast\n")
    outputs = {}
    for name, extra in (("safe.csv", []), ("raw.csv", ["--raw-csv"])):
        proc = _textkit(
            ["classify", "predict", str(model), "--data", str(texts), "--proba", "--out", str(tmp_path / name), *extra],
            work,
        )
        assert proc.returncode == 0, proc.stderr.decode()
        outputs[name] = list(csv.reader((tmp_path / name).read_text().splitlines()))
    safe, raw = outputs["safe.csv"], outputs["raw.csv"]
    # a p_ header starts with "p": never a formula, so both keep it
    assert safe[0] == raw[0] == ["line", "label", "empty", "p_" + evil, "p_@SUM(1)"]
    assert [row[:2] for row in safe[1:]] == [["1", "'" + evil], ["2", "'@SUM(1)"]]
    assert [row[:2] for row in raw[1:]] == [["1", evil], ["2", "@SUM(1)"]]
