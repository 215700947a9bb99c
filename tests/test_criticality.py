"""Tests of the criticality chapter's formulas (lib.theory.criticality) and experiments (lib.experiments.criticality)."""

from itertools import combinations, product

import numpy as np
import pytest

from lib import autoencoder, estimators, expectation, model
from lib.estimators.statistics import _rms_statistics
from lib.experiments import criticality as ex
from lib.theory import criticality as th

M1, M2 = ex.uniform_moments(1.0, 2.0)


@pytest.fixture
def instance(rng):
    """A small Hadamard instance, h = 16, with an encoder at distance 0.2."""
    A = ex.hadamard_dictionary(8)
    return A, model.perturb_columns(A, 0.2, rng)


# --------------------------------------------------------------------------- formulas


def test_rates_and_radius_follow_their_formulas():
    h = np.array([256.0, 4096.0])
    np.testing.assert_allclose(th.predicted_rate(h, 0.1), h**-0.9)
    np.testing.assert_allclose(th.ball_radius(h, 0.1, 0.3), h**-0.4)
    # Table 1's second entries are h^(p-1) rounded to 4 decimals
    assert round(float(th.predicted_rate(512, 0.1)), 4) == 0.0036


def test_theorem_bias_is_2_m1_hp_beta():
    eps = th.theorem_bias(1024, 0.1, 0.05, 0.03, 1.5)
    assert eps == pytest.approx(2 * 1.5 * 1024**0.1 * 0.08)
    assert th.theorem_bias(1024, 0.1, 0.05, 0.03, 1.5, prefactor=0.5) == pytest.approx(eps / 4)


def test_k1_closed_form_equals_the_general_closed_form(instance):
    A, W = instance
    eps = np.linspace(0.1, 0.9, 16)  # a per-unit bias is allowed too
    np.testing.assert_allclose(
        th.expected_proxy_gradient_k1(W, A, eps, M1, M2), expectation.expected_proxy_gradient(W, A, 1, eps, M1, M2), atol=1e-15
    )
    alpha, beta = th.k1_coefficients(W, A, eps, M1, M2)
    ref_alpha, ref_beta, e = expectation.proxy_decomposition(W, A, 1, eps, M1, M2)
    np.testing.assert_allclose(alpha, ref_alpha, atol=1e-15)
    np.testing.assert_allclose(beta, ref_beta, atol=1e-15)
    assert np.abs(e).max() < 1e-15


def test_gradient_at_the_dictionary_is_q_eps_eps_minus_2m1_times_the_atom():
    A = ex.hadamard_dictionary(16)
    h, eps = A.shape[1], 0.4
    G = th.expected_proxy_gradient_k1(A.T, A, eps, M1, M2)
    np.testing.assert_allclose(G, eps * (eps - 2 * M1) / h * A.T, atol=1e-15)
    norms = np.linalg.norm(G, axis=1)
    np.testing.assert_allclose(norms, th.first_order_norm(1 / h, eps, M1, M2, 0.0), rtol=1e-13)


def test_first_order_norm_is_first_order_accurate(rng):
    A = ex.hadamard_dictionary(512)  # large n: a random direction d_i is almost orthogonal to A_i
    h = A.shape[1]

    def rms_relative_error(eps, delta):
        W = model.perturb_columns(A, delta, rng)
        exact = np.linalg.norm(th.expected_proxy_gradient_k1(W, A, eps, M1, M2), axis=1)
        return np.sqrt(np.mean((exact / th.first_order_norm(1 / h, eps, M1, M2, delta) - 1) ** 2))

    for delta in (0.02, 0.04):
        assert rms_relative_error(0.3, delta) < delta  # the neglected terms are O(delta) relative
    # with eps = 0 the neglected A_i-component 3 m2 delta <d_i, A_i> is O(1/sqrt n) relative
    assert rms_relative_error(0.0, 0.02) < 3 / np.sqrt(512)


def test_reconstructed_bound_is_rate_times_a_vanishing_factor():
    h = np.array([2.0**10, 2.0**14, 2.0**20])
    ratio = th.reconstructed_bound(h, 0.1, 0.3, 0.5, M1, M2) / th.predicted_rate(h, 0.1)
    assert np.all(np.diff(ratio) < 0)
    assert th.reconstructed_bound(2.0**10, 0.1, 0.3, 0.5, M1, M2) == pytest.approx(
        2.0**-9.0 * (9.0 * (2.0**-3 + 2.0**-4) + M2 * 2.0**-4)
    )


def test_cauchy_schwarz_bound():
    assert th.cauchy_schwarz_bound(4.0, 0.25) == pytest.approx(1.0)
    assert th.cauchy_schwarz_bound(4.0, 0.0) == 0.0


