"""Truncated SVD for topic modelling: exact (LAPACK / ARPACK) and randomized (Halko et al.) in torch.

Randomized SVD (Halko, Martinsson & Tropp 2011, algorithms 4.4 and 5.1) for ``X`` (m, n), rank k:

1. ``Y = X @ Omega``, with ``Omega`` (n, k + p) Gaussian: p extra columns ("oversampling")
   make it likely that Y's range holds X's top-k left singular subspace.
2. ``q`` power iterations ``Y <- X (X^T Q)``, re-orthonormalized with QR after every
   product, sharpen the spectrum (singular values decay as s^(2q+1)) without losing the
   small directions to rounding.
3. ``Q = qr(Y)``; ``B = Q^T X`` is small, (k + p, n); ``B = U_b S V^T`` exactly;
   ``U = Q U_b``.

Everything runs in torch on ``device`` ("cpu" or "cuda"), in float32 by default; sparse
products on CPU use scipy's CSR kernels (see ``_torch.MatrixOperator``). The QRs are on tall
(m, k + p) matrices. Signs are made deterministic: each right singular vector has its
largest-magnitude entry positive (what makes a topic's top words the positive ones).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted, validate_data

from textkit.classical._sparse import issparse

if TYPE_CHECKING:
    import torch
    from sklearn.utils import Tags

    from textkit.classical._torch import MatrixOperator

__all__ = ["SVDTopics", "exact_svd", "randomized_svd"]

ALGORITHMS = ("randomized", "exact", "arpack")
_DENSE_LIMIT_BYTES = 4 << 30  # "exact" densifies sparse input up to this size


def _check_rank(X: np.ndarray | sp.spmatrix, k: int) -> int:
    m, n = X.shape
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"the number of components must be a positive int, got {k!r}")
    if k > min(m, n):
        raise ValueError(
            f"n_components={k} is larger than min(n_samples, n_features) = {min(m, n)} "
            f"(n_samples = {m}, n_features = {n}); ask for fewer components"
        )
    return int(k)


def _flip_signs(U: np.ndarray, S: np.ndarray, Vt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Make the largest-|.| entry of each row of Vt positive (U's columns flip with it)."""
    if Vt.size:
        signs = np.sign(Vt[np.arange(Vt.shape[0]), np.argmax(np.abs(Vt), axis=1)])
        signs[signs == 0] = 1.0
        U, Vt = U * signs, Vt * signs[:, None]
    return U, S, Vt


