"""Tests of Theorem 3.1's formulas (lib.theory.support) and experiments (lib.experiments.support)."""

import copy
import itertools

import numpy as np
import pytest
from scipy.linalg import hadamard
from scipy.optimize import minimize_scalar
from scipy.stats import binomtest

from lib import autoencoder, model
from lib.experiments import support as ex
from lib.theory import support as th

# --------------------------------------------------------------------------- theory


def test_ball_radius_and_support_bound():
    assert th.ball_radius(1024, 0.1, 0.3) == pytest.approx(1024**-0.4, rel=1e-15)
    # h = 512, p = 0.1: h^p = 1.866 rounds up to k = 2, so K = k; h = 2048: k = 2 <= h^p = 2.14.
    assert th.support_bound(512, 0.1, model.support_size(512, 0.1)) == 2.0
    assert th.support_bound(2048, 0.1, model.support_size(2048, 0.1)) == pytest.approx(2048**0.1)


def test_eq4_bounds_hold_for_random_encoders(rng):
    for n, h, delta in [(16, 64, 0.05), (32, 128, 0.3), (64, 96, 0.9)]:
        A = model.random_dictionary(n, h, rng)
        W = model.perturb_columns(A, delta, rng)
        M = W @ A
        beta = th.inner_product_bound(delta, model.coherence(A))
        cross = np.abs(M - np.diag(np.diag(M))).max()
        assert cross <= beta + 1e-12
        assert np.all(np.abs(np.diag(M) - 1) <= delta + 1e-12)


def test_bias_formula_and_vectorisation():
    assert th.bias(1.5, 2.0, 0.1) == pytest.approx(2 * 1.5 * 2 * 0.1)
    out = th.bias(1.5, 2.0, 0.1, np.array([0.5, 1.0, 2.0]))
    np.testing.assert_allclose(out, [0.15, 0.3, 0.6])
    # the simulations chapter's default: half the theorem's bias; appendix §8: 0.5 m1 k mu
    assert th.simulation_bias(1.5, 1024, 0.1, 0.3) == pytest.approx(0.5 * 2 * 1.5 * 1024**0.1 * 0.3)
    assert th.illustrative_bias(1.5, 2, 0.3) == pytest.approx(0.5 * 1.5 * 2 * 0.3)


def test_simulation_bias_matches_the_simulations_chapter():
    simulations = pytest.importorskip("lib.experiments.simulations")
    settings = simulations.Settings()
    assert settings.bias(1024, 0.1, 0.3, 0.1) == pytest.approx(th.simulation_bias(settings.m1, 1024, 0.1, 0.4), rel=1e-14)


def test_margin_condition_implies_floor_above_bias(rng):
    hits = 0
    for _ in range(2000):
        delta, beta = rng.uniform(0, 0.3), rng.uniform(0, 0.3)
        K, low = rng.uniform(1, 4), rng.uniform(0.1, 2)
        high = low + rng.uniform(0.01, 3)
        m1 = rng.uniform(low, high)
        if th.margin_condition(delta, beta, K, low, high, m1):
            hits += 1
            assert th.on_support_floor(delta, beta, K, low, high) > th.bias(m1, K, beta)
    assert hits > 100  # the loop exercised the implication


def test_floor_and_ceiling_bound_every_preactivation(rng):
    n, h, k, delta, low, high = 32, 128, 4, 0.2, 1.0, 3.0
    A = model.random_dictionary(n, h, rng)
    W = model.perturb_columns(A, delta, rng)
    beta = th.inner_product_bound(delta, model.coherence(A))
    X = model.sample_codes(h, k, 4000, rng, low, high)
    Q = W @ (A @ X)
    assert Q[X != 0].min() >= th.on_support_floor(delta, beta, k, low, high) - 1e-12
    assert Q[X == 0].max() <= th.off_support_ceiling(beta, k, high) + 1e-12


def test_optimal_t_minimises_chernoff_and_gives_hoeffding_bound():
    args = dict(eps=3.0, s=4.0, beta=0.25, m1=2.0, m_min=1.0, m_max=10.0)
    t_star = th.optimal_t(**args)
    assert t_star > 0
    assert th.chernoff_hoeffding(t_star, **args) == pytest.approx(th.hoeffding_bound(**args), rel=1e-12)
    grid = np.linspace(0.0, 4 * t_star, 2001)
    assert np.all(th.chernoff_hoeffding(grid, **args) >= th.hoeffding_bound(**args) * (1 - 1e-12))


