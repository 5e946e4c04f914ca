"""`textkit reproduce ulmfit --quick` end to end on real data (Brown + rotten-tomatoes)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from textkit.reproduce.ulmfit import METHODS, QUICK_SETTINGS, accuracy_figure, fold_zero, run_ulmfit

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    data = path.read_bytes()
    assert len(data) > 1000 and data.startswith(PNG_SIGNATURE), path


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    import torch

    # module fixtures run before the per-test one-thread fixture: two threads per xdist
    # worker on a 2-core machine can make this run 10x slower
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("ulmfit")
    try:
        settings = json.loads(json.dumps(QUICK_SETTINGS)) | {"seeds": [0, 1]}
        results = run_ulmfit(out, quick=True, device="cpu", settings=settings, log=lambda *_: None)
    finally:
        torch.set_num_threads(previous)
    return out, results


def test_quick_run_writes_every_method_and_a_loadable_ensemble(quick_run):
    from textkit import data
    from textkit.transfer import TextClassifier

    out, results = quick_run
    saved = json.loads((out / "results.json").read_text())
    assert list(saved["metrics"]) == list(METHODS)
    for key in ("ulmfit-fwd", "ulmfit-bwd", "ulmfit-ensemble", "nbsvm-bi", "mnb-bi", "no-pretrain"):
        assert 0.0 <= saved["metrics"][key]["accuracy"] <= 1.0
    assert saved["metrics"]["fastai-ulmfit"]["accuracy"] is None  # no --fastai-python here
    assert saved["seed"] == 0 and "torch" in saved["versions"]
    assert saved["details"]["fwd"]["vocabulary_transfer"]["kept"] > 0
    # two training seeds on one split: the rows are means with a spread and every run kept
    for key in ("ulmfit-fwd", "ulmfit-bwd", "ulmfit-ensemble", "no-pretrain"):
        row = saved["metrics"][key]
        assert sorted(row["per_seed"]) == ["0", "1"] and row["std"] is not None
        assert row["accuracy"] == pytest.approx(np.mean(list(row["per_seed"].values())))
    assert saved["config"]["seeds"] == [0, 1] and len(saved["details"]["classifier_fwd"]) == 2
    assert saved["config"]["majority_class_accuracy"] == pytest.approx(0.578, abs=0.05)  # fresh 7,403 of 12,808
    assert_png(out / "accuracy.png")
    clf = TextClassifier.load(out / "classifier")
    assert sorted(clf.members) == ["backward", "forward"]
    records = data.load("rotten-tomatoes")[:5]
    assert set(clf.predict([r["text"] for r in records])) <= set(clf.classes)
    assert (out / "pretrained" / "fwd" / "model.safetensors").exists()
    assert json.loads((out / "pretrained" / "bwd" / "config.json").read_text())["data"]["backwards"] is True
    from textkit.transfer import load_pretrained

    finetuned = load_pretrained(out / "finetuned" / "bwd")
    assert finetuned.config["data"]["backwards"] is True and len(finetuned.pipeline) == len(clf.pipeline)


def test_pretrained_folder_is_reused_and_checked(quick_run, tmp_path):
    out, first = quick_run
    settings = json.loads(json.dumps(QUICK_SETTINGS)) | {"seeds": [0, 1]}
    again = run_ulmfit(
        tmp_path / "again",
        quick=True,
        pretrained=out / "pretrained",
        device="cpu",
        settings=settings,
        log=lambda *_: None,
    )
    assert again["pretrain"] == {"reused": str(out / "pretrained")}
    # the same seed and pretrained models give the same classifiers
    assert again["metrics"]["ulmfit-fwd"]["accuracy"] == first["metrics"]["ulmfit-fwd"]["accuracy"]
    with pytest.raises(FileNotFoundError, match="fwd/ and bwd/"):
        run_ulmfit(tmp_path / "bad", quick=True, pretrained=tmp_path, device="cpu", log=lambda *_: None)


def test_ulmfit_accuracy_figure_starts_at_zero_with_the_majority_class_line():
    """Issue 29: an axis from ~70% exaggerated the gaps. The bars start at 0 and the majority
    class is a dashed line; a method that did not run (fastai without --fastai-python) is left out."""
    metrics = {key: {"accuracy": 0.7 + 0.01 * i, "std": None} for i, key in enumerate(METHODS)}
    metrics["fastai-ulmfit"] = {"accuracy": None}
    results = {"metrics": metrics, "config": {"n_test": 400, "quick": True, "majority_class_accuracy": 0.578}}
    fig = accuracy_figure(results)
    ax = fig.axes[0]
    assert ax.get_xlim() == (0.0, 100.0)  # horizontal bars: x is the accuracy axis
    assert [t.get_text() for t in ax.get_yticklabels()] == [k for k in METHODS if k != "fastai-ulmfit"]
    (line,) = ax.get_lines()
    assert list(line.get_xdata()) == pytest.approx([57.8, 57.8]) and line.get_linestyle() == "--"
    assert "axis from 0" in ax.get_xlabel() and "majority class" in ax.get_xlabel()
    # an older results.json without the baseline still plots, from 0
    del results["config"]["majority_class_accuracy"]
    ax = accuracy_figure(results).axes[0]
    assert ax.get_xlim()[0] == 0.0 and not ax.get_lines()


def test_fold_zero_is_the_sentiment_commands_first_fold():
    from textkit.reproduce.experiments import grouped_stratified_folds

    texts = [f"t{i % 37}" for i in range(200)]  # duplicates must share a fold
    labels = [["a", "b"][i % 2] for i in range(200)]
    train, test = fold_zero(texts, labels, seed=0)
    _, groups = np.unique(np.asarray(texts), return_inverse=True)
    expected_train, expected_test = grouped_stratified_folds(np.asarray(labels), groups, 10, 0)[0]
    assert train.tolist() == expected_train.tolist() and test.tolist() == expected_test.tolist()
    assert not set(texts[i] for i in train) & set(texts[i] for i in test)


def test_cli_lists_the_command():
    from textkit.cli import REPRODUCE_COMMANDS

    assert REPRODUCE_COMMANDS["ulmfit"][0] == "textkit.reproduce.ulmfit"


def test_runs_on_other_seeds_reuse_the_finetuned_lms_and_combine(quick_run, tmp_path):
    from textkit.reproduce.ulmfit import combine_results

    out, first = quick_run
    settings = json.loads(json.dumps(QUICK_SETTINGS)) | {"seeds": [2], "finetune_seed": 0}
    other = run_ulmfit(
        tmp_path / "seed2",
        quick=True,
        pretrained=out / "pretrained",
        reuse_finetuned=out / "finetuned",
        device="cpu",
        settings=settings,
        log=lambda *_: None,
    )
    assert other["details"]["fwd"]["finetune"]["reused"].endswith("fwd")
    merged = combine_results([out, tmp_path / "seed2"], tmp_path / "all", log=lambda *_: None)
    assert merged["config"]["seeds"] == [0, 1, 2]
    fwd = merged["metrics"]["ulmfit-fwd"]
    assert fwd["per_seed"] == {
        **first["metrics"]["ulmfit-fwd"]["per_seed"],
        **other["metrics"]["ulmfit-fwd"]["per_seed"],
    }
    assert fwd["accuracy"] == pytest.approx(np.mean(list(fwd["per_seed"].values())))
    assert json.loads((tmp_path / "all" / "results.json").read_text())["metrics"]["ulmfit-fwd"] == fwd
    assert_png(tmp_path / "all" / "accuracy.png")
    with pytest.raises(ValueError, match="repeat seeds"):
        combine_results([out, out], tmp_path / "twice", log=lambda *_: None)


def test_fastai_peer_starts_from_the_same_forward_lm(quick_run, tmp_path):
    """With a pretrained LM the peer is given its forward folder (--pretrained-lm) and no Brown
    text to pretrain on; without one it gets the Brown text. A stub peer records its arguments."""
    import sys

    from textkit.reproduce.ulmfit import _finish_fastai, _start_fastai

    out, _ = quick_run
    stub = tmp_path / "peer.py"
    stub.write_text(
        "import json, sys\n"
        "args = sys.argv[1:]\n"
        "out = args[args.index('--out') + 1]\n"
        "json.dump({'accuracy': 0.5, 'argv': args}, open(out, 'w'))\n"
    )
    task = (["good film"], ["fresh"], ["bad film"], ["rotten"])
    settings = json.loads(json.dumps(QUICK_SETTINGS))
    handle = _start_fastai(
        sys.executable, stub, 1, tmp_path / "a", settings, task, lambda *_: None, out / "pretrained" / "fwd"
    )
    argv = _finish_fastai(handle, lambda *_: None)["peer"]["argv"]
    assert argv[argv.index("--pretrained-lm") + 1] == str((out / "pretrained" / "fwd").resolve())
    assert not (tmp_path / "a" / "fastai" / "data" / "pretrain.json").exists()
    handle = _start_fastai(sys.executable, stub, 1, tmp_path / "b", settings, task, lambda *_: None)
    assert "--pretrained-lm" not in _finish_fastai(handle, lambda *_: None)["peer"]["argv"]
    assert json.loads((tmp_path / "b" / "fastai" / "data" / "pretrain.json").read_text())["train"]
