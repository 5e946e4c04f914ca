"""Multinomial naive Bayes in log space, from log-count ratios.

The derivation (see notebooks/03_sentiment_nb_lr.ipynb). For class c with smoothed feature
counts ``p_c = alpha + sum_{i: y_i = c} x_i``, multinomial NB scores a document x by

    log P(c | x) = log P(c) + sum_j x_j log(p_cj / |p_c|_1) - log Z(x).

With two classes this is a linear model: ``x . r + b`` with the *log-count ratio*
``r = log(p / |p|_1) - log(q / |q|_1)`` and ``b = log(N_pos / N_neg)``.

Everything stays in log space. Probabilities come from the joint log-likelihoods by
subtracting their log-sum-exp, so a review of 10,000 words, whose likelihood underflows
``float64`` (``exp(-40000) == 0``), still gets exact, finite probabilities.

Documents with no known word (every feature zero, e.g. only unseen words after vectorizing)
score ``log P(c)``: the prediction is the majority class and ``predict_proba`` is the prior.

Out of core: the model is a function of per-class sums of counts, so ``partial_fit`` over
chunks adds those sums and gives exactly the model ``fit`` gives on all the chunks at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from numbers import Real

import numpy as np
import scipy.sparse as sp
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from textkit.classical._sparse import issparse

if TYPE_CHECKING:
    from sklearn.utils import Tags

__all__ = ["NaiveBayesClassifier", "class_feature_counts", "log_count_ratio"]

# Whole counts summed in float64 stay exact up to 2**53 per feature and class, so partial fits
# over chunks, in any order and merged across machines, reproduce the one-shot fit bit for bit.


def _check_non_negative(X: np.ndarray | sp.spmatrix, who: str) -> None:
    values = X.data if issparse(X) else X
    if values.size and values.min() < 0:  # NaN and inf were rejected by validate_data already
        raise ValueError(
            f"Negative values in data passed to {who} (min {float(values.min()):.4g}): it needs "
            "non-negative features (counts, binary or tf-idf); vectorize text with TextVectorizer"
        )


def _check_classes(y: np.ndarray, who: str) -> tuple[np.ndarray, np.ndarray]:
    check_classification_targets(y)
    classes, y_index = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            f"{who} needs at least two classes to learn from, but y has only one class "
            f"({classes[0]!r} for all {len(y)} samples); check the labels or the data split"
        )
    return classes, y_index


def _first_partial_fit(estimator: Any, classes: object, who: str) -> bool:
    """scikit-learn's ``partial_fit`` convention: ``classes`` (every label the stream will hold)
    on the first call, where it sets ``classes_``; later calls may repeat it, unchanged."""
    known = getattr(estimator, "classes_", None)
    if classes is None:
        if known is None:
            raise ValueError(
                f"{who}.partial_fit needs classes= on its first call: every label the data stream holds "
                "(e.g. classes=np.unique(all_labels)), since the first chunk need not show them all"
            )
        return False
    given = np.asarray(classes)
    check_classification_targets(given)
    unique = np.unique(given)
    if known is not None:
        if not np.array_equal(known, unique):
            raise ValueError(
                f"classes={unique.tolist()!r} is not the same as on the first call to {who}.partial_fit "
                f"({np.asarray(known).tolist()!r}); pass the same classes, or call fit to start again"
            )
        return False
    if len(unique) < 2:
        raise ValueError(f"{who}.partial_fit needs at least two classes, got classes={unique.tolist()!r}")
    estimator.classes_ = unique
    return True


def _class_index(y: np.ndarray, classes: np.ndarray, who: str) -> np.ndarray:
    """Each label's position in ``classes``; labels outside ``classes`` are an error naming them."""
    check_classification_targets(y)
    labels, inverse = np.unique(y, return_inverse=True)
    position = {label: i for i, label in enumerate(classes.tolist())}
    unknown = [label for label in labels.tolist() if label not in position]
    if unknown:
        raise ValueError(
            f"{who}.partial_fit got labels {unknown[:5]!r} that are not among classes={classes.tolist()!r} "
            "given on the first call; pass every label the stream holds as classes= on the first call"
        )
    lookup = np.array([position[label] for label in labels.tolist()], dtype=np.int64)
    return lookup[inverse.ravel()]