def test_simplified_bound_is_the_worst_case_over_support_sizes():
    K, m1, low, high, beta = 7.0, 2.0, 1.0, 10.0, 0.05
    for c in (1.5, 2.0, 3.0):
        eps = th.bias(m1, K, beta, c)
        simplified = th.simplified_bound(K, m1, low, high, c)
        s = np.arange(1, 8)
        bounds = th.hoeffding_bound(eps, s, beta, m1, low, high)
        assert bounds[-1] == pytest.approx(simplified, rel=1e-12)  # s = K
        assert np.all(bounds <= simplified * (1 + 1e-12))
    # the theorem's form: exp(-2 h^p m1^2 / (m_max - m_min)^2) at c = 2
    assert th.simplified_bound(K, m1, low, high) == pytest.approx(np.exp(-2 * K * m1**2 / 81))


def test_hoeffding_bound_is_trivial_without_a_gap_and_union_bound_caps():
    assert th.hoeffding_bound(0.5, 2.0, 0.25, 1.0, 0.5, 2.0) == 1.0  # eps = s beta m1
    assert th.union_bound(1000, 0.01) == 1.0
    assert th.union_bound(10, 0.01) == pytest.approx(0.1)


def test_two_point_tail_against_enumeration():
    low, high, m1 = 1.0, 10.0, 2.0
    pi = (m1 - low) / (high - low)
    for k in (1, 2, 5):
        for threshold in (3.0, 4.0 * k, 10.0 * k + 1):
            exact = 0.0
            for bits in itertools.product((0, 1), repeat=k):
                if sum(low + (high - low) * b for b in bits) >= threshold:
                    exact += pi ** sum(bits) * (1 - pi) ** (k - sum(bits))
            assert th.two_point_tail(threshold, k, low, high, m1) == pytest.approx(exact, abs=1e-15)


def test_two_point_chernoff_is_the_infimum_and_lies_between_tail_and_hoeffding():
    low, high, m1 = 1.0, 10.0, 2.0
    pi = (m1 - low) / (high - low)
    for k in (8, 16, 32, 64):
        threshold = 2 * m1 * k
        log_mgf = lambda tau: np.log((1 - pi) * np.exp(tau * low) + pi * np.exp(tau * high))  # noqa: E731
        best = minimize_scalar(lambda tau: -tau * threshold + k * log_mgf(tau), bounds=(0, 5), method="bounded")
        chernoff = th.two_point_chernoff(threshold, k, low, high, m1)
        assert chernoff == pytest.approx(np.exp(best.fun), rel=1e-6)
        tail = th.two_point_tail(threshold, k, low, high, m1)
        hoeffding = th.simplified_bound(k, m1, low, high)
        assert tail <= chernoff <= hoeffding


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: th.ball_radius(64, 0.1, 0.0), "nu"),
        (lambda: th.ball_radius(64, 1.0, 0.3), "p"),
        (lambda: th.support_bound(8, 0.5, 9), "k"),
        (lambda: th.inner_product_bound(-0.1, 0.2), "delta"),
        (lambda: th.bias(1.0, 2.0, 0.1, -1.0), "prefactor"),
        (lambda: th.on_support_floor(0.1, 0.1, 0.5, 1.0, 2.0), "K"),
        (lambda: th.margin_condition(0.1, 0.1, 2.0, 1.0, 2.0, 3.0), "m1"),
        (lambda: th.hoeffding_bound(1.0, 2.0, 0.1, 1.5, 2.0, 2.0), "m_max"),
        (lambda: th.hoeffding_bound(-1.0, 2.0, 0.1, 1.5, 1.0, 2.0), "eps"),
        (lambda: th.hoeffding_bound(1.0, 0.0, 0.1, 1.5, 1.0, 2.0), "s"),
        (lambda: th.chernoff_hoeffding(-1.0, 1.0, 2.0, 0.1, 1.5, 1.0, 2.0), "t"),
        (lambda: th.simplified_bound(2.0, 1.5, 1.0, 2.0, prefactor=1.0), "prefactor"),
        (lambda: th.union_bound(0, 0.1), "h"),
        (lambda: th.two_point_tail(3.0, 2.5, 1.0, 10.0, 2.0), "k"),
    ],
)
def test_theory_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_theory_type_errors():
    with pytest.raises(TypeError, match="eps"):
        th.hoeffding_bound("big", 2.0, 0.1, 1.5, 1.0, 2.0)
    with pytest.raises(ValueError, match="h must be an integer"):
        th.ball_radius(64.5, 0.1, 0.3)  # an integral float (64.0) is accepted, a fraction is not


# --------------------------------------------------------------------------- experiments


