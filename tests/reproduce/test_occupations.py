"""`textkit reproduce occupations`: gender association tracks the share of women."""

from __future__ import annotations

import json

from textkit.cli import main


def test_reproduce_occupations_correlation_and_plot(tmp_path):
    assert main(["reproduce", "occupations", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "results.json").read_text())
    rnd, proj = data["results"]
    assert (rnd["method"], proj["method"]) == ("rnd", "projection")
    for r in (rnd, proj):
        assert r["n"] + len(r["missing"]) == 40
        assert r["pearson_r"] > 0.5 and r["p_value"] < 1e-3
    assert "ceo" in rnd["missing"]
    assert rnd["scores"]["nurse"] > 0 > rnd["scores"]["carpenter"]
    assert (tmp_path / "occupations.png").read_bytes()[:4] == b"\x89PNG"
