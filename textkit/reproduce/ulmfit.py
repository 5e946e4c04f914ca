"""``textkit reproduce ulmfit``: the whole ULMFiT recipe on real data, beside NBSVM and fastai.

1. Pretrain forward and backward AWD-LSTM language models on Brown (one shared vocabulary),
   unless ``--pretrained DIR`` holds them (``DIR/fwd`` and ``DIR/bwd``, as this command writes
   under ``OUT/pretrained``).
2. Fine-tune each on the rotten-tomatoes *training* texts of fold 0 (held-out texts are never
   seen, not even unlabelled).
3. Train forward and backward classifiers with gradual unfreezing; average them (ensemble).
4. Evaluate on fold 0 of ``textkit reproduce sentiment`` (10-fold grouped stratified CV, same
   seed), with NBSVM-bi and MNB-bi on the same split, the no-pretraining ablation, and
   fastai 2.8's ULMFiT at the same settings when ``--fastai-python`` names an interpreter
   with fastai (``bench/ulmfit_fastai.py`` runs there, on the same texts).

Writes ``OUT/results.json`` (``{"metrics": {method: {"accuracy": ...}}}``), ``OUT/accuracy.png``
(``accuracy_figure``), ``OUT/settings.json``, the pretrained and fine-tuned LMs
(``OUT/pretrained/{fwd,bwd}``, ``OUT/finetuned/{fwd,bwd}``), the exported ensemble in
``OUT/classifier`` and prints a table.

``--lang es`` runs the Spanish demonstration instead (``textkit.reproduce.ulmfit_es``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from textkit.transfer.recipes import recipe_settings

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CORPUS = "rotten-tomatoes"
N_FOLDS = 10

SHIPPED_LM = "awd_lstm-en"

FULL_SETTINGS = {
    "seed": 0,
    # the shipped English AWD-LSTM (models/awd_lstm-en) is the default starting point; --pretrain
    # pretrains on Brown instead with "pretrain" below. LM fine-tuning runs once per direction (with
    # the first seed); the classifiers and the ablation run once per seed.
    "seeds": [0, 1, 2],
    # awd_lstm-small's size; one epoch per direction keeps the whole run near an hour on 2 cores
    "pretrain": {
        "emb_size": 128,
        "hidden_size": 512,
        "n_layers": 2,
        "drop_mult": 0.5,
        "epochs": 1,
        "lr": 0.005,
        "batch_size": 32,
        "bptt": 70,
        "max_vocab": 12000,
        "min_freq": 3,
        "wd": 0.01,
        "clip": 0.4,
    },
    # LM fine-tuning and the classifier schedule: the shipped recipe models/transfer/ulmfit.json,
    # the one `textkit classify train --method ulmfit` uses. The pretrained and the from-scratch
    # classifiers train on its one schedule, so the ablation isolates the pretrained weights.
    # fastai's gradual unfreezing (bench/ulmfit_gradual_unfreezing_settings.json) under-trained on
    # these 20-word snippets (docs/transfer.md); the third epoch was chosen on an inner split of
    # the training fold (bench/results/ulmfit_classifier_search.json).
    **recipe_settings("ulmfit"),
    # no "no_pretrain_classifier": the ablation's random encoder uses "classifier" above, the
    # schedule chosen for it on an inner split (bench/results/ulmfit_recipe_audit.json)
}
QUICK_SETTINGS = {
    "seed": 0,
    "seeds": [0],
    "pretrain": {
        "emb_size": 32,
        "hidden_size": 64,
        "n_layers": 2,
        "drop_mult": 0.3,
        "epochs": 1,
        "lr": 0.01,
        "batch_size": 16,
        "bptt": 30,
        "max_vocab": 4000,
        "min_freq": 2,
        "wd": 0.01,
        "clip": 0.4,
        "max_docs": 12,
    },
    **recipe_settings("ulmfit-quick"),  # models/transfer/ulmfit-quick.json
    "max_train_docs": 1500,
    "max_test_docs": 400,
}
PUBLISHED = {
    "source": "Howard & Ruder 2018 (ULMFiT) on IMDb; fastai v1 IMDb example; Wang & Manning 2012 (NBSVM-bi)",
    "imdb_accuracy": {
        "ulmfit (paper, error 4.6%)": 95.4,
        "ulmfit-fwd (fastai v1 example)": 94.96,
        "ulmfit-ensemble (fastai v1 example)": 95.39,
        "nbsvm-bi (W&M)": 91.22,
    },
    "note": "IMDb, with a WikiText-103 LM; not comparable with rotten-tomatoes fold 0 and textkit's smaller LMs",
}
METHODS = {
    "ulmfit-fwd": "textkit ULMFiT, forward LM + classifier",
    "ulmfit-bwd": "textkit ULMFiT, backward LM + classifier",
    "ulmfit-ensemble": "mean of the forward and backward probabilities",
    "nbsvm-bi": "NBSVM, uni+bigrams (textkit.classical, inner-CV tuned)",
    "mnb-bi": "multinomial NB, uni+bigrams",
    "no-pretrain": ("same classifier, encoder from scratch (forward), every group trained from the start"),
    "fastai-ulmfit": (
        "fastai 2.8 ULMFiT (AWD_LSTM) at the same settings, from the same pretrained forward LM (its weights "
        "loaded into fastai's AWD_LSTM), or pretrained by fastai on the same Brown text with --pretrain"
    ),
}


# the fastai peer is a benchmark script, not part of the package: it is found in a checkout
FASTAI_SCRIPT = Path("bench") / "ulmfit_fastai.py"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", choices=(CORPUS,), default=CORPUS)
    parser.add_argument(
        "--lang",
        choices=("en", "es"),
        default="en",
        help="es: the Spanish demonstration (SentencePiece LM on the Reina-Valera Bible, book-group classifier)",
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--pretrained",
        default=None,
        help=f"a shipped model's name (default for full runs: {SHIPPED_LM}) or a folder with fwd/ and bwd/ LM folders",
    )
    parser.add_argument(
        "--pretrain",
        action="store_true",
        help="pretrain forward and backward LMs on Brown first (the default for --quick) instead of a shipped model",
    )
    parser.add_argument(
        "--seeds", default=None, help="comma-separated training seeds for the classifiers (default 0,1,2; --quick 0)"
    )
    parser.add_argument(
        "--ablation-seeds", default=None, help="seeds for the no-pretraining ablation (default: --seeds)"
    )
    parser.add_argument(
        "--finetune-seed", type=int, default=None, help="seed of the LM fine-tuning (default: the first of --seeds)"
    )
    parser.add_argument(
        "--finetuned", default=None, help="reuse the fine-tuned LMs (fwd/, bwd/) of an earlier run's OUT/finetuned"
    )
    parser.add_argument(
        "--combine",
        nargs="+",
        default=None,
        metavar="RUN",
        help="merge the results.json of runs that trained different seeds into OUT (nothing is trained)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny models, a data slice, one torch thread (about a minute; for tests)"
    )
    parser.add_argument(
        "--settings", default=None, help="JSON file overriding the settings (same keys as OUT/settings.json)"
    )
    parser.add_argument(
        "--fastai-python",
        default=os.environ.get("TEXTKIT_FASTAI_PYTHON"),
        help="a Python with fastai 2.8 to run the fastai peer (bench/ulmfit_fastai.py); "
        "default: $TEXTKIT_FASTAI_PYTHON",
    )
    parser.add_argument(
        "--fastai-script",
        default=None,
        help=f"the fastai peer script (default: {FASTAI_SCRIPT} under the current folder: a checkout)",
    )
    parser.add_argument("--fastai-threads", type=int, default=1)
    parser.add_argument(
        "--backbone",
        default=None,
        help="a pretrained Transformer (smollm2-135m) or its folder: the classifier over it, a frozen probe and "
        "NBSVM-bi on fold 0 (textkit.reproduce.ulmfit_llm) instead of the AWD-LSTM recipe; a pretrained encoder "
        "(minilm-l6) fine-tunes it beside its frozen-embedding probe (textkit.reproduce.ulmfit_encoder)",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's; --quick: 1)")
    parser.add_argument("--seed", type=int, default=None)


def fold_zero(texts: list[str], labels: list[str], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train/test rows of fold 0 of ``textkit reproduce sentiment`` (same grouping and seed)."""
    from textkit.reproduce.experiments import grouped_stratified_folds

    _, groups = np.unique(np.asarray(texts, dtype=object).astype(str), return_inverse=True)
    return grouped_stratified_folds(np.asarray(labels), groups, N_FOLDS, seed)[0]