def test_hadamard_dictionary_and_fast_products(rng):
    A = ex.hadamard_dictionary(32)
    assert A.shape == (32, 64)
    np.testing.assert_allclose(np.linalg.norm(A, axis=0), 1.0, atol=1e-15)
    assert model.coherence(A) == pytest.approx(1 / np.sqrt(32), abs=1e-15)
    X = rng.standard_normal((5, 32))
    np.testing.assert_allclose(ex._fwht(X), X @ hadamard(32), atol=1e-12)
    W = model.perturb_columns(A, 0.1, rng)
    np.testing.assert_allclose(ex._hadamard_products(W, block=7), (W @ A).T, atol=1e-13)
    with pytest.raises(ValueError, match="n"):
        ex.hadamard_dictionary(24)


def test_inner_products(rng):
    A = model.random_dictionary(24, 80, rng)
    result = ex.inner_products(A, 0.2, rng, bins=50)
    assert result.cross_max <= result.beta
    assert result.counts.sum() == 80 * 79  # the edges cover every off-diagonal inner product
    assert np.all(np.abs(result.diagonal - 1) <= 0.2 + 1e-12)
    assert result.beta == pytest.approx(0.2 + model.coherence(A))


def test_decomposition_is_an_identity(rng):
    A = model.random_dictionary(20, 50, rng)
    W = model.perturb_columns(A, 0.3, rng)
    support, values = model.sample_sparse_codes(50, 4, 30, rng)
    assert ex.decomposition_residual(W, A, support, values) < 1e-12
    with pytest.raises(ValueError, match="support"):
        ex.decomposition_residual(W, A, support + 50, values)


def _direct_rates(W, A, support, values, eps):
    """False-negative and false-positive rates and exact-recovery rate, from lib.autoencoder."""
    h, N = W.shape[0], support.shape[0]
    X = np.zeros((h, N))
    X[support.T, np.arange(N)] = values.T
    Y = A @ X
    fire = autoencoder.encode(W, Y, eps) > 0
    on = X != 0
    return 1 - fire[on].mean(), fire[~on].mean(), autoencoder.support_recovered(W, Y, X, eps).mean()


def test_gaussian_recovery_matches_the_autoencoder(rng):
    h, n, p, N, low, high = 96, 24, 0.3, 400, 1.0, 2.0
    deltas, prefactors = [0.05, 0.4], [0.1, 0.3, 0.6, 1.0, 2.0]
    replay = copy.deepcopy(rng)
    result = ex.gaussian_recovery(h, n, p, deltas, prefactors, N, rng, low, high, bins=40)
    k = model.support_size(h, p)
    A = model.random_dictionary(n, h, replay)
    support, values = model.sample_sparse_codes(h, k, N, replay, low, high)
    for d, delta in enumerate(deltas):
        W = model.perturb_columns(A, delta, copy.deepcopy(replay))  # the same directions for every delta
        for g, eps in enumerate(result.results[d].eps):
            fn, fp, exact = _direct_rates(W, A, support, values, eps)
            assert result._all("false_negative")[d, g] == pytest.approx(fn, abs=1e-15)
            assert result._all("false_positive")[d, g] == pytest.approx(fp, abs=1e-15)
            assert result._all("exact")[d, g] == pytest.approx(exact, abs=1e-15)
        assert result.results[d].off_counts.sum() == N * (h - k)
    assert result.rate("exact").shape == (2, 5)
    assert result.mark_rate("exact", "simulations").shape == (2,)
    mu, beta = model.coherence(A), np.array(deltas) + model.coherence(A)
    np.testing.assert_allclose(result.marks[:, 0], 0.5 * 2 * 1.5 * h**p * beta)
    np.testing.assert_allclose(result.marks[:, 1], 0.5 * 1.5 * k * mu)
    np.testing.assert_allclose(result.mark_prefactor("simulations"), h**p / result.K)
    with pytest.raises(ValueError, match="kind"):
        result.rate("false")
    with pytest.raises(ValueError, match="mark"):
        result.mark_rate("exact", "paper")
    with pytest.raises(ValueError, match="prefactors"):
        ex.gaussian_recovery(h, n, p, deltas, [2.0, 1.0], N, rng)
    with pytest.raises(ValueError, match="deltas"):
        ex.gaussian_recovery(h, n, p, [1.5], prefactors, N, rng)


def test_tradeoff_sizes(rng):
    results = ex.tradeoff([64, 128], 0.25, 0.2, [0.1], [0.5, 2.0], 50, rng)
    assert [(r.h, r.n) for r in results] == [(64, 16), (128, 32)]


