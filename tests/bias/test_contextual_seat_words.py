"""SEAT's word-level permutation (``textkit.bias.contextual.word_level_p_value``) beside May et
al.'s sentence-level one, and SEAT on a pretrained encoder (``audit_model`` of a tiny random BERT
by name, the path ``textkit audit --model minilm-l6`` takes)."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from tests.data import test_encoders
from textkit.bias.contextual import seat_audit, word_level_p_value, write_seat_report
from textkit.bias.weat import permutation_p_value
from textkit.bias.wordsets import WeatTest, WordSet

from .conftest import FLOWERS, INSECTS, PLEASANT, UNPLEASANT

tiny_encoder = test_encoders.tiny_encoder  # a tiny random BERT by name ("tiny-bert")


def _brute_force_word_p(sx: np.ndarray, sy: np.ndarray, k: int) -> float:
    words = np.concatenate([sx.reshape(-1, k).sum(1), sy.reshape(-1, k).sum(1)])
    n_x = sx.size // k
    observed = words[:n_x].sum()
    parts = list(itertools.combinations(range(len(words)), n_x))
    return sum(words[list(c)].sum() >= observed - 1e-9 for c in parts) / len(parts)


def test_seat_word_level_p_value_is_the_exact_count_over_whole_words():
    rng = np.random.default_rng(0)
    sx, sy = rng.normal(0.1, 1, 4 * 3), rng.normal(0, 1, 5 * 3)  # 4 and 5 words, 3 templates
    p, method, n, parts = word_level_p_value(sx, sy, 3)
    assert method == "exact" and n == parts == 126  # C(9, 4)
    assert p == pytest.approx(_brute_force_word_p(sx, sy, 3))


def test_seat_word_level_equals_sentence_level_with_one_template():
    rng = np.random.default_rng(1)
    sx, sy = rng.normal(size=6), rng.normal(size=6)
    assert word_level_p_value(sx, sy, 1)[0] == permutation_p_value(np.concatenate([sx, sy]), 6)[0]


def test_seat_word_level_p_is_honest_where_sentences_of_a_word_move_together():
    # 2 words per target set, 8 sentences each that agree: the sentence units look like 32
    # independent draws (p tiny), but there are only C(4, 2) = 6 ways to split the words
    sx, sy = np.repeat([1.0, 1.1], 8), np.repeat([-1.0, -1.1], 8)
    p_sentences = permutation_p_value(np.concatenate([sx, sy]), 16)[0]
    p_words, method, _, parts = word_level_p_value(sx, sy, 8)
    assert p_sentences < 1e-3 and parts == 6 and method == "exact" and p_words == pytest.approx(1 / 6)


def test_seat_word_level_refuses_ragged_scores_and_can_be_skipped():
    with pytest.raises(ValueError, match="not whole words"):
        word_level_p_value(np.zeros(5), np.zeros(6), 2)
    assert word_level_p_value(np.zeros(4), np.zeros(4), 2, n_permutations=0)[:2] == (None, "none")


def _planted(dim: int = 8):
    """Flowers and pleasant words near one direction, insects and unpleasant near another."""
    rng = np.random.default_rng(0)
    up, down = np.eye(dim)[0], np.eye(dim)[1]

    def encode(sentences):
        out = []
        for s in sentences:
            words = set(re.findall(r"[a-z]+", s.lower()))
            base = up if words & set(FLOWERS + PLEASANT) else down
            out.append(base + 0.3 * rng.normal(size=dim))
        return np.asarray(out)

    return encode


def test_seat_audit_rows_report_both_p_values_and_say_which_is_the_papers(tmp_path):
    test = WeatTest(
        "flowers/insects",
        WordSet("flowers", FLOWERS[:6]),
        WordSet("insects", INSECTS[:6]),
        WordSet("pleasant", PLEASANT[:6]),
        WordSet("unpleasant", UNPLEASANT[:6]),
    )
    rows, _ = seat_audit(_planted(), [test], n_bootstrap=0, seed=0)
    row = rows[0]
    assert row["p_value_unit"] == "sentence" and row["p_value_words_method"] == "exact"
    assert row["n_partitions_words"] == 924  # C(12, 6)
    assert row["p_value_words"] >= row["p_value"] and row["p_value_words"] == pytest.approx(1 / 924)


def test_seat_audit_model_takes_a_pretrained_encoder_by_name(tiny_encoder, tmp_path):
    from textkit.recipes.audit_model import audit_model

    report = audit_model("tiny-bert", tests="caliskan", n_permutations=200, n_bootstrap=0)
    assert report.encoder["attention"] == "bidirectional" and report.encoder["pooling"] == "mean"
    assert report.model["arch"] == "bert" and report.model["weights_sha256"]
    ran = [r for r in report.tests if not r.get("error")]
    assert ran and all(0 < r["p_value_words"] <= 1 for r in ran)
    paths = write_seat_report(report, tmp_path)
    text = paths["markdown"].read_text()
    assert "words permuted" in text and "May et al. (2019) used BERT's [CLS] state" in text
    with pytest.raises(ValueError, match="pools by 'mean'"):
        audit_model("tiny-bert", pooling="last", n_permutations=0, n_bootstrap=0)
