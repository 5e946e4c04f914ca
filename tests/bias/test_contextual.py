"""Sentence encodings from a causal LM and SEAT over them: padding invariance, pooling, a seeded
end-to-end run on a tiny random Llama, a planted bias that must show, the report files; and,
marked slow, ``textkit audit --model smollm2-135m --quick`` on the real weights."""

from __future__ import annotations

import json
import math
import zlib

import numpy as np
import pytest
import torch

from textkit.bias.contextual import (
    SeatReport,
    SentenceEncoder,
    encode_sentences,
    pool_hidden,
    seat_audit,
    write_seat_report,
)
from textkit.bias.wordsets import WeatTest, WordSet
from textkit.nn.llama import LlamaConfig, LlamaLanguageModel

from .conftest import FLOWERS, INSECTS, PLEASANT, UNPLEASANT

TINY = LlamaConfig(vocab_size=64, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, d_ff=48, max_len=64)
SENTENCES = ["a rose.", "This is a tulip, here and there.", "ant", "There is a very long sentence here.", "x y"]


class CharTokenizer:
    """One token per character (ids 1..63): enough for a random model."""

    add_bos = False

    def encode_documents(self, texts):
        return [np.array([1 + ord(c) % 63 for c in t], dtype=np.int64) for t in texts]


def tiny_model(seed: int = 0) -> LlamaLanguageModel:
    torch.manual_seed(seed)
    model = LlamaLanguageModel(TINY).eval()
    with torch.no_grad():  # norms away from 1, so a wrong norm would show
        for module in model.modules():
            if hasattr(module, "eps"):
                module.weight.uniform_(0.5, 1.5)
    return model


def _test(x=FLOWERS, y=INSECTS, a=PLEASANT, b=UNPLEASANT, name="flowers/insects") -> WeatTest:
    return WeatTest(
        name, WordSet("X", tuple(x)), WordSet("Y", tuple(y)), WordSet("A", tuple(a)), WordSet("B", tuple(b))
    )


@pytest.mark.parametrize("pooling", ["mean", "last"])
def test_contextual_padding_invariance(pooling):
    model, tok = tiny_model(), CharTokenizer()
    batched = encode_sentences(model, tok, SENTENCES, pooling=pooling, batch_size=len(SENTENCES))
    alone = np.stack([encode_sentences(model, tok, [s], pooling=pooling)[0] for s in SENTENCES])
    np.testing.assert_allclose(batched, alone, atol=1e-5, rtol=0)
    # and alone means the model's own unpadded states, pooled by hand
    with torch.no_grad():
        hidden, _ = model.features(torch.from_numpy(tok.encode_documents([SENTENCES[1]])[0])[None])  # (1, T, D)
    expected = hidden[0].mean(0) if pooling == "mean" else hidden[0, -1]
    np.testing.assert_allclose(alone[1], expected.numpy(), atol=1e-6, rtol=0)


def test_contextual_mean_and_last_pooling_differ_and_have_the_right_shape():
    model, tok = tiny_model(), CharTokenizer()
    mean = encode_sentences(model, tok, SENTENCES, pooling="mean", batch_size=2)
    last = encode_sentences(model, tok, SENTENCES, pooling="last", batch_size=2)
    assert mean.shape == last.shape == (len(SENTENCES), TINY.d_model) and mean.dtype == np.float32
    assert np.isfinite(mean).all() and np.isfinite(last).all()
    assert np.abs(mean - last).max() > 1e-2
    # a one-token sentence has a single state: both poolings agree on it
    one = encode_sentences(model, tok, ["q"], pooling="mean"), encode_sentences(model, tok, ["q"], pooling="last")
    np.testing.assert_allclose(*one, atol=1e-6)


def test_contextual_pool_hidden_reads_real_positions_only():
    hidden = torch.arange(2 * 4 * 3, dtype=torch.float32).view(2, 4, 3)  # (B, T, D)
    lengths = torch.tensor([4, 2])
    torch.testing.assert_close(pool_hidden(hidden, lengths, "last"), torch.stack([hidden[0, 3], hidden[1, 1]]))
    torch.testing.assert_close(
        pool_hidden(hidden, lengths, "mean"), torch.stack([hidden[0].mean(0), hidden[1, :2].mean(0)])
    )
    with pytest.raises(ValueError, match="unknown pooling"):
        pool_hidden(hidden, lengths, "max")
    with pytest.raises(ValueError, match="lengths"):
        pool_hidden(hidden, torch.tensor([5, 1]), "mean")


def test_contextual_encoder_refuses_bad_inputs():
    model, tok = tiny_model(), CharTokenizer()
    with pytest.raises(ValueError, match="no tokens"):
        encode_sentences(model, tok, ["ok", ""])
    with pytest.raises(ValueError, match="context of 64 tokens"):
        encode_sentences(model, tok, ["z" * 65])
    with pytest.raises(TypeError, match="no features"):
        encode_sentences(torch.nn.Linear(2, 2), tok, ["ok"])
    with pytest.raises(ValueError, match="unknown pooling"):
        SentenceEncoder(model, tok, pooling="max")


