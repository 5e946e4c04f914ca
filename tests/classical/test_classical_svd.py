"""Randomized SVD (torch) against exact SVD; SVDTopics; sparse input; devices."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from textkit.classical import SVDTopics, exact_svd, randomized_svd

torch = pytest.importorskip("torch")


def _decaying(m: int = 300, n: int = 200, seed: int = 0, decay: float = 0.8) -> np.ndarray:
    """A matrix with singular values 1, decay, decay^2, ... and random singular vectors."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((m, n)))
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return (U * decay ** np.arange(n)) @ V.T


@pytest.mark.parametrize("sparse", [False, True])
def test_randomized_svd_matches_exact_svd(sparse):
    X = _decaying()
    if sparse:
        X = sp.csr_matrix(np.where(np.abs(X) > 1e-3, X, 0.0))
    U, S, Vt = randomized_svd(X, 5, n_iter=4, seed=0, dtype="float64")
    U0, S0, Vt0 = exact_svd(X, 5)
    np.testing.assert_allclose(S, S0, rtol=1e-6)
    np.testing.assert_allclose(np.abs(np.sum(Vt * Vt0, axis=1)), 1.0, atol=1e-5)  # same subspaces
    np.testing.assert_allclose(U.T @ U, np.eye(5), atol=1e-8)
    np.testing.assert_allclose(Vt @ Vt.T, np.eye(5), atol=1e-8)
    dense = X.toarray() if sparse else X
    np.testing.assert_allclose(U * S @ Vt, U0 * S0 @ Vt0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(dense - U * S @ Vt), np.linalg.norm(dense - U0 * S0 @ Vt0), rtol=1e-8)


def test_randomized_svd_power_iterations_and_float32_error():
    """More power iterations, smaller error; float32 is accurate to ~1e-5 relative."""
    X = _decaying(400, 300, seed=1, decay=0.97)
    S0 = exact_svd(X, 5)[1]
    errors = [np.max(np.abs(randomized_svd(X, 5, n_iter=q, dtype="float64")[1] - S0)) / S0[0] for q in (0, 1, 3)]
    assert errors[0] > errors[1] > errors[2]
    S32 = randomized_svd(X, 5, n_iter=8, dtype="float32")[1]
    np.testing.assert_allclose(S32, S0, rtol=1e-4)


def test_exact_and_arpack_agree_and_signs_are_deterministic():
    rng = np.random.default_rng(2)
    X = sp.random(80, 60, density=0.2, random_state=rng, format="csr")
    _, S1, Vt1 = exact_svd(X, 4, method="exact")
    _, S2, Vt2 = exact_svd(X, 4, method="arpack")
    np.testing.assert_allclose(S1, S2, rtol=1e-8)
    np.testing.assert_allclose(Vt1, Vt2, atol=1e-6)
    top = np.abs(Vt1).argmax(axis=1)
    assert np.all(Vt1[np.arange(4), top] > 0)


def test_svd_topics_estimator_transform_and_determinism():
    X = sp.csr_matrix(_decaying(120, 90, seed=3, decay=0.7))
    model = SVDTopics(n_components=4, n_iter=6, dtype="float64", random_state=7)
    Z = model.fit_transform(X)
    np.testing.assert_allclose(model.transform(X), Z, atol=1e-8)  # X V = U S (V exact to rounding here)
    np.testing.assert_allclose(np.linalg.norm(Z, axis=0), model.singular_values_, rtol=1e-8)
    again = SVDTopics(n_components=4, n_iter=6, dtype="float64", random_state=7).fit(X)
    np.testing.assert_array_equal(again.components_, model.components_)
    assert model.explained_variance_ratio_.sum() < 1
    np.testing.assert_allclose(model.inverse_transform(Z), Z @ model.components_)
    for algorithm in ("exact", "arpack"):
        other = SVDTopics(n_components=4, algorithm=algorithm).fit(X)
        np.testing.assert_allclose(other.singular_values_, model.singular_values_, rtol=1e-6)


def test_randomized_svd_never_densifies_sparse_input():
    """10^5 x 10^6 with 3 * 10^5 non-zeros: dense would be 800 GB."""
    rng = np.random.default_rng(4)
    n, m, nnz = 100_000, 1_000_000, 300_000
    X = sp.csr_matrix((rng.random(nnz), (rng.integers(0, n, nnz), rng.integers(0, m, nnz))), shape=(n, m))
    U, S, Vt = randomized_svd(X, 3, n_iter=1)
    assert U.shape == (n, 3) and Vt.shape == (3, m)
    assert np.all(np.diff(S) <= 0) and S[0] > 0


def test_svd_bad_input_errors():
    X = np.random.default_rng(5).random((10, 8))
    with pytest.raises(ValueError, match="n_samples = 10, n_features = 8"):
        randomized_svd(X, 9)
    with pytest.raises(ValueError, match="positive int"):
        randomized_svd(X, 0)
    with pytest.raises(ValueError, match="algorithm"):
        SVDTopics(algorithm="magic").fit(X)
    with pytest.raises(ValueError, match="NaN|infinity"):
        randomized_svd(np.full((5, 5), np.nan), 2)
    model = SVDTopics(n_components=2).fit(X)
    with pytest.raises(ValueError, match="features"):
        model.transform(X[:, :5])
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            randomized_svd(X, 2, device="cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_randomized_svd_on_cuda_matches_cpu():
    rng = np.random.default_rng(6)
    X = sp.random(2000, 1500, density=0.01, random_state=rng, format="csr")
    _, S_cpu, Vt_cpu = randomized_svd(X, 5, n_iter=6, dtype="float64")
    _, S_gpu, Vt_gpu = randomized_svd(X, 5, n_iter=6, dtype="float64", device="cuda")
    np.testing.assert_allclose(S_gpu, S_cpu, rtol=1e-6)
    np.testing.assert_allclose(np.abs(np.sum(Vt_gpu * Vt_cpu, axis=1)), 1.0, atol=1e-4)
    dense = SVDTopics(n_components=3, device="cuda").fit(X.toarray())
    assert dense.components_.shape == (3, 1500)