class FoldSplit(NamedTuple):
    train_texts: list[str]
    train_labels: list
    test_texts: list[str]
    test_labels: list
    train_rows: np.ndarray  # indices into the corpus records
    test_rows: np.ndarray


def fold_zero_split(seed: int, settings: dict) -> FoldSplit:
    """Rotten-tomatoes fold 0 (texts, labels and record indices), each part subsampled (seeded)
    to ``settings["max_train_docs"]`` / ``["max_test_docs"]`` if set."""
    from textkit import data

    records = data.load(CORPUS)
    texts, labels = [r["text"] for r in records], [r["label"] for r in records]
    train_rows, test_rows = fold_zero(texts, labels, seed)
    rng = np.random.default_rng(seed)
    if settings.get("max_train_docs"):
        train_rows = np.sort(rng.choice(train_rows, min(len(train_rows), settings["max_train_docs"]), replace=False))
    if settings.get("max_test_docs"):
        test_rows = np.sort(rng.choice(test_rows, min(len(test_rows), settings["max_test_docs"]), replace=False))
    return FoldSplit(
        [texts[i] for i in train_rows],
        [labels[i] for i in train_rows],
        [texts[i] for i in test_rows],
        [labels[i] for i in test_rows],
        train_rows,
        test_rows,
    )


