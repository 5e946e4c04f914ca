"""Text classification on a user's own data: train (NB, NBSVM, logistic regression or
ULMFiT), save a model folder with no pickle, load it, predict and evaluate.

A classical folder holds ``classifier.json`` (format, method, classes, estimator settings,
vocabulary) and ``estimators.safetensors`` (idf, coefficients); a ULMFiT folder is a
``TextClassifier`` export. ``load_classifier`` reads either and refuses anything else with
the reason.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from textkit._io import atomic_folder, atomic_write_json, read_json, versions

METHODS = ("nb", "nbsvm", "lr", "ulmfit")
CONFIG_FILE = "classifier.json"  # the same name TextClassifier uses: one place to look
CLASSICAL_FORMAT = "textkit-classical-classifier"
ULMFIT_FORMAT = "textkit-text-classifier"
FORMAT_VERSION = 1
# Inner-CV grids for --tune: small enough to run in minutes on a laptop, covering the
# settings that move accuracy most (regularization, and NBSVM's interpolation).
TUNING_GRIDS: dict[str, dict[str, list]] = {
    "nb": {"classifier__alpha": [0.1, 0.5, 1.0]},
    "nbsvm": {"classifier__C": [0.1, 1.0], "classifier__beta": [0.25, 0.5, 1.0]},
    "lr": {"classifier__C": [1.0, 4.0, 16.0]},
}
# ULMFiT on the shipped LM, the schedule `textkit reproduce ulmfit` uses: one frozen and one
# full epoch of LM fine-tuning, then every classifier group trained from the first step.
ULMFIT_FINETUNE = {"epochs_frozen": 1, "lr_frozen": 0.02, "epochs": 1, "lr": 0.002, "drop_mult": 0.5}
ULMFIT_CLASSIFIER = {
    "batch_size": 64,
    "lr_factor": 1.0,
    "stages": [{"groups": "all", "epochs": 1, "lr": 0.005}, {"groups": "all", "epochs": 1, "lr": 0.002}],
}


def classical_pipeline(method: str, seed: int = 0):
    """The scikit-learn ``Pipeline`` behind a classical method: uni+bigram features with
    textkit's rule tokenizer, and the classifier Wang & Manning found strongest for it."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from textkit.classical import NaiveBayesClassifier, NBSVMClassifier, TextVectorizer

    if method == "nb":  # binarized multinomial NB ("MNB" with presence features)
        steps = [
            ("vectorizer", TextVectorizer(ngram_range=(1, 2))),
            ("classifier", NaiveBayesClassifier(binarize=True)),
        ]
    elif method == "nbsvm":  # logistic loss, so predictions come with probabilities
        steps = [
            ("vectorizer", TextVectorizer(ngram_range=(1, 2))),
            ("classifier", NBSVMClassifier(classifier="logistic", random_state=seed)),
        ]
    elif method == "lr":
        steps = [
            ("vectorizer", TextVectorizer(ngram_range=(1, 2), weighting="tfidf", sublinear_tf=True)),
            ("classifier", LogisticRegression(C=4.0, max_iter=1000, random_state=seed)),
        ]
    else:
        raise ValueError(f"unknown classical method {method!r}; choose one of nb, nbsvm, lr")
    return Pipeline(steps)


def check_training_labels(labels: Sequence[str | None], where: Callable[[int], str]) -> None:
    """Every row labelled, and at least two classes."""
    missing = [i for i, label in enumerate(labels) if not label]
    if len(missing) == len(labels):
        raise ValueError(f"every label is empty ({len(labels)} rows); check --label-column")
    if missing:
        shown = "; ".join(where(i) for i in missing[:3])
        raise ValueError(f"{len(missing)} rows have an empty label ({shown}); fill them in or remove those rows")
    classes = sorted(set(labels))  # type: ignore[type-var]
    if len(classes) < 2:
        raise ValueError(
            f"the training data has only one class ({classes[0]!r}, {len(labels)} rows); a classifier needs at least "
            "two. Check --label-column, or add examples of the other classes"
        )


def check_known_labels(labels: Sequence[str | None], classes: Sequence[str], where: Callable[[int], str]) -> None:
    """Evaluation labels must be classes the model was trained on."""
    known = set(classes)
    unseen = [i for i, label in enumerate(labels) if label not in known]
    if unseen:
        names = sorted({str(labels[i]) for i in unseen})
        raise ValueError(
            f"{len(unseen)} rows carry labels the model never saw in training ({', '.join(map(repr, names[:5]))}; "
            f"first at {where(unseen[0])}); the model's classes are {list(classes)}"
        )