def _check_weights(sample_weight: np.ndarray | None, n_samples: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    weights = np.asarray(sample_weight, dtype=np.float64)
    if weights.ndim == 0:
        weights = np.full(n_samples, float(weights))
    if weights.shape != (n_samples,):
        raise ValueError(f"sample_weight has shape {weights.shape}, expected ({n_samples},)")
    if not np.all(np.isfinite(weights)) or weights.min() < 0:
        raise ValueError("sample_weight must be finite and non-negative")
    if weights.sum() <= 0:
        raise ValueError("sample_weight sums to zero: at least one sample must have positive weight")
    return weights


def class_feature_counts(
    X: np.ndarray | sp.spmatrix, y_index: np.ndarray, n_classes: int, sample_weight: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class sums of feature values and per-class (weighted) document counts.

    Returns ``(feature_count, class_count)`` of shapes (n_classes, n_features) and (n_classes,).
    One product ``(X^T Y)^T`` with a one-hot (n_samples, n_classes) ``Y``: X is never densified.
    """
    weights = np.ones(len(y_index)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    Y = np.zeros((len(y_index), n_classes))  # (n_samples, n_classes) one-hot, weighted
    Y[np.arange(len(y_index)), y_index] = weights
    # (X^T Y)^T: a sparse-times-dense product (scipy's fast kernel), X is never densified
    feature_count = np.asarray((X.T @ Y).T, dtype=np.float64)
    class_count = np.bincount(y_index, weights=weights, minlength=n_classes)
    return feature_count, class_count


def log_count_ratio(
    X: np.ndarray | sp.spmatrix, y: np.ndarray, *, alpha: float = 1.0, positive: object = None
) -> np.ndarray:
    """Wang & Manning's ``r = log(p / |p|_1) - log(q / |q|_1)`` for a binary problem.

    ``p`` (``q``) is ``alpha`` plus the summed features of the ``positive`` class (the rest).
    ``positive`` defaults to the last label in sorted order (``classes_[1]`` of a classifier).
    """
    y = np.asarray(y)
    positive = np.unique(y)[-1] if positive is None else positive
    is_pos = (y == positive).astype(np.int64)
    if is_pos.min() == is_pos.max():
        raise ValueError(
            f"log_count_ratio needs both classes; y has only {'positive' if is_pos[0] else 'negative'} samples"
        )
    counts, _ = class_feature_counts(X, is_pos, 2)
    smoothed = counts + alpha
    log_prob = np.log(smoothed) - np.log(smoothed.sum(axis=1, keepdims=True))
    return log_prob[1] - log_prob[0]


class NaiveBayesClassifier(ClassifierMixin, BaseEstimator):
    """Multinomial naive Bayes with additive smoothing, computed in log space.

    Parameters
    ----------
    alpha : float > 0
        Additive (Laplace / Lidstone) smoothing of feature counts.
    binarize : bool
        Use presence (x > 0) instead of counts, in fit and predict ("binarized NB").
    fit_prior : bool
        Learn class priors from the data; otherwise use uniform priors.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    class_count_ : ndarray of shape (n_classes,)
    feature_count_ : ndarray of shape (n_classes, n_features)
    class_log_prior_ : ndarray of shape (n_classes,)
    feature_log_prob_ : ndarray of shape (n_classes, n_features)
        ``log(p_c / |p_c|_1)``.
    log_count_ratio_ : ndarray of shape (n_features,)
        Binary problems only: ``feature_log_prob_[1] - feature_log_prob_[0]``.
    n_features_in_ : int
    """

    # learned in fit
    classes_: np.ndarray
    feature_count_: np.ndarray
    class_count_: np.ndarray
    feature_log_prob_: np.ndarray
    class_log_prior_: np.ndarray
    log_count_ratio_: np.ndarray

    def __init__(self, *, alpha: float = 1.0, binarize: bool = False, fit_prior: bool = True) -> None:
        self.alpha = alpha
        self.binarize = binarize
        self.fit_prior = fit_prior

    def _prepare(self, X: np.ndarray | sp.spmatrix) -> np.ndarray | sp.spmatrix:
        if self.binarize:
            if issparse(X):
                X = X.copy()
                X.data = (X.data > 0).astype(np.float64)
                X.eliminate_zeros()
            else:
                X = (X > 0).astype(np.float64)
        return X

    def _check_alpha(self) -> None:
        if not (isinstance(self.alpha, Real) and self.alpha > 0):
            raise ValueError(
                "alpha must be a positive number (alpha=0 gives log(0) for words unseen in a class), "
                f"got {self.alpha!r}"
            )

    def fit(
        self, X: np.ndarray | sp.spmatrix, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> NaiveBayesClassifier:
        """Count features per class and turn the smoothed counts into log probabilities."""
        self._check_alpha()
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32], reset=True)
        _check_non_negative(X, type(self).__name__)
        self.classes_, y_index = _check_classes(y, type(self).__name__)
        sample_weight = _check_weights(sample_weight, X.shape[0])
        self.feature_count_, self.class_count_ = class_feature_counts(
            self._prepare(X), y_index, len(self.classes_), sample_weight
        )
        self._update_log_probabilities()
        return self

    def partial_fit(
        self,
        X: np.ndarray | sp.spmatrix,
        y: np.ndarray,
        classes: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> NaiveBayesClassifier:
        """Add one chunk of documents to the model (out-of-core training).

        ``classes`` is required on the first call (every label the stream holds; scikit-learn's
        convention) and may be repeated, unchanged, later. A fitted model keeps learning: ``fit``
        and then ``partial_fit`` counts both. The model depends only on summed counts, so any
        split of the data into chunks, in any order, gives exactly ``fit`` on all of it (to the
        last bit for whole-number counts; to float64 rounding for fractional weights or tf-idf).
        """
        who = type(self).__name__
        first = _first_partial_fit(self, classes, who)
        try:
            self._check_alpha()
            X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32], reset=first)
            _check_non_negative(X, who)
            y_index = _class_index(y, self.classes_, who)
            sample_weight = _check_weights(sample_weight, X.shape[0])
        except ValueError:
            if first:  # a refused first chunk leaves the estimator unfitted, so classes= is asked again
                del self.classes_
            raise
        feature_count, class_count = class_feature_counts(self._prepare(X), y_index, len(self.classes_), sample_weight)
        if first or not hasattr(self, "feature_count_"):
            self.feature_count_, self.class_count_ = feature_count, class_count
        else:
            self.feature_count_ = self.feature_count_ + feature_count
            self.class_count_ = self.class_count_ + class_count
        self._update_log_probabilities()
        return self

    def _update_log_probabilities(self) -> None:
        """``feature_log_prob_``, ``class_log_prior_`` (and the log-count ratio) from the counts."""
        smoothed = self.feature_count_ + self.alpha
        self.feature_log_prob_ = np.log(smoothed) - np.log(smoothed.sum(axis=1, keepdims=True))
        if self.fit_prior:
            with np.errstate(divide="ignore"):
                self.class_log_prior_ = np.log(self.class_count_) - np.log(self.class_count_.sum())
        else:
            self.class_log_prior_ = np.full(len(self.classes_), -np.log(len(self.classes_)))
        if len(self.classes_) == 2:
            self.log_count_ratio_ = self.feature_log_prob_[1] - self.feature_log_prob_[0]

    def _joint_log_likelihood(self, X: np.ndarray | sp.spmatrix) -> np.ndarray:
        check_is_fitted(self, "feature_log_prob_")
        X = validate_data(self, X, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32], reset=False)
        _check_non_negative(X, type(self).__name__)
        jll = self._prepare(X) @ self.feature_log_prob_.T  # (n_samples, n_classes)
        return np.asarray(jll) + self.class_log_prior_

    def decision_function(self, X: np.ndarray | sp.spmatrix) -> np.ndarray:
        """Binary: the log-odds ``log P(c1|x) - log P(c0|x)``; multiclass: joint log-likelihoods."""
        jll = self._joint_log_likelihood(X)
        return jll[:, 1] - jll[:, 0] if len(self.classes_) == 2 else jll

    def predict(self, X: np.ndarray | sp.spmatrix) -> np.ndarray:
        jll = self._joint_log_likelihood(X)
        return self.classes_[np.argmax(jll, axis=1)]

    def predict_log_proba(self, X: np.ndarray | sp.spmatrix) -> np.ndarray:
        """``log P(c | x)``, normalized with log-sum-exp (no underflow on long documents)."""
        jll = self._joint_log_likelihood(X)
        return jll - logsumexp(jll, axis=1, keepdims=True)

    def predict_proba(self, X: np.ndarray | sp.spmatrix) -> np.ndarray:
        return np.exp(self.predict_log_proba(X))

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.positive_only = True
        return tags
