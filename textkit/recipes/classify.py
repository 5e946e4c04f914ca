"""Text classification on a user's own data: train any method of the classifier registry
(``textkit.recipes.classifiers``: NB, NBSVM, logistic regression, ULMFiT, SmolLM2, MiniLM), save
a model folder with no pickle, load it, predict and evaluate.

Every folder holds ``classifier.json``; the registry's methods write and read the rest, and
``load_classifier`` asks the registry which method a folder belongs to, refusing anything else
with the reason.
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

from textkit._io import atomic_folder, read_json
from textkit.recipes.classifiers import CLASSIFIER_FILE, CLASSIFIERS, FitRequest, classifier_for_config

CONFIG_FILE = CLASSIFIER_FILE
FORMAT_VERSION = 1
MAX_CLASSES = 100_000
MAX_CONFIG_BYTES = 64 << 20  # a classical classifier.json carries its vocabulary: tens of MB at most


def classical_pipeline(method: str, seed: int = 0):
    """The scikit-learn ``Pipeline`` behind a classical method: uni+bigram features with
    textkit's rule tokenizer, and the classifier Wang & Manning found strongest for it."""
    from textkit.recipes.classifiers import build_classical_pipeline

    if method not in CLASSIFIERS or CLASSIFIERS[method].family != "classical":
        classical = [name for name, m in CLASSIFIERS.items() if m.family == "classical"]
        raise ValueError(f"unknown classical method {method!r}; choose one of {', '.join(classical)}")
    return build_classical_pipeline(method, seed)


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
    """A trained classifier of any registered method behind one interface."""

    method: str  # a key of textkit.recipes.classifiers.CLASSIFIERS
    classes: list[str]  # sorted; the columns of predict_proba
    model: Any  # what the method's fit returned (a scikit-learn Pipeline, a TextClassifier, ...)
    info: dict = field(default_factory=dict)

    @property
    def family(self) -> str:
        return CLASSIFIERS[self.method].family

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(n, n_classes) probabilities in ``classes`` order; empty texts are classified from
        no words (classical: priors and intercepts; transfer: the start or end token)."""
        return CLASSIFIERS[self.method].predict_proba(self.model, list(texts))

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        proba = self.predict_proba(texts)
        return np.asarray(self.classes, dtype=object)[proba.argmax(1)] if len(proba) else np.asarray([], dtype=object)


def majority_baseline(train_labels: Sequence[str], labels: Sequence[str]) -> float:
    """Accuracy on ``labels`` of always predicting the training data's most frequent class."""
    values, counts = np.unique(np.asarray(train_labels, dtype=object), return_counts=True)
    majority = values[int(np.argmax(counts))]
    return float(np.mean(np.asarray(labels, dtype=object) == majority)) if len(labels) else 0.0


def train_classifier(
    texts: Sequence[str],
    labels: Sequence[str],
    method: str,
    *,
    tune: bool = False,
    cv: int = 5,
    seed: int = 0,
    valid: tuple[Sequence[str], Sequence[str]] | None = None,
    pretrained: str | None = None,
    recipe: str | None = None,
    device: str = "auto",
    epochs: int | None = None,
    batch_size: int | None = None,
    lm_out: str | None = None,
    quiet: bool = False,
    log: Callable[[str], None] = print,
) -> SavedClassifier:
    """Train ``method`` (a key of ``CLASSIFIERS``) on the texts. ``valid`` is scored and reported,
    never used for choices; ``tune`` picks hyper-parameters by ``cv``-fold inner cross-validation
    on the training data (classical methods). A model no better than always answering the most
    frequent class says so, in ``info["warnings"]`` and through ``log``."""
    if method not in CLASSIFIERS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(CLASSIFIERS)}")
    entry = CLASSIFIERS[method]
    if tune and not entry.tunable:
        tunable = [name for name, m in CLASSIFIERS.items() if m.tunable]
        raise ValueError(f"--tune is for {', '.join(tunable)}; {method} follows its own schedule")
    texts, labels = list(texts), [str(label) for label in labels]
    classes = sorted(set(labels))
    if entry.family == "transfer":
        blank = [i for i, t in enumerate(texts) if not t.strip()]
        if blank:
            raise ValueError(f"{len(blank)} training texts are empty (first: row {blank[0] + 1}); remove them")
    request = FitRequest(
        seed=seed,
        valid=valid,
        tune=tune,
        cv=cv,
        pretrained=pretrained,
        recipe=recipe,
        device=device,
        epochs=epochs,
        batch_size=batch_size,
        lm_out=lm_out,
        quiet=quiet,
        log=log,
    )
    started = time.perf_counter()
    model, details = entry.fit(texts, labels, request)
    info: dict[str, Any] = {"method": method, "train_rows": len(texts), "seed": seed, **details}
    info["train_seconds"] = round(time.perf_counter() - started, 2)
    saved = SavedClassifier(method, classes, model, info)
    _score_valid(saved, labels, valid, log)
    return saved


