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


# -- --model: SEAT on a contextual model ----------------------------------------------------------


def test_audit_cli_model_and_embeddings_are_mutually_exclusive(tmp_path, capsys):
    out = str(tmp_path / "o")
    with pytest.raises(SystemExit) as both:
        main(["audit", "--embeddings", "word2vec-weat", "--model", "smollm2-135m", "--out", out])
    assert both.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(SystemExit) as neither:
        main(["audit", "--out", out])
    assert (
        neither.value.code == 2 and "one of the arguments --embeddings --model is required" in capsys.readouterr().err
    )


def test_audit_cli_model_unknown_name_lists_the_known_ones(tmp_path, capsys):
    assert main(["audit", "--model", "smollm2-13m", "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "unknown pretrained model 'smollm2-13m'" in err and "smollm2-135m" in err
    assert not (tmp_path / "o").exists()


def test_audit_cli_model_refuses_embedding_only_options(tmp_path, capsys):
    emb = planted_embeddings()
    vec_path = tmp_path / "p.bin"
    write_word2vec_binary(vec_path, emb.words, np.asarray(emb.vectors))
    assert main(["audit", "--embeddings", str(vec_path), "--pooling", "last", "--out", str(tmp_path / "o")]) == 1
    assert "--pooling applies to --model only" in capsys.readouterr().err
    assert main(["audit", "--model", "smollm2-135m", "--recoverability", "--out", str(tmp_path / "o")]) == 1
    assert "--recoverability apply to --embeddings only" in capsys.readouterr().err


def test_audit_cli_model_writes_seat_report(tiny_llm, tmp_path, capsys):
    out = tmp_path / "seat"
    tests_file = str(_tests_file(tmp_path / "t.json"))
    argv = ["audit", "--tests", tests_file, "--pooling", "last", "--quick"]
    assert main([*argv, "--model", tiny_llm.name, "--out", str(out)]) == 0
    data = json.loads((out / "results.json").read_text())
    assert data["model"]["name"] == "tiny-llama" and data["model"]["source"]["file"] == "tiny.gguf"
    assert data["encoder"]["pooling"] == "last" and data["config"]["n_bootstrap"] == 300
    first, second = data["tests"]
    # a contextual model reads any word: "orchid" and the made-up words are encoded, not refused
    assert first["sizes"]["flowers"] == len(FLOWERS) + 1 and second["effect_size"] is not None
    assert all(0 < t["p_value"] <= 1 for t in data["tests"])
    assert (out / "effect_sizes.png").read_bytes()[:4] == b"\x89PNG"
    assert "**last pooling**" in (out / "report.md").read_text()
    assert "hopeless" in capsys.readouterr().out
    # the converted folder works as --model too, and gives the same numbers
    folder = tmp_path / "textkit-home" / "models" / "tiny-llama"
    assert main([*argv, "--model", str(folder), "--out", str(tmp_path / "again")]) == 0
    again = json.loads((tmp_path / "again" / "results.json").read_text())
    assert [t["effect_size"] for t in again["tests"]] == [t["effect_size"] for t in data["tests"]]
    assert again["model"]["weights_sha256"] == data["model"]["weights_sha256"]