def _enumerated_preactivations(W, A, k, eps, low, high):
    """u = M x - eps for every support and every corner of [low, high]^k (linear in x: extremes are at corners)."""
    h = W.shape[0]
    M = W @ A
    on, off = np.full(h, np.inf), np.full(h, -np.inf)
    for support in combinations(range(h), k):
        inside = np.zeros(h, dtype=bool)
        inside[list(support)] = True
        for corner in product((low, high), repeat=k):
            u = M[:, list(support)] @ np.array(corner) - eps
            on = np.where(inside, np.minimum(on, u), on)
            off = np.where(inside, off, np.maximum(off, u))
    return on, off


@pytest.mark.parametrize("k", [1, 2, 3])
def test_recovery_margins_are_the_exact_worst_cases(instance, k):
    A, W = instance
    on, off = th.recovery_margins(W, A, k, 0.3, 1.0, 2.0)
    ref_on, ref_off = _enumerated_preactivations(W, A, k, 0.3, 1.0, 2.0)
    np.testing.assert_allclose(on, ref_on, atol=1e-12)
    np.testing.assert_allclose(off, ref_off, atol=1e-12)


def test_certified_recovery_makes_true_and_proxy_gradients_equal(rng):
    A = ex.hadamard_dictionary(32)
    W = model.perturb_columns(A, 0.05, rng)
    eps, values = 0.775, ex.two_point_values(1.0, 2.0)
    on, off = th.recovery_margins(W, A, 2, eps, *values)
    assert on.min() > 0 and off.max() <= 0
    X = ex.enumerate_codes(64, 2, values)
    Y = A @ X
    assert autoencoder.support_recovered(W, Y, X, eps).all()
    np.testing.assert_allclose(autoencoder.gradient(W, Y, eps), expectation.expected_proxy_gradient(W, A, 2, eps, M1, M2), atol=1e-13)


# --------------------------------------------------------------------------- experiments


def test_hadamard_dictionary_has_coherence_one_over_root_n():
    A = ex.hadamard_dictionary(64)
    assert A.shape == (64, 128)
    np.testing.assert_allclose(np.linalg.norm(A, axis=0), 1.0)
    assert model.coherence(A) == pytest.approx(1 / 8)


