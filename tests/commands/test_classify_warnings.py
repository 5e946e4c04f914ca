"""`textkit classify train` warns, one line each on stderr, about data that reads but is probably
not what was meant: a label column with one value per row, naive Bayes on one example per
class, a text column of numbers. Each names the column and what to check; training goes on."""

from __future__ import annotations

import pytest

from textkit.cli import main


def _train(tmp_path, capsys, content, method, *extra):
    data = tmp_path / "train.csv"
    data.write_text(content, encoding="utf-8")
    argv = ["classify", "train", "--data", str(data), "--method", method, "--out", str(tmp_path / "m"), "--quiet"]
    assert main([*argv, *extra]) == 0
    assert (tmp_path / "m").is_dir()  # a warning never stops the run
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]


def test_train_warns_when_the_label_column_is_an_id(tmp_path, capsys):
    rows = "".join(f"{i},text number {i},{1000 + i}\n" for i in range(6))
    warnings = _train(tmp_path, capsys, "ref,text,code\n" + rows, "lr", "--label-column", "code")
    assert warnings == [
        "warning: the label column 'code' has a different value on every one of the 6 rows (an id, or a score?): "
        "each class is one text. Check --label-column"
    ]


def test_train_warns_naive_bayes_on_one_example_per_class(tmp_path, capsys):
    warnings = _train(tmp_path, capsys, "text,label\na good film,pos\na bad film,neg\n", "nb")
    assert warnings == [
        "warning: naive Bayes: every class has one training example ('neg', 'pos'), so its word probabilities come "
        "from one text. Check the label column 'label' (--label-column), or add examples"
    ]
    some = _train(tmp_path, capsys, "text,label\ngood,pos\nfine,pos\nbad,neg\n", "nbsvm", "--overwrite")
    assert some == [
        "warning: naive Bayes: 1 of 2 classes have one training example ('neg'), so its word probabilities come "
        "from one text. Check the label column 'label' (--label-column), or add examples"
    ]


def test_train_warns_when_the_text_column_looks_numeric(tmp_path, capsys):
    rows = "".join(f"{i}.5,{'pos' if i % 2 else 'neg'},a review {i}\n" for i in range(10))
    warnings = _train(tmp_path, capsys, "text,label,review_body\n" + rows, "lr")
    assert warnings == [
        "warning: the text column 'text' looks numeric (10 of 10 texts are numbers, such as '0.5'): is it the "
        "column you meant? Check --text-column"
    ]


@pytest.mark.parametrize("method", ["nb", "lr"])
def test_train_on_ordinary_data_warns_about_nothing(tmp_path, capsys, method):
    rows = "".join(f"review {i} was {'great' if i % 2 else 'awful'},{'pos' if i % 2 else 'neg'}\n" for i in range(12))
    assert _train(tmp_path, capsys, "text,label\n" + rows, method) == []
