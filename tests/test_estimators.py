"""The structured gradient estimators against the dense formula, exact quadrature and the proxy closed form."""

import numpy as np
import pytest

from lib import autoencoder, estimators, model
from lib.expectation import expected_proxy_gradient

TOL = 1e-10  # the structured sums reorder floating-point additions only: agreement to rounding


def _problem(rng, n=16, h=48, k=2, N=600, delta=0.3, low=1.0, high=2.0):
    A = model.random_dictionary(n, h, rng)
    W = model.perturb_columns(A, delta, rng)
    support, values = model.sample_sparse_codes(h, k, N, rng, low, high)
    X = np.zeros((h, N))
    X[support.T, np.arange(N)] = values.T
    return A, W, support, values, X


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("eps", [0.35, 0.0, -0.1, "vector"])
def test_structured_gradient_equals_dense_formula(rng, k, eps):
    A, W, support, values, X = _problem(rng, k=k)
    if eps == "vector":
        eps = rng.uniform(-0.2, 0.9, A.shape[1])
    dense = autoencoder.gradient(W, A @ X, eps)
    fast = estimators.structured_gradient(W, A, support, values, eps, chunk=37)  # many uneven chunks
    assert np.max(np.abs(fast - dense)) < TOL * max(1.0, np.max(np.abs(dense)))


def test_structured_gradient_with_zero_values_and_dead_units(rng):
    A, W, support, values, X = _problem(rng, k=2, low=0.0, high=1.0)
    for eps in (0.2, 50.0):  # 50: every unit is dead, the gradient is exactly 0
        dense = autoencoder.gradient(W, A @ X, eps)
        fast = estimators.structured_gradient(W, A, support, values, eps)
        assert np.max(np.abs(fast - dense)) < TOL
    assert not np.any(estimators.structured_gradient(W, A, support, values, 50.0))


def test_sums_of_both_forms_add_up(rng):
    # tiny values fire nothing (r r^T kept as C), large values fire many units (kept as R R^T)
    A, W, support, values, X = _problem(rng, k=2, N=400)
    values = values.copy()
    values[:200] *= 0.01
    X[support.T, np.arange(400)] = values.T
    structure = estimators.GradientStructure.of(W, A, 0.05)
    quiet = estimators.accumulate(structure, support[:200], values[:200])
    busy = estimators.accumulate(structure, support[200:], values[200:])
    assert quiet.R.shape[1] == 0 and busy.C.nnz == 0 and busy.R.shape[1] == 200
    both = (quiet + busy).gradient(structure)
    assert np.max(np.abs(both - autoencoder.gradient(W, A @ X, 0.05))) < TOL


def test_batched_gradient_loss_activity_and_batches(rng):
    A, W, support, values, X = _problem(rng, k=2, N=640)
    eps = 0.4
    Y = A @ X
    structure = estimators.GradientStructure.of(W, A, eps)
    batched = estimators.batched_gradient(structure, support, values, batches=8)
    assert batched.N == 640
    assert abs(batched.loss - autoencoder.loss(W, Y, eps)) < TOL
    assert np.max(np.abs(batched.gradient - autoencoder.gradient(W, Y, eps))) < TOL
    assert batched.active_fraction == pytest.approx(np.mean(W @ Y - eps > 0), abs=1e-15)
    assert batched.recovered_fraction == pytest.approx(np.mean(autoencoder.support_recovered(W, Y, X, eps)), abs=1e-15)
    third = slice(3 * 80, 4 * 80)
    assert np.max(np.abs(batched.batch_gradient(3) - autoencoder.gradient(W, Y[:, third], eps))) < TOL
    skipped = estimators.batched_gradient(structure, support, values, batches=8, energy=float("nan"))
    assert np.isnan(skipped.loss)


def test_signal_energy(rng):
    A, _, support, values, X = _problem(rng, k=3)
    Y = A @ X
    assert estimators.signal_energy(A, support, values, chunk=50) == pytest.approx(0.5 * np.sum(Y * Y), rel=1e-12)


