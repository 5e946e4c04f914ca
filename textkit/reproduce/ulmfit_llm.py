"""``textkit reproduce ulmfit --backbone smollm2-135m``: ULMFiT's classifier stage on a pretrained
Transformer (issue 12, part 6), on rotten-tomatoes fold 0 (the split of ``reproduce ulmfit``
and ``reproduce sentiment``), beside a frozen probe and NBSVM-bi.

1. NBSVM-bi and MNB-bi on the same split, tuned by the same inner CV as ``reproduce sentiment``.
2. One inference pass of the frozen backbone over every text (bf16 autocast where the CPU has
   bfloat16 instructions) gives both the cache of the never-trained bottom blocks and the frozen
   model's pooled final states.
3. **Frozen probe**: those pooled states -> standardised -> scikit-learn ``LogisticRegression``
   with C chosen by grouped inner CV on the training part only; once on the last token's state
   (the issue's baseline) and once on [last, mean, max].
4. **Fine-tuned**: ``train_llm_classifier`` with gradual unfreezing (the head, then the head and
   the top blocks with discriminative rates), every epoch starting from the cache.
5. The classifier is saved (``OUT/classifier``: JSON + safetensors, the backbone by name and
   sha256), loaded back and checked to predict the same; accuracy comes from raw text.

Writes ``OUT/results.json`` (metrics, goals, timings in wall and process-CPU seconds, settings,
seed, versions) and prints the table. ``--quick`` runs a slice (for tests; with ``--backbone
FOLDER`` a tiny random model works).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

CORPUS = "rotten-tomatoes"
DEFAULT_BACKBONE = "smollm2-135m"

FULL_SETTINGS = {
    "seed": 0,
    # the head alone on the frozen model for one epoch, then the head and the top 2 of 30 blocks
    # for one (the blocks at lr / 1.5); the bottom 28 blocks run once per text. Sized to the
    # 60-CPU-minute budget on 2 shared cores: a first run with the top 6 blocks for 2 epochs
    # measured ~1,650 s per epoch there and was stopped (docs/transfer_llm.md)
    "classifier": {
        "stages": [{"groups": 1, "epochs": 1, "lr": 3e-3}, {"groups": 2, "epochs": 1, "lr": 3e-4}],
        "lr_factor": 1.5,
        "schedule": "one_cycle",
        "batch_size": 32,
        "weight_decay": 0.01,
        "clip": 1.0,
        "pooling": ["last", "mean", "max"],
        "head_dropout": 0.1,
        "group_size": 2,
        "max_tokens": 512,
        "template": "{text}",
        "cache": True,
        "precision": "auto",
    },
    "probe": {"C": [0.003, 0.01, 0.03, 0.1, 0.3, 1.0], "inner_folds": 3, "max_iter": 2000},
    "frozen_batch_size": 64,
    "predict_batch_size": 64,
    "predict_precision": "auto",  # as the classifier trained
    "keep_cache": True,  # write the frozen pass to OUT/frozen_cache.safetensors (a rerun reuses it)
}
QUICK_SETTINGS = {
    "seed": 0,
    "classifier": {
        "stages": [{"groups": 1, "epochs": 1, "lr": 1e-2}, {"groups": 2, "epochs": 1, "lr": 2e-3}],
        "lr_factor": 1.5,
        "schedule": "one_cycle",
        "batch_size": 32,
        "group_size": 2,
        "max_tokens": 64,
        "cache": True,
        "precision": "auto",
    },
    "probe": {"C": [0.1, 1.0], "inner_folds": 2, "max_iter": 500},
    "frozen_batch_size": 64,
    "predict_batch_size": 64,
    "predict_precision": "auto",
    "max_train_docs": 300,
    "max_test_docs": 100,
}
METHODS = {
    "llm-finetuned": "SmolLM2 classifier: pooled [last, mean, max] -> head; gradual unfreezing of the top blocks",
    "llm-probe-pooled": "frozen SmolLM2, pooled [last, mean, max] final states -> logistic regression (C by inner CV)",
    "llm-probe-last": "frozen SmolLM2, last token's final state -> logistic regression (C by inner CV)",
    "nbsvm-bi": "NBSVM, uni+bigrams (textkit.classical, inner-CV tuned)",
    "mnb-bi": "multinomial NB, uni+bigrams",
}
GOAL = 0.85  # NBSVM-bi (79.89) + 5 points, rounded as the issue states it
STRETCH = 0.87
CPU_MINUTES_BUDGET = 60


CACHE_FILE = "frozen_cache.safetensors"


def _digest(rows: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.asarray(rows, dtype=np.int64).tobytes()).hexdigest()[:16]


def _write_cache(path: Path, key: dict, train_frozen, train_feats, test_frozen, test_feats) -> None:
    """The frozen pass on disk (cached states, lengths, probe features), with what it depends on."""
    import torch
    from safetensors.torch import save

    from textkit._io import atomic_write_bytes

    tensors = {
        "train.packed": train_frozen.packed,
        "train.lengths": torch.from_numpy(train_frozen.lengths),
        "train.features": torch.from_numpy(train_feats),
        "test.packed": test_frozen.packed,
        "test.lengths": torch.from_numpy(test_frozen.lengths),
        "test.features": torch.from_numpy(test_feats),
    }
    metadata = {"key": json.dumps(key, sort_keys=True), "n_blocks": str(train_frozen.n_blocks)}
    atomic_write_bytes(path, save(tensors, metadata=metadata))


def _read_cache(path: Path, key: dict, boundary: int):
    """The cached frozen pass when it was made for the same backbone, texts and template, with
    states from at or below ``boundary``; else None."""
    if not path.exists():
        return None
    from safetensors import safe_open

    from textkit.transfer.llm_training import FrozenStates

    with safe_open(str(path), "pt") as f:
        metadata = f.metadata() or {}
        if metadata.get("key") != json.dumps(key, sort_keys=True) or int(metadata.get("n_blocks", -1)) > boundary:
            return None
        n_blocks = int(metadata["n_blocks"])
        t = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118 - safe_open is not iterable
    out = []
    for part in ("train", "test"):
        states = FrozenStates(t[f"{part}.packed"], t[f"{part}.lengths"].numpy(), n_blocks)
        out += [states, t[f"{part}.features"].numpy()]
    return tuple(out)


class _Clock:
    """Wall and process-CPU seconds per named step (process CPU counts every thread)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._t0, self._c0 = time.perf_counter(), time.process_time()

    def lap(self, name: str, wall0: float, cpu0: float) -> None:
        self.wall[name] = round(time.perf_counter() - wall0, 1)
        self.cpu[name] = round(time.process_time() - cpu0, 1)

    def totals(self) -> tuple[float, float]:
        return time.perf_counter() - self._t0, time.process_time() - self._c0


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def fit_probe(train_x, train_y, test_x, groups, *, C_grid, inner_folds: int, seed: int, max_iter: int) -> dict:
    """Standardise -> LogisticRegression, C by grouped stratified inner CV on the training part;
    refit on all of it; return predictions for ``test_x`` and the CV table."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from textkit.reproduce.experiments import grouped_stratified_folds

    folds = grouped_stratified_folds(np.asarray(train_y), groups, inner_folds, seed)
    search = GridSearchCV(
        Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression(max_iter=max_iter))]),
        {"lr__C": list(C_grid)},
        cv=[(np.asarray(a), np.asarray(b)) for a, b in folds],
        scoring="accuracy",
        refit=True,
    )
    search.fit(train_x, train_y)
    scaler, lr = search.best_estimator_.named_steps["scale"], search.best_estimator_.named_steps["lr"]
    return {
        "pred": search.predict(test_x),
        "params": {"mean": scaler.mean_, "var": scaler.var_, "coef": lr.coef_, "intercept": lr.intercept_},
        "C": float(search.best_params_["lr__C"]),
        "inner_cv_accuracy": {
            str(c): round(float(s), 4)
            for c, s in zip(search.cv_results_["param_lr__C"], search.cv_results_["mean_test_score"], strict=True)
        },
    }


def run_ulmfit_llm(
    out: str | Path,
    *,
    backbone: str = DEFAULT_BACKBONE,
    quick: bool = False,
    settings: dict | None = None,
    device: str = "cpu",
    log=print,
) -> dict:
    import torch

    from textkit._io import atomic_write_json, versions
    from textkit.reproduce.experiments import sentiment_train_test
    from textkit.reproduce.ulmfit import N_FOLDS, fold_zero_split
    from textkit.transfer.data import LabelEncoder
    from textkit.transfer.llm_classifier import (
        LLMTextClassifier,
        LlamaClassifier,
        cpu_supports_bf16,
        encode_for_classifier,
        load_backbone,
        pad_id,
    )
    from textkit.transfer.llm_training import (
        LinearProbe,
        cache_boundary,
        frozen_pass,
        llm_settings_from_dict,
        resolve_llm_precision,
        train_llm_classifier,
    )
    from textkit.train.trainer import resolve_device

    clock = _Clock()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = json.loads(json.dumps(settings or (QUICK_SETTINGS if quick else FULL_SETTINGS)))
    seed = int(settings["seed"])
    clf_settings = llm_settings_from_dict(settings["classifier"])
    torch_device = resolve_device(device)
    precision = resolve_llm_precision(clf_settings.precision, torch_device)
    predict_precision = settings.get("predict_precision", "auto")
    predict_precision = precision if predict_precision == "auto" else predict_precision
    atomic_write_json(out / "settings.json", settings)

    # the split of `reproduce ulmfit` / `reproduce sentiment`
    train_texts, train_labels, test_texts, test_labels, train_rows, test_rows = fold_zero_split(seed, settings)
    y_test = np.asarray(test_labels)
    log(
        f"{CORPUS} fold 0 of {N_FOLDS} (seed {seed}): {len(train_texts)} train / {len(test_texts)} test snippets; "
        f"backbone {backbone}; device {torch_device}, precision {precision} "
        f"(CPU bf16 instructions: {'yes' if cpu_supports_bf16() else 'no'}), {torch.get_num_threads()} threads"
    )
    metrics: dict[str, dict] = {}
    details: dict = {}

    # 1. classical baselines
    w, c = _now()
    classical = sentiment_train_test(train_texts, train_labels, test_texts, test_labels, seed=seed, quick=quick)
    for key in ("nbsvm-bi", "mnb-bi"):
        row = classical["metrics"][key]
        metrics[key] = {"accuracy": row["accuracy"], "hyperparameters": row["hyperparameters"][0]}
    clock.lap("classical", w, c)
    log(f"nbsvm-bi {metrics['nbsvm-bi']['accuracy']:.4f}, mnb-bi {metrics['mnb-bi']['accuracy']:.4f}")

    # 2. one frozen pass: the cache of the never-trained bottom and the probe's features
    w, c = _now()
    loaded = load_backbone(backbone, device=torch_device)
    clock.lap("load_backbone", w, c)
    w, c = _now()
    classes = LabelEncoder.fit(train_labels).classes
    config = clf_settings.classifier_config(len(classes))
    frozen_model = LlamaClassifier(loaded.model, config).eval()  # shares the backbone; inference only
    for p in frozen_model.parameters():
        p.requires_grad_(False)
    boundary = cache_boundary(frozen_model, clf_settings.stages)
    pad = pad_id(loaded.tokenizer)
    train_docs = encode_for_classifier(loaded.tokenizer, train_texts, config)
    test_docs = encode_for_classifier(loaded.tokenizer, test_texts, config)
    fb = int(settings.get("frozen_batch_size", 64))
    cache_key = {
        "backbone_sha256": loaded.weights_sha256,
        "precision": precision,
        "train_rows": _digest(train_rows),
        "test_rows": _digest(test_rows),
        "template": config.template,
        "max_tokens": config.max_tokens,
        "pooling": list(config.pooling),
    }
    cached = _read_cache(out / CACHE_FILE, cache_key, boundary)
    if cached is not None:  # a rerun in the same folder reuses the pass (training moves it up if it must)
        train_frozen, train_feats, test_frozen, test_feats = cached
        log(f"reused the frozen pass in {out / CACHE_FILE} (states after block {train_frozen.n_blocks})")
    else:
        train_frozen, train_feats = frozen_pass(
            frozen_model, train_docs, pad, boundary, batch_size=fb, precision=precision, pooled=True, log=log
        )
        test_frozen, test_feats = frozen_pass(
            frozen_model, test_docs, pad, boundary, batch_size=fb, precision=precision, pooled=True
        )
        if settings.get("keep_cache", not quick):
            _write_cache(out / CACHE_FILE, cache_key, train_frozen, train_feats, test_frozen, test_feats)
    clock.lap("frozen_pass", w, c)
    details["frozen_pass_reused"] = cached is not None
    n_tokens = int(train_frozen.lengths.sum() + test_frozen.lengths.sum())
    details["frozen_pass"] = {
        "cache_boundary_block": boundary,
        "cached_states_after_block": train_frozen.n_blocks,
        "tokens": n_tokens,
        "tokens_per_s": None if cached is not None else round(n_tokens / max(clock.wall["frozen_pass"], 1e-9), 1),
        "cache_mb": round((train_frozen.nbytes + test_frozen.nbytes) / 2**20, 1),
        "mean_tokens_per_text": round(float(train_frozen.lengths.mean()), 2),
    }
    log(
        f"frozen pass: {n_tokens} tokens, {clock.wall['frozen_pass']:.0f} s; "
        f"states after block {train_frozen.n_blocks}: {details['frozen_pass']['cache_mb']} MB"
    )

    # 3. frozen probes (C by grouped inner CV on the training part)
    w, c = _now()
    _, groups = np.unique(np.asarray(train_texts, dtype=object).astype(str), return_inverse=True)
    d = loaded.model.config.d_model
    probe = settings["probe"]
    last_slice = slice(config.pooling.index("last") * d, (config.pooling.index("last") + 1) * d)
    probes: dict[str, dict] = {}
    for key, cols in (("llm-probe-last", last_slice), ("llm-probe-pooled", slice(None))):
        fitted = fit_probe(
            train_feats[:, cols],
            np.asarray(train_labels),
            test_feats[:, cols],
            groups,
            C_grid=probe["C"],
            inner_folds=int(probe["inner_folds"]),
            seed=seed,
            max_iter=int(probe["max_iter"]),
        )
        probes[key] = fitted["params"]
        metrics[key] = {
            "accuracy": float(np.mean(fitted["pred"] == y_test)),
            "C": fitted["C"],
            "inner_cv_accuracy": fitted["inner_cv_accuracy"],
        }
        log(f"{key}: accuracy {metrics[key]['accuracy']:.4f} (C {fitted['C']:g})")
    clock.lap("probes", w, c)

    # 4. the fine-tuned classifier, from the cache
    w, c = _now()
    head_init = settings.get("head_init", "random")
    if head_init not in ("random", "probe"):
        raise ValueError(f"settings head_init must be 'random' or 'probe', got {head_init!r}")
    clf, clf_metrics = train_llm_classifier(
        loaded,
        train_texts,
        train_labels,
        clf_settings,
        valid=(test_texts, test_labels),
        frozen=(train_frozen, test_frozen),
        head_init=LinearProbe(**probes["llm-probe-pooled"]) if head_init == "probe" else None,
        seed=seed,
        device=str(torch_device),
        log=log,
    )
    clock.lap("finetune", w, c)
    del train_frozen, test_frozen
    w, c = _now()
    proba = clf.predict_proba(
        test_texts, batch_size=int(settings.get("predict_batch_size", 64)), precision=predict_precision
    )
    accuracy = float(np.mean(clf.labels.decode(proba.argmax(1)) == y_test))
    clock.lap("predict", w, c)
    metrics["llm-finetuned"] = {"accuracy": accuracy, "predict_precision": predict_precision}
    log(f"llm-finetuned: accuracy {accuracy:.4f}")

    # 5. save, load back, predict the same
    w, c = _now()
    clf.info.update({"corpus": CORPUS, "fold": 0, "seed": seed})
    clf.save(out / "classifier")
    check_n = min(len(test_texts), 64)
    reloaded = LLMTextClassifier.load(out / "classifier", device=torch_device)
    again = reloaded.predict_proba(test_texts[:check_n], precision=predict_precision)
    details["round_trip"] = {
        "texts": check_n,
        "max_abs_proba_diff": float(np.abs(again - proba[:check_n]).max()),
        "same_labels": bool((again.argmax(1) == proba[:check_n].argmax(1)).all()),
    }
    del reloaded
    clock.lap("save_load_check", w, c)
    details["classifier"] = clf_metrics

    wall, cpu = clock.totals()
    for key in metrics:
        metrics[key]["description"] = METHODS[key]
    results = {
        "metrics": {key: metrics[key] for key in METHODS},
        "goals": _goals(metrics, cpu / 60, quick),
        "details": details,
        "timings_s": {"wall": {**clock.wall, "total": round(wall, 1)}, "cpu": {**clock.cpu, "total": round(cpu, 1)}},
        "cpu_minutes": round(cpu / 60, 2),
        "wall_minutes": round(wall / 60, 2),
        "config": {
            "command": "textkit reproduce ulmfit --backbone " + str(backbone) + (" --quick" if quick else ""),
            "corpus": CORPUS,
            "fold": 0,
            "n_folds": N_FOLDS,
            "backbone": loaded.reference(),
            "n_train": len(train_texts),
            "n_test": len(test_texts),
            "device": str(torch_device),
            "precision": precision,
            "cpu_bf16_instructions": cpu_supports_bf16(),
            "torch_threads": torch.get_num_threads(),
            "quick": quick,
            "lm_finetuning": "none (the classifier trains on the pretrained backbone directly)",
            "test_texts": "never used for a choice: C by inner CV on the training part, settings fixed in advance",
        },
        "settings": settings,
        "seed": seed,
        "versions": versions(("tokenizers", "safetensors"), git=True),
    }
    atomic_write_json(out / "results.json", results)
    log(format_table(results))
    log(f"wrote {out / 'results.json'} and the classifier {out / 'classifier'}")
    return results


def _goals(metrics: dict, cpu_minutes: float, quick: bool) -> dict:
    acc = metrics["llm-finetuned"]["accuracy"]
    goals = {
        f"llm-finetuned >= {100 * GOAL:.1f}% (NBSVM-bi + 5)": acc >= GOAL,
        f"llm-finetuned >= {100 * STRETCH:.1f}% (stretch)": acc >= STRETCH,
        "llm-finetuned beats the frozen probes": acc
        > max(metrics["llm-probe-last"]["accuracy"], metrics["llm-probe-pooled"]["accuracy"]),
        f"whole run <= {CPU_MINUTES_BUDGET} CPU-minutes (process CPU time, all threads)": cpu_minutes
        <= CPU_MINUTES_BUDGET,
    }
    if quick:
        goals = {f"{k} [quick run: not the real goal]": v for k, v in goals.items()}
    return goals


def format_table(results: dict) -> str:
    lines = [f"{'method':18s} {'accuracy %':>10s}  what"]
    for key, m in results["metrics"].items():
        acc = "-" if m["accuracy"] is None else f"{100 * m['accuracy']:.2f}"
        lines.append(f"{key:18s} {acc:>10s}  {m['description']}")
    lines.append(
        f"time: {results['wall_minutes']:.1f} wall minutes, {results['cpu_minutes']:.1f} CPU minutes "
        f"({results['config']['torch_threads']} threads, precision {results['config']['precision']})"
    )
    for goal, met in results["goals"].items():
        lines.append(f"goal {'MET    ' if met else 'NOT MET'} {goal}")
    return "\n".join(lines)


def run_from_args(args) -> int:
    """``textkit reproduce ulmfit --backbone NAME|FOLDER [--quick] [--settings F] [--seed N]``."""
    settings = None
    if args.settings:
        from textkit._io import read_json

        settings = read_json(args.settings, "ulmfit --backbone settings")
    if args.seed is not None:
        settings = json.loads(json.dumps(settings or (QUICK_SETTINGS if args.quick else FULL_SETTINGS)))
        settings["seed"] = args.seed
    run_ulmfit_llm(args.out, backbone=args.backbone, quick=args.quick, settings=settings, device=args.device)
    return 0


__all__ = ["FULL_SETTINGS", "METHODS", "QUICK_SETTINGS", "fit_probe", "format_table", "run_ulmfit_llm"]
