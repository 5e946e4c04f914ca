"""The Spanish ULMFiT demonstration (``textkit.reproduce.ulmfit_es``): the book-group mapping,
the leak-free chapter split, and the quick run end to end (results, exported classifier)."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from textkit.reproduce import ulmfit_es as es

METRIC_KEYS = {"ulmfit-es", "nbsvm-bi", "mnb-bi", "majority"}


@pytest.fixture(scope="module")
def verses():
    return es.load_verses()


@pytest.fixture(autouse=True)
def _one_torch_thread():
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_book_mapping_covers_all_66_books_and_every_group(verses):
    from textkit import data

    assert len(es.BOOK_GROUPS) == 66
    assert set(es.BOOK_GROUPS.values()) == set(es.GROUPS)
    assert {r["book"] for r in data.load(es.CORPUS)} == set(es.BOOK_GROUPS)
    sizes = Counter(es.BOOK_GROUPS.values())
    assert sizes == {
        "Law": 5,
        "History": 12,
        "Wisdom/Poetry": 5,
        "Prophets": 17,
        "Gospels+Acts": 5,
        "Epistles": 21,
        "Revelation": 1,
    }
    assert es.book_group("Song of Solomon") == "Wisdom/Poetry" and es.book_group("Jude") == "Epistles"
    assert {v["group"] for v in verses[0]} == set(es.GROUPS)


def test_empty_verses_are_dropped_and_counted(verses):
    kept, dropped = verses
    assert dropped == 18 and len(kept) == 31102 - 18
    assert all(v["text"].strip() for v in kept)


def test_a_book_missing_from_the_mapping_raises():
    with pytest.raises(ValueError, match="Tobit.*BOOK_GROUPS"):
        es.book_group("Tobit")
    records = [{"text": "Y Tobías...", "testament": "ot", "book": "Tobit", "chapter": 1, "verse": 1}]
    with pytest.raises(ValueError, match="Tobit"):
        es.load_verses(records)
    with pytest.raises(ValueError, match="Tobit"):
        es.chapter_split([{"book": "Tobit", "chapter": 1}])


def test_chapter_split_is_leak_free_stratified_and_deterministic(verses):
    kept, _ = verses
    split = es.chapter_split(kept, seed=0)
    all_chapters = {(v["book"], v["chapter"]) for v in kept}
    assert len(all_chapters) == 1189
    sets = {name: set(split[name]) for name in es.SPLITS}
    assert sum(len(s) for s in sets.values()) == sum(len(split[n]) for n in es.SPLITS) == 1189  # no duplicates
    assert set().union(*sets.values()) == all_chapters
    for a, b in (("train", "valid"), ("train", "test"), ("valid", "test")):
        assert not sets[a] & sets[b], (a, b)
    for name in es.SPLITS:  # stratified: every group in every split
        assert {es.book_group(book) for book, _ in split[name]} == set(es.GROUPS), name
    assert len(split["test"]) == len(split["valid"]) == 119
    assert es.chapter_split(kept, seed=0) == split
    assert es.chapter_split(kept, seed=1) != split
    with pytest.raises(AssertionError, match="train and test"):
        es.check_leak_free({"train": split["train"], "valid": [], "test": split["train"][:1]})


def test_prepared_data_keeps_held_out_chapters_out_of_training():
    settings = dict(es.QUICK_SETTINGS)
    data = es.prepare_data(settings)
    counts = data["counts"]
    assert counts["chapters"] == {"train": 60, "valid": 10, "test": 10}
    assert counts["dropped_empty_verses"] == 18
    train_chapters = {k[:2] for k in data["train"]["keys"]}
    for name in ("valid", "test"):
        assert not train_chapters & {k[:2] for k in data[name]["keys"]}
        assert set(data[name]["labels"]) == set(es.GROUPS)  # the round-robin slice covers every group
    assert len(data["lm_docs"]["train"]) == 60  # LM documents: the training chapters only
    assert es.prepare_data(settings)["test"]["keys"] == data["test"]["keys"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("ulmfit_es")
    lines: list[str] = []
    try:
        results = es.run_ulmfit_spanish(out, quick=True, device="cpu", log=lines.append)
    finally:
        torch.set_num_threads(previous)
    return out, results, lines


@pytest.mark.slow
def test_quick_run_writes_results(quick_run):
    out, results, lines = quick_run
    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert saved["metrics"].keys() == results["metrics"].keys()
    assert set(saved["metrics"]) == METRIC_KEYS
    for key, m in saved["metrics"].items():
        assert 0.0 <= m["accuracy"] <= 1.0, key
        assert 0.0 <= m["macro_f1"] <= 1.0, key
    assert {"split", "groups", "settings", "seed", "versions", "timings_s"} <= set(saved)
    split = saved["split"]
    assert split["chapters"] == {"train": 60, "valid": 10, "test": 10}
    assert split["dropped_empty_verses"] == 18
    assert set(saved["groups"]) == set(es.GROUPS)
    assert sum(saved["groups"].values()) == split["verses"]["test"]
    assert saved["seed"] == 0 and saved["settings"] == json.loads(json.dumps(es.QUICK_SETTINGS))
    table = es.format_table(saved)
    assert all(key in table for key in METRIC_KEYS) and table in "\n".join(lines)


@pytest.mark.slow
def test_exported_classifier_reloads_and_predicts_the_same(quick_run):
    from textkit.transfer import TextClassifier

    out, results, _ = quick_run
    loaded = TextClassifier.load(out / "classifier")
    assert loaded.classes == sorted(es.GROUPS)
    examples = results["examples"]
    assert len(examples) >= 3
    predicted = loaded.predict([e["text"] for e in examples])
    assert list(predicted) == [e["ulmfit-es"] for e in examples]
    # the whole test set: the reloaded classifier scores what the run reported
    test = es.prepare_data(results["settings"])["test"]
    assert loaded.score(test["texts"], test["labels"]) == pytest.approx(results["metrics"]["ulmfit-es"]["accuracy"])
    predictions = loaded.predict(test["texts"])
    assert es.scores(test["labels"], predictions)["macro_f1"] == pytest.approx(
        results["metrics"]["ulmfit-es"]["macro_f1"]
    )
    assert np.isin(predictions, es.GROUPS).all()
