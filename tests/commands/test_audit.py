"""`textkit audit` and the report: files written, refusals and missing words visible."""

from __future__ import annotations

import json

import numpy as np
import pytest

from textkit.bias import run_audit
from textkit.bias.wordsets import WeatTest, WordSet
from textkit.cli import main

from tests.bias.conftest import FLOWERS, INSECTS, PLEASANT, UNPLEASANT, planted_embeddings, write_word2vec_binary


def _tests_file(path):
    path.write_text(
        json.dumps(
            {
                "sets": {"flowers": FLOWERS + ["orchid"], "insects": INSECTS},
                "tests": [
                    {
                        "name": "flowers/insects",
                        "X": "flowers",
                        "Y": "insects",
                        "A": PLEASANT,
                        "B": UNPLEASANT,
                        "reference": {"paper_effect_size": 1.5},
                    },
                    {"name": "hopeless", "X": ["aaa", "bbb"], "Y": INSECTS, "A": PLEASANT, "B": UNPLEASANT},
                ],
            }
        )
    )
    return path


def test_audit_run_audit_survives_loading_the_command_module():
    """Regression: exporting the function as `audit` let `import textkit.commands.audit` (the CLI
    module) replace it on the package."""
    import importlib

    import textkit.bias

    importlib.import_module("textkit.commands.audit")
    assert callable(textkit.bias.run_audit) and textkit.bias.run_audit.__module__ == "textkit.bias.report"


def test_audit_library_keeps_refused_tests_with_reasons():
    emb = planted_embeddings()
    tests = [
        WeatTest(
            "ok",
            WordSet("F", tuple(FLOWERS)),
            WordSet("I", tuple(INSECTS)),
            WordSet("P", tuple(PLEASANT)),
            WordSet("U", tuple(UNPLEASANT)),
        ),
        WeatTest(
            "bad",
            WordSet("F", ("nope",)),
            WordSet("I", tuple(INSECTS)),
            WordSet("P", tuple(PLEASANT)),
            WordSet("U", tuple(UNPLEASANT)),
        ),
    ]
    report = run_audit(emb, tests, n_bootstrap=100, sanity=False)
    ok, bad = report.tests
    assert ok["effect_size"] > 1 and ok["p_value_method"] == "exact"
    assert bad["effect_size"] is None and "nope" in bad["error"] and bad["missing"]["F"] == ["nope"]
    md = report.to_markdown()
    assert "| bad | refused |" in md and "nope" in md


def test_audit_cli_writes_report_json_and_plot(tmp_path, capsys):
    emb = planted_embeddings()
    vec_path = tmp_path / "planted.bin"
    write_word2vec_binary(vec_path, emb.words, np.asarray(emb.vectors))
    out = tmp_path / "out"
    rc = main(
        [
            "audit",
            "--embeddings",
            str(vec_path),
            "--tests",
            str(_tests_file(tmp_path / "t.json")),
            "--out",
            str(out),
            "--bootstrap",
            "200",
            "--no-sanity",
        ]
    )
    assert rc == 0
    data = json.loads((out / "results.json").read_text())
    first, second = data["tests"]
    assert first["missing"]["flowers"] == ["orchid"] and first["ci"][0] < first["effect_size"] < first["ci"][1] + 0.3
    assert first["paper_effect_size"] == 1.5 and second["error"]
    assert (out / "effect_sizes.png").read_bytes()[:4] == b"\x89PNG"
    md = (out / "report.md").read_text()
    assert "orchid" in md and "refused" in md
    assert "hopeless" in capsys.readouterr().out


@pytest.mark.slow
def test_audit_cli_caliskan_on_word2vec_with_sanity(tmp_path):
    out = tmp_path / "w2v"
    assert main(["audit", "--embeddings", "word2vec-weat", "--out", str(out), "--quick", "--no-analogies"]) == 0
    data = json.loads((out / "results.json").read_text())
    assert len(data["tests"]) == 10 and data["sanity"]["word_similarity"]
    assert {t["name"] for t in data["tests"] if t.get("error")} == set()


def test_audit_cli_bad_inputs_exit_with_messages(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"tests": [{"X": ["a"]}]}')
    emb = planted_embeddings()
    vec_path = tmp_path / "p.bin"
    write_word2vec_binary(vec_path, emb.words, np.asarray(emb.vectors))
    assert main(["audit", "--embeddings", str(vec_path), "--tests", str(bad), "--out", str(tmp_path / "o")]) == 1
    assert "missing ['Y', 'A', 'B']" in capsys.readouterr().err
    assert main(["audit", "--embeddings", str(tmp_path / "none.bin"), "--out", str(tmp_path / "o")]) == 1
    assert "no embeddings at" in capsys.readouterr().err
