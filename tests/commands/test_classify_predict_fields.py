"""`textkit classify predict --id-column / --keep-text / --keep-fields`: predictions a user can
join back on their own ids, with the text and the input's own fields passed through, and CSV
cells still neutralised against formula injection."""

from __future__ import annotations

import csv
import json

import pytest

from textkit.cli import main


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("predict-fields")
    train = folder / "train.csv"
    train.write_text(
        "id,text,label\n1,a gorgeous witty film,pos\n2,an unbearable mess,neg\n"
        "3,wonderful and moving,pos\n4,dull and tedious,neg\n",
        encoding="utf-8",
    )
    assert (
        main(["classify", "train", "--data", str(train), "--method", "nb", "--out", str(folder / "m"), "--quiet"]) == 0
    )
    return folder / "m"


def _jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_predict_jsonl_passes_id_text_and_fields_through(model, tmp_path):
    data = _jsonl(
        tmp_path / "new.jsonl",
        [
            {"review_id": "r1", "text": "a witty film", "stars": 5, "meta": {"x": 1.5}},
            {"review_id": 7, "text": "dull mess", "stars": 1.0},
        ],
    )
    out = tmp_path / "out.jsonl"
    argv = ["classify", "predict", str(model), "--data", str(data), "--out", str(out)]
    assert main(argv + ["--id-column", "review_id", "--keep-text", "--keep-fields", "stars,meta"]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert list(rows[0]) == ["review_id", "line", "label", "text", "stars", "meta"]  # the id comes first
    assert rows[0] == {
        "review_id": "r1",
        "line": 1,
        "label": "pos",
        "text": "a witty film",
        "stars": 5,
        "meta": {"x": 1.5},
    }
    # JSON values keep their type and spelling; a key missing from one object is null there
    assert rows[1]["review_id"] == 7 and rows[1]["stars"] == 1.0 and rows[1]["meta"] is None
    assert '"stars": 1.0' in out.read_text(encoding="utf-8").splitlines()[1]
    assert rows[1]["label"] == "neg"


def test_predict_csv_output_neutralises_passed_through_cells(model, tmp_path):
    data = tmp_path / "new.csv"
    with open(data, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["key", "text", "note"])
        writer.writerow(["=1+1", '=HYPERLINK("http://x") dull mess', "@SUM(A1)"])
        writer.writerow(["-2", "a witty film", "plain"])
    out = tmp_path / "out.csv"
    argv = ["classify", "predict", str(model), "--data", str(data), "--out", str(out), "--proba"]
    assert main(argv + ["--id-column", "key", "--keep-text", "--keep-fields", "note"]) == 0
    with open(out, encoding="utf-8", newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0] == ["key", "line", "label", "empty", "p_neg", "p_pos", "text", "note"]
    assert table[1][0] == "'=1+1" and table[1][6] == '\'=HYPERLINK("http://x") dull mess' and table[1][7] == "'@SUM(A1)"
    assert table[2][0] == "-2" and table[2][6] == "a witty film"  # a number stays a number
    raw = tmp_path / "raw.csv"
    argv = ["classify", "predict", str(model), "--data", str(data), "--out", str(raw), "--raw-csv"]
    assert main(argv + ["--id-column", "key"]) == 0
    assert raw.read_text(encoding="utf-8").splitlines()[1].startswith("=1+1,")


def test_predict_no_header_id_is_a_column_number(model, tmp_path):
    data = tmp_path / "new.tsv"
    data.write_text("a1\ta witty film\nb2\tdull mess\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    argv = ["classify", "predict", str(model), "--data", str(data), "--no-header", "--text-column", "2"]
    assert main(argv + ["--id-column", "1", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["id"], r["label"]) for r in rows] == [("a1", "pos"), ("b2", "neg")]


@pytest.mark.parametrize(
    ("name", "content", "extra", "message"),
    [
        ("new.csv", "text,ref\nok,1\n", ["--id-column", "id"], "no column 'id' to pass through"),
        (
            "new.jsonl",
            '{"text": "ok", "id": 1}\n{"text": "no id"}\n',
            ["--id-column", "id"],
            "line 2: the row has no 'id'",
        ),
        ("new.txt", "one text\n", ["--id-column", "id"], "has no named fields to pass through"),
        ("new.csv", "text,label\nok,pos\n", ["--keep-fields", "label"], "to score predictions against a label column"),
        ("new.csv", "text,ref\nok,1\n", ["--id-column", "ref", "--keep-fields", "ref"], "asked for twice"),
    ],
)
def test_predict_pass_through_refusals_name_the_column(model, tmp_path, capsys, name, content, extra, message):
    data = tmp_path / name
    data.write_text(content, encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["classify", "predict", str(model), "--data", str(data), "--out", str(out), *extra]) == 1
    assert message in capsys.readouterr().err
    assert not out.exists()
