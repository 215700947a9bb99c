"""The generative model: samplers' properties, coherence, seeds, and validation errors."""

import itertools

import numpy as np
import pytest

from lib import model


def test_random_dictionary_has_unit_columns(rng):
    A = model.random_dictionary(20, 50, rng)
    assert A.shape == (20, 50)
    np.testing.assert_allclose(np.linalg.norm(A, axis=0), 1.0, atol=1e-14)


def test_coherence_equals_brute_force_loop(rng):
    A = model.random_dictionary(8, 30, rng)
    brute = max(abs(float(A[:, i] @ A[:, j])) for i, j in itertools.permutations(range(30), 2))
    assert model.coherence(A) == pytest.approx(brute, abs=1e-15)


def test_coherence_of_identity_hadamard_is_one_over_sqrt_n():
    from scipy.linalg import hadamard

    n = 16
    A = np.hstack([np.eye(n), hadamard(n) / np.sqrt(n)])
    assert model.coherence(A) == pytest.approx(1 / np.sqrt(n), abs=1e-15)
    assert model.coherence_exponent(model.coherence(A), 2 * n) == pytest.approx(np.log(4) / np.log(32))


@pytest.mark.parametrize("k", [1, 3, 7, 20])
def test_codes_have_exact_support_size_and_values_in_range(rng, k):
    X = model.sample_codes(20, k, 500, rng, low=0.5, high=2.5)
    assert X.shape == (20, 500)
    np.testing.assert_array_equal((X != 0).sum(axis=0), k)
    nonzero = X[X != 0]
    assert nonzero.min() >= 0.5 and nonzero.max() <= 2.5


def test_supports_are_uniform(rng):
    # every index should appear with frequency k/h; 4 standard errors of a binomial proportion
    h, k, N = 10, 3, 20000
    freq = np.bincount(model.sample_supports(h, k, N, rng).ravel(), minlength=h) / N
    se = np.sqrt((k / h) * (1 - k / h) / N)
    assert np.all(np.abs(freq - k / h) < 4 * se)


def test_sparse_and_dense_codes_are_the_same_draw():
    support, values = model.sample_sparse_codes(30, 4, 50, np.random.default_rng(3))
    X = model.sample_codes(30, 4, 50, np.random.default_rng(3))
    dense = np.zeros((30, 50))
    dense[support.T, np.arange(50)] = values.T
    np.testing.assert_array_equal(X, dense)


def test_perturb_columns_distance_equals_delta(rng):
    A = model.random_dictionary(12, 40, rng)
    W = model.perturb_columns(A, 0.37, rng)
    assert W.shape == (40, 12)
    np.testing.assert_allclose(np.linalg.norm(W - A.T, axis=1), 0.37, atol=1e-12)


def test_same_seed_gives_same_arrays():
    def draw(seed):
        rng = np.random.default_rng(seed)
        A = model.random_dictionary(10, 20, rng)
        return A, model.sample_codes(20, 2, 30, rng), model.perturb_columns(A, 0.1, rng)

    for a, b in zip(draw(7), draw(7)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(draw(7)[0], draw(8)[0])


def test_support_size_rounding_rules():
    assert model.support_size(4096, 0.1) == 2  # 4096**0.1 = 2.297...
    assert model.support_size(4096, 0.1, "ceil") == 3
    assert model.support_size(4096, 0.1, "floor") == 2
    assert model.support_size(256, 0.01) == 1
    assert model.support_size(256, 0.01, "floor") == 1  # clipped to at least 1


def test_model_dataclass_derived_quantities(rng):
    m = model.SparseCodingModel.gaussian(16, 64, 0.5, rng, low=1.0, high=3.0)
    assert (m.n, m.h, m.k) == (16, 64, 8)
    assert m.q == pytest.approx(8 / 64)
    assert m.m1 == pytest.approx(2.0)
    assert m.m2 == pytest.approx((1 + 3 + 9) / 3)
    assert m.mu == pytest.approx(model.coherence(m.A))
    assert m.xi == pytest.approx(-np.log(m.mu) / np.log(64))
    X, Y = m.sample(10, rng)
    np.testing.assert_allclose(Y, m.A @ X)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda r: model.random_dictionary(0, 5, r), "n must be >= 1"),
        (lambda r: model.random_dictionary(5, 2.5, r), "h must be an integer"),
        (lambda r: model.random_dictionary(5, 5, 42), "rng must be a numpy.random.Generator"),
        (lambda r: model.sample_codes(10, 11, 5, r), "k must be <= 10"),
        (lambda r: model.sample_codes(10, 0, 5, r), "k must be >= 1"),
        (lambda r: model.sample_codes(10, 2, 5, r, low=-1.0), "low must be >= 0"),
        (lambda r: model.sample_codes(10, 2, 5, r, low=2.0, high=1.0), "high must be >= low"),
        (lambda r: model.perturb_columns(np.eye(3), -0.1, r), "delta must be >= 0"),
        (lambda r: model.perturb_columns(np.full((3, 3), np.nan), 0.1, r), "A must contain only finite values"),
        (lambda r: model.support_size(100, 1.0), "p must be < 1"),
        (lambda r: model.support_size(100, 0.0), "p must be > 0"),
        (lambda r: model.support_size(100, 0.5, "nearest"), "rounding must be one of"),
        (lambda r: model.coherence(np.ones((3, 1))), "at least 2 columns"),
        (lambda r: model.coherence(2 * np.eye(3)), "unit-norm columns"),
        (lambda r: model.SparseCodingModel(np.eye(3), 1.5), "p must be < 1"),
        (lambda r: model.coherence_exponent(0.0, 10), "mu must be > 0"),
    ],
)
def test_validation_errors_name_the_parameter(rng, call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call(rng)
