"""``issparse`` as a type guard.

scipy ships no type information, so to mypy ``np.ndarray | sp.spmatrix`` is ``np.ndarray | Any``
and ``sp.issparse(X)`` narrows nothing: the sparse branch (``X.tocsr()``, ``X.data``) would be
checked as if X were an ndarray. ``issparse`` here is ``sp.issparse`` that tells mypy so.
"""

from __future__ import annotations

from typing import TypeGuard

import scipy.sparse as sp


def issparse(X: object) -> TypeGuard[sp.spmatrix]:
    """``scipy.sparse.issparse(X)``: True for any scipy sparse matrix or array."""
    return bool(sp.issparse(X))
