"""Saving fitted classical estimators without pickle: JSON for settings and vocabularies,
safetensors for arrays. ``load_estimators`` rebuilds estimators that predict identically.

Only known estimator classes are written or read (textkit's own plus scikit-learn's linear
models), so loading a folder never imports or runs code named by the file. Pickling the
estimators keeps working for users who want it; this format is the one textkit ships.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from textkit._io import atomic_open, read_json, to_jsonable
from textkit.classical.naive_bayes import NaiveBayesClassifier
from textkit.classical.nbsvm import NBSVMClassifier
from textkit.classical.vectorize import TextVectorizer

ESTIMATORS: dict[str, type] = {
    "textkit.TextVectorizer": TextVectorizer,
    "textkit.NaiveBayesClassifier": NaiveBayesClassifier,
    "textkit.NBSVMClassifier": NBSVMClassifier,
    "sklearn.LogisticRegression": LogisticRegression,
    "sklearn.LinearSVC": LinearSVC,
}
_NAMES = {cls: name for name, cls in ESTIMATORS.items()}
_DTYPES = {"float64": np.float64, "float32": np.float32}


def _class_name(estimator: object) -> str:
    name = _NAMES.get(type(estimator))
    if name is None:
        known = ", ".join(cls.__name__ for cls in ESTIMATORS.values())
        raise TypeError(
            f"cannot save a {type(estimator).__name__} without pickle; known estimators: {known}. "
            "Use pickle/joblib for other estimators"
        )
    return name


def _params(estimator: Any) -> dict:
    params = estimator.get_params(deep=False)
    out = {}
    for key, value in params.items():
        if key == "dtype":
            value = np.dtype(value).name
        elif callable(value):
            raise TypeError(
                f"{type(estimator).__name__}.{key} is a Python callable ({value!r}); only named settings can be saved "
                "without pickle (e.g. analyzer='rule')"
            )
        elif isinstance(value, (set, frozenset)):
            value = sorted(value)
        out[key] = to_jsonable(value)
    return out


def _restore_params(cls: type, params: dict) -> dict:
    params = dict(params)
    if "dtype" in params:
        params["dtype"] = _DTYPES[params["dtype"]]
    if "ngram_range" in params and params["ngram_range"] is not None:
        params["ngram_range"] = tuple(params["ngram_range"])
    if "extractors" in params and params["extractors"] is not None:
        params["extractors"] = tuple(params["extractors"])
    return params


def estimator_state(estimator: Any, prefix: str) -> tuple[dict, dict[str, np.ndarray]]:
    """``(description, arrays)`` of a fitted estimator: its class, constructor parameters and
    every fitted attribute (the trailing-underscore ones); numeric arrays go to ``arrays``
    under ``prefix.attribute``."""
    attributes: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for key, value in vars(estimator).items():
        if not key.endswith("_") or key.startswith("_"):
            continue
        if isinstance(value, np.ndarray) and value.dtype.kind in "fiub":
            arrays[f"{prefix}.{key}"] = np.ascontiguousarray(value)
            attributes[key] = {"array": f"{prefix}.{key}"}
        elif isinstance(value, np.ndarray):  # labels: strings or Python objects
            attributes[key] = {"values": [to_jsonable(v) for v in value.tolist()], "dtype": value.dtype.kind}
        elif key == "vocabulary_" and isinstance(value, dict):
            terms = [""] * len(value)
            for term, column in value.items():
                terms[column] = term
            attributes[key] = {"terms": terms}
        elif isinstance(value, (bool, int, float, str, np.integer, np.floating)) or value is None:
            attributes[key] = {"value": to_jsonable(value)}
        else:
            raise TypeError(f"{type(estimator).__name__}.{key} ({type(value).__name__}) has no pickle-free form")
    return {"class": _class_name(estimator), "params": _params(estimator), "attributes": attributes}, arrays


def estimator_from_state(description: dict, arrays: dict[str, np.ndarray], where: str) -> Any:
    """The estimator ``estimator_state`` described, fitted attributes restored."""
    name = description.get("class")
    cls = ESTIMATORS.get(name)  # type: ignore[arg-type]
    if cls is None:
        raise ValueError(f"{where}: unknown estimator class {name!r}; this textkit reads {', '.join(ESTIMATORS)}")
    estimator = cls(**_restore_params(cls, description.get("params", {})))
    for key, spec in description.get("attributes", {}).items():
        if "array" in spec:
            if spec["array"] not in arrays:
                raise ValueError(f"{where}: the array {spec['array']!r} is missing from the weights file")
            value: Any = arrays[spec["array"]]
        elif "values" in spec:
            value = np.array(spec["values"], dtype=object if spec.get("dtype") == "O" else None)
        elif "terms" in spec:
            value = {term: column for column, term in enumerate(spec["terms"])}
        else:
            value = spec["value"]
        setattr(estimator, key, value)
    return estimator


def save_estimators(estimators: dict[str, Any], folder: str | os.PathLike, stem: str = "estimators") -> dict:
    """Write fitted estimators to ``folder/{stem}.safetensors`` (arrays) and return the JSON
    description to store beside it (the caller writes it, with its own metadata)."""
    from safetensors.numpy import save

    described, arrays = {}, {}
    for name, estimator in estimators.items():
        described[name], found = estimator_state(estimator, name)
        arrays.update(found)
    with atomic_open(Path(folder) / f"{stem}.safetensors", "wb") as handle:
        handle.write(save(arrays))
    return {"weights": f"{stem}.safetensors", "estimators": described}


MAX_NGRAM = 10  # n-gram lengths beyond this are no model textkit writes, and would stall predict


def _check_params(cls: type, params: object, where: str) -> dict:
    """Constructor settings from an untrusted folder: known names only, loop bounds bounded."""
    from textkit._folders import FolderError

    if not isinstance(params, dict):
        raise FolderError(f"{where}: 'params' must be an object of settings, got {type(params).__name__}")
    known = set(cls().get_params(deep=False))
    unknown = sorted(set(params) - known)
    if unknown:
        raise FolderError(f"{where}: {cls.__name__} has no setting {unknown[0]!r}; the folder is damaged or foreign")
    ngrams = params.get("ngram_range")
    if ngrams is not None:
        ok = isinstance(ngrams, list) and len(ngrams) == 2 and all(type(n) is int for n in ngrams)
        if not ok or not 1 <= ngrams[0] <= ngrams[1] <= MAX_NGRAM:
            raise FolderError(
                f"{where}: field 'ngram_range' = {ngrams!r} must be two integers 1 <= low <= high <= {MAX_NGRAM}"
            )
    return params


def load_estimators(folder: str | os.PathLike, description: dict, where: str) -> dict[str, Any]:
    """The estimators of ``save_estimators``'s description, read from ``folder`` as untrusted input:
    the weights file stays inside the folder, its header is checked against the file before the
    data is read, settings are known names with bounded values, and every array that spans the
    vocabulary has the vocabulary's length."""
    from safetensors.numpy import load_file

    from textkit._folders import FolderError, confined, safetensors_header

    weights = confined(folder, description.get("weights", "estimators.safetensors"), "weights file")
    header = safetensors_header(weights)
    estimators = description.get("estimators", {})
    if not isinstance(estimators, dict):
        raise FolderError(f"{where}: 'estimators' must be an object")
    for name, spec in estimators.items():
        if not isinstance(spec, dict):
            raise FolderError(f"{where}: estimator {name!r} must be an object")
        cls = ESTIMATORS.get(spec.get("class"))  # type: ignore[arg-type]
        if cls is not None:
            _check_params(cls, spec.get("params", {}), f"{where}: {name!r}")
    terms = ((estimators.get("vectorizer") or {}).get("attributes") or {}).get("vocabulary_", {}).get("terms")
    if isinstance(terms, list):
        for tensor, (_dtype, shape) in header.items():
            spans = tensor.endswith(".idf_") or (len(shape) == 2 and not tensor.startswith("vectorizer."))
            if spans and shape[-1] != len(terms):
                raise FolderError(
                    f"{weights}: tensor {tensor!r} has shape {list(shape)} but the vocabulary in {where} has "
                    f"{len(terms):,} terms; the two files come from different models"
                )
    arrays = load_file(str(weights))
    return {name: estimator_from_state(spec, arrays, f"{where}: {name!r}") for name, spec in estimators.items()}


def read_description(path: str | os.PathLike) -> dict:
    return read_json(path, "model description")
