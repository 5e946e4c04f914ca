"""``textkit reproduce sentiment``: quick rotten-tomatoes run, an IMDb run on a fixture in the real
aclImdb layout, and clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from textkit.cli import main

SENTIMENT_KEYS = {
    "mnb-uni", "mnb-bi", "nb-binarized", "lr-counts", "lr-tfidf",
    "nbsvm-uni", "nbsvm-bi", "nbsvm-tri", "sklearn-mnb", "sklearn-lr",
}  # fmt: skip

GOOD = "great wonderful superb moving charming brilliant delightful touching".split()
BAD = "boring awful dull tedious bland clumsy lifeless messy".split()
FILLER = "the film movie plot story actor scene director it is was this and of with a".split()


def _review(rng: np.random.Generator, positive: bool) -> str:
    own = rng.choice(GOOD if positive else BAD, size=rng.integers(2, 5))
    other = rng.choice(BAD if positive else GOOD, size=rng.integers(0, 2))
    words = np.concatenate([own, other, rng.choice(FILLER, size=rng.integers(20, 60))])
    rng.shuffle(words)
    return "<br />".join([" ".join(words[:10]).capitalize(), " ".join(words[10:]) + "."])


def write_aclimdb(root, n_per_class: int = 40, seed: int = 0):
    """A miniature aclImdb: {train,test}/{pos,neg}/<id>_<rating>.txt plus train/unsup."""
    rng = np.random.default_rng(seed)
    base = root / "aclImdb"
    for split in ("train", "test"):
        for label, ratings in (("pos", (7, 8, 9, 10)), ("neg", (1, 2, 3, 4))):
            folder = base / split / label
            folder.mkdir(parents=True)
            for i in range(n_per_class):
                (folder / f"{i}_{rng.choice(ratings)}.txt").write_text(_review(rng, label == "pos"), encoding="utf-8")
    unsup = base / "train" / "unsup"
    unsup.mkdir()
    for i in range(5):
        (unsup / f"{i}_0.txt").write_text(_review(rng, bool(i % 2)), encoding="utf-8")
    return base


def _check_results(path):
    results = json.loads(path.read_text(encoding="utf-8"))
    assert set(results) >= {"metrics", "seed", "versions", "config"}
    assert set(results["metrics"]) == SENTIMENT_KEYS
    for key, m in results["metrics"].items():
        assert 0.0 <= m["accuracy"] <= 1.0, key
        assert m["accuracy"] == pytest.approx(np.mean(m["fold_accuracies"]))
    assert results["seed"] == 0
    assert {"numpy", "scikit-learn", "textkit"} <= set(results["versions"])
    return results


def test_sentiment_accuracy_chart_axis_starts_at_zero():
    """Issue 29: accuracy.png's axis started near 70%, which exaggerated the gaps; it starts at 0."""
    from textkit.classical.plots import accuracy_figure
    from textkit.reproduce.experiments import SENTIMENT_REFERENCES

    metrics = {key: {"accuracy": 0.75 + 0.005 * i, "std": 0.01} for i, key in enumerate(sorted(SENTIMENT_KEYS))}
    fig = accuracy_figure(metrics, references=SENTIMENT_REFERENCES["rotten-tomatoes"]["accuracy"])
    ax = fig.axes[0]
    assert ax.get_xlim() == (0.0, 100.0) and "axis from 0" in ax.get_xlabel()


@pytest.mark.slow
def test_reproduce_sentiment_quick_rotten_tomatoes(tmp_path, capsys):
    assert main(["reproduce", "sentiment", "--quick", "--jobs", "1", "--out", str(tmp_path)]) == 0
    results = _check_results(tmp_path / "results.json")
    printed = capsys.readouterr().out
    assert "79.38" in printed and "77.94" in printed  # Wang & Manning's RT-s figures beside ours
    assert "MR sentences" in printed  # ... with the note that the data differ
    assert (tmp_path / "accuracy.png").stat().st_size > 10_000
    metrics = results["metrics"]
    assert len(metrics["nbsvm-bi"]["fold_accuracies"]) == 3
    # textkit's NB and scikit-learn's MultinomialNB see the same folds and features: same accuracy
    assert metrics["mnb-bi"]["fold_accuracies"] == metrics["sklearn-mnb"]["fold_accuracies"]
    assert min(m["accuracy"] for m in metrics.values()) > 0.6  # well above the 58% majority class
    assert results["config"]["n_documents"] == 3000 and results["config"]["quick"] is True
    assert all(set(h) == {"C", "beta"} for h in metrics["nbsvm-bi"]["hyperparameters"])


@pytest.mark.slow
def test_reproduce_sentiment_imdb_fixture_in_the_aclimdb_layout(tmp_path):
    data_dir = write_aclimdb(tmp_path / "data")
    out = tmp_path / "out"
    assert (
        main(["reproduce", "sentiment", "--corpus", "imdb", "--data-dir", str(data_dir), "--quick", "--out", str(out)])
        == 0
    )
    results = _check_results(out / "results.json")
    assert results["config"]["n_train"] == 80 and results["config"]["n_test"] == 80  # unsup reviews are left out
    metrics = results["metrics"]
    # the fixture's reviews are shuffled bags of words: the signal is in unigrams, n-grams add noise
    assert metrics["mnb-uni"]["accuracy"] > 0.9 and metrics["nbsvm-uni"]["accuracy"] > 0.9
    assert min(m["accuracy"] for m in metrics.values()) > 0.6
    assert results["references"]["accuracy"]["nbsvm-bi"] == 91.22


def test_reproduce_sentiment_imdb_without_data_dir_is_a_clear_error(tmp_path, capsys):
    assert main(["reproduce", "sentiment", "--corpus", "imdb", "--out", str(tmp_path)]) == 1
    assert "--data-dir" in capsys.readouterr().err


def test_reproduce_sentiment_imdb_with_a_wrong_folder_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code = main(
        [
            "reproduce",
            "sentiment",
            "--corpus",
            "imdb",
            "--data-dir",
            str(tmp_path / "empty"),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 1
    assert "aclImdb" in capsys.readouterr().err
