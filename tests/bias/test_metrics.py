"""RND, ECT, RNSB, gender direction, projections and direct bias on data with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from textkit.bias import (
    Embeddings,
    InsufficientWordsError,
    direct_bias,
    ect,
    gender_direction,
    project,
    relative_norm_distance,
    rnsb,
)


def _gendered(seed=0, dim=12):
    rng = np.random.default_rng(seed)
    g = np.zeros(dim)
    g[0] = 1.0
    words, rows = [], []
    for w, sign in [("he", -1), ("man", -1), ("boy", -1), ("she", 1), ("woman", 1), ("girl", 1)]:
        words.append(w)
        rows.append(sign * 2 * g + rng.normal(size=dim) * 0.3)
    for w, lean in [("nurse", 1.2), ("carpenter", -1.2), ("doctor", -0.3), ("teacher", 0.5), ("table", 0.0)]:
        words.append(w)
        rows.append(lean * g + rng.normal(size=dim) * 0.3)
    return Embeddings(words, np.array(rows)), g


def test_metrics_rnd_matches_definition_and_sign():
    emb, _ = _gendered()
    men, women, neutral = ["he", "man", "boy"], ["she", "woman", "girl"], ["nurse", "carpenter", "doctor", "teacher"]
    r = relative_norm_distance(emb, men, women, neutral)
    unit = {w: emb[w] / np.linalg.norm(emb[w]) for w in emb.words}
    m1 = np.mean([unit[w] for w in men], axis=0)
    m2 = np.mean([unit[w] for w in women], axis=0)
    expected = {v: np.linalg.norm(unit[v] - m1) - np.linalg.norm(unit[v] - m2) for v in neutral}
    assert r.value == pytest.approx(sum(expected.values()))
    for v in neutral:
        assert r.per_word[v] == pytest.approx(expected[v])
    assert r.per_word["nurse"] > 0 > r.per_word["carpenter"]  # + means closer to group 2 (women)
    raw = relative_norm_distance(emb, men, women, neutral, normalize=False)
    assert raw.value != pytest.approx(r.value)


def test_metrics_rnd_reports_and_refuses_missing():
    emb, _ = _gendered()
    r = relative_norm_distance(emb, ["he", "man", "xman"], ["she", "woman"], ["nurse", "zzz"])
    assert r.missing == {"group1": ["xman"], "group2": [], "neutral": ["zzz"]}
    with pytest.raises(InsufficientWordsError, match="none of its"):
        relative_norm_distance(emb, ["q"], ["she"], ["nurse"])


def test_metrics_gender_direction_recovers_planted_axis():
    emb, g = _gendered()
    d = gender_direction(emb, [("she", "he"), ("woman", "man"), ("girl", "boy"), ("queen", "king")])
    assert abs(d.direction @ g) > 0.9 and d.direction @ g > 0  # oriented towards the first words
    assert d.missing == ["queen", "king"] and len(d.pairs_used) == 3
    assert d.explained_variance_ratio[0] > 0.5
    mean_d = gender_direction(emb, [("she", "he"), ("woman", "man")], method="mean")
    assert mean_d.direction @ g > 0.9
    proj, missing = project(emb, ["nurse", "carpenter", "nope"], d)
    assert proj["nurse"] > 0 > proj["carpenter"] and missing == ["nope"]
    db, _ = direct_bias(emb, ["nurse", "carpenter"], d)
    db_table, _ = direct_bias(emb, ["table"], d)
    assert db > db_table
    with pytest.raises(ValueError, match="at least 2 definitional pairs"):
        gender_direction(emb, [("she", "he")])


@pytest.mark.slow  # first scipy.stats import on a busy machine
def test_metrics_ect_is_high_for_symmetric_groups_and_lower_for_biased():
    rng = np.random.default_rng(1)
    dim = 20
    base = rng.normal(size=(10, dim))
    attrs = [f"a{i}" for i in range(10)]
    g1 = rng.normal(size=(3, dim))
    words = attrs + ["x1", "x2", "x3", "y1", "y2", "y3"]
    sym = Embeddings(words, np.vstack([base, g1, g1 + rng.normal(size=(3, dim)) * 0.01]))
    r = ect(sym, ["x1", "x2", "x3"], ["y1", "y2", "y3"], attrs)
    assert r.rho > 0.95
    skew = Embeddings(words, np.vstack([base, base[:3] * 3, -base[:3] * 3]))
    assert ect(skew, ["x1", "x2", "x3"], ["y1", "y2", "y3"], attrs).rho < r.rho


def test_metrics_rnsb_flags_the_group_near_negative_words():
    rng = np.random.default_rng(2)
    dim = 10
    axis = np.zeros(dim)
    axis[0] = 1
    pos = [f"p{i}" for i in range(30)]
    neg = [f"n{i}" for i in range(30)]
    rows = [axis * 2 + rng.normal(size=dim) * 0.5 for _ in pos] + [-axis * 2 + rng.normal(size=dim) * 0.5 for _ in neg]
    rows += [axis + rng.normal(size=dim) * 0.3 for _ in range(3)] + [
        -axis + rng.normal(size=dim) * 0.3 for _ in range(3)
    ]
    emb = Embeddings(pos + neg + ["g1a", "g1b", "g1c", "g2a", "g2b", "g2c"], np.array(rows))
    r = rnsb(emb, {"g1": ["g1a", "g1b", "g1c"], "g2": ["g2a", "g2b", "g2c"]}, pos, neg)
    assert r.classifier_accuracy > 0.9
    assert r.probabilities["g2"] > r.probabilities["g1"] and r.kl_divergence > 0.1
    with pytest.warns(UserWarning, match="kept in both"):
        fair = rnsb(emb, {"g1": ["g1a", "g1b", "g1c"], "g1again": ["g1a", "g1b", "g1c"]}, pos, neg)
    assert fair.kl_divergence == pytest.approx(0.0, abs=1e-12)
