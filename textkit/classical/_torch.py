"""Moving matrices between scipy/numpy and torch (CPU or CUDA). Imported lazily by svd/nmf."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
import torch

from textkit._device import resolve_device  # noqa: F401 - re-exported for svd/nmf
from textkit.classical._sparse import issparse

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    return DTYPES[dtype]


def to_torch(X: np.ndarray | sp.spmatrix, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """A dense tensor, or a sparse CSR tensor for scipy sparse input (never densified)."""
    if issparse(X):
        X = X.tocsr()
        index_dtype = (
            torch.int32 if X.nnz < np.iinfo(np.int32).max and max(X.shape) < np.iinfo(np.int32).max else torch.int64
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
            return torch.sparse_csr_tensor(
                torch.from_numpy(np.ascontiguousarray(X.indptr)).to(index_dtype),
                torch.from_numpy(np.ascontiguousarray(X.indices)).to(index_dtype),
                torch.from_numpy(np.ascontiguousarray(X.data)).to(dtype),
                size=X.shape,
                check_invariants=False,  # scipy's CSR is already valid; checking costs a pass over X
            ).to(device)
    return torch.tensor(np.asarray(X), dtype=dtype, device=device)  # a copy: X may be a read-only memmap


def sparse_and_transpose(
    X: np.ndarray | sp.spmatrix, device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(X, X.T)`` as torch tensors. For sparse X both are CSR, so ``X @ B`` and ``X.T @ B``
    are row-parallel products; for dense X the transpose is a view."""
    if issparse(X):
        X = X.tocsr()
        return to_torch(X, device, dtype), to_torch(X.T.tocsr(), device, dtype)
    A = to_torch(X, device, dtype)
    return A, A.T


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().to("cpu", torch.float64).numpy()


def _c_contiguous(B: torch.Tensor) -> torch.Tensor:
    """``B.contiguous()`` for a CPU tensor, copied by numpy when needed: for the column-major Q
    of a QR, (17473, 15) float32, numpy's copy took 116 us and torch's 218 (one thread)."""
    if B.is_contiguous():
        return B
    return torch.from_numpy(np.ascontiguousarray(B.numpy()))


class MatrixOperator:
    """A fixed matrix X (dense or sparse) applied to torch tensors: ``mm(B) = X @ B``, ``tmm(B) = X^T @ B``.

    Sparse X on CPU picks the faster kernel per product, by the width of B: torch's CSR kernels
    for narrow operands (the k columns of NMF, the k + p of randomized SVD), scipy's for wide
    ones. On the 2-core development machine (torch 2.13, scipy 1.17, BBC tf-idf, one thread),
    ``X @ B`` took 0.33 ms in torch vs 1.03 ms in scipy at 5 columns (float32), 0.75 vs 1.40 at
    15, but 9.3 vs 7.9 at 50; torch's CSR copy of ``X^T`` beats scipy's CSC view up to 50
    columns in float32 and 15 in float64. The torch copies are built on first use. On CUDA, X
    lives on the GPU as torch CSR copies of X and X^T. Dense X is a torch tensor on any device.
    """

    # widest B for which torch's CPU CSR kernels win, per (dtype, product)
    TORCH_MAX_COLUMNS = {("float32", "mm"): 16, ("float32", "tmm"): 50, ("float64", "mm"): 8, ("float64", "tmm"): 15}

    def __init__(self, X: np.ndarray | sp.spmatrix, device: torch.device, dtype: torch.dtype) -> None:
        self.shape = X.shape
        self.device, self.dtype = device, dtype
        self._scipy: sp.csr_matrix | None = None
        self._torch_csr: dict[str, torch.Tensor] = {}
        if issparse(X) and device.type == "cpu":
            np_dtype = np.float32 if dtype == torch.float32 else np.float64
            self._scipy = X.tocsr().astype(np_dtype, copy=False)
            self._scipy_t = self._scipy.T  # CSC view: no copy
            self._dtype_name = np.dtype(np_dtype).name
        else:
            self._A, self._At = sparse_and_transpose(X, device, dtype)

    def _torch_kernel(self, which: str, width: int) -> torch.Tensor | None:
        if width > self.TORCH_MAX_COLUMNS.get((self._dtype_name, which), 0):
            return None
        if which not in self._torch_csr:
            matrix = self._scipy if which == "mm" else self._scipy_t.tocsr()
            self._torch_csr[which] = to_torch(matrix, self.device, self.dtype)
        return self._torch_csr[which]

    def mm(self, B: torch.Tensor) -> torch.Tensor:
        """``X @ B`` for B of shape (n_features, r)."""
        if self._scipy is not None:
            kernel = self._torch_kernel("mm", B.shape[1])
            if kernel is not None:
                return kernel @ _c_contiguous(B)
            return torch.from_numpy(np.ascontiguousarray(self._scipy @ B.numpy()))
        return self._A @ B

    def tmm(self, B: torch.Tensor) -> torch.Tensor:
        """``X^T @ B`` for B of shape (n_samples, r)."""
        if self._scipy is not None:
            kernel = self._torch_kernel("tmm", B.shape[1])
            if kernel is not None:
                return kernel @ _c_contiguous(B)
            return torch.from_numpy(np.ascontiguousarray(self._scipy_t @ B.numpy()))
        return self._At @ B


@contextlib.contextmanager
def cpu_threads(device: torch.device, n_threads: int | None) -> Iterator[None]:
    """Run a block with ``n_threads`` torch CPU threads (restored afterwards); no-op on CUDA or for None.

    The SVD and NMF iterations on CPU are many small ops on (k, n) tensors: OpenMP's fork/join
    costs more than a second core saves, and on a busy machine a 96 us Gram matrix took 25 ms
    with two threads (measured). torch's thread count is process-wide, so this is not safe to
    use from several Python threads at once.
    """
    if device.type != "cpu" or n_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
