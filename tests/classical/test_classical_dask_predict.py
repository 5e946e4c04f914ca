"""`textkit classify predict --dask` on a dask.distributed LocalCluster of two worker processes:
the output is byte for byte the single-process output, in input order, and a bad row in one
batch stops the run with its file and line, writing nothing."""

from __future__ import annotations

import csv
import json

import pytest

from textkit.cli import main
from textkit.commands import classify as classify_command

distributed = pytest.importorskip("distributed", reason="Dask is an optional extra: pip install 'textkit[dask]'")

pytestmark = pytest.mark.slow  # a two-process LocalCluster takes 5-15 s to start on a busy 2-core machine


@pytest.fixture(scope="module")
def scheduler():
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None, memory_limit=None
    )
    with cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from tests.classical.conftest import make_sentiment_corpus

    texts, labels = make_sentiment_corpus(n=300, n_classes=3)
    folder = tmp_path_factory.mktemp("dask_predict")
    train = folder / "train.csv"
    with open(train, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["text", "label"], *zip(texts, labels, strict=True)])
    out = folder / "model"
    assert main(["classify", "train", "--data", str(train), "--method", "nbsvm", "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(classify_command, "DASK_BATCH", 37)  # the 250 rows span 7 tasks on the two workers


def _texts_file(path, make_corpus, n=250):
    texts, _ = make_corpus(n=n, seed=7, n_classes=3)
    texts[min(5, n - 1)] = ""  # an empty text is labelled from no words on both paths
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    return path


@pytest.mark.parametrize("extra", [[], ["--proba"]], ids=["labels", "proba"])
def test_classify_predict_dask_equals_the_single_process_output(
    scheduler, model, small_batches, tmp_path, make_corpus, extra
):
    data = _texts_file(tmp_path / "new.jsonl", make_corpus)
    here, there = tmp_path / "here.jsonl", tmp_path / "there.jsonl"
    assert main(["classify", "predict", str(model), "--data", str(data), "--out", str(here), *extra]) == 0
    argv = ["classify", "predict", str(model), "--data", str(data), "--out", str(there), "--dask", scheduler]
    assert main([*argv, *extra]) == 0
    assert there.read_bytes() == here.read_bytes()  # same labels (and probabilities), same order
    assert [json.loads(line)["line"] for line in there.read_text().splitlines()] == list(range(1, 251))


def test_classify_predict_dask_bad_row_names_file_and_line_and_writes_nothing(
    scheduler, model, small_batches, tmp_path, make_corpus, capsys
):
    data = _texts_file(tmp_path / "new.jsonl", make_corpus)
    lines = data.read_text(encoding="utf-8").splitlines()
    lines[99] = "[1, 2]"  # line 100, inside the third batch: the first two are out on the workers by then
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    argv = ["classify", "predict", str(model), "--data", str(data), "--out", str(out), "--dask", scheduler]
    assert main(argv) != 0
    assert f"{data}, line 100: expected a JSON object" in capsys.readouterr().err
    assert not out.exists()
    assert not list(tmp_path.glob("out.jsonl*"))  # no temporary file left behind either


def test_classify_predict_dask_unreachable_scheduler_says_what_to_start(model, tmp_path, make_corpus, capsys):
    data = _texts_file(tmp_path / "new.jsonl", make_corpus, n=5)
    argv = ["classify", "predict", str(model), "--data", str(data), "--out", str(tmp_path / "o.jsonl")]
    assert main([*argv, "--dask", "tcp://127.0.0.1:1", "--dask-timeout", "2"]) != 0
    assert "`dask scheduler`" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()