def _recipe(pre: dict, backwards: bool, seed: int):
    from textkit.recipes.language_model import LMRecipe

    return LMRecipe.from_dict(
        {
            "name": f"ulmfit-brown-{'bwd' if backwards else 'fwd'}",
            "description": (
                f"{'Backward' if backwards else 'Forward'} AWD-LSTM on Brown for `textkit reproduce ulmfit`."
            ),
            "arch": "awd_lstm",
            "model": {k: pre[k] for k in ("emb_size", "hidden_size", "n_layers", "drop_mult")},
            "tokenizer": {"kind": "word", "min_freq": pre["min_freq"], "max_vocab": pre["max_vocab"]},
            "data": {
                "corpus": "brown",
                "split_seed": 0,
                "fractions": [0.8, 0.1, 0.1],
                "max_docs": pre.get("max_docs"),
                "backwards": backwards,
            },
            "train": {
                "batch_size": pre["batch_size"],
                "bptt": pre["bptt"],
                "epochs": pre["epochs"],
                "lr": pre["lr"],
                "weight_decay": pre["wd"],
                "clip": pre["clip"],
                "seed": seed,
                "checkpoint_every": 200,
                "schedule": {"name": "one_cycle", "pct_start": 0.25},
            },
        }
    )


def pretrain_both(settings: dict, out: Path, device: str, log) -> dict:
    from dataclasses import replace

    from textkit.text import load_pipeline
    from textkit.recipes.language_model import pretrain_language_model

    metrics = {}
    for name, backwards in (("fwd", False), ("bwd", True)):
        recipe = _recipe(settings["pretrain"], backwards, settings["seed"])
        recipe = replace(recipe, train=replace(recipe.train, device=device))
        pipeline = load_pipeline(out / "fwd") if backwards else None  # one vocabulary for both directions
        started = time.perf_counter()
        m = pretrain_language_model(
            recipe, out / name, quiet=True, pipeline=pipeline, command="textkit reproduce ulmfit"
        )
        log(
            f"pretrained {name} LM on Brown: valid perplexity {m['valid_perplexity']:.1f}, "
            f"{time.perf_counter() - started:.0f} s"
        )
        metrics[name] = m
    return metrics


def _check_pretrained(folder: Path) -> None:
    for name in ("fwd", "bwd"):
        if not (folder / name / "config.json").exists():
            raise FileNotFoundError(
                f"--pretrained {folder}: expected {folder / name}/config.json. "
                "Give the folder that holds fwd/ and bwd/ "
                "language models (this command writes one under OUT/pretrained)"
            )


def find_fastai_script(script: str | Path | None = None) -> Path:
    """The fastai peer script: ``script`` when given, else ``bench/ulmfit_fastai.py`` under the
    current folder. It ships with the repository, not the package, so an installed textkit needs
    a checkout to run the peer."""
    path = Path(script).expanduser() if script is not None else Path.cwd() / FASTAI_SCRIPT
    if not path.is_file():
        where = "--fastai-script" if script is not None else f"{FASTAI_SCRIPT} under the current folder ({Path.cwd()})"
        raise FileNotFoundError(
            f"the fastai peer script {path} does not exist (looked for {where}). It ships with the textkit "
            f"repository: run from a checkout's root, pass --fastai-script PATH/TO/{FASTAI_SCRIPT.name}, "
            "or leave out --fastai-python"
        )
    return path.resolve()


