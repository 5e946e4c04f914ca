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

Out of core (``partial_fit``), only part of the model is exact. Step 1 is a function of summed
counts, so ``feature_count_``, ``class_count_``, ``r_`` and ``log_prior_`` after any sequence of
chunks equal ``fit``'s on all of them. Step 2 is not: liblinear's solvers need every row at
once, and no incremental solver reproduces their optimum, so ``partial_fit`` trains the linear
model by stochastic gradient descent (scikit-learn's ``SGDClassifier``: the same loss and the
same L2 objective, ``alpha = 1 / (C n)``; averaged, with a constant step), one pass per chunk on
the features scaled by the ``r`` known so far. Its weights approximate liblinear's; they are not
equal to them (on the tests' toy corpus, 0.75 to 0.78 relative error in the weights, at
accuracy within a point), and they depend on the order of the chunks: shuffle rows sorted by
class. At ``beta=0`` the linear weights only scale the score, so predictions are exactly
binarized naive Bayes's. For an exact model from streamed text, fit the count matrices in one call
(``textkit.classical.streaming.fit_streaming`` does: it holds the sparse features, never the text).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import copy
import warnings
from numbers import Real

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.svm import LinearSVC
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from textkit.classical._sparse import issparse

if TYPE_CHECKING:
    from sklearn.utils import Tags
from textkit.classical.naive_bayes import (
    _check_classes,
    _check_non_negative,
    _check_weights,
    _class_index,
    _first_partial_fit,
    class_feature_counts,
)

__all__ = ["NBSVMClassifier", "distinct_rows"]

CLASSIFIERS = ("svm", "logistic")