@dataclass
class SavedClassifier:
    """A trained classifier, classical or ULMFiT, behind one interface."""

    kind: str  # "classical" or "ulmfit"
    method: str
    classes: list[str]
    model: Any  # sklearn Pipeline or TextClassifier
    info: dict = field(default_factory=dict)

    @property
    def has_proba(self) -> bool:
        return self.kind == "ulmfit" or hasattr(self.model, "predict_proba")

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(n, n_classes) probabilities in ``classes`` order; empty texts are classified from
        no words (classical: priors and intercepts; ULMFiT: the start-of-text token)."""
        if self.kind == "ulmfit":
            return self.model.predict_proba(list(texts), on_empty="predict")
        proba = np.asarray(self.model.predict_proba(list(texts)))
        order = [list(self.model.classes_).index(c) for c in self.classes]
        return proba[:, order]

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        if self.kind == "ulmfit":
            return self.model.predict(list(texts), on_empty="predict")
        return np.asarray(self.model.predict(list(texts)))


def train_classifier(
    texts: Sequence[str],
    labels: Sequence[str],
    method: str,
    *,
    tune: bool = False,
    cv: int = 5,
    seed: int = 0,
    valid: tuple[Sequence[str], Sequence[str]] | None = None,
    pretrained: str = "awd_lstm-en",
    device: str = "auto",
    ulmfit_settings: dict | None = None,
    quiet: bool = False,
    log: Callable[[str], None] = print,
) -> SavedClassifier:
    """Train ``method`` on the texts. ``valid`` is scored and reported, never used for choices;
    ``tune`` picks hyper-parameters by ``cv``-fold inner cross-validation on the training data."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    texts, labels = list(texts), [str(label) for label in labels]
    classes = sorted(set(labels))
    started = time.perf_counter()
    info: dict[str, Any] = {"method": method, "train_rows": len(texts), "seed": seed}
    if method == "ulmfit":
        if tune:
            raise ValueError("--tune is for nb, nbsvm and lr; ULMFiT uses the schedule of `textkit reproduce ulmfit`")
        model, details = _train_ulmfit(texts, labels, pretrained, seed, device, valid, ulmfit_settings, quiet, log)
        info.update(details)
        saved = SavedClassifier("ulmfit", method, classes, model, info)
    else:
        model = classical_pipeline(method, seed)
        if tune:
            model, chosen, scores = _tune(model, method, texts, labels, cv, seed, log)
            info["tuned"] = {"grid": TUNING_GRIDS[method], "chosen": chosen, "cv": cv, "cv_accuracy": scores}
        else:
            log(f"fitting {method} on {len(texts):,} texts")
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*did not converge.*")
                model.fit(texts, np.asarray(labels, dtype=object))
        info["features"] = len(model.named_steps["vectorizer"].vocabulary_)
        saved = SavedClassifier("classical", method, classes, model, info)
    info["train_seconds"] = round(time.perf_counter() - started, 2)
    if valid is not None:
        predicted = saved.predict(valid[0])
        info["valid_accuracy"] = float(np.mean(predicted == np.asarray(valid[1], dtype=object)))
        info["valid_rows"] = len(valid[0])
    return saved


STREAMING_METHODS = ("nb", "nbsvm", "lr")


def train_classifier_streaming(
    path: str | os.PathLike,
    method: str,
    *,
    table_options: dict | None = None,
    seed: int = 0,
    valid: tuple[Sequence[str], Sequence[str]] | None = None,
    valid_where: Callable[[int], str] | None = None,
    chunk_rows: int | None = None,
    log: Callable[[str], None] = print,
) -> SavedClassifier:
    """``train_classifier`` for a data file larger than memory: the table is never loaded.

    Rows come from ``iter_table`` in chunks of ``chunk_rows`` (default
    ``textkit.classical.streaming.CHUNK_ROWS``), twice: pass 1 counts n-grams into the vocabulary
    and checks the labels (two classes at least, no number spelled two ways, ``valid``'s labels
    known), pass 2 builds count matrices (``fit_streaming``). The model equals
    ``train_classifier``'s on the same rows: naive Bayes holds only counts, NBSVM and logistic
    regression hold the sparse features (their solvers need every row at once), never the texts.
    """
    from textkit.classical import streaming
    from textkit.data.tables import Row, iter_table

    if method not in STREAMING_METHODS:
        raise ValueError(f"streaming training is for {', '.join(STREAMING_METHODS)}; {method} trains in memory")
    if str(path) == "-":
        raise ValueError("streaming training reads the data twice, so it needs a file, not stdin")
    chunk_rows = chunk_rows or streaming.CHUNK_ROWS
    options = {**(table_options or {}), "labels": "required"}
    name = str(path)
    first: dict[str, Row] = {}  # each label's first row, for the checks and their messages
    passes: list[int] = []  # one entry per pass begun

    def chunks():
        passes.append(1)
        n_rows = 0
        for rows in streaming.chunked(iter_table(path, **options), chunk_rows):
            if len(passes) == 1:
                for row in rows:
                    first.setdefault(str(row.label), row)
            n_rows += len(rows)
            yield [row.text for row in rows], [str(row.label) for row in rows]
        if len(passes) == 1:
            _check_streamed_labels(name, n_rows, first, valid, valid_where)
            log(f"pass 1: {n_rows:,} rows, {len(first)} classes; pass 2: counts")

    started = time.perf_counter()
    log(f"fitting {method} by streaming {name} in {chunk_rows:,}-row chunks (two passes)")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*did not converge.*")
        model = streaming.fit_streaming(classical_pipeline(method, seed), chunks)
    classes = sorted(first)
    n_train = int(model.named_steps["vectorizer"].n_documents_)
    info: dict[str, Any] = {
        "method": method,
        "train_rows": n_train,
        "seed": seed,
        "streaming": {"chunk_rows": chunk_rows, "passes": 2},
        "features": len(model.named_steps["vectorizer"].vocabulary_),
    }
    saved = SavedClassifier("classical", method, classes, model, info)
    info["train_seconds"] = round(time.perf_counter() - started, 2)
    if valid is not None:
        predicted = saved.predict(valid[0])
        info["valid_accuracy"] = float(np.mean(predicted == np.asarray(valid[1], dtype=object)))
        info["valid_rows"] = len(valid[0])
    return saved


