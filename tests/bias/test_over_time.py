"""Embeddings over time on synthetic corpora: planted differences are found, intervals pool
seeds and words, and word sets that do not occur in every corpus are reported."""

from __future__ import annotations

import numpy as np
import pytest

from textkit.bias.over_time import CorpusSpec, compare_corpora
from textkit.bias.sgns import SGNSConfig

SETS = {
    "male": ["he", "him", "man"],
    "female": ["she", "her", "woman"],
    "work": ["work", "office", "money"],
    "home": ["home", "house", "child"],
    "strength": ["strong", "war", "army"],
    "beauty": ["fair", "love", "tender"],
    "roles": ["judge", "nurse", "baker", "servant"],
}


def _corpus(bias: float, seed: int, n: int = 1500):
    """Sentences pairing gender words with work or home words; ``bias`` skews men to work."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        male = rng.random() < 0.5
        g = rng.choice(SETS["male"] if male else SETS["female"])
        p_work = 0.5 + (bias if male else -bias)
        topic = "work" if rng.random() < p_work else "home"
        trait = "strength" if topic == "work" else "beauty"
        role = rng.choice(SETS["roles"])
        out.append(
            [
                str(g),
                str(rng.choice(SETS[topic])),
                str(rng.choice(SETS[topic])),
                str(rng.choice(SETS[trait])),
                str(role),
            ]
        )
    return out


@pytest.mark.slow
def test_over_time_detects_planted_difference_with_pooled_intervals():
    corpora = [CorpusSpec("neutral", 1900, _corpus(0.0, 1)), CorpusSpec("biased", 2000, _corpus(0.45, 2))]
    cfg = SGNSConfig(dim=12, window=3, negative=3, min_count=1, epochs=2, batch_size=512, subsample=0)
    res = compare_corpora(corpora, config=cfg, seeds=(0, 1), n_bootstrap=200, word_sets=SETS)
    work = "work/home x male/female"
    biased = res["corpora"]["biased"]["measures"][work]
    neutral = res["corpora"]["neutral"]["measures"][work]
    assert len(biased["per_seed"]) == 2
    assert biased["mean"] > 0.8 and biased["interval"][0] > 0
    assert biased["mean"] > neutral["mean"]
    assert neutral["interval"][0] < biased["interval"][1]
    diff = [d for d in res["differences"] if d["measure"] == work][0]
    assert diff["a"] == "neutral" and diff["difference"] < 0
    assert res["word_sets"]["roles"] == SETS["roles"] and res["missing"] == {}


def test_over_time_missing_words_everywhere_is_refused():
    corpora = [CorpusSpec("a", 1, [["he", "she"]] * 20), CorpusSpec("b", 2, [["he", "she"]] * 20)]
    cfg = SGNSConfig(dim=4, min_count=1, epochs=1)
    with pytest.raises(ValueError, match=r"word set 'male': only \['he'\].*min_count"):
        compare_corpora(corpora, config=cfg, seeds=(0,), n_bootstrap=10, word_sets=SETS)