def distinct_rows(X: sp.csr_matrix, y_index: np.ndarray, *, values: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The first row of each distinct (row, label) pair of a CSR matrix, and each row's group.

    Returns ``(rows, group)``: ``rows`` in increasing order (the order of first sight), and
    ``group[i] = k`` where row ``i`` equals row ``rows[k]`` and has its label. Rows are
    compared by their column indices (sorted first, when they are not), and by their values
    too unless ``values=False``. Text corpora repeat lines (boilerplate, retweets, a bench file
    built by repeating sentences); a solver that takes weights then sees each line once.
    """
    if not X.has_sorted_indices:
        X = X.sorted_indices()
    bounds = X.indptr.tolist()
    labels = np.asarray(y_index).tolist()
    columns = np.ascontiguousarray(X.indices).data.cast("B")
    width = X.indices.itemsize
    data = np.ascontiguousarray(X.data).data.cast("B") if values else None
    size = X.data.itemsize
    first: dict[tuple, int] = {}
    group = np.empty(X.shape[0], dtype=np.int64)
    setdefault = first.setdefault
    for i, label in enumerate(labels):
        a, b = bounds[i], bounds[i + 1]
        if data is None:
            key: tuple = (label, bytes(columns[a * width : b * width]))
        else:
            key = (label, bytes(columns[a * width : b * width]), bytes(data[a * size : b * size]))
        group[i] = setdefault(key, len(first))
    _, rows = np.unique(group, return_index=True)  # groups are numbered in order of first sight
    return rows, group


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
    feature_count_ : ndarray of shape (n_classes, n_features)
        Per-class sums of the (binarized) features: the statistics behind ``r_``.
    class_count_ : ndarray of shape (n_classes,)
        Documents per class.
    n_iter_ : ndarray of shape (n_tasks,)
        Iterations the linear model ran, per task (``partial_fit``: SGD passes, one per chunk).
    n_features_in_ : int
    """

    _sgd: list[SGDClassifier]  # partial_fit's SGD models (their step schedules), one per task; never saved

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
        # liblinear's primal trust-region Newton (its default for logistic loss, -s 0): on 100k BBC
        # sentence lines (32,040 distinct) it took 11 iterations and 2.3 s where the dual solver took 672 and 15 s
        return LogisticRegression(
            C=self.C,
            solver="liblinear",
            dual=False,
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

    def _tasks(self) -> list[int]:
        """The class whose one-vs-rest problem each task solves (one task for two classes)."""
        return [1] if len(self.classes_) == 2 else list(range(len(self.classes_)))

    def _update_ratios(self) -> None:
        """``r_`` and ``log_prior_`` from the summed counts (exact however the counts were summed)."""
        counts, class_count = self.feature_count_, self.class_count_
        total = counts.sum(axis=0)
        n_samples = class_count.sum()
        tasks = self._tasks()
        self.r_ = np.empty((len(tasks), counts.shape[1]))
        self.log_prior_ = np.empty(len(tasks))
        with np.errstate(divide="ignore"):  # partial_fit: a class no chunk has shown yet has prior 0
            for t, c in enumerate(tasks):
                p = self.alpha + counts[c]
                q = self.alpha + (total - counts[c])
                self.r_[t] = np.log(p / p.sum()) - np.log(q / q.sum())
                self.log_prior_[t] = np.log(class_count[c]) - np.log(n_samples - class_count[c])

    def fit(
        self, X: np.ndarray | sp.spmatrix, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> NBSVMClassifier:
        """Compute ``r`` per task, fit the linear model on ``X @ diag(r)``, interpolate.

        Identical documents (the same features and label) are fitted once, weighted by how many
        there are (see ``distinct_rows``): liblinear minimizes ``C * sum_i w_i loss_i + |w|^2 / 2``,
        the same objective as with the copies, so the optimum is the same; only the solver's
        path to it (and so the last digits within ``tol``) can differ.
        """
        self._check_params()
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32], reset=True)
        _check_non_negative(X, type(self).__name__)
        self.classes_, y_index = _check_classes(y, type(self).__name__)
        weights = _check_weights(sample_weight, X.shape[0])
        X = sp.csr_matrix(X) if not issparse(X) else X.tocsr()
        if self.binarize and X.nnz and X.data.min() > 0:  # binarized rows are equal when their columns are
            rows, group = distinct_rows(X, y_index, values=False)
            Xb = self._prepare(X[rows]) if len(rows) < X.shape[0] else self._prepare(X)
        else:
            Xb = self._prepare(X)
            rows, group = distinct_rows(Xb, y_index, values=True)
            Xb = Xb[rows] if len(rows) < Xb.shape[0] else Xb
        n_rows = X.shape[0]
        del X
        y_index = y_index[rows]
        if len(rows) < n_rows or weights is not None:  # copies of a row: one row, the sum of their weights
            weights = np.bincount(group, weights=weights, minlength=len(rows))
        n_samples, n_features = Xb.shape
        self.feature_count_, self.class_count_ = class_feature_counts(Xb, y_index, len(self.classes_), weights)
        self._update_ratios()
        if hasattr(self, "_sgd"):  # a later partial_fit starts SGD from liblinear's weights
            del self._sgd
        tasks = self._tasks()
        self.linear_coef_ = np.empty((len(tasks), n_features))
        self.linear_intercept_ = np.empty(len(tasks))
        self.n_iter_ = np.empty(len(tasks), dtype=np.int64)
        for t, c in enumerate(tasks):
            target = (y_index == c).astype(np.int64)
            model = self._linear_model(n_samples, n_features)
            model.fit(Xb @ sp.diags(self.r_[t]), target, sample_weight=weights)
            self.linear_coef_[t] = model.coef_.ravel()
            self.linear_intercept_[t] = model.intercept_[0]
            self.n_iter_[t] = int(np.max(model.n_iter_))
        self._interpolate(self.beta)
        return self

    def partial_fit(
        self, X: np.ndarray | sp.spmatrix, y: np.ndarray, classes: np.ndarray | None = None
    ) -> NBSVMClassifier:
        """Add one chunk of documents (out-of-core training; see the module docstring for what is exact).

        ``classes`` is required on the first call (every label the stream holds; scikit-learn's
        convention). The counts, ``r_`` and ``log_prior_`` are exact: equal to ``fit``'s on the
        concatenated chunks. The linear model takes one SGD pass over this chunk, scaled by the
        ``r_`` of the chunks so far (after ``fit``, SGD starts from liblinear's weights); its
        weights approximate ``fit``'s and depend on the chunking and order.
        """
        who = type(self).__name__
        first = _first_partial_fit(self, classes, who)
        try:
            self._check_params()
            X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32], reset=first)
            _check_non_negative(X, who)
            y_index = _class_index(y, self.classes_, who)
        except ValueError:
            if first:  # a refused first chunk leaves the estimator unfitted
                del self.classes_
            raise
        tasks = self._tasks()
        started = not first and hasattr(self, "feature_count_")
        warm = started and not hasattr(self, "_sgd")  # after fit, or loaded: SGD starts from the stored weights
        if warm:
            for c in tasks:
                inside = y_index == c
                if inside.all() or not inside.any():
                    raise ValueError(
                        f"{who}.partial_fit after fit starts SGD from fit's weights, and that first chunk needs "
                        f"documents of class {self.classes_[c]!r} and of other classes; this one holds "
                        f"{'only that class' if inside.all() else 'none of it'}. Shuffle the rows, or pass a larger "
                        "chunk"
                    )
        Xb = self._prepare(X)
        counts, class_count = class_feature_counts(Xb, y_index, len(self.classes_))
        if started:
            self.feature_count_ = self.feature_count_ + counts
            self.class_count_ = self.class_count_ + class_count
        else:
            self.feature_count_, self.class_count_ = counts, class_count
            self.linear_coef_ = np.zeros((len(tasks), Xb.shape[1]))
            self.linear_intercept_ = np.zeros(len(tasks))
            self.n_iter_ = np.zeros(len(tasks), dtype=np.int64)
        self._update_ratios()
        alpha = 1.0 / (self.C * float(self.class_count_.sum()))  # liblinear's C * sum(loss) + |w|^2 / 2, per sample
        new_sgd = not started or warm
        if new_sgd:
            self._sgd = []
        for t, c in enumerate(tasks):
            scaled = Xb @ sp.diags(self.r_[t])  # (n_samples, n_features)
            if new_sgd:  # a constant step of 1 / max |x|^2 keeps the squared hinge from diverging
                largest = float(scaled.multiply(scaled).sum(axis=1).max()) if scaled.nnz else 1.0
                self._sgd.append(self._sgd_model(alpha, 1.0 / max(largest, 1e-12)))
            target = (y_index == c).astype(np.int64)
            model = self._sgd[t]
            model.set_params(alpha=alpha)
            if warm:
                with warnings.catch_warnings():  # one pass by design, not a failure to converge
                    warnings.filterwarnings("ignore", category=ConvergenceWarning)
                    model.fit(
                        scaled,
                        target,
                        coef_init=self.linear_coef_[t : t + 1],
                        intercept_init=self.linear_intercept_[t : t + 1],
                    )
            else:
                model.partial_fit(scaled, target, classes=np.array([0, 1]))
            self.linear_coef_[t] = model.coef_.ravel()
            self.linear_intercept_[t] = model.intercept_[0]
            self.n_iter_[t] += 1
        self._interpolate(self.beta)
        return self

    def _sgd_model(self, alpha: float, eta0: float) -> SGDClassifier:
        """One pass of averaged SGD (Polyak averaging) with a constant step, on liblinear's loss."""
        return SGDClassifier(
            loss="squared_hinge" if self.classifier == "svm" else "log_loss",
            penalty="l2",
            alpha=alpha,
            learning_rate="constant",
            eta0=eta0,
            average=True,
            max_iter=1,
            tol=None,
            random_state=self.random_state,
        )

    def _interpolate(self, beta: float) -> None:
        w_bar = np.abs(self.linear_coef_).mean(axis=1, keepdims=True)  # (n_tasks, 1)
        self.coef_ = self.r_ * ((1.0 - beta) * w_bar + beta * self.linear_coef_)
        with np.errstate(invalid="ignore"):
            prior_part = (1.0 - beta) * w_bar[:, 0] * self.log_prior_
        # mid-partial_fit, a class no chunk has shown yet has an infinite log prior; 0 * inf counts as 0
        prior_part = np.where(np.isnan(prior_part), 0.0, prior_part)
        self.intercept_ = beta * self.linear_intercept_ + prior_part

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