def _check_streamed_labels(name, n_rows, first, valid, valid_where) -> None:
    """The label checks ``read_table`` and ``check_training_labels`` make, from each label's first row."""
    from textkit.data.tables import DataFileError, Table, _check_label_spellings

    if n_rows == 0:
        raise DataFileError(f"{name} holds no rows (an empty file, or only a header); nothing to read")
    rows = list(first.values())
    folder = any(row.line == 0 for row in rows)
    table = Table(
        source=name,
        texts=[""] * len(rows),
        labels=list(first),
        lines=[row.line for row in rows],
        files=[row.source for row in rows] if folder else [],
    )
    if len(first) < 2:
        raise ValueError(
            f"the training data has only one class ({next(iter(first))!r}, {n_rows:,} rows); a classifier needs at "
            "least two. Check --label-column, or add examples of the other classes"
        )
    _check_label_spellings(table)  # 1 and 1.0 would be two classes: read_table refuses them too
    if valid is not None:
        check_known_labels(valid[1], sorted(first), valid_where or (lambda i: f"row {i + 1}"))


def _tune(model, method: str, texts: list[str], labels: list[str], cv: int, seed: int, log):
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    grid = TUNING_GRIDS[method]
    n_settings = int(np.prod([len(v) for v in grid.values()]))
    log(f"tuning {method}: {n_settings} settings x {cv} folds on {len(texts):,} texts")
    search = GridSearchCV(
        model, grid, cv=StratifiedKFold(cv, shuffle=True, random_state=seed), scoring="accuracy", n_jobs=1, refit=True
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*did not converge.*")
        search.fit(texts, np.asarray(labels, dtype=object))
    chosen = {k.split("__", 1)[1]: v for k, v in search.best_params_.items()}
    log(f"chosen {chosen} (inner-CV accuracy {search.best_score_:.4f})")
    return search.best_estimator_, chosen, round(float(search.best_score_), 4)


def _train_ulmfit(texts, labels, pretrained, seed, device, valid, overrides, quiet, log):
    from textkit.transfer import (
        adapt_to_texts,
        fine_tune_language_model,
        load_pretrained,
        settings_from_dict,
    )
    from textkit.transfer import (
        train_classifier as train_ulmfit_classifier,
    )

    from textkit._device import resolve_device

    device = resolve_device(device)  # "auto" -> cuda or cpu, before anything builds a tensor
    overrides = overrides or {}
    finetune, classifier = settings_from_dict(
        {
            "finetune": {**ULMFIT_FINETUNE, **overrides.get("finetune", {})},
            "classifier": {**ULMFIT_CLASSIFIER, **overrides.get("classifier", {})},
        }
    )
    blank = [i for i, t in enumerate(texts) if not t.strip()]
    if blank:
        raise ValueError(f"{len(blank)} training texts are empty (first: row {blank[0] + 1}); remove them")
    bundle = load_pretrained(pretrained, device=device)
    model, pipeline, report = adapt_to_texts(bundle, texts, min_freq=finetune.min_freq, max_vocab=finetune.max_vocab)
    log(report.summary())
    model, ft_metrics = fine_tune_language_model(
        model, pipeline, texts, finetune, seed=seed, device=device, quiet=quiet, log=log
    )
    clf, clf_metrics = train_ulmfit_classifier(
        model, pipeline, texts, labels, classifier, valid=valid, seed=seed, device=device, quiet=quiet, log=log
    )
    clf.info.update({"pretrained": str(pretrained), "seed": seed})
    return clf, {"pretrained": str(pretrained), "finetune": ft_metrics, "classifier": clf_metrics}


# -- folders ---------------------------------------------------------------------------------


def save_classifier(saved: SavedClassifier, folder: str | os.PathLike) -> Path:
    """Write the model folder atomically: a failure leaves no partial folder behind, and an
    existing folder is replaced only by a complete one."""
    from textkit.classical.persist import save_estimators

    folder = Path(folder)
    with atomic_folder(folder) as staging:
        if saved.kind == "ulmfit":
            saved.model.info.update({"method": saved.method, "training": saved.info})
            saved.model.save(staging)
        else:
            description = save_estimators(dict(saved.model.named_steps), staging)
            atomic_write_json(
                staging / CONFIG_FILE,
                {
                    "format": CLASSICAL_FORMAT,
                    "format_version": FORMAT_VERSION,
                    "method": saved.method,
                    "classes": saved.classes,
                    "steps": list(saved.model.named_steps),
                    **description,
                    "training": saved.info,
                    "versions": versions(),
                },
            )
    return folder


def load_classifier(folder: str | os.PathLike, device: str = "cpu") -> SavedClassifier:
    """A folder written by ``save_classifier`` (``textkit classify train``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"model folder {folder} does not exist; train one with `textkit classify train`")
    path = folder / CONFIG_FILE
    if not path.exists():
        what = _describe_other_folder(folder)
        raise ValueError(
            f"{folder} is not a textkit classifier folder (no {CONFIG_FILE}){what}; "
            "`textkit classify` reads folders written by `textkit classify train`"
        )
    raw = read_json(path, "classifier description")
    fmt = raw.get("format") if isinstance(raw, dict) else None
    if fmt not in (CLASSICAL_FORMAT, ULMFIT_FORMAT):
        raise ValueError(f"{path} has format {fmt!r}; expected {CLASSICAL_FORMAT!r} or {ULMFIT_FORMAT!r}")
    version = raw.get("format_version", 0)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{path} has format version {version!r}, newer than this textkit reads ({FORMAT_VERSION}); "
            "upgrade textkit (pip install -U textkit) to use this model"
        )
    if fmt == ULMFIT_FORMAT:
        from textkit.transfer import TextClassifier

        model = TextClassifier.load(folder, device=device)
        info = model.info.get("training", {})
        return SavedClassifier("ulmfit", model.info.get("method", "ulmfit"), list(model.classes), model, info)
    from sklearn.pipeline import Pipeline

    from textkit.classical.persist import load_estimators

    estimators = load_estimators(folder, raw, str(path))
    steps = raw.get("steps", ["vectorizer", "classifier"])
    if sorted(steps) != sorted(estimators):
        raise ValueError(f"{path}: steps {steps} do not match the stored estimators {sorted(estimators)}")
    model = Pipeline([(name, estimators[name]) for name in steps])
    return SavedClassifier("classical", raw["method"], list(raw["classes"]), model, raw.get("training", {}))


def _describe_other_folder(folder: Path) -> str:
    config = folder / "config.json"
    if config.exists():
        try:
            raw = read_json(config, "config")
        except ValueError:
            return ""
        if isinstance(raw, dict) and "arch" in raw:
            kind = "translation model" if "joint_vocabulary" in raw else "language model"
            return f": it holds a textkit {raw['arch']} {kind}, not a classifier"
    if (folder / "topics.json").exists():
        return ": it holds a topic model (`textkit topics`)"
    return ""


# -- evaluation ------------------------------------------------------------------------------


def classification_metrics(labels: Sequence[str], predicted: Sequence[str], classes: Sequence[str]) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix
    (rows: true class, columns: predicted, both in ``classes`` order)."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    y, p = np.asarray(labels, dtype=object), np.asarray(predicted, dtype=object)
    precision, recall, f1, support = precision_recall_fscore_support(y, p, labels=list(classes), zero_division=0)
    return {
        "rows": len(y),
        "accuracy": float(np.mean(y == p)),
        "macro_f1": float(np.mean(f1)),
        "per_class": {
            c: {"precision": float(pr), "recall": float(rc), "f1": float(f), "support": int(s)}
            for c, pr, rc, f, s in zip(classes, precision, recall, f1, support, strict=True)
        },
        "classes": list(classes),
        "confusion_matrix": confusion_matrix(y, p, labels=list(classes)).tolist(),
    }
