"""The closed-form expected proxy gradient against exhaustive enumeration and Monte Carlo."""

import itertools

import numpy as np
import pytest

from lib import autoencoder as ae
from lib import model
from lib.expectation import expected_proxy_gradient, inclusion_probabilities, proxy_decomposition

LOW, HIGH = 0.5, 2.0
M1 = (LOW + HIGH) / 2
M2 = (LOW**2 + LOW * HIGH + HIGH**2) / 3


def _exhaustive(W, A, k, eps):
    """Average of the proxy gradient over every k-subset and every sign pattern of a two-point law.

    Given S the proxy gradient is a polynomial of degree 2 in the nonzeros, so replacing U[LOW, HIGH]
    by independent values m1 ± sd (same mean and second moment) gives its exact conditional mean.
    """
    h = W.shape[0]
    sd = np.sqrt(M2 - M1**2)
    signs = np.array(list(itertools.product([-1.0, 1.0], repeat=k))).T
    total = np.zeros_like(W)
    subsets = list(itertools.combinations(range(h), k))
    for S in subsets:
        X = np.zeros((h, signs.shape[1]))
        X[list(S)] = M1 + sd * signs
        total += ae.proxy_gradient(W, A @ X, X, eps)
    return total / len(subsets)


@pytest.mark.parametrize("n, h, k", [(5, 7, 1), (5, 7, 2), (6, 8, 3), (4, 6, 4), (5, 6, 6)])
@pytest.mark.parametrize("vector_eps", [False, True], ids=["scalar-eps", "vector-eps"])
def test_closed_form_equals_exhaustive_enumeration(rng, n, h, k, vector_eps):
    A = model.random_dictionary(n, h, rng)
    W = model.perturb_columns(A, 0.3, rng)
    eps = rng.uniform(0.0, 0.6, size=h) if vector_eps else 0.35
    exact = _exhaustive(W, A, k, eps)
    closed = expected_proxy_gradient(W, A, k, eps, M1, M2)
    assert np.max(np.abs(closed - exact)) < 1e-12 * max(1.0, np.max(np.abs(exact)))


def test_decomposition_reassembles_the_closed_form(rng):
    A = model.random_dictionary(8, 12, rng)
    W = model.perturb_columns(A, 0.2, rng)
    alpha, beta, e = proxy_decomposition(W, A, 3, 0.4, M1, M2)
    closed = expected_proxy_gradient(W, A, 3, 0.4, M1, M2)
    np.testing.assert_allclose(alpha[:, None] * W - beta[:, None] * A.T + e, closed, atol=1e-13)


def test_k1_matches_the_explicit_formula(rng):
    # appendix §6.2, case k = 1: q[(m2 M_ii^2 - 2 m1 eps M_ii + eps^2) W_i - ((1-|W_i|^2)(m2 M_ii - m1 eps) + m2 M_ii) A_i]
    A = model.random_dictionary(10, 25, rng)
    W = model.perturb_columns(A, 0.25, rng)
    eps, q = 0.3, 1 / 25
    Mii = np.einsum("ij,ji->i", W, A)
    norm2 = np.sum(W**2, axis=1)
    expected = q * (
        (M2 * Mii**2 - 2 * M1 * eps * Mii + eps**2)[:, None] * W
        - ((1 - norm2) * (M2 * Mii - M1 * eps) + M2 * Mii)[:, None] * A.T
    )
    np.testing.assert_allclose(expected_proxy_gradient(W, A, 1, eps, M1, M2), expected, atol=1e-15)


def test_closed_form_agrees_with_monte_carlo(rng):
    n, h, k, eps = 10, 30, 3, 0.4
    A = model.random_dictionary(n, h, rng)
    W = model.perturb_columns(A, 0.3, rng)
    batches = np.array([
        ae.proxy_gradient(W, A @ X, X, eps)
        for X in (model.sample_codes(h, k, 4000, rng, LOW, HIGH) for _ in range(40))
    ])
    mean = batches.mean(axis=0)
    se = batches.std(axis=0, ddof=1) / np.sqrt(len(batches))
    z = np.abs(mean - expected_proxy_gradient(W, A, k, eps, M1, M2)) / se
    assert np.max(z) < 5.5  # 300 entries: the largest of 300 |N(0,1)| exceeds 5.5 with probability ~1e-5
    assert np.mean(z < 4) > 0.99  # and essentially every entry is within 4 standard errors


def test_inclusion_probabilities():
    pi = inclusion_probabilities(10, 3)
    np.testing.assert_allclose(pi, [1, 3 / 10, 3 * 2 / 90, 3 * 2 * 1 / 720, 0.0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"k": 0}, "k must be >= 1"),
        ({"k": 99}, "k must be <= 12"),
        ({"m1": -1.0}, "m1 must be >= 0"),
        ({"m2": 0.5}, "m2 must be >= m1"),
        ({"eps": [0.1, 0.2]}, "eps must be a scalar or have shape"),
    ],
)
def test_validation_errors_name_the_parameter(rng, kwargs, match):
    A = model.random_dictionary(6, 12, rng)
    args = {"W": A.T, "A": A, "k": 2, "eps": 0.1, "m1": 1.5, "m2": 2.5} | kwargs
    with pytest.raises(ValueError, match=match):
        expected_proxy_gradient(**args)