def test_contextual_seat_end_to_end_on_a_tiny_model_is_finite_and_seeded():
    tests = [_test(), _test(FLOWERS[:2], ["nope"], name="refused")]

    def run():
        encoder = SentenceEncoder(tiny_model(), CharTokenizer(), batch_size=16)
        rows, caught = seat_audit(encoder, tests, n_permutations=500, n_bootstrap=100, seed=3)
        return encoder, rows, caught

    encoder, rows, _ = run()
    ok, refused = rows
    assert math.isfinite(ok["effect_size"]) and 0 < ok["p_value"] <= 1 and ok["p_value_method"] == "monte-carlo"
    assert ok["ci"][0] <= ok["ci"][1] and all(math.isfinite(c) for c in ok["ci"])
    assert ok["sentences"] == {"X": 6 * 8, "Y": 6 * 8, "A": 5 * 8, "B": 5 * 8}
    assert set(ok["scores"]) == set(FLOWERS + INSECTS)
    assert refused["effect_size"] is None and "only 1" in refused["error"]
    # each distinct sentence encoded once (the first test holds every word of the second but "nope")
    assert encoder.cache_size == 8 * len(FLOWERS + INSECTS + PLEASANT + UNPLEASANT)
    _, again, _ = run()
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in rows]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in again]


def _planted_encoder(near_a: set[str], near_b: set[str], dim: int = 8):
    """Sentences holding a word of ``near_a`` sit near one axis, of ``near_b`` near another;
    plus noise seeded by the sentence (deterministic)."""

    def encode(sentences: list[str]) -> np.ndarray:
        rows = []
        for s in sentences:
            noise = np.random.default_rng(zlib.crc32(s.encode())).normal(size=dim)
            words = set(s.rstrip(".").replace(",", " ").split())
            base = np.zeros(dim)
            if words & near_a:
                base[0] = 1.0
            if words & near_b:
                base[1] = 1.0
            rows.append(base * 2.0 + 0.5 * noise)
        return np.array(rows)

    return encode


def test_contextual_seat_finds_a_planted_bias_and_not_an_absent_one():
    biased = _planted_encoder(set(FLOWERS) | set(PLEASANT), set(INSECTS) | set(UNPLEASANT))
    rows, _ = seat_audit(biased, [_test(), _test(INSECTS, FLOWERS, name="swapped")], n_permutations=2000)
    forward, swapped = rows
    assert forward["effect_size"] > 1.5 and forward["p_value"] < 0.01
    assert swapped["effect_size"] == pytest.approx(-forward["effect_size"]) and swapped["p_value"] > 0.99
    neutral = _planted_encoder(set(PLEASANT), set(UNPLEASANT))  # the targets carry no direction
    (row,), _ = seat_audit(neutral, [_test()], n_permutations=2000)
    assert abs(row["effect_size"]) < 0.5 and row["p_value"] > 0.01


def test_contextual_report_files(tmp_path):
    encoder = SentenceEncoder(tiny_model(), CharTokenizer(), pooling="last")
    rows, caught = seat_audit(encoder, [_test()], n_permutations=200, n_bootstrap=50)
    report = SeatReport(
        {"name": "tiny", "arch": "llama", "n_layers": 2, "d_model": 32, "dtype": "float32", "weights_sha256": "0" * 64},
        {"pooling": "last", "templates": ["This is {}."], "batch_size": 32, "bos": False},
        rows,
        {"test_set": "custom", "n_permutations": 200, "n_bootstrap": 50, "seed": 0, "unequal": "keep", "std_ddof": 1},
        caught,
    )
    paths = write_seat_report(report, tmp_path / "out")
    data = json.loads(paths["json"].read_text())
    assert data["encoder"]["pooling"] == "last" and [t["name"] for t in data["tests"]] == ["flowers/insects"]
    assert paths["plot"].read_bytes()[:4] == b"\x89PNG"
    md = paths["markdown"].read_text()
    assert "**last pooling**" in md and "No published SEAT figures" in md and "| flowers/insects |" in md


@pytest.mark.slow
def test_contextual_audit_smollm2_real_weights_quick(tmp_path):
    """``textkit audit --model smollm2-135m --quick``: the weights fetched and converted once,
    as tests/recipes/test_pretrained_llm.py does; every Caliskan test in results.json."""
    pytest.importorskip("gguf")
    from textkit.bias.wordsets import CALISKAN_PAPER
    from textkit.cli import main

    torch.set_num_threads(2)
    out = tmp_path / "seat"
    assert main(["audit", "--model", "smollm2-135m", "--quick", "--out", str(out)]) == 0
    data = json.loads((out / "results.json").read_text())
    assert [t["name"] for t in data["tests"]] == [spec["name"] for spec in CALISKAN_PAPER]
    assert all(math.isfinite(t["effect_size"]) and t["p_value"] is not None for t in data["tests"])
    assert data["model"]["name"] == "smollm2-135m" and len(data["model"]["weights_sha256"]) == 64
    assert data["encoder"]["pooling"] == "mean" and data["config"]["n_permutations"] == 10_000
    assert (out / "effect_sizes.png").read_bytes()[:4] == b"\x89PNG"
    assert "smollm2-135m" in (out / "report.md").read_text()