def test_with_bias_reuses_products_and_caches_candidates(rng):
    A, W, *_ = _problem(rng)
    structure = estimators.GradientStructure.of(W, A, 0.3)
    other = structure.with_bias(0.6)
    assert other.M is structure.M and other.G is structure.G
    assert np.all(other.eps == 0.6)
    first = other._candidate_lists(2, 2.0)
    assert other._candidate_lists(2, 2.0) is first
    pointer, units, theta, values = first
    mask = other.M > 0.6 / (2 * 2.0)  # candidates of column j: M_ij > eps / (k xmax)
    for j in (0, 7, A.shape[1] - 1):
        assert set(units[pointer[j]:pointer[j + 1]]) == set(np.flatnonzero(mask[:, j]))
        np.testing.assert_array_equal(values[pointer[j]:pointer[j + 1]], other.M[units[pointer[j]:pointer[j + 1]], j])


def _quadrature_reference(W, A, eps, low, high):
    """E over j ~ U{0..h-1} and x ~ U[low, high] of the dense gradient, loss and activity, by
    Gauss-Legendre on each piece between activation thresholds (exact: the integrand is a
    polynomial of degree <= 2 on each piece)."""
    h = A.shape[1]
    e = np.broadcast_to(np.asarray(eps, dtype=float), (h,))
    M = W @ A
    nodes, weights = np.polynomial.legendre.leggauss(3)
    grad, loss, active = np.zeros_like(W), 0.0, 0.0
    for j in range(h):
        with np.errstate(divide="ignore", invalid="ignore"):
            tau = e / M[:, j]
        breaks = np.unique(np.concatenate([[low, high], tau[(tau > low) & (tau < high)]]))
        for a, b in zip(breaks[:-1], breaks[1:]):
            x = (a + b) / 2 + (b - a) / 2 * nodes
            Y = A[:, [j]] * x
            w = (b - a) / 2 * weights / (high - low) / h
            for column, weight in enumerate(w):
                y = Y[:, [column]]
                grad += weight * autoencoder.gradient(W, y, eps)
                loss += weight * autoencoder.loss(W, y, eps)
                active += weight * np.mean(W @ y - e[:, None] > 0)
    return grad, loss, active


@pytest.mark.parametrize("eps, low, high", [(0.3, 1.0, 2.0), (0.0, 0.5, 1.5), (-0.2, 0.0, 1.0), ("vector", 1.0, 2.0)])
def test_expected_gradient_k1_equals_quadrature(rng, eps, low, high):
    A = model.random_dictionary(8, 24, rng)
    W = model.perturb_columns(A, 0.4, rng)
    if eps == "vector":
        eps = rng.uniform(-0.3, 0.8, 24)
    grad, loss, active = _quadrature_reference(W, A, eps, low, high)
    exact = estimators.expected_gradient_k1(estimators.GradientStructure.of(W, A, eps), low, high, budget=40)
    assert np.max(np.abs(exact.gradient - grad)) < TOL
    assert exact.loss == pytest.approx(loss, abs=TOL)
    assert exact.active_fraction == pytest.approx(active, abs=TOL)


@pytest.mark.parametrize("n, h", [(256, 32), (512, 256)])  # E[C] accumulated densely, then sparsely
def test_expected_gradient_k1_equals_proxy_closed_form_when_recovery_is_certain(rng, n, h):
    # n >> h keeps the coherence small: with eps between max_{i!=j} M_ij * high and min_j M_jj * low
    # every sample is recovered exactly, so the true and the proxy expected gradients coincide.
    A = model.random_dictionary(n, h, rng)
    W = model.perturb_columns(A, 0.05, rng)
    M = W @ A
    off = np.max(M - np.diag(np.diag(M)))
    eps = 0.9 * np.min(np.diag(M))
    assert off * 2.0 < eps  # the premise of this test
    exact = estimators.expected_gradient_k1(estimators.GradientStructure.of(W, A, eps), 1.0, 2.0)
    proxy = expected_proxy_gradient(W, A, 1, eps, 1.5, 7.0 / 3.0)
    assert np.max(np.abs(exact.gradient - proxy)) < TOL
    assert exact.active_fraction == pytest.approx(1.0 / h, abs=1e-15)