def run_ulmfit(
    out: str | Path,
    *,
    quick: bool = False,
    pretrained: str | Path | None = None,
    settings: dict | None = None,
    fastai_python: str | None = None,
    fastai_threads: int = 1,
    device: str = "auto",
    log=print,
    fastai_script: str | Path | None = None,
    reuse_finetuned: str | Path | None = None,
) -> dict:
    from textkit._io import atomic_write_json
    from textkit.classical.plots import save_figure
    from textkit.reproduce.experiments import sentiment_train_test, versions
    from textkit.nn.serialization import save_language_model
    from textkit.train.trainer import resolve_device
    from textkit.data.pretrained import list_pretrained, pretrained_folder, pretrained_manifest
    from textkit.transfer import (
        TextClassifier,
        adapt_to_texts,
        fine_tune_language_model,
        load_pretrained,
        train_classifier,
    )
    from textkit.transfer.training import settings_from_dict

    started = time.perf_counter()
    script = find_fastai_script(fastai_script) if fastai_python else None  # fail now, not after the baselines
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = json.loads(json.dumps(settings or (QUICK_SETTINGS if quick else FULL_SETTINGS)))
    seed = settings["seed"]
    device = str(resolve_device(device))
    finetune_settings, classifier_settings = settings_from_dict(settings)

    train_texts, train_labels, test_texts, test_labels, _, _ = fold_zero_split(seed, settings)
    log(
        f"{CORPUS} fold 0 of {N_FOLDS} (seed {seed}): {len(train_texts)} train / {len(test_texts)} test snippets; "
        f"device {device}"
    )
    atomic_write_json(out / "settings.json", settings)

    metrics: dict[str, dict] = {}
    timings: dict[str, float] = {}
    # classical baselines on the same split
    t = time.perf_counter()
    classical = sentiment_train_test(train_texts, train_labels, test_texts, test_labels, seed=seed, quick=quick)[
        "metrics"
    ]
    for key in ("nbsvm-bi", "mnb-bi"):
        metrics[key] = {"accuracy": classical[key]["accuracy"], "hyperparameters": classical[key]["hyperparameters"][0]}
    timings["classical"] = time.perf_counter() - t
    log(f"nbsvm-bi {metrics['nbsvm-bi']['accuracy']:.4f}, mnb-bi {metrics['mnb-bi']['accuracy']:.4f}")

    # the fastai peer starts now and runs beside textkit (its own process and threads), from the
    # same forward LM unless textkit pretrains here (then fastai pretrains on the same Brown text)
    shipped = pretrained is not None and str(pretrained) in list_pretrained() and not Path(pretrained).exists()
    peer_lm = None
    if fastai_python and pretrained is not None:
        peer_lm = pretrained_folder(str(pretrained)) if shipped else Path(pretrained) / "fwd"
    fastai_proc = _start_fastai(
        fastai_python,
        script,
        fastai_threads,
        out,
        settings,
        (train_texts, train_labels, test_texts, test_labels),
        log,
        pretrained_lm=peer_lm,
    )

    # 1. pretrain, or start from a shipped model or an LM folder pair
    seeds = [int(x) for x in settings.get("seeds", [seed])]
    if pretrained is None:
        pretrain_dir = out / "pretrained"
        t = time.perf_counter()
        pretrain_metrics = pretrain_both(settings, pretrain_dir, device, log)
        timings["pretrain"] = time.perf_counter() - t
        sources = {"fwd": (pretrain_dir / "fwd", "forward"), "bwd": (pretrain_dir / "bwd", "backward")}
    elif shipped:
        pretrain_metrics = {
            "shipped": str(pretrained),
            "manifest": {
                d: {k: v for k, v in m.items() if k in ("perplexity", "training", "files")}
                for d, m in pretrained_manifest(str(pretrained))["directions"].items()
            },
        }
        sources = {"fwd": (str(pretrained), "forward"), "bwd": (str(pretrained), "backward")}
    else:
        pretrain_dir = Path(pretrained)
        _check_pretrained(pretrain_dir)
        pretrain_metrics = {"reused": str(pretrain_dir)}
        sources = {"fwd": (pretrain_dir / "fwd", "forward"), "bwd": (pretrain_dir / "bwd", "backward")}

    # 2. fine-tune each direction's LM once (settings["finetune_seed"], default the first seed) on
    # the training fold's texts, or reuse the fine-tuned LMs of an earlier run (``finetuned``)
    finetune_seed = int(settings.get("finetune_seed", seeds[0]))
    finetuned, details = {}, {"seeds": seeds, "finetune_seed": finetune_seed}
    for name, backwards in (("fwd", False), ("bwd", True)):
        direction = "backward" if backwards else "forward"
        t = time.perf_counter()
        if reuse_finetuned is not None:
            bundle = load_pretrained(Path(reuse_finetuned) / name, device=device)
            if bool(bundle.config.get("data", {}).get("backwards", False)) != backwards:
                raise ValueError(f"{Path(reuse_finetuned) / name} is not a {direction} fine-tuned language model")
            finetuned[name] = (bundle.model, bundle.pipeline, backwards)
            details[name] = {
                "finetune": {"reused": str(Path(reuse_finetuned) / name), **bundle.config.get("finetune", {})}
            }
            continue
        source, source_direction = sources[name]
        bundle = load_pretrained(source, device=device, direction=source_direction)
        if bool(bundle.config.get("data", {}).get("backwards", False)) != backwards:
            raise ValueError(f"{source} was not trained as a {direction} language model")
        model, pipeline, report = adapt_to_texts(
            bundle, train_texts, min_freq=finetune_settings.min_freq, max_vocab=finetune_settings.max_vocab
        )
        log(f"[{name}] " + report.summary())
        model, ft_metrics = fine_tune_language_model(
            model,
            pipeline,
            train_texts,
            finetune_settings,
            backwards=backwards,
            seed=finetune_seed,
            device=device,
            log=log,
        )
        # the fine-tuned LM (encoder included) is a regular LM folder: load_pretrained reads it
        save_language_model(
            model,
            pipeline,
            out / "finetuned" / name,
            extra={"data": {"corpus": CORPUS, "fold": 0, "backwards": backwards}, "finetune": ft_metrics},
        )
        finetuned[name] = (model, pipeline, backwards)
        details[name] = {
            "vocabulary_transfer": _asdict(report),
            "finetune": ft_metrics,
            "finetune_seconds": round(time.perf_counter() - t, 1),
        }
        timings[f"finetune_{name}"] = time.perf_counter() - t

    # 3. classifiers per seed: forward, backward, their ensemble and the no-pretraining ablation
    per_seed: dict[str, list[float]] = {
        key: [] for key in ("ulmfit-fwd", "ulmfit-bwd", "ulmfit-ensemble", "no-pretrain")
    }
    _, scratch_settings = settings_from_dict(
        {"classifier": settings.get("no_pretrain_classifier", settings["classifier"])}
    )
    ablation_seeds = [int(x) for x in settings.get("ablation_seeds", seeds)]
    for run_seed in seeds:
        classifiers, probas = {}, {}
        for name, (model, pipeline, backwards) in finetuned.items():
            t = time.perf_counter()
            clf, clf_metrics = train_classifier(
                model,
                pipeline,
                train_texts,
                train_labels,
                classifier_settings,
                backwards=backwards,
                valid=(test_texts, test_labels),
                seed=run_seed,
                device=device,
                log=log,
            )
            probas[name] = clf.predict_proba(test_texts)
            accuracy = float(np.mean(clf.labels.decode(probas[name].argmax(1)) == np.asarray(test_labels)))
            per_seed[f"ulmfit-{name}"].append(accuracy)
            classifiers[name] = clf
            details.setdefault(f"classifier_{name}", []).append(
                {"seed": run_seed, "classifier": clf_metrics, "seconds": round(time.perf_counter() - t, 1)}
            )
            log(f"ulmfit-{name} seed {run_seed}: accuracy {accuracy:.4f} ({time.perf_counter() - t:.0f} s)")
        ensemble = TextClassifier.ensemble(classifiers["fwd"], classifiers["bwd"])
        mean_proba = (probas["fwd"] + probas["bwd"]) / 2
        per_seed["ulmfit-ensemble"].append(
            float(np.mean(ensemble.labels.decode(mean_proba.argmax(1)) == np.asarray(test_labels)))
        )
        if run_seed == seeds[0]:
            ensemble.info.update({"corpus": CORPUS, "fold": 0, "seed": run_seed})
            ensemble.save(out / "classifier")
        if run_seed not in ablation_seeds:
            continue
        # ablation: the same classifier from a random encoder (forward, same vocabulary)
        t = time.perf_counter()
        scratch_config = classifiers["fwd"].members["forward"].encoder_config
        scratch, scratch_metrics = train_classifier(
            scratch_config,
            classifiers["fwd"].pipeline,
            train_texts,
            train_labels,
            scratch_settings,
            valid=(test_texts, test_labels),
            seed=run_seed,
            device=device,
            log=log,
        )
        per_seed["no-pretrain"].append(scratch.score(test_texts, test_labels))
        details.setdefault("no-pretrain", []).append(
            {"seed": run_seed, "classifier": scratch_metrics, "seconds": round(time.perf_counter() - t, 1)}
        )
        log(
            f"seed {run_seed}: ensemble {per_seed['ulmfit-ensemble'][-1]:.4f}, "
            f"no-pretrain {per_seed['no-pretrain'][-1]:.4f}"
        )
    for key, values in per_seed.items():
        metrics[key] = seed_summary(values, ablation_seeds if key == "no-pretrain" else seeds)

    metrics["fastai-ulmfit"] = _finish_fastai(fastai_proc, log)
    for key in metrics:
        metrics[key]["description"] = METHODS[key]
    results = {
        "metrics": {key: metrics[key] for key in METHODS},
        "goals": _goals(metrics, quick),
        "published": PUBLISHED,
        "pretrain": pretrain_metrics,
        "details": details,
        "timings_s": {**{k: round(v, 1) for k, v in timings.items()}, "total": round(time.perf_counter() - started, 1)},
        "config": {
            "command": "textkit reproduce ulmfit" + (" --quick" if quick else ""),
            "corpus": CORPUS,
            "fold": 0,
            "n_folds": N_FOLDS,
            "pretrained": str(pretrained) if pretrained is not None else "pretrained here on Brown",
            "seeds": seeds,
            "n_train": len(train_texts),
            "n_test": len(test_texts),
            # the share of the commonest label in the test texts: accuracy.png's baseline line
            "majority_class_accuracy": max(test_labels.count(c) for c in set(test_labels)) / len(test_labels),
            "device": device,
            "quick": quick,
            "lm_finetune_texts": "training fold only (test texts never seen)",
        },
        "settings": settings,
        "seed": seed,
        "versions": versions(),
    }
    atomic_write_json(out / "results.json", results)
    save_figure(accuracy_figure(results), out / "accuracy.png")
    log(format_table(results))
    log(f"wrote {out / 'results.json'}, {out / 'accuracy.png'} and the exported ensemble {out / 'classifier'}")
    return results