def _score_valid(saved: SavedClassifier, train_labels: Sequence[str], valid, log: Callable[[str], None]) -> None:
    """Validation accuracy beside the majority-class baseline, with a warning when it is no better."""
    if valid is None:
        return
    info = saved.info
    predicted = saved.predict(valid[0])
    info["valid_accuracy"] = float(np.mean(predicted == np.asarray(valid[1], dtype=object)))
    info["valid_rows"] = len(valid[0])
    info["valid_majority_baseline"] = majority_baseline(train_labels, valid[1])
    if info["valid_accuracy"] <= info["valid_majority_baseline"]:
        counts = np.unique(predicted, return_counts=True)
        top = int(np.max(counts[1])) if len(predicted) else 0
        message = (
            f"warning: {saved.method} scores {info['valid_accuracy']:.4f} on the validation data, no better than "
            f"always answering the most frequent training class ({info['valid_majority_baseline']:.4f}); it "
            f"predicts one class for {top:,} of {len(predicted):,} rows. More data, more epochs or another method"
        )
        info.setdefault("warnings", []).append(message)
        log(message)


STREAMING_METHODS = tuple(name for name, m in CLASSIFIERS.items() if m.streams)


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
    saved = SavedClassifier(method, classes, model, info)
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


# -- folders ---------------------------------------------------------------------------------


def save_classifier(saved: SavedClassifier, folder: str | os.PathLike) -> Path:
    """Write the model folder atomically: a failure leaves no partial folder behind, and an
    existing folder is replaced only by a complete one."""
    folder = Path(folder)
    with atomic_folder(folder) as staging:
        CLASSIFIERS[saved.method].save(saved.model, saved.method, saved.classes, saved.info, staging)
    return folder


def load_classifier(folder: str | os.PathLike, device: str = "cpu") -> SavedClassifier:
    """A folder written by ``save_classifier`` (``textkit classify train``), read as untrusted
    input: the method that wrote it checks its own files before building anything."""
    from textkit._folders import check_format_version, read_consistently

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

    def load() -> SavedClassifier:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ValueError(f"{path} is {path.stat().st_size:,} bytes, over the {MAX_CONFIG_BYTES:,} a classifier has")
        raw = read_json(path, "classifier description")
        if not isinstance(raw, dict):
            raise ValueError(f"{path} is not a JSON object; the folder is damaged: train the model again")
        check_format_version(raw, path)
        entry = classifier_for_config(raw, str(path))
        classes = raw.get("classes")
        if not isinstance(classes, list) or not 2 <= len(classes) <= MAX_CLASSES:
            raise ValueError(f"{path}: 'classes' must be a list of 2 to {MAX_CLASSES:,} labels; the folder is damaged")
        classes = [str(c) for c in classes]
        model = entry.load(folder, raw, device)
        info = raw.get("training") or (raw.get("info") or {}).get("training") or {}
        return SavedClassifier(entry.name, classes, model, info if isinstance(info, dict) else {})

    return read_consistently(folder, load)


def _describe_other_folder(folder: Path) -> str:
    from textkit._folders import describe_folder, folder_kind

    return f": it holds {describe_folder(folder)}" if folder_kind(folder) else ""


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
