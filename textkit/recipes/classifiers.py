"""The classifier registry: every method ``textkit classify train`` offers, in one table.

A method registers how it fits, predicts probabilities, saves into a folder, loads from one and
recognises its own ``classifier.json``; classical methods add their tuning grid. The CLI's
``--method`` choices, its help and the docs table (:func:`methods_table`) are read from here,
so adding a classifier is one :func:`register` call.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from textkit._io import atomic_write_json, versions

__all__ = [
    "CLASSICAL_FORMAT",
    "CLASSIFIERS",
    "build_classical_pipeline",
    "ClassifierMethod",
    "FitRequest",
    "classifier_for_config",
    "methods_table",
    "register",
]

CLASSICAL_FORMAT = "textkit-classical-classifier"
CLASSIFIER_FILE = "classifier.json"  # every classifier folder's description, whatever the method
FORMAT_VERSION = 1
MIN_TRANSFER_STEPS = 100  # fewer optimizer steps than this and a transfer schedule barely moves the head


@dataclass
class FitRequest:
    """What ``classify train`` passes to a method's ``fit``; each method reads what it uses."""

    seed: int = 0
    valid: tuple[Sequence[str], Sequence[str]] | None = None
    tune: bool = False
    cv: int = 5
    pretrained: str | None = None  # transfer methods: the backbone's name or folder
    recipe: str | None = None  # ULMFiT: a recipe name or file (models/transfer/)
    device: str = "auto"
    epochs: int | None = None
    batch_size: int | None = None
    lm_out: str | None = None  # ULMFiT: where to keep the fine-tuned LM
    quiet: bool = False
    log: Callable[[str], None] = print


@dataclass(frozen=True)
class ClassifierMethod:
    """One classifier ``classify train --method NAME`` can train."""

    name: str
    summary: str  # one line: the CLI help and the docs table
    family: str  # "classical" or "transfer"
    fit: Callable[[list[str], list[str], FitRequest], tuple[Any, dict]]  # -> (model, details)
    predict_proba: Callable[[Any, list[str]], np.ndarray]  # columns in sorted class order
    save: Callable[[Any, str, list[str], dict, Path], None]  # (model, method, classes, info, staging)
    load: Callable[[Path, dict, str], Any]  # (folder, its classifier.json, device) -> model
    owns: Callable[[dict], bool]  # whether a classifier.json was written by this method
    tuning_grid: dict[str, list] = field(default_factory=dict)
    streams: bool = False  # trains from a file larger than memory (textkit.classical.streaming)
    default_pretrained: str | None = None
    pretrained_kind: str | None = None  # what --pretrained must name (textkit.data.resolver.MODEL_KINDS)

    @property
    def tunable(self) -> bool:
        return bool(self.tuning_grid)


CLASSIFIERS: dict[str, ClassifierMethod] = {}


def register(method: ClassifierMethod) -> ClassifierMethod:
    if method.name in CLASSIFIERS:
        raise ValueError(f"a classifier named {method.name!r} is registered already")
    CLASSIFIERS[method.name] = method
    return method


def classifier_for_config(raw: dict, where: str) -> ClassifierMethod:
    """The method that wrote a folder's ``classifier.json``; refuses one no method claims."""
    for method in CLASSIFIERS.values():
        if method.owns(raw):
            return method
    raise ValueError(
        f"{where}: format {raw.get('format')!r}, method {raw.get('method')!r} is no classifier this textkit reads "
        f"(its methods: {', '.join(CLASSIFIERS)}); a newer textkit may have written it: pip install -U textkit"
    )


def methods_table() -> str:
    """The Markdown table of methods for the docs (tests keep docs/classify.md equal to it)."""
    rows = ["| method | family | what it is | --tune | streams big files |", "|---|---|---|---|---|"]
    for m in CLASSIFIERS.values():
        tune, streams = ("yes" if flag else "no" for flag in (m.tunable, m.streams))
        rows.append(f"| `{m.name}` | {m.family} | {m.summary} | {tune} | {streams} |")
    return "\n".join(rows)


