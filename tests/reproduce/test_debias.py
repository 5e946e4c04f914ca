"""`textkit reproduce debias` and `textkit audit --recoverability` on the real word2vec slices."""

from __future__ import annotations

import json

import pytest

from textkit.cli import main


@pytest.mark.slow
def test_reproduce_debias_quick_writes_before_after_tables(tmp_path, capsys):
    assert main(["reproduce", "debias", "--out", str(tmp_path), "--quick"]) == 0
    data = json.loads((tmp_path / "debias_word2vec-bolukbasi.json").read_text())
    assert {"seed", "n_permutations"} <= set(data["config"]) and {"numpy", "scikit-learn", "textkit"} <= set(
        data["versions"]
    )
    # direct bias: 0.073 before (paper 0.08), gone after
    assert data["direct_bias"]["before"] == pytest.approx(0.073, abs=0.001) and data["direct_bias"]["after"] < 1e-6
    # Figure 3: every pair within 0.01 of the value expected on these vectors; neutral pairs vanish after
    for row in data["indirect_bias"]:
        assert row["within_0.01_of_expected"], row
        if row["word"] not in ("waitress", "businessman"):  # gender-specific words are not neutralized
            assert abs(row["after"]) < 1e-4, row
    assert (data["analogies"]["before_all"][0]["positive"], data["analogies"]["before_all"][0]["negative"]) == (
        "she",
        "he",
    )
    assert len(data["analogies"]["before_neutral"]) == 20
    # WEAT: refusals on the Bolukbasi slice are recorded; the table comes from word2vec-weat
    assert data["weat_embeddings"] == "word2vec-weat" and len(data["weat"]) == 10
    assert any(r["error"] for r in data["weat_on_main_embeddings"])
    assert all(r["before"] is not None and r["after"] is not None for r in data["weat"])
    # recoverability: the bias is still there after debiasing
    rec = data["recoverability"]
    assert rec["clustering"]["before"] > 0.99 and 0.8 < rec["clustering"]["after"] < 1.0
    assert rec["svm"]["after_mean"] > 0.85
    assert (tmp_path / "debias_word2vec-bolukbasi.png").exists()
    assert "Is it lipstick?" in (tmp_path / "debias_word2vec-bolukbasi.md").read_text()
    assert "| softball – receptionist | +0.67 | +0.67 | +0.672 |" in capsys.readouterr().out


@pytest.mark.slow
def test_audit_recoverability_with_original_embeddings(tmp_path, capsys):
    from textkit.bias import direction_from_pairs, hard_debias, load_embeddings
    from textkit.bias.debias import bolukbasi_lists, expand_case_variants

    emb = load_embeddings("word2vec-bolukbasi", limit=4000)
    lists = bolukbasi_lists()
    g = direction_from_pairs(emb, lists["definitional_pairs"], missing="skip")
    equalize = expand_case_variants(lists["equalize_pairs"])
    gendered = set(lists["gender_specific"]) | {w for p in equalize for w in p}
    out = hard_debias(emb, g, [w for w in emb.words if w not in gendered], equalize, missing="skip")
    path = tmp_path / "debiased.txt"
    out.save_word2vec_text(path)
    args = [
        "audit",
        "--embeddings",
        str(path),
        "--original",
        "word2vec-bolukbasi",
        "--limit",
        "4000",
        "--recoverability-only",
        "--out",
        str(tmp_path / "audit"),
        "--n-cluster",
        "200",
        "--n-svm",
        "800",
        "--svm-train",
        "400",
        "--svm-seeds",
        "2",
        "--label-direction",
        "she-he",
    ]
    assert main(args) == 0
    data = json.loads((tmp_path / "audit" / "recoverability.json").read_text())
    assert data["debiased_by"] == "given" and data["label_direction"] == "she-he"
    assert data["clustering"]["before"] > 0.95 and data["clustering"]["after"] > 0.7
    assert len(data["svm"]["after"]) == 2 and data["svm"]["n_test"] == 1200
    assert "RBF-SVM" in capsys.readouterr().out
    assert not (tmp_path / "audit" / "results.json").exists()  # --recoverability-only skips the WEAT report


def test_audit_recoverability_refuses_mismatched_embeddings(tmp_path, capsys):
    import numpy as np

    from textkit.bias import Embeddings

    a = tmp_path / "a.txt"
    b = tmp_path / "b.txt"
    Embeddings(["x", "y"], np.eye(2, 3, dtype=np.float32)).save_word2vec_text(a)
    Embeddings(["x", "y"], np.eye(2, dtype=np.float32)).save_word2vec_text(b)
    code = main(
        ["audit", "--embeddings", str(a), "--original", str(b), "--recoverability-only", "--out", str(tmp_path / "o")]
    )
    assert code == 1
    assert "2 dimensions, debiased ones 3" in capsys.readouterr().err