def combine_results(folders: list[str | Path], out: str | Path, log=print) -> dict:
    """Merge runs of the same experiment that trained different seeds (for example on two
    cores at once, with one ``finetune_seed`` and ``--finetuned`` reuse) into one results.json:
    the per-seed accuracies are pooled and summarized again; everything else must agree."""
    from textkit._io import atomic_write_json, read_json
    from textkit.classical.plots import save_figure

    runs = [read_json(Path(f) / "results.json", "ulmfit results") for f in folders]
    first = runs[0]
    for other, folder in zip(runs[1:], folders[1:], strict=True):
        for key in ("nbsvm-bi", "mnb-bi"):
            if other["metrics"][key]["accuracy"] != first["metrics"][key]["accuracy"]:
                raise ValueError(f"{folder} has another {key} accuracy: it is not the same split or data")
        if other["details"].get("finetune_seed") != first["details"].get("finetune_seed"):
            raise ValueError(f"{folder} fine-tuned its LMs with another seed; the runs do not share their LMs")
    merged = json.loads(json.dumps(first))
    seeds: list[int] = []
    for run in runs:
        seeds += run["config"]["seeds"]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"the runs repeat seeds {seeds}")
    for key in ("ulmfit-fwd", "ulmfit-bwd", "ulmfit-ensemble", "no-pretrain"):
        pooled: dict[str, float] = {}
        for run in runs:
            pooled.update(run["metrics"][key]["per_seed"])
        ran = [s for s in seeds if str(s) in pooled]  # the ablation may run on fewer seeds
        merged["metrics"][key] = {
            **seed_summary([pooled[str(s)] for s in ran], ran),
            "description": first["metrics"][key]["description"],
        }
    merged["config"]["seeds"] = seeds
    merged["config"]["combined_from"] = [str(f) for f in folders]
    merged["timings_s"] = {str(f): run["timings_s"] for f, run in zip(folders, runs, strict=True)}
    merged["details"] = {str(f): run["details"] for f, run in zip(folders, runs, strict=True)}
    merged["goals"] = _goals(merged["metrics"], bool(first["config"].get("quick")))
    Path(out).mkdir(parents=True, exist_ok=True)
    atomic_write_json(Path(out) / "results.json", merged)
    save_figure(accuracy_figure(merged), Path(out) / "accuracy.png")
    log(format_table(merged))
    return merged


