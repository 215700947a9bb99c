"""Dictionaries at a fixed coherence: exact Gram entries, fast products against dense ones."""

import numpy as np
import pytest
from scipy.linalg import hadamard

from lib import dictionaries as D
from lib import model


def _levels(G: np.ndarray, n: int) -> set:
    """The distinct |entries| of G times sqrt(n): must be {0, 1, sqrt(n)} exactly (values 0, ±1/sqrt(n), 1)."""
    return set(np.unique(np.abs(G) * np.sqrt(n)).tolist())


def test_fwht_is_the_hadamard_product(rng):
    x = rng.standard_normal((3, 5, 32))
    np.testing.assert_allclose(D.fwht(x), x @ hadamard(32), atol=1e-12)
    with pytest.raises(ValueError, match="power-of-2"):
        D.fwht(np.ones(6))


def _butterfly(x: np.ndarray) -> np.ndarray:
    """The textbook FWHT (log2 n butterfly passes), the reference of the BLAS one."""
    y = np.array(x, dtype=float)
    half = 1
    while half < y.shape[-1]:
        view = y.reshape(y.shape[:-1] + (y.shape[-1] // (2 * half), 2, half))
        first = view[..., 0, :].copy()
        view[..., 0, :] += view[..., 1, :]
        view[..., 1, :] = first - view[..., 1, :]
        half *= 2
    return y


@pytest.mark.parametrize("n", [1, 2, 8, 128, 2048])
def test_fwht_by_blas_agrees_with_the_butterfly(n, rng):
    x = rng.standard_normal((2, 3, n))
    assert np.max(np.abs(D.fwht(x) - _butterfly(x))) <= 1e-12 * np.max(np.abs(_butterfly(x)))
    z = rng.integers(-9, 10, (4, n)).astype(float)
    np.testing.assert_array_equal(D.fwht(z), _butterfly(z))  # exact on integers


@pytest.mark.parametrize("rotate", [False, True])
def test_rows_are_the_atoms(rotate, rng):
    d = D.kerdock(64, 4).randomized(rng, rotate=rotate)
    index = rng.choice(d.h, 40, replace=False)
    np.testing.assert_allclose(d.rows(index), d.dense()[:, index].T, atol=1e-14)
    np.testing.assert_allclose(d.At, d.dense().T, atol=1e-14)
    g = D.gaussian(16, 40, rng)
    np.testing.assert_array_equal(g.rows(index[index < 40]), g.A[:, index[index < 40]].T)


@pytest.mark.parametrize("n", [4, 16, 64])
def test_every_kerdock_basis_gives_exact_gram_entries(n):
    d = D.kerdock(n, D.max_bases(n))
    assert d.h == n * (n + 2) // 2
    A = d.dense()
    G = A.T @ A
    assert _levels(np.round(G * n) / n, n) == {0.0, 1.0, float(np.sqrt(n))}
    assert np.max(np.abs(G - np.round(G * n) / n)) < 1e-12  # no other values, up to rounding of the dense product
    i, j = np.meshgrid(np.arange(d.h), np.arange(d.h), indexing="ij")
    np.testing.assert_array_equal(d.gram(i, j), np.round(G * n) / n)  # the structured entries are exact
    assert d.coherence == 1 / np.sqrt(n)


@pytest.mark.parametrize("n", [256, 1024, 4096, 16384])
def test_large_frames_by_sampled_columns(n, rng):
    """The book's family h = 4n (paper and large scale): sampled atoms, exact entries from the spectra."""
    d = D.kerdock(n, 4).randomized(rng)
    index = rng.choice(d.h, 48, replace=False)
    cols = d.columns(index)
    G = cols.T @ cols
    i, j = np.meshgrid(index, index, indexing="ij")
    exact = d.gram(i, j)
    assert np.max(np.abs(G - exact)) < 1e-12
    assert _levels(exact, n) <= {0.0, 1.0, float(np.sqrt(n))}
    assert d.coherence == 1 / np.sqrt(n)


def test_products_and_randomisation_keep_the_gram(rng):
    base = D.kerdock(64, 5)
    d = base.randomized(rng)
    A, A0 = d.dense(), base.dense()
    y, x = rng.standard_normal((64, 3)), rng.standard_normal((d.h, 2))
    np.testing.assert_allclose(d.rmatvec(y), A.T @ y, atol=1e-12)
    np.testing.assert_allclose(d.matvec(x), A @ x, atol=1e-12)
    np.testing.assert_allclose(d.columns(np.arange(7)), A[:, :7], atol=1e-12)
    G, G0 = A.T @ A, A0.T @ A0
    perm = d.order  # atom c of d is atom order[c] of the frame, up to sign
    np.testing.assert_allclose(np.abs(G), np.abs(G0[np.ix_(perm, perm)]), atol=1e-12)
    assert d.coherence == base.coherence == 1 / 8


def test_identity_hadamard_and_gaussian_share_the_interface(rng):
    d = D.identity_hadamard(32)
    np.testing.assert_array_equal(d.dense(), model.hadamard_dictionary(32))
    assert d.coherence == 1 / np.sqrt(32)
    g = D.gaussian(16, 40, rng)
    assert g.shape == (16, 40) and g.coherence == model.coherence(g.A)
    np.testing.assert_allclose(g.gram(np.arange(3), np.arange(3)), 1.0)
    np.testing.assert_allclose(g.rmatvec(np.ones(16)), g.A.T @ np.ones(16))


@pytest.mark.parametrize("call, match", [
    (lambda: D.kerdock(32, 2), "n must be"),
    (lambda: D.kerdock(64, 34), "bases"),
    (lambda: D.identity_hadamard(12), "power of 2"),
    (lambda: D.kerdock_signs(16, 8), "s"),
])
def test_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()