def test_expected_gradient_k1_all_dead():
    A = np.eye(4)
    exact = estimators.expected_gradient_k1(estimators.GradientStructure.of(A.T, A, 10.0), 1.0, 2.0)
    assert not np.any(exact.gradient)
    assert exact.active_fraction == 0.0
    assert exact.loss == pytest.approx(0.5 * 7.0 / 3.0)  # 0.5 E[x^2], nothing reconstructed


def _brute_force_statistics(points, B):
    """Jackknife and noise floor from explicitly formed leave-one-out gradients."""
    per_point = []
    for point in points:
        g = point.gradient
        batch = [point.batch_gradient(b) for b in range(B)]
        out = np.array([estimators.mean_row_norm((B * g - gb) / (B - 1)) for gb in batch])
        plain = estimators.mean_row_norm(g)
        var = sum(np.sum((gb - g) ** 2, axis=1) for gb in batch) / (B * (B - 1))
        per_point.append((plain, B * plain - (B - 1) * out.mean(), out, np.mean(np.sqrt(var))))
    return per_point


def test_row_norm_statistics_match_brute_force(rng):
    A, W, support, values, _ = _problem(rng, k=2, N=480)
    B = 6
    points = [estimators.batched_gradient(estimators.GradientStructure.of(model.perturb_columns(A, 0.3, rng), A, 0.4),
                                          support, values, B) for _ in range(2)]
    stats = estimators.row_norm_statistics(points)
    brute = _brute_force_statistics(points, B)
    assert stats.per_point.plain == pytest.approx(np.mean([b[0] for b in brute]), rel=1e-12)
    assert stats.per_point.corrected == pytest.approx(np.mean([b[1] for b in brute]), rel=1e-10)
    assert stats.per_point.noise_floor == pytest.approx(np.mean([b[3] for b in brute]), rel=1e-12)
    out = np.mean([b[2] for b in brute], axis=0)
    assert stats.per_point.standard_error == pytest.approx(np.sqrt((B - 1) / B * np.sum((out - out.mean()) ** 2)), rel=1e-8)
    np.testing.assert_allclose(stats.point_values, [b[1] for b in brute], rtol=1e-10)
    pooled = (points[0].gradient + points[1].gradient) / 2
    assert stats.pooled.plain == pytest.approx(estimators.mean_row_norm(pooled), rel=1e-12)
    assert stats.pooled.plain < stats.per_point.plain  # averaging random points cancels their random parts


def test_jackknife_removes_most_of_the_upward_bias(rng):
    # Many false positives (a small bias, about 60 active units per sample) and few samples: the
    # plain statistic overestimates the exact expected value by 5-10 %; averaged over 16
    # replications (standard error about 1.1 %) the jackknife stays within half of that
    # (checked over 6 seeds: |corrected bias| <= 3.4 % when the plain bias was 10 %).
    A = model.random_dictionary(32, 256, rng)
    structure = estimators.GradientStructure.of(model.perturb_columns(A, 0.3, rng), A, 0.2)
    exact = estimators.mean_row_norm(estimators.expected_gradient_k1(structure, 1.0, 2.0).gradient)
    plain, corrected = [], []
    for _ in range(16):
        support, values = model.sample_sparse_codes(256, 1, 256, rng, 1.0, 2.0)
        stat = estimators.row_norm_statistics([estimators.batched_gradient(structure, support, values, 8)]).per_point
        plain.append(stat.plain)
        corrected.append(stat.corrected)
    plain_bias, corrected_bias = np.mean(plain) / exact - 1, np.mean(corrected) / exact - 1
    assert plain_bias > 0.04  # the trap
    assert abs(corrected_bias) < plain_bias / 2


def test_required_samples():
    stat = estimators.NormStatistic(plain=1.1, corrected=1.0, standard_error=0.001, noise_floor=0.5)
    assert estimators.required_samples(stat, 1000, relative_bias=0.01) == int(np.ceil(1000 * 0.25 / 0.02))
    noisy = estimators.NormStatistic(plain=1.0, corrected=1.0, standard_error=0.1, noise_floor=0.0)
    assert estimators.required_samples(noisy, 100, relative_error=0.01) in (10000, 10001)  # ceil of 1e4 (rounding)
    dead = estimators.NormStatistic(plain=0.0, corrected=0.0, standard_error=0.0, noise_floor=0.0)
    assert estimators.required_samples(dead, 640) == 640
    with pytest.raises(ValueError, match="relative_bias"):
        estimators.required_samples(stat, 10, relative_bias=0.0)
    with pytest.raises(ValueError, match="N"):
        estimators.required_samples(stat, 0)