def accuracy_figure(results: dict) -> Figure:
    """accuracy.png: each method's accuracy on fold 0 (ULMFiT rows: mean and spread over seeds;
    methods that did not run are left out), on an axis from 0, with the majority class of the
    test texts as a dashed line. The published IMDb figures are not drawn: another dataset."""
    from textkit.classical import plots

    ran = {key: m for key, m in results["metrics"].items() if m["accuracy"] is not None}
    config = results["config"]
    return plots.accuracy_figure(
        ran,
        baseline=config.get("majority_class_accuracy"),
        title=f"ULMFiT and baselines: {CORPUS} fold 0, {config['n_test']:,} test snippets"
        + (" (quick)" if config.get("quick") else ""),
    )


def seed_summary(values: list[float], seeds: list[int]) -> dict:
    """Accuracy over seeds: the mean (``accuracy``), its sample standard deviation and each run."""
    values = [float(v) for v in values]
    if not values:  # e.g. the ablation on a run that left it to another process
        return {"accuracy": None, "std": None, "per_seed": {}}
    return {
        "accuracy": float(np.mean(values)),
        "std": float(np.std(values, ddof=1)) if len(values) > 1 else None,
        "per_seed": dict(zip((str(s) for s in seeds), values, strict=True)),
    }


def _asdict(report) -> dict:
    from dataclasses import asdict

    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(report).items()}


