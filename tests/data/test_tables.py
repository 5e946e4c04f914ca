"""Reading users' own data files: every format, column guessing, and bad input named by
file and line."""

from __future__ import annotations

import io
import json
import sys

import pytest

from textkit.data.tables import DataFileError, detect_format, iter_table, read_table


def write(path, text: str | bytes):
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


def test_csv_with_quotes_commas_and_newlines(tmp_path):
    path = write(tmp_path / "d.csv", 'text,label\n"fine, really",pos\n"two\nlines ""quoted""",neg\nplain,pos\n')
    table = read_table(path, labels="required")
    assert table.texts == ["fine, really", 'two\nlines "quoted"', "plain"]
    assert table.labels == ["pos", "neg", "pos"]
    assert table.lines == [2, 3, 5]  # the row that spans two lines starts at line 3
    assert table.where(2) == f"{path}, line 5"


def test_tsv_keeps_quotes_literal(tmp_path):
    path = write(tmp_path / "d.tsv", 'sentence\tsentiment\na 5" screen\t1\nok\t0\n')
    table = read_table(path, labels="required")
    assert table.texts == ['a 5" screen', "ok"]
    assert table.labels == ["1", "0"]


def test_jsonl_integer_labels_and_blank_lines(tmp_path):
    rows = [{"text": "good", "label": 1}, {"text": "bad", "label": 0}]
    path = write(tmp_path / "d.jsonl", json.dumps(rows[0]) + "\n\n" + json.dumps(rows[1]) + "\n")
    table = read_table(path, labels="required")
    assert table.texts == ["good", "bad"] and table.labels == ["1", "0"] and table.lines == [1, 3]


def test_fasttext_lines(tmp_path):
    path = write(tmp_path / "d.txt", "__label__pos great film\n__label__neg dull\n")
    assert detect_format(path, path.read_bytes()) == "fasttext"
    table = read_table(path, labels="required")
    assert table.texts == ["great film", "dull"] and table.labels == ["pos", "neg"]


def test_plain_text_one_document_per_line(tmp_path):
    path = write(tmp_path / "d.txt", "first doc\nsecond doc\r\n")
    rows = list(iter_table(path))
    assert [r.text for r in rows] == ["first doc", "second doc"]
    assert [r.label for r in rows] == [None, None]
    with pytest.raises(DataFileError, match="has no labels"):
        read_table(path, labels="required")


def test_folder_of_class_subfolders(tmp_path):
    for label, docs in {"pos": ["good", "great"], "neg": ["bad"]}.items():
        (tmp_path / "train" / label).mkdir(parents=True)
        for i, doc in enumerate(docs):
            write(tmp_path / "train" / label / f"{i}_7.txt", doc + "\n")
    table = read_table(tmp_path / "train", labels="required")
    assert sorted(zip(table.labels, table.texts, strict=True)) == [("neg", "bad"), ("pos", "good"), ("pos", "great")]
    assert table.where(0).endswith(".txt")


def test_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(b'{"text": "hi"}\n'))))
    assert [r.text for r in iter_table("-")] == ["hi"]


def test_columns_given_by_name_and_guessed_only_when_unambiguous(tmp_path):
    path = write(tmp_path / "d.csv", "id,review,stars\n1,nice,5\n")
    with pytest.raises(DataFileError, match=r"no label column found.*--label-column"):
        read_table(path, labels="required")
    table = read_table(path, label_column="stars", labels="required")
    assert table.texts == ["nice"] and table.labels == ["5"]
    assert read_table(write(tmp_path / "b.csv", "title,body,label\nt,b,x\n")).texts == ["b"]  # one known name
    ambiguous = write(tmp_path / "a.csv", "title,summary,label\nt,b,x\n")
    with pytest.raises(DataFileError, match="cannot tell which column holds the text"):
        read_table(ambiguous)
    with pytest.raises(DataFileError, match=r"no text column 'txt'; the columns are \['title', 'summary', 'label'\]"):
        read_table(ambiguous, text_column="txt")
    assert read_table(ambiguous, text_column="summary").texts == ["b"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"text,label\n", "holds no rows"),
        (b'text,label\n"unclosed,pos\nmore,neg\n', r"line 2: malformed CSV row"),
        (b'text,label\n"a"b,pos\n', r"line 2: malformed CSV row"),
        (b"text,label\none,two,three\n", r"line 2: the row has 3 fields but the header has 2"),
        (b"text,label\ncaf\xe9,pos\n", r"line 2: byte b'\\xe9' at byte offset 14 is not valid utf-8.*--encoding"),
        (b"text,label\nok,\n", r"line 2: the row has no label"),
    ],
)
def test_bad_csv_is_named_by_line(tmp_path, content, message):
    path = write(tmp_path / "bad.csv", content)
    with pytest.raises(DataFileError, match=message):
        read_table(path, labels="required")


def test_other_encodings_by_option(tmp_path):
    path = write(tmp_path / "d.csv", "text,label\ncafé,pos\n".encode("cp1252"))
    assert read_table(path, encoding="cp1252").texts == ["café"]
    with pytest.raises(DataFileError, match="no byte-order mark.*--encoding utf-16-le"):
        read_table(path, encoding="utf-16")


def test_a_huge_line_is_refused_unless_allowed(tmp_path):
    path = write(tmp_path / "d.txt", b"x" * 10_000_000 + b"\n")
    with pytest.raises(DataFileError, match=r"line 1: the line is 10,000,001 bytes long.*--max-line-bytes"):
        read_table(path)
    assert len(read_table(path, max_line_bytes=20_000_000).texts[0]) == 10_000_000


def test_bad_jsonl_and_multilabel_fasttext(tmp_path):
    path = write(tmp_path / "d.jsonl", '{"text": "a", "label": "x"}\n{"text": "b", label: 1}\n')
    with pytest.raises(DataFileError, match=r"line 2: not valid JSON"):
        read_table(path)
    path = write(tmp_path / "d.ft", "__label__a __label__b text\n")
    with pytest.raises(DataFileError, match=r"line 1: 2 labels \(a, b\); textkit classify is single-label"):
        read_table(path, format="fasttext", labels="required")


def test_unknown_suffix_and_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_table(tmp_path / "nope.csv")
    path = write(tmp_path / "data.xyz", "a,b\n")
    with pytest.raises(DataFileError, match="pass --format"):
        read_table(path)


def test_iter_table_streams(tmp_path):
    """Rows arrive before the file is fully read: a generator over a file much larger than
    the rows consumed."""
    path = write(tmp_path / "big.txt", "line\n" * 200_000)
    rows = iter_table(path)
    first = [next(rows) for _ in range(3)]
    assert [r.line for r in first] == [1, 2, 3]
    rows.close()