def test_mean_row_norm():
    assert estimators.mean_row_norm(np.array([[3.0, 4.0], [0.0, 1.0]])) == pytest.approx(3.0)


def test_validation(rng):
    A, W, support, values, _ = _problem(rng, k=2, N=40)
    with pytest.raises(ValueError, match="A"):
        estimators.GradientStructure.of(W, A.T, 0.1)
    with pytest.raises(ValueError, match="eps"):
        estimators.GradientStructure.of(W, A, np.ones(3))
    structure = estimators.GradientStructure.of(W, A, 0.1)
    with pytest.raises(TypeError, match="support"):
        estimators.accumulate(structure, support.astype(float), values)
    with pytest.raises(ValueError, match="support"):
        estimators.accumulate(structure, support + A.shape[1], values)
    with pytest.raises(ValueError, match="repeat"):
        estimators.accumulate(structure, np.repeat(support[:, :1], 2, axis=1), values)
    with pytest.raises(ValueError, match="values"):
        estimators.accumulate(structure, support, -values)
    with pytest.raises(ValueError, match="values"):
        estimators.accumulate(structure, support, values[:, :1])
    with pytest.raises(ValueError, match="xmax"):
        estimators.accumulate(structure, support, values, xmax=0.5)
    with pytest.raises(ValueError, match="chunk"):
        estimators.accumulate(structure, support, values, chunk=0)
    with pytest.raises(ValueError, match="batches"):
        estimators.batched_gradient(structure, support, values, batches=3)
    with pytest.raises(ValueError, match="energy"):
        estimators.batched_gradient(structure, support, values, batches=4, energy=-1.0)
    with pytest.raises(ValueError, match="energy"):  # NaN skips the loss (the contract test allows it), inf is refused
        estimators.batched_gradient(structure, support, values, batches=4, energy=float("inf"))
    assert np.isnan(estimators.batched_gradient(structure, support, values, batches=4, energy=float("nan")).loss)
    with pytest.raises(ValueError, match="high"):
        estimators.expected_gradient_k1(structure, 1.0, 1.0)
    with pytest.raises(ValueError, match="low"):
        estimators.expected_gradient_k1(structure, -1.0, 1.0)
    with pytest.raises(ValueError, match="points"):
        estimators.row_norm_statistics([])
    four = estimators.batched_gradient(structure, support, values, batches=4)
    five = estimators.batched_gradient(structure, support, values, batches=5)
    with pytest.raises(ValueError, match="batches"):
        estimators.row_norm_statistics([four, five])


@pytest.mark.parametrize("path", ["auto", "direct", "sums"])
@pytest.mark.parametrize("N", [40, 600])  # auto: direct below 2h samples, sums above
def test_both_paths_equal_the_dense_formula(rng, path, N):
    A, W, support, values, X = _problem(rng, k=2, N=N)
    dense = autoencoder.gradient(W, A @ X, 0.3)
    fast = estimators.structured_gradient(W, A, support, values, 0.3, path=path)
    assert np.max(np.abs(fast - dense)) < TOL * max(1.0, np.max(np.abs(dense)))
    with_signals = estimators.structured_gradient(W, A, support, values, 0.3, path=path, signals=(A @ X).T)
    assert np.max(np.abs(with_signals - fast)) < TOL


def test_proxy_sums_equal_the_proxy_gradient(rng):
    A, W, support, values, X = _problem(rng, k=3, N=300)
    structure = estimators.GradientStructure.of(W, A, 0.4)
    proxy = estimators.accumulate(structure, support, values, proxy=True, chunk=41)
    Y = A @ X
    assert np.max(np.abs(proxy.gradient(structure) - autoencoder.proxy_gradient(W, Y, X, 0.4))) < TOL
    assert proxy.recovered == int(np.sum(autoencoder.support_recovered(W, Y, X, 0.4)))