def _start_fastai(python, script, threads, out, settings, task, log, pretrained_lm: Path | None = None):
    """Start bench/ulmfit_fastai.py on the same split; ``pretrained_lm``: the forward LM folder it
    starts from (else it pretrains on the Brown text textkit would pretrain on)."""
    if not python:
        return None
    from textkit._io import atomic_write_json
    from textkit.recipes.language_model import DataSettings, corpus_splits

    train_texts, train_labels, test_texts, test_labels = task
    data_dir = out / "fastai" / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    if pretrained_lm is None:
        pre = settings["pretrain"]
        splits = corpus_splits(
            DataSettings(corpus="brown", split_seed=0, fractions=(0.8, 0.1, 0.1), max_docs=pre.get("max_docs"))
        )
        atomic_write_json(data_dir / "pretrain.json", {"train": splits["train"], "valid": splits["valid"]}, indent=None)
    atomic_write_json(
        data_dir / "task.json",
        {
            "train": {"texts": train_texts, "labels": train_labels},
            "test": {"texts": test_texts, "labels": test_labels},
            "labels": sorted(set(train_labels)),
        },
        indent=None,
    )
    peer_settings = {k: settings[k] for k in ("seed", "pretrain", "finetune", "classifier")}
    atomic_write_json(out / "fastai" / "settings.json", peer_settings)
    command = [
        python,
        str(script),
        "--data",
        str(data_dir),
        "--settings",
        str(out / "fastai" / "settings.json"),
        "--out",
        str(out / "fastai" / "results.json"),
        "--threads",
        str(threads),
        "--work",
        str(out / "fastai" / "work"),
    ]
    if pretrained_lm is not None:
        command += ["--pretrained-lm", str(Path(pretrained_lm).resolve())]
    log("fastai peer started: " + " ".join(command))
    stderr = open(out / "fastai" / "log.txt", "w")  # noqa: SIM115 - closed in _finish_fastai
    return subprocess.Popen(command, stdout=stderr, stderr=subprocess.STDOUT), stderr, out / "fastai"


def _finish_fastai(handle, log) -> dict:
    if handle is None:
        return {"accuracy": None, "note": "not run: pass --fastai-python (a Python with fastai 2.8; see BENCHMARKS.md)"}
    proc, stream, folder = handle
    code = proc.wait()
    stream.close()
    if code != 0 or not (folder / "results.json").exists():
        tail = (folder / "log.txt").read_text(errors="replace")[-2000:]
        log(f"fastai peer failed (exit {code}); see {folder / 'log.txt'}:\n{tail}")
        return {"accuracy": None, "note": f"fastai run failed with exit code {code}; log in {folder / 'log.txt'}"}
    peer = json.loads((folder / "results.json").read_text())
    return {"accuracy": peer["accuracy"], "peer": {k: v for k, v in peer.items() if k != "settings"}}