def _twin_samples(h, k, N, batches, seed, low=1.0, high=2.0):
    """The codes sampled_gradient draws with default_rng(seed): one sample_sparse_codes call per batch."""
    rng = np.random.default_rng(seed)
    parts = [model.sample_sparse_codes(h, k, N // batches, rng, low, high) for _ in range(batches)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


@pytest.mark.parametrize("kind", estimators.KINDS)
def test_monte_carlo_mean_is_the_exact_mean_gradient_on_its_samples(instance, kind):
    A, W = instance
    h, k, N, B, eps = 16, 3, 600, 4, 0.4
    est = estimators.sampled_gradient(W, A, k, eps, N, np.random.default_rng(9), batches=B, kind=kind, second_moment=True)
    support, values = _twin_samples(h, k, N, B, 9)
    X = np.zeros((h, N))
    X[support.T, np.arange(N)] = values.T
    Y = A @ X
    true, proxy = autoencoder.gradient(W, Y, eps), autoencoder.proxy_gradient(W, Y, X, eps)
    np.testing.assert_allclose(est.mean, {"true": true, "proxy": proxy, "gap": true - proxy}[kind], atol=1e-13)
    assert est.failure_rate == pytest.approx(1 - autoencoder.support_recovered(W, Y, X, eps).mean())
    per_sample = [
        autoencoder.gradient(W, Y[:, [s]], eps) - autoencoder.proxy_gradient(W, Y[:, [s]], X[:, [s]], eps) for s in range(N)
    ]
    assert est.second_moment == pytest.approx(np.mean([np.vdot(d, d) for d in per_sample]), rel=1e-10)
    assert est.samples == N


def test_monte_carlo_agrees_with_the_closed_form_within_its_errors(instance, rng):
    A, W = instance
    est = estimators.sampled_gradient(W, A, 2, 0.4, 40000, rng, kind="proxy", batches=20)
    exact = expectation.expected_proxy_gradient(W, A, 2, 0.4, M1, M2)
    rms = np.sqrt(np.vdot(exact, exact) / 16)
    assert abs(est.rms - rms) < 4 * est.rms_se
    assert est.rms_se < 0.02 * rms  # the errors are small enough that a wrong formula would show
    z = (est.mean - exact) / est.entry_se
    assert np.mean(np.abs(z) > 3) < 0.02


def test_bias_corrected_norm_removes_the_upward_bias(instance, rng):
    A, W = instance
    exact = expectation.expected_proxy_gradient(W, A, 2, 0.4, M1, M2)
    target = np.vdot(exact, exact) / 16
    corrected, naive = [], []
    for _ in range(40):  # small N: the plain squared norm of the mean is visibly biased upward
        est = estimators.sampled_gradient(W, A, 2, 0.4, 300, rng, kind="proxy", batches=10)
        corrected.append(est.rms**2)
        naive.append(np.vdot(est.mean, est.mean) / 16)
    corrected, naive = np.array(corrected), np.array(naive)
    assert abs(corrected.mean() - target) < 4 * corrected.std(ddof=1) / np.sqrt(40)
    assert naive.mean() - target > 8 * naive.std(ddof=1) / np.sqrt(40)


def test_enumerate_codes_covers_every_support_and_value():
    X = ex.enumerate_codes(5, 2, (1.0, 3.0))
    assert X.shape == (5, 10 * 4)
    assert np.all((X != 0).sum(axis=0) == 2)
    assert np.mean(X[X != 0]) == pytest.approx(2.0)
    lo, hi = ex.two_point_values(1.0, 2.0)
    assert (lo + hi) / 2 == pytest.approx(M1) and (lo**2 + hi**2) / 2 == pytest.approx(M2)


def test_autodiff_comparison_agrees_to_rounding(rng):
    result = ex.autodiff_comparison(8, 1, 0.05, 0.925, 3000, rng, batches=10)
    assert result.certified and result.samples == 16 * 2
    np.testing.assert_allclose(result.autodiff, result.numpy_exact, atol=1e-13)
    np.testing.assert_allclose(result.autodiff, result.closed_form, atol=1e-13)


def test_criticality_sweep_is_consistent(rng):
    s = ex.criticality_sweep([64, 128], [0.05, 0.3], 0.5, 2, 3000, rng, batches=10)
    assert s.ball.shape == (2, 2, 2) and s.certified.shape == (2, 2, 3)
    np.testing.assert_array_equal(s.k, [[1, 1], [3, 4]])
    np.testing.assert_allclose(s.delta[0], np.array([64, 128]) ** -0.55)
    np.testing.assert_allclose(s.eps[0], 2 * M1 * np.array([64, 128]) ** 0.05 * (s.delta[0] + s.mu))
    np.testing.assert_allclose(s.q, s.k / np.array([64, 128]))
    # at A* with k = 1 the closed form is q eps (2 m1 - eps) (every row has this norm)
    np.testing.assert_allclose(s.dictionary[0], th.first_order_norm(s.q[0], s.eps[0], M1, M2, 0.0), rtol=1e-12)
    assert np.all(s.e_norm[0] == 0) and np.all(s.e_norm[1] > 0)
    good = s.certified[:, :, 1]
    assert good.any()
    assert np.all(np.abs(s.mc - s.ball[:, :, 0])[good] < 4 * s.mc_se[good])


def test_proxy_gap_sweep_respects_cauchy_schwarz(rng):
    s = ex.proxy_gap_sweep([64, 256], 0.1, 0.4, 0.5, 4000, rng, batches=10)
    assert np.all((0 <= s.failure) & (s.failure <= 1)) and s.failure[0] > 0
    assert np.all(s.gap <= s.bound + 3 * s.gap_se)
    assert np.all(s.proxy > 0)


def test_decomposition_at_reassembles_the_closed_form(rng):
    d = ex.decomposition_at(32, 0.3, 0.1, 0.3, rng)
    np.testing.assert_allclose(d.gradient, expectation.expected_proxy_gradient(d.W, d.A, 3, 0.3, M1, M2), atol=1e-15)
    assert d.q == 3 / 32


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: th.predicted_rate(256, 1.0), "p"),
        (lambda: th.predicted_rate(0, 0.5), "h"),
        (lambda: th.ball_radius(256, 0.1, 0.0), "nu"),
        (lambda: th.theorem_bias(256, 0.1, -0.1, 0.1, 1.5), "delta"),
        (lambda: th.theorem_bias(256, 0.1, 0.1, 2.0, 1.5), "mu"),
        (lambda: th.theorem_bias(256, 0.1, 0.1, 0.1, 1.5, prefactor=0.0), "prefactor"),
        (lambda: th.first_order_norm(0.0, 0.1, 1.5, 2.0, 0.1), "q"),
        (lambda: th.first_order_norm(0.1, 0.1, 1.5, 2.0, -1.0), "delta"),
        (lambda: th.reconstructed_bound(256, 0.1, 0.3, 0.0, 1.5, 2.0), "xi"),
        (lambda: th.cauchy_schwarz_bound(1.0, 1.5), "failure_probability"),
        (lambda: th.cauchy_schwarz_bound(-1.0, 0.5), "second_moment"),
        (lambda: th.recovery_margins(np.eye(4), np.eye(4), 0, 0.1, 1.0, 2.0), "k"),
        (lambda: th.recovery_margins(np.eye(4), np.eye(4), 1, 0.1, 2.0, 1.0), "high"),
        (lambda: th.k1_coefficients(np.eye(4), np.eye(3), 0.1, 1.5, 2.0), "A"),
        (lambda: ex.hadamard_dictionary(6), "n"),
        (lambda: ex.enumerate_codes(4, 5, (1.0,)), "k"),
        (lambda: ex.enumerate_codes(4, 2, ()), "values"),
        (lambda: ex.two_point_values(2.0, 1.0), "high"),
    ],
)
def test_validation_names_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "kwargs, match",
    [({"kind": "other"}, "kind"), ({"batches": 2}, "batches"), ({"N": 10}, "N"), ({"rng": 1}, "rng")],
)
def test_monte_carlo_validation(instance, kwargs, match):
    A, W = instance
    args = {"N": 100, "rng": np.random.default_rng(0), **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        estimators.sampled_gradient(W, A, 2, 0.4, args.pop("N"), args.pop("rng"), **args)
        ex.monte_carlo_gradient(W, A, 2, 0.4, args.pop("N"), args.pop("rng"), **args)


def test_first_order_norm_uses_the_k1_tangential_coefficient():
    """first_order_norm is k1_prediction's formula: tangential coefficient (m2 - 2 m1 eps + eps^2) delta, not m2 delta.

    Expanding the k = 1 closed form gives the former (issue 12: at eps = 0.5, delta = 0.3 the m2 delta form was
    11 % further from the exact value).  At eps = 2 m1 only the tangential term is left.
    """
    from lib.experiments import simulations as sim

    h = 64
    for eps, delta in [(0.5, 0.3), (0.2, 0.05), (2 * M1, 0.3), (1.0, 0.0)]:
        assert th.first_order_norm(1 / h, eps, M1, M2, delta) == pytest.approx(
            sim.k1_prediction(h, eps, delta, 1.0, 2.0), rel=1e-13)
    assert th.first_order_norm(1 / h, 2 * M1, M1, M2, 0.3) == pytest.approx(M2 * 0.3 / h, rel=1e-13)


def _batch_gradients(rng, B=8, h=6, n=4):
    mean = rng.standard_normal((h, n))
    return [mean + 0.3 * rng.standard_normal((h, n)) for _ in range(B)]


def test_entry_standard_errors_use_b_minus_one(rng):
    gs = _batch_gradients(rng)
    mean, entry_se, _, _ = _rms_statistics(lambda b: gs[b], len(gs))
    stack = np.stack(gs)
    np.testing.assert_allclose(mean, stack.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(entry_se, stack.std(axis=0, ddof=1) / np.sqrt(len(gs)), rtol=1e-10)


def test_rms_standard_error_matches_a_brute_force_jackknife(rng):
    """The RMS norm's s.e. (delta method on the jackknifed squared norm) against a brute-force jackknife of the RMS itself."""
    gs = _batch_gradients(rng, B=12)
    B, h = len(gs), gs[0].shape[0]
    _, _, rms, rms_se = _rms_statistics(lambda b: gs[b], B)

    def unbiased_rms(batch):
        total = sum(batch)
        pairs = np.vdot(total, total) - sum(np.vdot(g, g) for g in batch)
        return np.sqrt(pairs / (len(batch) * (len(batch) - 1)) / h)

    assert rms == pytest.approx(unbiased_rms(gs), rel=1e-12)
    leave_out = np.array([unbiased_rms(gs[:b] + gs[b + 1:]) for b in range(B)])
    jackknife = np.sqrt((B - 1) / B * np.sum((leave_out - leave_out.mean()) ** 2))
    assert rms_se == pytest.approx(jackknife, rel=0.05)


@pytest.mark.parametrize("h", [9, 12, 6])
def test_hadamard_experiments_reject_an_h_that_is_not_a_power_of_2(h, rng):
    """h = 9 used to build the size-8 dictionary and report q = k/9 (issue 12): refused up front, naming h."""
    with pytest.raises(ValueError, match=r"\bh must hold powers of 2"):
        ex.decomposition_at(h, 0.3, 0.1, 0.5, rng)
    with pytest.raises(ValueError, match="h_values must hold powers of 2"):
        ex.criticality_sweep([h], [0.1], 0.3, 1, 60, rng, batches=3)
    with pytest.raises(ValueError, match="h_values must hold powers of 2"):
        ex.proxy_gap_sweep([h], 0.1, 0.3, 0.5, 60, rng, batches=3)
