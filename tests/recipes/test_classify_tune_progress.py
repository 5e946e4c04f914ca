"""`classify train --tune` reports each setting as it goes (one line per setting when piped, a
tqdm bar on a terminal) and still chooses exactly what `GridSearchCV(refit=True)` chooses."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

from textkit.recipes.classifiers import FitRequest, build_classical_pipeline, _tune


@pytest.fixture(scope="module")
def reviews():
    rng = np.random.default_rng(0)
    words = {"pos": ["good", "great", "witty"], "neg": ["bad", "dull", "mess"]}
    labels = [str(x) for x in rng.choice(["pos", "neg"], 120)]
    shared = ["film", "plot", "actor", "scene", "good", "bad"]
    texts = [" ".join(list(rng.choice(words[y], 2)) + list(rng.choice(shared, 5))) for y in labels]
    return texts, labels


GRID = {"classifier__C": [0.1, 1.0], "classifier__beta": [0.25, 1.0]}


def test_tune_chooses_what_grid_search_chooses(reviews):
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    texts, labels = reviews
    model, chosen, score = _tune(
        build_classical_pipeline("nbsvm", 0), GRID, texts, labels, FitRequest(cv=3, quiet=True)
    )
    search = GridSearchCV(
        build_classical_pipeline("nbsvm", 0), GRID, cv=StratifiedKFold(3, shuffle=True, random_state=0), refit=True
    ).fit(texts, np.asarray(labels, dtype=object))
    assert chosen == {k.split("__", 1)[1]: v for k, v in search.best_params_.items()}
    assert score == round(float(search.best_score_), 4)
    np.testing.assert_array_equal(model.predict_proba(texts), search.best_estimator_.predict_proba(texts))


def test_tune_piped_prints_one_line_per_setting(reviews, capsys):
    texts, labels = reviews
    _tune(build_classical_pipeline("nbsvm", 0), GRID, texts, labels, FitRequest(cv=3, log=lambda m: None))
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"tuning {i}/4" for i in range(1, 5)] + ["refit on all texts"]
    assert lines[0].startswith("tuning 1/4: C=0.1, beta=0.25: inner-CV accuracy ")
    assert "\r" not in err


def test_tune_on_a_terminal_shows_a_bar_and_quiet_shows_nothing(reviews, monkeypatch, capsys):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    texts, labels = reviews
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    _tune(build_classical_pipeline("nb", 0), {"classifier__alpha": [0.5, 1.0]}, texts, labels, FitRequest(cv=2))
    shown = terminal.getvalue()
    assert "\r" in shown and ("fit/s" in shown or "s/fit" in shown)  # tqdm's rate over the 4 fits
    assert "tuning 2/2: alpha=1.0: inner-CV accuracy" in shown
    monkeypatch.undo()
    _tune(build_classical_pipeline("nb", 0), {"classifier__alpha": [0.5]}, texts, labels, FitRequest(cv=2, quiet=True))
    assert capsys.readouterr().err == ""
