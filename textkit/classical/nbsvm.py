"""NBSVM (Wang & Manning 2012, "Baselines and Bigrams"): a linear classifier on NB-scaled features.

For a binary problem, with binarized features ``x^ = 1{x > 0}``:

1. ``r = log(p / |p|_1) - log(q / |q|_1)``, ``p = alpha + sum of x^ over positive documents``
   (``q`` likewise over negative ones): the naive Bayes log-count ratio.
2. Fit scikit-learn's ``LinearSVC`` (L2-regularized squared hinge, the paper's choice) or
   ``LogisticRegression`` on the scaled features ``r * x^`` (sparse: ``X @ diag(r)``).
3. Interpolate towards naive Bayes: ``w' = (1 - beta) * mean(|w|) + beta * w``. Because the
   features are ``r * x^``, the constant part scores ``mean(|w|) * (r . x^)``: the MNB
   score, so ``beta`` mixes the SVM with MNB ("trust" interpolation in the paper). We
   interpolate the intercept the same way, ``b' = beta * b + (1 - beta) * mean(|w|) * log(N+ / N-)``,
   so the MNB half keeps its class prior. (The paper leaves ``b`` alone; on balanced data the
   two agree, on unbalanced data leaving it out shifts every decision towards one class.)

Multiclass problems are one-vs-rest: one ``r`` and one linear model per class. The learned
``coef_`` are the effective weights on ``x^`` (``r * w'``), so prediction is a single sparse
product ``x^ @ coef_.T + intercept_``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import copy
from numbers import Real

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from textkit.classical._sparse import issparse

if TYPE_CHECKING:
    from sklearn.utils import Tags
from textkit.classical.naive_bayes import _check_classes, _check_non_negative, class_feature_counts

__all__ = ["NBSVMClassifier"]

CLASSIFIERS = ("svm", "logistic")


def _has_probabilities(estimator: NBSVMClassifier) -> bool:
    return estimator.classifier == "logistic"


class NBSVMClassifier(ClassifierMixin, BaseEstimator):
    """Naive Bayes features + a linear SVM or logistic regression (Wang & Manning 2012).

    Parameters
    ----------
    alpha : float > 0
        Smoothing of the feature counts behind ``r`` (the paper: 1).
    binarize : bool
        Use ``1{x > 0}`` as features (the paper: yes).
    classifier : {"svm", "logistic"}
        ``LinearSVC`` (squared hinge, the paper) or ``LogisticRegression`` (liblinear).
    C : float
        Inverse regularization strength of the linear model (the paper: 1 for SVM).
    beta : float in [0, 1]
        Interpolation: 1 is the plain linear model on NB features, 0 is MNB (the paper: 0.25).
    max_iter, tol : passed to the linear model.
    random_state : int or None
        Seed of liblinear's coordinate order.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    r_ : ndarray of shape (n_tasks, n_features)
        Log-count ratios, one row per binary task (1 task for 2 classes, else one per class).
    coef_ : ndarray of shape (n_tasks, n_features)
        Effective weights on the (binarized) features: ``r * w'``.
    intercept_ : ndarray of shape (n_tasks,)
    linear_coef_, linear_intercept_ : ndarrays of shapes (n_tasks, n_features), (n_tasks,)
        The linear model's own weights on the scaled features, before interpolation.
    log_prior_ : ndarray of shape (n_tasks,)
        ``log(N+ / N-)`` per task.
    n_iter_ : ndarray of shape (n_tasks,)
        Iterations the linear model ran, per task.
    n_features_in_ : int
    """

    def __init__(
        self,
        *,
        alpha: float = 1.0,
        binarize: bool = True,
        classifier: str = "svm",
        C: float = 1.0,
        beta: float = 0.25,
        max_iter: int = 1000,
        tol: float = 1e-4,
        random_state: int | None = 0,
    ) -> None:
        self.alpha = alpha
        self.binarize = binarize
        self.classifier = classifier
        self.C = C
        self.beta = beta
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def _prepare(self, X: np.ndarray | sp.spmatrix) -> sp.csr_matrix:
        X = sp.csr_matrix(X) if not issparse(X) else X.tocsr()
        if self.binarize:
            X = X.copy()
            X.data = (X.data > 0).astype(np.float64)
            X.eliminate_zeros()
        return X

    def _linear_model(self, n_samples: int, n_features: int) -> LinearSVC | LogisticRegression:
        if self.classifier == "svm":
            return LinearSVC(
                C=self.C,
                loss="squared_hinge",
                dual="auto",
                max_iter=self.max_iter,
                tol=self.tol,
                random_state=self.random_state,
            )
        return LogisticRegression(
            C=self.C,
            solver="liblinear",
            dual=n_features > n_samples,
            max_iter=self.max_iter,
            tol=self.tol,
            random_state=self.random_state,
        )

    def _check_params(self) -> None:
        if self.classifier not in CLASSIFIERS:
            raise ValueError(f"classifier must be one of {CLASSIFIERS}, got {self.classifier!r}")
        if not (isinstance(self.alpha, Real) and self.alpha > 0):
            raise ValueError(f"alpha must be a positive number, got {self.alpha!r}")
        if not (isinstance(self.beta, Real) and 0.0 <= self.beta <= 1.0):
            raise ValueError(f"beta must be in [0, 1] (1: plain linear model, 0: naive Bayes), got {self.beta!r}")
        if not (isinstance(self.C, Real) and self.C > 0):
            raise ValueError(f"C must be a positive number, got {self.C!r}")

    def fit(self, X: np.ndarray | sp.spmatrix, y: np.ndarray) -> NBSVMClassifier:
        """Compute ``r`` per task, fit the linear model on ``X @ diag(r)``, interpolate."""
        self._check_params()
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32], reset=True)
        _check_non_negative(X, type(self).__name__)
        self.classes_, y_index = _check_classes(y, type(self).__name__)
        Xb = self._prepare(X)
        n_samples, n_features = Xb.shape
        counts, class_count = class_feature_counts(Xb, y_index, len(self.classes_))
        total = counts.sum(axis=0)
        tasks = [1] if len(self.classes_) == 2 else list(range(len(self.classes_)))
        self.r_ = np.empty((len(tasks), n_features))
        self.linear_coef_ = np.empty((len(tasks), n_features))
        self.linear_intercept_ = np.empty(len(tasks))
        self.log_prior_ = np.empty(len(tasks))
        self.n_iter_ = np.empty(len(tasks), dtype=np.int64)
        for t, c in enumerate(tasks):
            p = self.alpha + counts[c]
            q = self.alpha + (total - counts[c])
            r = np.log(p / p.sum()) - np.log(q / q.sum())
            target = (y_index == c).astype(np.int64)
            model = self._linear_model(n_samples, n_features).fit(Xb @ sp.diags(r), target)
            self.r_[t] = r
            self.linear_coef_[t] = model.coef_.ravel()
            self.linear_intercept_[t] = model.intercept_[0]
            self.log_prior_[t] = np.log(class_count[c]) - np.log(n_samples - class_count[c])
            self.n_iter_[t] = int(np.max(model.n_iter_))
        self._interpolate(self.beta)
        return self

    def _interpolate(self, beta: float) -> None:
        w_bar = np.abs(self.linear_coef_).mean(axis=1, keepdims=True)  # (n_tasks, 1)
        self.coef_ = self.r_ * ((1.0 - beta) * w_bar + beta * self.linear_coef_)
        self.intercept_ = beta * self.linear_intercept_ + (1.0 - beta) * w_bar[:, 0] * self.log_prior_

    def interpolate(self, beta: float) -> NBSVMClassifier:
        """A fitted copy with another ``beta``, without refitting the linear model.

        ``beta`` only enters after the linear model is fitted, so a grid over it costs one fit:
        ``[model.interpolate(b).score(X_dev, y_dev) for b in betas]``.
        """
        check_is_fitted(self, "linear_coef_")
        if not (isinstance(beta, Real) and 0.0 <= beta <= 1.0):
            raise ValueError(f"beta must be in [0, 1], got {beta!r}")
        other = copy.deepcopy(self)
        other.beta = beta
        other._interpolate(beta)
        return other

    def decision_function(self, X: np.ndarray | sp.spmatrix) -> np.ndarray:
        """Binary: the interpolated score (positive means ``classes_[1]``); else one column per class."""
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32], reset=False)
        _check_non_negative(X, type(self).__name__)
        scores = np.asarray(self._prepare(X) @ self.coef_.T) + self.intercept_
        return scores.ravel() if len(self.classes_) == 2 else scores

    def predict(self, X: np.ndarray | sp.spmatrix) -> np.ndarray:
        scores = self.decision_function(X)  # checks that the model is fitted
        if len(self.classes_) == 2:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]

    @available_if(_has_probabilities)
    def predict_proba(self, X: np.ndarray | sp.spmatrix) -> np.ndarray:
        """``classifier="logistic"`` only: the logistic function of the (interpolated) score;
        one-vs-rest probabilities are normalized to sum to one."""
        scores = self.decision_function(X)
        if len(self.classes_) == 2:
            positive = expit(scores)
            return np.column_stack([1.0 - positive, positive])
        probs = expit(scores)
        return probs / probs.sum(axis=1, keepdims=True)

    @available_if(_has_probabilities)
    def predict_log_proba(self, X: np.ndarray | sp.spmatrix) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.positive_only = True
        return tags