def test_hadamard_recovery_matches_the_autoencoder(rng):
    h_values, p, nu, N = [64, 128], 0.3, 0.3, 300
    replay = copy.deepcopy(rng)
    results = ex.hadamard_recovery(h_values, p, nu, N, rng, chunk=70)
    for r in results:
        A = ex.hadamard_dictionary(r.h // 2)
        W = model.perturb_columns(A, r.delta, replay)
        support, values = model.sample_sparse_codes(r.h, r.k, N, replay, 1.0, 2.0)
        fn, fp, exact = _direct_rates(W, A, support, values, r.eps)
        assert r.false_negatives == round(fn * N * r.k)
        assert r.false_positives == round(fp * N * (r.h - r.k))
        assert r.pre.exact_rate[0] == pytest.approx(exact, abs=1e-15)
        M = W @ A
        assert r.cross_max == pytest.approx(np.abs(M - np.diag(np.diag(M))).max(), abs=1e-14)
        assert r.mu == pytest.approx(model.coherence(A), abs=1e-15)
        assert r.eps == pytest.approx(2 * 1.5 * r.K * r.beta)
        assert r.pre.on.shape == (N, r.k)
    with pytest.raises(ValueError, match="h_values"):
        ex.hadamard_recovery([96], p, nu, N, rng)
    with pytest.raises(ValueError, match="high"):
        ex.hadamard_recovery([64], p, nu, N, rng, low=2.0, high=1.0)


def test_hadamard_setting_of_the_chapter_recovers_exactly(rng):
    (r,) = ex.hadamard_recovery([2048], 0.1, 0.3, 500, rng)
    assert r.margin_holds and r.floor > r.eps >= r.ceiling
    assert r.false_negatives == 0 and r.false_positives == 0
    assert r.pre.on.min() >= r.floor and r.pre.off_max.max() <= r.ceiling


def test_two_point_values(rng):
    x = ex.two_point_values((200, 100), 1.0, 10.0, 2.0, rng)
    assert set(np.unique(x)) == {1.0, 10.0}
    assert x.mean() == pytest.approx(2.0, abs=0.05)  # sd of the mean 3/sqrt(2e4) = 0.02
    with pytest.raises(ValueError, match="m1"):
        ex.two_point_values((3,), 1.0, 10.0, 11.0, rng)


def test_false_positive_frequencies_match_the_exact_tail(rng):
    result = ex.false_positive_frequencies([64, 256], 0.5, 40_000, rng, chunk=15_000)
    np.testing.assert_array_equal(result.k, [8, 16])
    exact = th.two_point_tail(result.threshold, result.k, 1.0, 10.0, 2.0)
    lower, upper = result.interval(0.999)
    assert np.all((lower <= exact) & (exact <= upper))
    assert np.all(result.frequency <= th.simplified_bound(result.K, 2.0, 1.0, 10.0))


def test_binomial_interval():
    lower, upper = ex.binomial_interval(np.array([0, 5, 10]), 10)
    ci = binomtest(5, 10).proportion_ci(confidence_level=0.95, method="exact")
    assert (lower[1], upper[1]) == pytest.approx((ci.low, ci.high), rel=1e-10)
    assert lower[0] == 0.0 and upper[2] == 1.0
    with pytest.raises(ValueError, match="counts"):
        ex.binomial_interval(np.array([11]), 10)
    with pytest.raises(ValueError, match="level"):
        ex.binomial_interval(np.array([1]), 10, level=1.0)


def test_summarise_accepts_unsorted_biases(rng):
    QT = rng.standard_normal((50, 20))
    support = np.sort(np.argsort(rng.random((50, 20)), axis=1)[:, :3], axis=1)
    edges = np.linspace(-5, 5, 11)
    eps = np.array([0.5, -0.2, 1.0])
    a = ex._summarise(QT.copy(), support, eps, edges)
    b = ex._summarise(QT.copy(), support, np.sort(eps), edges)
    np.testing.assert_array_equal(a.off_exceed[np.argsort(eps)], b.off_exceed)


def test_on_support_floor_has_k_minus_one_interference_terms():
    """The in-support floor (1 - delta) m_min - (K - 1) beta m_max, pinned: K - 1 other units interfere, not K."""
    assert th.on_support_floor(0.1, 0.05, 3.0, 1.0, 2.0) == pytest.approx(0.9 * 1.0 - 2 * 0.05 * 2.0, rel=1e-14)
    assert th.on_support_floor(0.0, 0.2, 1.0, 1.5, 2.0) == pytest.approx(1.5, rel=1e-14)  # K = 1: no interference