def test_path_and_proxy_validation(rng):
    A, W, support, values, _ = _problem(rng)
    with pytest.raises(ValueError, match="path"):
        estimators.structured_gradient(W, A, support, values, 0.3, path="fast")
    with pytest.raises(ValueError, match="signals"):
        estimators.structured_gradient(W, A, support, values, 0.3, signals=np.zeros((3, 16)))
    with pytest.raises(TypeError, match="proxy"):
        estimators.accumulate(estimators.GradientStructure.of(W, A, 0.3), support, values, proxy=1)


@pytest.mark.parametrize("held", [True, False])
@pytest.mark.parametrize("rotate", [False, True])
@pytest.mark.parametrize("k", [1, 3])
def test_dictionary_structure_agrees_with_the_dense_one(rng, rotate, k, held, monkeypatch):
    """Sums, gradients and statistics on a Kerdock frame by transforms equal the dense estimator to 1e-10,
    with A*^T held or generated by rows (a tiny HELD_BYTES, several row chunks)."""
    from lib import dictionaries
    from lib.estimators import implicit, statistics

    monkeypatch.setattr(implicit, "BLOCK_ENTRIES", 700)  # several row blocks everywhere
    monkeypatch.setattr(statistics, "ROW_BLOCK_ENTRIES", 2000)
    if not held:
        monkeypatch.setattr(implicit, "HELD_BYTES", 0)
        monkeypatch.setattr(implicit, "ROW_ENTRIES", 16 * 7)  # chunks of 7 rows
    d = dictionaries.kerdock(16, 4)
    d = d.randomized(rng) if rotate else d
    A = d.dense()
    W = model.perturb_columns(A, 0.2, rng)
    support, values = model.sample_sparse_codes(d.h, k, 800, rng, 1.0, 2.0)
    dense = estimators.GradientStructure.of(W, A, 0.45)
    fast = estimators.DictionaryStructure.of(W, d, 0.45)
    assert fast.held == held
    np.testing.assert_array_equal(dense._candidate_lists(k, 2.0)[1], fast._candidate_lists(k, 2.0)[1])
    a = estimators.batched_gradient(dense, support, values, 8, energy=float("nan"))
    b = estimators.batched_gradient(fast, support, values, 8, energy=float("nan"))
    assert np.max(np.abs(a.gradient - b.gradient)) < 1e-10
    assert a.total.recovered == b.total.recovered and a.total.active == b.total.active
    sa, sb = estimators.row_norm_statistics([a, a]), estimators.row_norm_statistics([b, b])
    assert abs(sa.per_point.corrected - sb.per_point.corrected) < 1e-10
    assert abs(sa.pooled.standard_error - sb.pooled.standard_error) < 1e-10


def test_one_candidate_scan_serves_every_higher_threshold(rng, monkeypatch):
    """A scan at a low threshold is filtered for the biases above it (identical lists), never repeated."""
    from lib import dictionaries
    from lib.estimators import implicit

    d = dictionaries.kerdock(16, 4).randomized(rng)
    W = model.perturb_columns(d.dense(), 0.2, rng)
    shared = estimators.DictionaryStructure.of(W, d, 0.0)
    shared.scan(0.05)
    calls = []
    scan_pairs = implicit.DictionaryStructure._scan_pairs
    monkeypatch.setattr(implicit.DictionaryStructure, "_scan_pairs", lambda self, theta: calls.append(1) or scan_pairs(self, theta))
    for eps, k, xmax in [(0.3, 1, 2.0), (0.45, 3, 2.0), (0.6, 2, 1.5)]:
        fresh = estimators.DictionaryStructure.of(W, d, eps)._candidate_lists(k, xmax)
        calls.clear()
        reused = shared.with_bias(eps)._candidate_lists(k, xmax)
        assert not calls  # filtered, not scanned
        for a, b in zip(fresh, reused):
            np.testing.assert_array_equal(a, b)
    shared.with_bias(0.01)._candidate_lists(1, 2.0)  # below the scan: scanned again, at the lower threshold
    assert calls and shared._shared["scan"][0].max() == pytest.approx(0.005)
