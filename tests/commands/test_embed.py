"""`textkit embed`: sentence embeddings of a file (or stdin) into a .npy, in input order; empty
texts refused by line, long texts cut with a notice, unknown names and existing outputs refused,
all with exit status 1 and no traceback. The encoder is a tiny random BERT fetched by name."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

pytest.importorskip("tokenizers")

from tests.data import test_encoders
from textkit.cli import main

tiny_encoder = test_encoders.tiny_encoder  # the fixture: a tiny random BERT by name

TEXTS = ["the movie was great", "a", "it was bad , the plot was bad", "i loved it !", "film", "the plot"]


def _write(path, texts) -> str:
    path.write_text("".join(f"{t}\n" for t in texts), encoding="utf-8")
    return str(path)


def test_embed_writes_one_row_per_text_in_input_order(tiny_encoder, tmp_path, capsys):
    from textkit.nn.sentence import load_encoder

    data, out = _write(tmp_path / "texts.txt", TEXTS), tmp_path / "vectors.npy"
    assert main(["embed", "--data", data, "--model", "tiny-bert", "--out", str(out), "--batch-size", "2"]) == 0
    assert f"6 embeddings of dimension 16 (tiny-bert, fp32) written to {out}" in capsys.readouterr().out
    vectors = np.load(out)
    assert vectors.shape == (6, 16) and vectors.dtype == np.float32
    encoder = load_encoder("tiny-bert")
    for i, text in enumerate(TEXTS):  # each text alone: no batching, no sorting
        np.testing.assert_allclose(vectors[i], encoder.encode([text])[0], rtol=0, atol=1e-6, err_msg=text)


def test_embed_reads_stdin_and_other_formats(tiny_encoder, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("".join(f"{t}\n" for t in TEXTS).encode())))
    assert main(["embed", "--data", "-", "--model", "tiny-bert", "--out", str(tmp_path / "stdin.npy")]) == 0
    csv = tmp_path / "texts.csv"
    csv.write_text("id,text\n" + "".join(f'{i},"{t}"\n' for i, t in enumerate(TEXTS)), encoding="utf-8")
    assert main(["embed", "--data", str(csv), "--model", "tiny-bert", "--out", str(tmp_path / "csv.npy")]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "stdin.npy"), np.load(tmp_path / "csv.npy"), rtol=0, atol=0)


def test_embed_int8_and_unnormalized(tiny_encoder, tmp_path):
    data = _write(tmp_path / "texts.txt", TEXTS)
    args = ["embed", "--data", data, "--model", "tiny-bert"]
    assert main([*args, "--out", str(tmp_path / "raw.npy"), "--no-normalize", "--threads", "1"]) == 0
    assert main([*args, "--out", str(tmp_path / "int8.npy"), "--precision", "int8"]) == 0
    assert not np.allclose(np.linalg.norm(np.load(tmp_path / "raw.npy"), axis=1), 1.0)
    assert np.load(tmp_path / "int8.npy").shape == (6, 16)


def test_embed_an_empty_text_is_refused_by_line(tiny_encoder, tmp_path, capsys):
    data, out = _write(tmp_path / "texts.txt", ["the film", "", "a plot"]), tmp_path / "vectors.npy"
    assert main(["embed", "--data", data, "--model", "tiny-bert", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"textkit: error: {data}, line 2: the text is empty" in err and "Traceback" not in err
    assert not out.exists()
    (tmp_path / "ctrl.txt").write_text("the film\n\u200b\u200b\n", encoding="utf-8")  # zero-width: no pieces
    assert main(["embed", "--data", str(tmp_path / "ctrl.txt"), "--model", "tiny-bert", "--out", str(out)]) == 1
    assert "ctrl.txt, line 2: the text has no word pieces" in capsys.readouterr().err and not out.exists()


def test_embed_a_text_over_512_pieces_is_cut_with_a_notice_naming_its_line(tiny_encoder, tmp_path, capsys):
    data = _write(tmp_path / "texts.txt", ["the film", "the " * 600, "a plot"])
    out = tmp_path / "vectors.npy"
    assert main(["embed", "--data", data, "--model", "tiny-bert", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "textkit: note: 1 of 3 texts have more than 510 word pieces and were cut to their first 510" in err
    assert f"{data}, line 2" in err and "Traceback" not in err
    assert np.load(out).shape == (3, 16)


def test_embed_unknown_model_exits_1_listing_the_encoders(tiny_encoder, tmp_path, capsys):
    data = _write(tmp_path / "texts.txt", TEXTS)
    assert main(["embed", "--data", data, "--model", "minilm-l7", "--out", str(tmp_path / "v.npy")]) == 1
    err = capsys.readouterr().err
    assert "'minilm-l7' is neither a model name" in err and "minilm-l6" in err and "tiny-bert" in err
    assert "Traceback" not in err and not (tmp_path / "v.npy").exists()


def test_embed_refuses_an_existing_out_unless_overwrite_and_never_its_input(tiny_encoder, tmp_path, capsys):
    data = _write(tmp_path / "texts.txt", TEXTS)
    out = tmp_path / "vectors.npy"
    out.write_bytes(b"precious")
    args = ["embed", "--data", data, "--model", "tiny-bert", "--out", str(out)]
    assert main(args) == 1
    assert "exists; pass --overwrite" in capsys.readouterr().err and out.read_bytes() == b"precious"
    assert main([*args, "--overwrite"]) == 0 and np.load(out).shape == (6, 16)
    same = tmp_path / "same.npy"
    same.write_text("the film\n", encoding="utf-8")
    assert main(["embed", "--data", str(same), "--format", "text", "--out", str(same), "--overwrite"]) == 1
    assert "is the input file" in capsys.readouterr().err and same.read_text(encoding="utf-8") == "the film\n"


def test_embed_out_must_be_npy(tiny_encoder, tmp_path, capsys):
    data = _write(tmp_path / "texts.txt", TEXTS)
    assert main(["embed", "--data", data, "--model", "tiny-bert", "--out", str(tmp_path / "v.parquet")]) == 1
    assert "give a name ending in .npy" in capsys.readouterr().err