def randomized_svd(
    X: np.ndarray | sp.spmatrix,
    k: int,
    *,
    n_oversamples: int = 10,
    n_iter: int = 4,
    seed: int | None = 0,
    device: str = "cpu",
    dtype: str = "float32",
    n_threads: int | None = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rank-``k`` SVD ``X ~ U diag(S) Vt`` by random projection, in torch.

    Returns float64 numpy arrays ``U`` (m, k), ``S`` (k,) descending, ``Vt`` (k, n).
    ``X`` may be dense or scipy sparse (never densified). ``n_threads``: torch CPU threads
    while it runs (None leaves torch's setting; see ``_torch.cpu_threads``).
    """
    from textkit.classical._torch import MatrixOperator, cpu_threads, resolve_device, resolve_dtype

    X = check_array(X, accept_sparse=["csr", "csc", "coo"], dtype=[np.float64, np.float32])
    k = _check_rank(X, k)
    if n_oversamples < 0 or n_iter < 0:
        raise ValueError(f"n_oversamples and n_iter must be >= 0, got {n_oversamples} and {n_iter}")
    dev, tdtype = resolve_device(device), resolve_dtype(dtype)
    with cpu_threads(dev, n_threads):
        U, S, Vt = _randomized_range_svd(MatrixOperator(X, dev, tdtype), k, n_oversamples, n_iter, seed, dev, tdtype)
    return _flip_signs(U, S, Vt)


def _randomized_range_svd(
    A: MatrixOperator,
    k: int,
    n_oversamples: int,
    n_iter: int,
    seed: int | None,
    dev: torch.device,
    tdtype: torch.dtype,
    *,
    qr_both_sides: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``qr_both_sides=False`` skips the QR of each ``X^T Q`` in the power iterations (Q stays
    orthonormal, so ``X^T Q`` is only as ill-conditioned as X on Q's range), the 4 costliest of
    the 10 QRs on text (n_features >> l). NMF's NNDSVD init uses it: on BBC, rotten-tomatoes,
    news-articles-2017 and wiki-summaries (tf-idf and counts, k = 5, 10, 20) the NMFs started
    from it took the same iterations and reached the same error (to 1e-12 relative) as from the
    default, and the init took 25% less time."""
    import torch

    m, n = A.shape
    width = min(k + n_oversamples, m, n)
    generator = torch.Generator(device="cpu")
    generator.manual_seed(0 if seed is None else int(seed))
    omega = torch.randn(n, width, generator=generator, dtype=tdtype).to(dev)  # (n, l)
    Q = torch.linalg.qr(A.mm(omega)).Q  # (m, l)
    for _ in range(n_iter):
        Z = A.tmm(Q)  # (n, l)
        if qr_both_sides:
            Z = torch.linalg.qr(Z).Q
        Q = torch.linalg.qr(A.mm(Z)).Q  # (m, l)
    Bt = A.tmm(Q)  # (n, l) = (Q^T X)^T
    # SVD of the small B = Bt^T through the QR of the tall Bt: Bt = P R, B = R^T P^T.
    P, R = torch.linalg.qr(Bt)  # (n, l), (l, l)
    Ur, S, Vrt = torch.linalg.svd(R.T.to(torch.float64))  # (l, l), (l,), (l, l)
    U = (Q.to(torch.float64) @ Ur[:, :k]).cpu().numpy()  # (m, k)
    Vt = (Vrt[:k] @ P.T.to(torch.float64)).cpu().numpy()  # (k, n)
    return U, S[:k].cpu().numpy(), Vt


def exact_svd(
    X: np.ndarray | sp.spmatrix, k: int, *, method: str = "exact"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rank-``k`` truncation of an exact SVD.

    ``method="exact"``: LAPACK's full thin SVD (``gesdd``) of the dense matrix (sparse input is
    densified, up to 4 GiB). ``method="arpack"``: scipy's ``svds``, exact to its tolerance,
    for sparse matrices too big to densify.
    """
    X = check_array(X, accept_sparse=["csr", "csc", "coo"], dtype=[np.float64, np.float32])
    k = _check_rank(X, k)
    if method == "exact":
        nbytes = X.shape[0] * X.shape[1] * 8
        if issparse(X) and nbytes > _DENSE_LIMIT_BYTES:
            raise ValueError(
                f"exact SVD would densify a {X.shape[0]} x {X.shape[1]} matrix ({nbytes / 2**30:.1f} GiB); "
                "use method='arpack' or randomized_svd for large sparse input"
            )
        dense = X.toarray() if issparse(X) else X
        U, S, Vt = scipy.linalg.svd(np.asarray(dense, dtype=np.float64), full_matrices=False)
        return _flip_signs(U[:, :k], S[:k], Vt[:k])
    if method == "arpack":
        if k >= min(X.shape):
            return exact_svd(X, k, method="exact")
        from scipy.sparse.linalg import svds

        U, S, Vt = svds(X.astype(np.float64), k=k, random_state=0)
        order = np.argsort(S)[::-1]
        return _flip_signs(U[:, order], S[order], Vt[order])
    raise ValueError(f"method must be 'exact' or 'arpack', got {method!r}")


class SVDTopics(TransformerMixin, BaseEstimator):
    """Latent semantic analysis: topics are the top right singular vectors of a doc-term matrix.

    Parameters
    ----------
    n_components : int
        Number of topics (singular triplets).
    algorithm : {"randomized", "exact", "arpack"}
        Randomized SVD in torch, LAPACK's dense SVD, or ARPACK (``scipy.sparse.linalg.svds``).
    n_oversamples, n_iter : int
        Randomized SVD: extra random directions, and power iterations.
    device : {"cpu", "cuda", "auto"}
        Where the randomized SVD runs.
    dtype : {"float32", "float64"}
        Working precision of the randomized SVD (results are returned as float64).
    random_state : int or None
        Seed of the random projection.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        Topics: rows of ``V^T``.
    singular_values_ : ndarray of shape (n_components,)
    explained_variance_ratio_ : ndarray of shape (n_components,)
        Share of ``||X||_F^2`` captured by each component (``s_i^2 / ||X||_F^2``).
    n_features_in_ : int
    """

    def __init__(
        self,
        *,
        n_components: int = 5,
        algorithm: str = "randomized",
        n_oversamples: int = 10,
        n_iter: int = 4,
        device: str = "cpu",
        dtype: str = "float32",
        random_state: int | None = 0,
    ) -> None:
        self.n_components = n_components
        self.algorithm = algorithm
        self.n_oversamples = n_oversamples
        self.n_iter = n_iter
        self.device = device
        self.dtype = dtype
        self.random_state = random_state

    def _svd(self, X: np.ndarray | sp.spmatrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {self.algorithm!r}")
        X = validate_data(self, X, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32], reset=True)
        if self.algorithm == "randomized":
            return randomized_svd(
                X,
                self.n_components,
                n_oversamples=self.n_oversamples,
                n_iter=self.n_iter,
                seed=self.random_state,
                device=self.device,
                dtype=self.dtype,
            )
        return exact_svd(X, self.n_components, method=self.algorithm)

    def fit(self, X: np.ndarray | sp.spmatrix, y: object = None) -> SVDTopics:
        self.fit_transform(X)
        return self

    def fit_transform(self, X: np.ndarray | sp.spmatrix, y: object = None) -> np.ndarray:
        """Fit and return the document-topic matrix ``U diag(S)``."""
        U, S, Vt = self._svd(X)
        self.components_ = Vt
        self.singular_values_ = S
        X = check_array(X, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32])
        total = float(X.multiply(X).sum()) if issparse(X) else float(np.sum(np.square(X, dtype=np.float64)))
        self.explained_variance_ratio_ = S**2 / total if total > 0 else np.zeros_like(S)
        return U * S

    def transform(self, X: np.ndarray | sp.spmatrix) -> np.ndarray:
        """Project documents onto the topics: ``X @ components_.T``."""
        check_is_fitted(self, "components_")
        X = validate_data(self, X, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32], reset=False)
        return np.asarray(X @ self.components_.T)

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "components_")
        return np.asarray(Z) @ self.components_

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