def _goals(metrics: dict, quick: bool) -> dict:
    def holds(left: str, right: str, margin: float = 0.0, strict: bool = False):
        a, b = metrics[left]["accuracy"], metrics[right]["accuracy"]
        if a is None or b is None:
            return None
        return a > b + margin if strict else a >= b + margin

    goals = {
        "ulmfit-fwd >= no-pretrain + 5 points (means over seeds)": holds("ulmfit-fwd", "no-pretrain", 0.05),
        "ulmfit-ensemble >= nbsvm-bi": holds("ulmfit-ensemble", "nbsvm-bi"),
        "ulmfit-ensemble >= nbsvm-bi + 2 points (stretch)": holds("ulmfit-ensemble", "nbsvm-bi", 0.02),
        "ulmfit-ensemble beats no-pretrain": holds("ulmfit-ensemble", "no-pretrain", strict=True),
        "ulmfit (forward) >= fastai-ulmfit": holds("ulmfit-fwd", "fastai-ulmfit"),
    }
    if quick:
        goals = {f"{k} [quick run: not the real goal]": v for k, v in goals.items()}
    return goals


def format_table(results: dict) -> str:
    lines = [f"{'method':16s} {'accuracy %':>14s}  what"]
    for key, m in results["metrics"].items():
        acc = "-" if m["accuracy"] is None else f"{100 * m['accuracy']:.2f}"
        if m.get("std") is not None:
            acc += f" ± {100 * m['std']:.2f}"
        lines.append(f"{key:16s} {acc:>14s}  {m['description']}" + (f" [{m['note']}]" if m.get("note") else ""))
    if results.get("config", {}).get("seeds"):
        lines.append(
            f"ULMFiT rows: mean ± sample std over training seeds {results['config']['seeds']} (same fold-0 split)"
        )
    pub = results["published"]
    lines.append("published (" + pub["note"] + "): " + ", ".join(f"{k} {v}" for k, v in pub["imdb_accuracy"].items()))
    for goal, met in results["goals"].items():
        lines.append(f"goal {'n/a    ' if met is None else 'MET    ' if met else 'NOT MET'} {goal}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import torch

    threads = args.threads or (1 if args.quick else None)  # small models: one thread is faster on a busy machine
    if threads:
        torch.set_num_threads(threads)
    settings = None
    if args.settings:
        from textkit._io import read_json

        settings = read_json(args.settings, "ulmfit settings")
    if args.backbone:
        from textkit.reproduce import ulmfit_encoder, ulmfit_llm

        if ulmfit_encoder.is_encoder(args.backbone):  # minilm-l6: textkit.reproduce.ulmfit_encoder
            return ulmfit_encoder.run_from_args(args)
        return ulmfit_llm.run_from_args(args)
    if args.lang == "es":
        from textkit.reproduce import ulmfit_es

        if args.seed is not None:
            settings = json.loads(
                json.dumps(settings or (ulmfit_es.QUICK_SETTINGS if args.quick else ulmfit_es.FULL_SETTINGS))
            )
            settings["seed"] = args.seed
        ulmfit_es.run_ulmfit_spanish(args.out, quick=args.quick, settings=settings, device=args.device)
        return 0
    if args.combine:
        combine_results(args.combine, args.out)
        return 0
    if args.seed is not None or args.seeds or args.finetune_seed is not None or args.ablation_seeds is not None:
        settings = json.loads(json.dumps(settings or (QUICK_SETTINGS if args.quick else FULL_SETTINGS)))
        if args.seed is not None:
            settings["seed"] = args.seed
        if args.seeds:
            settings["seeds"] = [int(x) for x in args.seeds.split(",") if x.strip()]
        if args.finetune_seed is not None:
            settings["finetune_seed"] = args.finetune_seed
        if args.ablation_seeds is not None:
            settings["ablation_seeds"] = [int(x) for x in args.ablation_seeds.split(",") if x.strip()]
    if args.pretrain and args.pretrained:
        raise ValueError("give either --pretrain (pretrain on Brown) or --pretrained NAME|DIR, not both")
    pretrained = args.pretrained
    if pretrained is None and not args.pretrain and not args.quick:
        pretrained = SHIPPED_LM
    run_ulmfit(
        args.out,
        quick=args.quick,
        pretrained=pretrained,
        settings=settings,
        fastai_python=args.fastai_python,
        fastai_threads=args.fastai_threads,
        device=args.device,
        fastai_script=args.fastai_script,
        reuse_finetuned=args.finetuned,
    )
    sys.stdout.flush()
    return 0
