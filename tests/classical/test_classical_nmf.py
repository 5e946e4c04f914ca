"""nmf() and NMFTopics: agreement, exact recovery, monotone errors, scikit-learn parity, errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.decomposition import NMF
from sklearn.exceptions import NotFittedError

from textkit.classical import NMFTopics, nmf, reconstruction_error

torch = pytest.importorskip("torch")


def _sparse_tfidf_like(seed: int = 0, n: int = 300, m: int = 200) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    topics = rng.random((4, m)) * (rng.random((4, m)) < 0.15)
    weights = rng.dirichlet(np.full(4, 0.3), size=n)
    X = weights @ topics + 0.05 * rng.random((n, m)) * (rng.random((n, m)) < 0.05)
    X[X < 0.02] = 0
    return sp.csr_matrix(X)


def test_nmf_function_and_estimator_agree():
    X = _sparse_tfidf_like()
    W, H = nmf(X, 4, seed=3, max_iter=150)
    model = NMFTopics(n_components=4, random_state=3, max_iter=150)
    W2 = model.fit_transform(X)
    np.testing.assert_array_equal(W2, W)
    np.testing.assert_array_equal(model.components_, H)
    assert model.reconstruction_err_ == pytest.approx(reconstruction_error(X, W, H))
    assert model.n_iter_ <= 150


@pytest.mark.parametrize("solver", ["hals", "mu"])
def test_nmf_recovers_an_exact_nonnegative_factorization(low_rank_nonnegative, solver):
    X, _, _ = low_rank_nonnegative
    W, H, info = nmf(
        X, 4, solver=solver, max_iter=2000 if solver == "mu" else 500, tol=0, dtype="float64", return_info=True
    )
    assert W.min() >= 0 and H.min() >= 0
    relative = np.linalg.norm(X - W @ H) / np.linalg.norm(X)
    assert relative < (2e-2 if solver == "mu" else 1e-4)
    assert info["reconstruction_err"] == pytest.approx(np.linalg.norm(X - W @ H), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("solver", ["hals", "mu"])
def test_nmf_error_never_increases(solver):
    X = _sparse_tfidf_like(1)
    _, _, info = nmf(X, 5, solver=solver, max_iter=60, tol=0, dtype="float64", return_info=True)
    errors = np.array(info["errors"])
    assert len(errors) == 60
    assert np.all(np.diff(errors) <= 1e-9 * errors[0])


def test_nmf_reaches_sklearn_error_on_the_same_matrix():
    X = _sparse_tfidf_like(2)
    ref = NMF(n_components=4, init="nndsvd", random_state=0, max_iter=400).fit(X)
    ours = NMFTopics(n_components=4, tol=1e-6, max_iter=400).fit(X)
    assert ours.reconstruction_err_ <= ref.reconstruction_err_ * (1 + 1e-5)


def test_nmf_sparse_and_dense_input_agree():
    X = _sparse_tfidf_like(3)
    W1, H1 = nmf(X, 3, dtype="float64", max_iter=50, tol=0)
    W2, H2 = nmf(X.toarray(), 3, dtype="float64", max_iter=50, tol=0)
    np.testing.assert_allclose(W1 @ H1, W2 @ H2, rtol=1e-3, atol=1e-6)  # inits differ in float32 rounding


def test_nmf_transform_solves_for_new_documents_row_by_row():
    X = _sparse_tfidf_like(4)
    model = NMFTopics(n_components=4, tol=1e-6, max_iter=500, dtype="float64").fit(X[:250])
    W_new = model.transform(X[250:])
    assert W_new.shape == (50, 4) and W_new.min() >= 0
    np.testing.assert_allclose(model.transform(X[250:260]), W_new[:10], rtol=1e-6, atol=1e-10)
    # the topics explain new documents about as well as training ones
    train_rel = model.reconstruction_err_ / sp.linalg.norm(X[:250])
    new_rel = reconstruction_error(X[250:], W_new, model.components_) / sp.linalg.norm(X[250:])
    assert new_rel < train_rel * 1.5
    # with H fixed, transform is the non-negative least-squares optimum: no coordinate helps
    W_train = model.transform(X[:250])
    assert reconstruction_error(X[:250], W_train, model.components_) <= model.reconstruction_err_ * (1 + 1e-6)


def test_nmf_random_init_and_reproducibility():
    X = _sparse_tfidf_like(5)
    a = nmf(X, 3, init="random", seed=1, max_iter=20)
    b = nmf(X, 3, init="random", seed=1, max_iter=20)
    c = nmf(X, 3, init="random", seed=2, max_iter=20)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])


def test_reconstruction_error_equals_the_dense_norm():
    rng = np.random.default_rng(6)
    X = sp.random(40, 30, density=0.3, random_state=rng, format="csr")
    W, H = rng.random((40, 3)), rng.random((3, 30))
    assert reconstruction_error(X, W, H) == pytest.approx(np.linalg.norm(X.toarray() - W @ H), rel=1e-10)
    assert reconstruction_error(X.toarray(), W, H) == pytest.approx(np.linalg.norm(X.toarray() - W @ H), rel=1e-10)


def test_nmf_bad_input_errors():
    X = _sparse_tfidf_like(7)
    with pytest.raises(ValueError, match="Negative values"):
        nmf(-X, 3)
    with pytest.raises(ValueError, match="Negative values"):
        NMFTopics(n_components=2).fit(X.toarray() - 0.5)
    nan = X.toarray()
    nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        nmf(nan, 3)
    with pytest.raises(ValueError, match="NaN"):
        NMFTopics(n_components=2).fit(nan)
    with pytest.raises(ValueError, match="positive int"):
        nmf(X, 0)
    with pytest.raises(ValueError, match="solver"):
        nmf(X, 2, solver="als")
    with pytest.raises(ValueError, match="custom"):
        nmf(X, 2, init="custom")
    with pytest.raises(ValueError, match="shape"):
        nmf(X, 2, init="custom", W=np.ones((3, 2)), H=np.ones((2, X.shape[1])))
    with pytest.raises(NotFittedError):
        NMFTopics().transform(X)
    model = NMFTopics(n_components=2, max_iter=5).fit(X)
    with pytest.raises(ValueError, match="features"):
        model.transform(X[:, :10])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_nmf_on_cuda_matches_cpu():
    X = _sparse_tfidf_like(8, n=3000, m=2000)
    W_cpu, H_cpu = nmf(X, 5, dtype="float64", max_iter=100, tol=0)
    W_gpu, H_gpu = nmf(X, 5, dtype="float64", max_iter=100, tol=0, device="cuda")
    np.testing.assert_allclose(W_gpu @ H_gpu, W_cpu @ H_cpu, atol=1e-6)
    model = NMFTopics(n_components=5, device="cuda").fit(X)
    assert model.transform(X[:10]).shape == (10, 5)


def _hals_reference(F: np.ndarray, cross: np.ndarray, gram: np.ndarray, n_sweeps: int) -> np.ndarray:
    """Plain HALS on the columns of a tall F (n, k), the textbook update, in float64."""
    F = F.copy()
    for _ in range(n_sweeps):
        for j in range(F.shape[1]):
            step = (cross[:, j] - F @ gram[:, j]) / max(gram[j, j], 1e-12)
            F[:, j] = np.maximum(0.0, F[:, j] + step)
    return F


@pytest.mark.parametrize("dead", [False, True])
def test_hals_sweeps_match_the_column_update(dead):
    from textkit.classical.nmf import _hals_sweeps

    rng = np.random.default_rng(9)
    n, m, k = 40, 30, 4
    X = rng.random((n, m))
    F, G = rng.random((n, k)), rng.random((k, m))
    if dead:  # a component whose G row is zero: F's column must stay as it is, ready to revive
        G[2] = 0.0
    cross, gram = X @ G.T, G @ G.T
    expected = _hals_reference(F, cross, gram, 2)
    wide = torch.tensor(F.T.copy())  # (k, n): the layout nmf() keeps
    got = _hals_sweeps(wide, torch.tensor(cross.T.copy()), torch.tensor(gram), 2, 0.1)
    np.testing.assert_allclose(got.numpy().T, expected, rtol=1e-12, atol=1e-12)
    if dead:
        np.testing.assert_array_equal(got.numpy()[2], F[:, 2])


def test_projected_gradient_is_the_gradient_where_positive_and_its_negative_part_at_zero():
    from textkit.classical.nmf import _projected_gradient_sq

    rng = np.random.default_rng(10)
    F = rng.random((3, 50))
    F[rng.random(F.shape) < 0.3] = 0.0
    cross, gram = rng.random((3, 50)), rng.random((3, 3)) + np.eye(3)
    grad = gram @ F - cross
    projected = np.where(F > 0, grad, np.minimum(grad, 0.0))
    got = _projected_gradient_sq(torch.tensor(F), torch.tensor(cross), torch.tensor(gram))
    assert got == pytest.approx(float(np.sum(projected**2)), rel=1e-12)
    got32 = _projected_gradient_sq(*(torch.tensor(a, dtype=torch.float32) for a in (F, cross, gram)))
    assert got32 == pytest.approx(float(np.sum(projected**2)), rel=1e-5)


@pytest.mark.parametrize("shape", [(5, 7), (7, 5), (12, 30), (30, 12)])
def test_transposed_is_a_contiguous_transpose(shape):
    from textkit.classical.nmf import _transposed

    F = torch.arange(shape[0] * shape[1], dtype=torch.float32).reshape(shape)
    T = _transposed(F)
    assert T.is_contiguous() and torch.equal(T, F.T)


def test_nndsvd_on_the_shared_operator_agrees_with_randomized_svd_init():
    # nmf() runs the init's SVD on the operator its iterations use, with half the QRs
    # (qr_both_sides=False): the same subspace, so the same init up to float32 rounding
    from textkit.classical._torch import MatrixOperator
    from textkit.classical.nmf import _initialize

    X = _sparse_tfidf_like(11)
    operator = MatrixOperator(X, torch.device("cpu"), torch.float32)
    for init in ("nndsvd", "nndsvda"):
        W1, H1 = _initialize(X, 4, init, 5, "cpu", None)
        W2, H2 = _initialize(X, 4, init, 5, "cpu", operator)
        np.testing.assert_allclose(W2, W1, rtol=0, atol=1e-5 * np.abs(W1).max())
        np.testing.assert_allclose(H2, H1, rtol=0, atol=1e-5 * np.abs(H1).max())
