"""`textkit reproduce embeddings-over-time` on a small slice of two real corpora."""

from __future__ import annotations

import json

import pytest

from textkit.cli import main


@pytest.mark.slow
def test_reproduce_embeddings_over_time_small_run(tmp_path):
    rc = main(
        [
            "reproduce",
            "embeddings-over-time",
            "--out",
            str(tmp_path),
            "--corpora",
            "bible-kjv,brown",
            "--max-tokens",
            "60000",
            "--seeds",
            "2",
            "--epochs",
            "1",
            "--dim",
            "24",
            "--min-count",
            "3",
            "--bootstrap",
            "50",
        ]
    )
    assert rc == 0
    data = json.loads((tmp_path / "results.json").read_text())
    assert set(data["corpora"]) == {"bible-kjv", "brown"}
    kjv = data["corpora"]["bible-kjv"]
    assert kjv["year"] == 1769 and 40_000 <= kjv["tokens"] <= 70_000
    for measure in kjv["measures"].values():
        assert len(measure["per_seed"]) == 2 and measure["interval"][0] <= measure["interval"][1]
    assert len(data["differences"]) == 3 and all(isinstance(d["real"], bool) for d in data["differences"])
    assert (tmp_path / "measures_by_year.png").exists()
    assert "pooled 95% interval" in (tmp_path / "report.md").read_text()


def test_reproduce_embeddings_over_time_rejects_unknown_corpus(tmp_path, capsys):
    assert main(["reproduce", "embeddings-over-time", "--out", str(tmp_path), "--corpora", "imdb"]) == 1
    assert "no year known" in capsys.readouterr().err