def transfer_steps_warning(n_texts: int, batch_size: int, epochs: int, method: str) -> str | None:
    """A warning when the schedule runs too few optimizer steps to train anything."""
    steps = math.ceil(n_texts / batch_size) * epochs
    if steps >= MIN_TRANSFER_STEPS:
        return None
    return (
        f"warning: {method} will run only {steps} optimizer steps ({n_texts:,} texts / batch {batch_size} x "
        f"{epochs} epochs); transfer learning needs about {MIN_TRANSFER_STEPS} or more to move past the majority "
        "class. Add data, or pass a smaller --batch-size and more --epochs"
    )


# -- classical: scikit-learn pipelines over textkit's n-gram features ----------------------------


def build_classical_pipeline(name: str, seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from textkit.classical import NaiveBayesClassifier, NBSVMClassifier, TextVectorizer

    if name == "nb":  # binarized multinomial NB ("MNB" with presence features)
        steps = [
            ("vectorizer", TextVectorizer(ngram_range=(1, 2))),
            ("classifier", NaiveBayesClassifier(binarize=True)),
        ]
    elif name == "nbsvm":  # logistic loss, so predictions come with probabilities
        steps = [
            ("vectorizer", TextVectorizer(ngram_range=(1, 2))),
            ("classifier", NBSVMClassifier(classifier="logistic", random_state=seed)),
        ]
    else:
        steps = [
            ("vectorizer", TextVectorizer(ngram_range=(1, 2), weighting="tfidf", sublinear_tf=True)),
            ("classifier", LogisticRegression(C=4.0, max_iter=1000, random_state=seed)),
        ]
    return Pipeline(steps)


def _tune(model, grid: dict, texts: list[str], labels: list[str], request: FitRequest):
    """Inner cross-validation over ``grid``: what ``GridSearchCV(refit=True)`` computes (the same
    folds, mean fold accuracy, the first best setting on ties), one fit at a time so each
    setting reports its progress (a tqdm bar on a terminal, one line per setting when piped)."""
    import time

    from sklearn.base import clone
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import ParameterGrid, StratifiedKFold

    from textkit._progress import Stage

    settings = list(ParameterGrid(grid))
    y = np.asarray(labels, dtype=object)
    folds = list(StratifiedKFold(request.cv, shuffle=True, random_state=request.seed).split(texts, y))
    request.log(f"tuning: {len(settings)} settings x {request.cv} folds on {len(texts):,} texts")
    scores = []
    with (
        Stage("tuning", total=len(settings) * len(folds), unit="fit", enabled=not request.quiet) as progress,
        warnings.catch_warnings(),
    ):
        warnings.filterwarnings("ignore", message=".*did not converge.*")
        for number, params in enumerate(settings, 1):
            shown = ", ".join(f"{k.split('__', 1)[1]}={v}" for k, v in params.items())
            started, fold_scores = time.perf_counter(), []
            for train, test in folds:
                estimator = clone(model).set_params(**params)
                estimator.fit([texts[i] for i in train], y[train])
                fold_scores.append(accuracy_score(y[test], estimator.predict([texts[i] for i in test])))
                progress.update(1, note=f"setting {number}/{len(settings)}: {shown}")
            scores.append(float(np.mean(fold_scores)))
            progress.write(
                f"tuning {number}/{len(settings)}: {shown}: inner-CV accuracy {scores[-1]:.4f} "
                f"({time.perf_counter() - started:.1f} s)"
            )
        best = int(np.argmax(scores))  # the first of equal scores, as GridSearchCV ranks them
        refit = Stage("refit on all texts", enabled=not request.quiet)
        best_model = clone(model).set_params(**settings[best]).fit(texts, y)
        refit.done(f"{len(texts):,} texts")
    chosen = {k.split("__", 1)[1]: v for k, v in settings[best].items()}
    request.log(f"chosen {chosen} (inner-CV accuracy {scores[best]:.4f})")
    return best_model, chosen, round(scores[best], 4)


def _classical(name: str, summary: str, grid: dict[str, list]) -> ClassifierMethod:
    def fit(texts: list[str], labels: list[str], request: FitRequest):
        for option in ("epochs", "batch_size", "lm_out"):
            if getattr(request, option) is not None:
                flag = option.replace("_", "-")
                raise ValueError(f"--{flag} is for transfer methods; {name} trains from the data alone")
        model = build_classical_pipeline(name, request.seed)
        details: dict[str, Any] = {}
        if request.tune:
            model, chosen, score = _tune(model, grid, texts, labels, request)
            details["tuned"] = {"grid": grid, "chosen": chosen, "cv": request.cv, "cv_accuracy": score}
        else:
            request.log(f"fitting {name} on {len(texts):,} texts")
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*did not converge.*")
                model.fit(texts, np.asarray(labels, dtype=object))
        details["features"] = len(model.named_steps["vectorizer"].vocabulary_)
        return model, details

    def predict_proba(model, texts: list[str]) -> np.ndarray:
        proba = np.asarray(model.predict_proba(texts))
        order = np.argsort([str(c) for c in model.classes_])  # columns in sorted class order
        return proba[:, order]

    def save(model, method: str, classes: list[str], info: dict, staging: Path) -> None:
        from textkit.classical.persist import save_estimators

        description = save_estimators(dict(model.named_steps), staging)
        atomic_write_json(
            staging / CLASSIFIER_FILE,
            {
                "format": CLASSICAL_FORMAT,
                "format_version": FORMAT_VERSION,
                "method": method,
                "classes": classes,
                "steps": list(model.named_steps),
                **description,
                "training": info,
                "versions": versions(),
            },
        )

    def load(folder: Path, raw: dict, device: str):
        from sklearn.pipeline import Pipeline

        from textkit.classical.persist import load_estimators

        where = str(folder / CLASSIFIER_FILE)
        estimators = load_estimators(folder, raw, where)
        steps = raw.get("steps", ["vectorizer", "classifier"])
        if not isinstance(steps, list) or sorted(steps) != sorted(estimators):
            raise ValueError(f"{where}: steps {steps} do not match the stored estimators {sorted(estimators)}")
        pipeline = Pipeline([(step, estimators[step]) for step in steps])
        if not hasattr(pipeline, "predict_proba"):
            raise ValueError(f"{where}: the stored {name} model gives no probabilities; train it again with textkit")
        return pipeline

    return ClassifierMethod(
        name=name,
        summary=summary,
        family="classical",
        fit=fit,
        predict_proba=predict_proba,
        save=save,
        load=load,
        owns=lambda raw: raw.get("format") == CLASSICAL_FORMAT and raw.get("method") == name,
        tuning_grid=grid,
        streams=True,
    )


# Inner-CV grids for --tune: small enough to run in minutes on a laptop, covering the settings
# that move accuracy most (regularization, and NBSVM's interpolation).
register(
    _classical(
        "nb",
        "binarized multinomial naive Bayes on uni+bigrams (Wang & Manning's MNB)",
        {"classifier__alpha": [0.1, 0.5, 1.0]},
    )
)
register(
    _classical(
        "nbsvm",
        "NBSVM: log-count-ratio scaled uni+bigrams, logistic loss (Wang & Manning 2012)",
        {"classifier__C": [0.1, 1.0], "classifier__beta": [0.25, 0.5, 1.0]},
    )
)
register(
    _classical(
        "lr",
        "logistic regression on sublinear tf-idf uni+bigrams",
        {"classifier__C": [1.0, 4.0, 16.0]},
    )
)


# -- ULMFiT: the shipped AWD-LSTM, fine-tuned, then a concat-pooling classifier ------------------


def _ulmfit_settings(request: FitRequest):
    """The recipe's settings with --epochs and --batch-size applied."""
    from textkit.transfer.recipes import DEFAULT_RECIPE, recipe_settings
    from textkit.transfer.training import settings_from_dict

    raw = recipe_settings(request.recipe or DEFAULT_RECIPE)
    classifier = raw["classifier"]
    if request.batch_size is not None:
        classifier["batch_size"] = request.batch_size
    if request.epochs is not None:
        # one epoch per stage, as the recipe's stages are; extra epochs continue at the last rate
        stages = classifier["stages"]
        classifier["stages"] = [dict(stage, epochs=1) for stage in stages[: request.epochs]] + [
            dict(stages[-1], epochs=1) for _ in range(request.epochs - len(stages))
        ]
    finetune, settings = settings_from_dict(raw)
    return finetune, settings, raw


def _ulmfit_fit(texts: list[str], labels: list[str], request: FitRequest):
    from textkit._device import resolve_device
    from textkit.transfer import adapt_to_texts, fine_tune_language_model, load_pretrained
    from textkit.transfer import train_classifier as train_ulmfit_classifier
    from textkit.transfer.recipes import DEFAULT_RECIPE

    if request.tune:
        raise ValueError("--tune is for nb, nbsvm and lr; ULMFiT follows its recipe (--recipe, --epochs)")
    device = str(resolve_device(request.device))  # "auto" -> cuda or cpu, before any tensor exists
    finetune, settings, raw = _ulmfit_settings(request)
    epochs = sum(stage.epochs for stage in settings.stages)
    warning = transfer_steps_warning(len(texts), settings.batch_size, epochs, "ulmfit")
    if warning:
        request.log(warning)
    pretrained = request.pretrained or "awd_lstm-en"
    bundle = load_pretrained(pretrained, device=device)
    model, pipeline, report = adapt_to_texts(bundle, texts, min_freq=finetune.min_freq, max_vocab=finetune.max_vocab)
    request.log(report.summary())
    model, ft_metrics = fine_tune_language_model(
        model, pipeline, texts, finetune, seed=request.seed, device=device, quiet=request.quiet, log=request.log
    )
    if request.lm_out:
        from textkit._io import atomic_folder
        from textkit.nn.serialization import save_language_model

        with atomic_folder(Path(request.lm_out)) as staging:
            save_language_model(model, pipeline, staging, extra={"finetune": ft_metrics, "pretrained": pretrained})
        request.log(f"fine-tuned language model -> {request.lm_out}")
    classifier, metrics = train_ulmfit_classifier(
        model,
        pipeline,
        texts,
        labels,
        settings,
        valid=request.valid,
        seed=request.seed,
        device=device,
        quiet=request.quiet,
        log=request.log,
    )
    details = {
        "pretrained": str(pretrained),
        "recipe": str(request.recipe or DEFAULT_RECIPE),
        "settings": {"finetune": raw["finetune"], "classifier": raw["classifier"]},
        "finetune": ft_metrics,
        "classifier": metrics,
    }
    if warning:
        details["warning"] = warning
    classifier.info.update({"pretrained": str(pretrained), "seed": request.seed})
    return classifier, details


def _save_with_info(model, method: str, classes: list[str], info: dict, staging: Path) -> None:
    """Transfer classifiers save themselves; the method and training report ride in their info."""
    model.info.update({"method": method, "training": info})
    model.save(staging)


def _ulmfit_load(folder: Path, raw: dict, device: str):
    from textkit.transfer import TextClassifier

    return TextClassifier.load(folder, device=device)


register(
    ClassifierMethod(
        name="ulmfit",
        summary="ULMFiT (Howard & Ruder 2018) from the shipped awd_lstm-en; schedule: models/transfer/ulmfit.json",
        family="transfer",
        fit=_ulmfit_fit,
        predict_proba=lambda model, texts: model.predict_proba(texts, on_empty="predict"),
        save=_save_with_info,
        load=_ulmfit_load,
        owns=lambda raw: raw.get("format") == "textkit-text-classifier" and raw.get("arch", "awd_lstm") == "awd_lstm",
        default_pretrained="awd_lstm-en",
        pretrained_kind="language_model",
    )
)


# -- SmolLM2-135M: a pretrained Transformer decoder with gradual unfreezing -----------------------


def _llm_fit(texts: list[str], labels: list[str], request: FitRequest):
    from dataclasses import replace

    from textkit.transfer.llm_training import LLMClassifierSettings, train_llm_classifier

    if request.tune or request.lm_out or request.recipe:
        raise ValueError(
            "--tune, --lm-out and --recipe are for other methods; smollm2-135m takes --epochs/--batch-size"
        )
    settings = LLMClassifierSettings()
    if request.batch_size is not None:
        settings = replace(settings, batch_size=request.batch_size)
    if request.epochs is not None:
        stages = settings.stages
        extra = tuple(replace(stages[-1], epochs=1) for _ in range(request.epochs - len(stages)))
        settings = replace(settings, stages=tuple(replace(s, epochs=1) for s in stages[: request.epochs]) + extra)
    epochs = sum(stage.epochs for stage in settings.stages)
    warning = transfer_steps_warning(len(texts), settings.batch_size, epochs, "smollm2-135m")
    if warning:
        request.log(warning)
    classifier, metrics = train_llm_classifier(
        request.pretrained or "smollm2-135m",
        texts,
        labels,
        settings,
        valid=request.valid,
        seed=request.seed,
        device=request.device,
        quiet=request.quiet,
        log=request.log,
    )
    details = {"pretrained": request.pretrained or "smollm2-135m", "classifier": metrics}
    if warning:
        details["warning"] = warning
    return classifier, details


def _llm_load(folder: Path, raw: dict, device: str):
    from textkit.transfer.llm_classifier import LLMTextClassifier

    return LLMTextClassifier.load(folder, device=device)


register(
    ClassifierMethod(
        name="smollm2-135m",
        summary="SmolLM2-135M (a Llama decoder) with a pooled head, gradual unfreezing of its top blocks",
        family="transfer",
        fit=_llm_fit,
        predict_proba=lambda model, texts: model.predict_proba(texts, on_empty="predict"),
        save=_save_with_info,
        load=_llm_load,
        owns=lambda raw: raw.get("format") == "textkit-text-classifier" and raw.get("arch") == "llama",
        default_pretrained="smollm2-135m",
        pretrained_kind="language_model",
    )
)


# -- MiniLM-L6: a pretrained bidirectional encoder, fine-tuned ------------------------------------


def _encoder_fit(texts: list[str], labels: list[str], request: FitRequest):
    from textkit.transfer.encoder_classifier import train_encoder_classifier

    if request.tune or request.lm_out or request.recipe:
        raise ValueError("--tune, --lm-out and --recipe are for other methods; minilm-l6 takes --epochs, --batch-size")
    classifier = train_encoder_classifier(
        texts,
        labels,
        model=request.pretrained or "minilm-l6",
        valid=request.valid,
        seed=request.seed,
        device=request.device,
        epochs=request.epochs,
        batch_size=request.batch_size,
        quiet=request.quiet,
        log=request.log,
    )
    # the encoder's own training report stays in classifier.info (saved beside these details)
    return classifier, {"pretrained": request.pretrained or "minilm-l6"}


def _encoder_load(folder: Path, raw: dict, device: str):
    from textkit.transfer.encoder_classifier import EncoderClassifier

    return EncoderClassifier.load(folder, device=device)


register(
    ClassifierMethod(
        name="minilm-l6",
        summary="all-MiniLM-L6-v2 (a 6-layer BERT encoder) fine-tuned with discriminative rates and unfreezing",
        family="transfer",
        fit=_encoder_fit,
        predict_proba=lambda model, texts: model.predict_proba(texts),
        save=_save_with_info,
        load=_encoder_load,
        owns=lambda raw: raw.get("format") == "textkit-encoder-classifier",
        default_pretrained="minilm-l6",
        pretrained_kind="encoder",
    )
)
