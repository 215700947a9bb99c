"""The autoencoder's loss and exact gradients: finite differences, TensorFlow autodiff, the proxy."""

import numpy as np
import pytest

from lib import autodiff, model
from lib import autoencoder as ae


def _instance(rng, n=6, h=10, k=3, N=40, delta=0.4):
    A = model.random_dictionary(n, h, rng)
    W = model.perturb_columns(A, delta, rng)
    X = model.sample_codes(h, k, N, rng, 1.0, 2.0)
    return A, W, X, A @ X


def _biases(h, rng):
    return [0.9, rng.uniform(0.5, 1.5, size=h)]


def _central_differences(W, Y, eps, step=1e-6):
    grad = np.zeros_like(W)
    for idx in np.ndindex(W.shape):
        Wp, Wm = W.copy(), W.copy()
        Wp[idx] += step
        Wm[idx] -= step
        grad[idx] = (ae.loss(Wp, Y, eps) - ae.loss(Wm, Y, eps)) / (2 * step)
    return grad


def _relative_error(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.mark.parametrize("which", [0, 1], ids=["scalar-eps", "vector-eps"])
def test_gradient_matches_central_differences(rng, which):
    A, W, X, Y = _instance(rng)
    eps = _biases(W.shape[0], rng)[which]
    U = W @ Y - np.broadcast_to(np.asarray(eps).reshape(-1, 1) if np.ndim(eps) else eps, (W.shape[0], 1))
    # the point is generic: some units are off, some on, none within reach of the finite-difference step
    assert 0.05 < np.mean(U > 0) < 0.95
    assert np.min(np.abs(U)) > 1e-4
    assert _relative_error(ae.gradient(W, Y, eps), _central_differences(W, Y, eps)) < 1e-6


@pytest.mark.parametrize("which", [0, 1], ids=["scalar-eps", "vector-eps"])
def test_gradient_matches_tensorflow_autodiff(rng, which):
    A, W, X, Y = _instance(rng, n=12, h=30, k=3, N=200)
    eps = _biases(W.shape[0], rng)[which]
    assert 0.05 < np.mean(ae.encode(W, Y, eps) > 0) < 0.95
    value, tf_grad = autodiff.tf_loss_and_gradient(W, Y, eps)
    assert value == pytest.approx(ae.loss(W, Y, eps), rel=1e-12)
    assert _relative_error(ae.gradient(W, Y, eps), tf_grad) < 1e-10


def test_loss_and_reconstruction_agree(rng):
    A, W, X, Y = _instance(rng)
    E = ae.reconstruct(W, Y, 0.7) - Y
    assert ae.loss(W, Y, 0.7) == pytest.approx(0.5 * np.mean(np.sum(E**2, axis=0)), rel=1e-14)
    assert ae.encode(W, Y, 0.7).min() >= 0


def test_gradient_is_mean_over_samples(rng):
    A, W, X, Y = _instance(rng, N=30)
    per_sample = np.mean([ae.gradient(W, Y[:, [s]], 0.8) for s in range(30)], axis=0)
    np.testing.assert_allclose(ae.gradient(W, Y, 0.8), per_sample, rtol=1e-12, atol=1e-14)


def test_proxy_equals_gradient_exactly_on_recovered_samples(rng):
    A, W, X, Y = _instance(rng, n=40, h=60, k=2, N=400, delta=0.1)
    eps = 0.6
    ok = ae.support_recovered(W, Y, X, eps)
    assert 0 < ok.sum() < ok.size  # both kinds of samples are present
    np.testing.assert_array_equal(ae.proxy_gradient(W, Y[:, ok], X[:, ok], eps), ae.gradient(W, Y[:, ok], eps))
    for s in np.flatnonzero(~ok)[:10]:
        diff = ae.proxy_gradient(W, Y[:, [s]], X[:, [s]], eps) - ae.gradient(W, Y[:, [s]], eps)
        assert np.linalg.norm(diff) > 1e-8


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda W, Y, X: ae.gradient(W, Y[:-1], 0.1), r"Y must have shape \(6, any\)"),
        (lambda W, Y, X: ae.gradient(W, Y, np.ones(3)), r"eps must be a scalar or have shape \(10,\)"),
        (lambda W, Y, X: ae.gradient(W, Y, np.nan), "eps must be finite"),
        (lambda W, Y, X: ae.loss(W[0], Y, 0.1), "W must be a 2-d array"),
        (lambda W, Y, X: ae.encode(W, np.where(Y > 0, np.inf, Y), 0.1), "Y must contain only finite values"),
        (lambda W, Y, X: ae.proxy_gradient(W, Y, X[:, :-1], 0.1), r"X must have shape \(10, 40\)"),
        (lambda W, Y, X: ae.loss(W, Y, "big"), "eps must be a real scalar"),
    ],
)
def test_validation_errors_name_the_parameter(rng, call, match):
    A, W, X, Y = _instance(rng)
    with pytest.raises((ValueError, TypeError), match=match):
        call(W, Y, X)


def test_relu_derivative_at_exactly_zero_is_zero():
    """The documented convention: at u_i = 0 the ReLU's derivative is 0, so a unit exactly at its threshold is inactive.

    With W = I, y = e_1 and eps = 1, every pre-activation is u = y - 1 <= 0 and u_1 = 0 exactly; r = 0,
    e = -y, so the gradient is 0 under the convention and -e_1 e_1^T if the derivative at 0 were 1.
    """
    W = np.eye(4)
    Y = np.zeros((4, 1))
    Y[0, 0] = 1.0
    assert (W @ Y - 1.0)[0, 0] == 0.0
    np.testing.assert_array_equal(ae.gradient(W, Y, 1.0), np.zeros((4, 4)))
    np.testing.assert_array_equal(ae.encode(W, Y, 1.0), np.zeros((4, 1)))
