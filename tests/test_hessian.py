"""The exact Hessian-vector product, Lanczos extremes, direction splits and the Hessian experiments."""

import numpy as np
import pytest

from lib import autodiff, estimators, execution, hessian, model
from lib import autoencoder as ae
from lib.experiments import hessian as hx
from lib.experiments.training import Tier


def _point(rng, *, n=12, h=24, k=2, N=300, scale=1.0, delta=0.3):
    """An encoder near the dictionary and data; ``scale`` < 1 with a large bias makes few units fire."""
    A = model.random_dictionary(n, h, rng)
    W = scale * model.perturb_columns(A, delta, rng)
    Y = A @ model.sample_codes(h, k, N, rng, 1.0, 2.0)
    return A, W, Y


# (bias, scale): few active units (sparse path) and many (dense path)
REGIMES = {"few-active": (1.6, 1.0), "many-active": (0.1, 1.2)}


def _regime(rng, name):
    eps, scale = REGIMES[name]
    A, W, Y = _point(rng, scale=scale)
    active = np.mean(W @ Y - eps > 0)
    assert (active <= 1 / hessian.SPARSE_BELOW) == (name == "few-active"), active
    assert np.min(np.abs(W @ Y - eps)) > 1e-5  # no kink within reach of the difference steps
    return A, W, Y, eps


def _tf_hvp(W, Y, eps, V):
    pytest.importorskip("tensorflow")
    return autodiff.tf_hvp(W, Y, eps, V)


def _rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.mark.parametrize("regime", sorted(REGIMES))
def test_hvp_matches_tensorflow_forward_over_backward(rng, regime):
    A, W, Y, eps = _regime(rng, regime)
    V = rng.standard_normal(W.shape)
    assert _rel(hessian.hvp(W, Y, eps, V, part="ae"), _tf_hvp(W, Y, eps, V)) < 1e-8


@pytest.mark.parametrize("regime", sorted(REGIMES))
def test_hvp_matches_central_differences_of_the_gradient(rng, regime):
    A, W, Y, eps = _regime(rng, regime)
    V = rng.standard_normal(W.shape)
    step = 1e-6
    central = (ae.gradient(W + step * V, Y, eps) - ae.gradient(W - step * V, Y, eps)) / (2 * step)
    assert _rel(hessian.hvp(W, Y, eps, V, part="ae"), central) < 1e-8


@pytest.mark.parametrize("regime", sorted(REGIMES))
def test_hvp_is_symmetric_and_splits_into_its_parts(rng, regime):
    A, W, Y, eps = _regime(rng, regime)
    U, V = rng.standard_normal((2,) + W.shape)
    HU, HV = hessian.hvp(W, Y, eps, U), hessian.hvp(W, Y, eps, V)
    assert np.sum(U * HV) == pytest.approx(np.sum(HU * V), rel=1e-12)
    parts = {p: hessian.hvp(W, Y, eps, V, part=p) for p in hessian.PARTS}
    assert _rel(parts["gauss_newton"] + parts["residual"], parts["ae"]) < 1e-13
    assert _rel(parts["ae"] + parts["boundary"], HV) < 1e-13
    assert np.sum(V * parts["gauss_newton"]) >= 0  # J^T J is positive semidefinite
    op = hessian.HessianOperator(W, Y, eps, part="boundary")
    assert np.sum(U * op.apply(V)) == pytest.approx(np.sum(op.apply(U) * V), rel=1e-12)  # B is symmetric too


def test_sparse_and_dense_paths_agree(rng):
    A, W, Y, eps = _regime(rng, "few-active")
    op = hessian.HessianOperator(W, Y, eps)
    assert op.sparse
    dense = hessian.HessianOperator(W, Y, eps)
    dense.sparse, dense.mask = False, (W @ Y - eps > 0).astype(float)
    dense.R = dense.mask * (W @ Y - eps)
    dense.E = W.T @ dense.R - Y
    V = rng.standard_normal(W.shape)
    for part in hessian.PARTS:
        op.part = dense.part = part
        assert _rel(op.apply(V), dense.apply(V)) < 1e-12


def test_lanczos_extremes_match_the_dense_spectrum(rng):
    A, W, Y = _point(rng, n=6, h=10, N=200)
    op = hessian.HessianOperator(W, Y, 0.5)
    H = np.array([op.matvec(e) for e in np.eye(op.shape[0])])
    exact = np.linalg.eigvalsh(H)
    low = hessian.extremes(op, rng, which="SA", count=2, tol=1e-10)
    high = hessian.extremes(op, rng, which="LA", tol=1e-10)
    np.testing.assert_allclose(low.values, exact[:2], rtol=1e-8, atol=1e-10)
    assert high.values[0] == pytest.approx(exact[-1], rel=1e-8)
    assert low.residuals.max() < 1e-7 and low.matvecs > 0
    assert low.vectors.shape == (2,) + W.shape
    assert np.linalg.norm(low.vectors[0]) == pytest.approx(1.0)


def test_restricted_operator_drops_dead_rows(rng):
    A, W, Y = _point(rng, n=6, h=10, N=200)
    W[3] = 0.0  # a unit that never fires: u = -eps < 0
    assert not np.any(W[3] @ Y - 0.5 > 0)
    V = rng.standard_normal(W.shape)
    HV = hessian.hvp(W, Y, 0.5, V)
    V0 = V.copy()
    V0[3] = 0
    np.testing.assert_allclose(HV, hessian.hvp(W, Y, 0.5, V0), atol=1e-14)  # the dead row's block is zero
    live = np.setdiff1d(np.arange(10), [3])
    op = hessian.HessianOperator(W, Y, 0.5, rows=live)
    assert op.shape == (54, 54)
    np.testing.assert_allclose(op.matvec(V[live].ravel()), HV[live].ravel(), atol=1e-14)
    assert np.all(hessian.extremes(op, rng).vectors[0][3] == 0)


def test_direction_split_of_pure_directions(rng):
    A, W, Y = _point(rng, n=8, h=12, N=300, delta=0.05)
    along = np.zeros_like(W)
    along[0] = A[:, 0]
    split = hessian.direction_split(along, W, A, Y, 0.5)
    assert split.along_atom == pytest.approx(1.0) and split.rows90 == 1 and split.row_weight[0] == pytest.approx(1.0)
    assert split.along_atom + split.coactive + split.elsewhere == pytest.approx(1.0)
    V = rng.standard_normal(W.shape)
    loose = hessian.direction_split(V, W, A, Y, 0.5, together=1e-9)  # every co-firing unit counts: their atoms span R^n
    assert loose.elsewhere == pytest.approx(0.0, abs=1e-12)
    assert loose.along_atom + loose.coactive == pytest.approx(1.0)
    W2 = W.copy()
    W2[1] = W2[0]  # two units on one atom fire together, but share the atom: nothing co-active beyond it
    strict = hessian.direction_split(V, W2, A, Y, 0.5, together=1.0)
    assert strict.along_atom + strict.coactive + strict.elsewhere == pytest.approx(1.0)
    assert strict.coactive < loose.coactive


@pytest.mark.parametrize("bad, error", [
    (dict(part="hessian"), ValueError), (dict(rows=np.array([0, 0])), ValueError), (dict(rows=np.array([99])), ValueError),
    (dict(rows=np.array([0.5])), ValueError), (dict(eps=np.nan), ValueError), (dict(W=np.ones((3, 4))), ValueError),
])
def test_operator_validation_names_the_parameter(rng, bad, error):
    A, W, Y = _point(rng, n=6, h=10, N=50)
    kwargs = dict(W=W, Y=Y, eps=0.5) | bad
    with pytest.raises(error):
        hessian.HessianOperator(kwargs.pop("W"), kwargs.pop("Y"), kwargs.pop("eps"), **kwargs)


def test_hvp_and_extremes_validation(rng):
    A, W, Y = _point(rng, n=6, h=10, N=50)
    with pytest.raises(ValueError, match="V"):
        hessian.hvp(W, Y, 0.5, np.ones((3, 3)))
    op = hessian.HessianOperator(W, Y, 0.5)
    with pytest.raises(ValueError, match="which"):
        hessian.extremes(op, rng, which="LM")
    with pytest.raises(TypeError, match="rng"):
        hessian.extremes(op, 0)
    with pytest.raises(ValueError, match="count"):
        hessian.extremes(op, rng, count=0)
    with pytest.raises(TypeError, match="op"):
        hessian.extremes(np.eye(3), rng)
    with pytest.raises(ValueError, match="V"):
        hessian.direction_split(np.zeros_like(W), W, A, Y, 0.5)
    with pytest.raises(ValueError, match="together"):
        hessian.direction_split(W, W, A, Y, 0.5, together=0.0)


def test_stationary_points_and_spectrum_are_reproducible():
    tier = Tier(8, 16, 2, 0.7)
    first, second = (hx.stationary_task(np.random.default_rng(3), n=8, h=16, k=2, eps=0.7, N=400, fit_N=800, sets=2, proxy=True)
                     for _ in range(2))
    m = first.model
    grad = ae.expected_proxy_gradient(first.proxy, m.A, m.k, tier.eps, m.m1, m.m2)
    assert np.max(np.abs(grad)) / m.q < 1e-8  # W† zeroes the expected proxy gradient
    assert first.fit_grad < 1e-4
    np.testing.assert_array_equal(first.spectrum.lam_min, second.spectrum.lam_min)
    np.testing.assert_array_equal(first.W, second.W)
    s = first.spectrum
    assert s.lam_min.shape == (2,) and np.all(s.lam_min <= s.lam_max) and s.residual < 1e-2 * s.max_mean
    assert hx.classify(s) in ("still moving", "saddle", "strict local minimum", "flat (dead units)", "undetermined")


def _spectrum(lam_min, *, grad=0.1, dead=0, confirm=(1.0, 1.05)):
    return hx.Spectrum("x", np.array(lam_min), np.array([2.0, 2.0]), 0.0, 1, grad, 0.1, dead, 0.1, None,
                       np.array(confirm), np.array([0.01, 0.01]))


def test_classify_reads_gradient_then_curvature():
    base = _spectrum([1.0, 1.1])
    assert hx.classify(base) == "strict local minimum"
    assert hx.classify(_spectrum([1.0, 1.1], grad=1.0)) == "still moving"
    assert hx.classify(_spectrum([-1.0, -1.1], confirm=(-1.0, -1.05))) == "saddle"
    assert hx.classify(_spectrum([1.0, 1.1], dead=2)) == "flat (dead units)"
    assert hx.classify(_spectrum([-1.0, 1.1])) == "undetermined"
    with pytest.raises(ValueError, match="z"):
        hx.classify(base, z=0)


def test_classify_needs_the_loss_to_confirm_the_curvature():
    """Lanczos alone does not decide: the second differences of the loss on independent samples must agree."""
    assert hx.classify(_spectrum([1.0, 1.1], confirm=(0.02, 0.01))) == "undetermined"  # minimum by Lanczos, flat by the loss
    assert hx.classify(_spectrum([1.0, 1.1], confirm=(-0.5, -0.4))) == "saddle"  # the loss bends down
    assert hx.classify(_spectrum([-1.0, -1.1], confirm=(0.01, -0.01))) == "undetermined"  # a saddle the loss does not see


def test_dense_check_agrees_with_lanczos_and_refuses_large_operators(rng):
    m = Tier(8, 16, 2, 0.7).model(rng)
    check = hx.dense_check(rng, W=m.A.T, model=m, eps=0.7, N=400)
    assert check.dim <= 128 and check.dense == pytest.approx(check.lanczos, abs=max(check.residual, 1e-8))
    with pytest.raises(ValueError, match="max_dim"):
        hx.dense_check(rng, W=m.A.T, model=m, eps=0.7, N=400, max_dim=8)


def test_random_line_and_end_points(rng):
    m = Tier(8, 16, 2, 0.7).model(rng)
    W = hx.random_line(m, 0.3, rng)
    np.testing.assert_allclose(np.linalg.norm(W - m.A.T, axis=1), 0.3)
    tasks = [dict(n=8, h=16, k=2, eps=0.7, replicate=r, steps=5, batch_size=32, lr=1e-3, lr_end=1e-4, N=200, sets=2) for r in range(2)]
    first, second = (execution.map_tasks(hx.end_point_task, tasks, seed=4, name="test-hessian-ends") for _ in range(2))
    assert len(first) == 2 and 0 <= first[0].mcc <= 1 and first[0].spectrum.lam_min.shape == (2,)
    np.testing.assert_array_equal(first[1].spectrum.lam_min, second[1].spectrum.lam_min)


def _kink_problem(rng, scale, *, k=3):
    """The 16 x 32 problem of the chapter's check, W = scale·A*ᵀ + 0.05·G/√n, ε = 0.7: at scale 1 few units sit
    near their kink (the on-support u ≈ x − ε > 0.3); at 0.55 many (u ≈ 0.55x − ε crosses 0 inside x ∈ [1, 2])."""
    n, h, eps = 16, 32, 0.7
    A = model.random_dictionary(n, h, rng)
    W = scale * A.T + 0.05 * rng.standard_normal((h, n)) / np.sqrt(n)
    return A, W, eps, lambda N: A @ model.sample_codes(h, k, N, rng, 1.0, 2.0)


def _unit(V):
    return V / np.linalg.norm(V)


def _agrees(q, se_q, d, se_d):
    """Within 3 % of the reference plus three combined standard errors."""
    return abs(q - d) <= 0.03 * abs(d) + 3 * np.hypot(se_q, se_d)


@pytest.mark.parametrize("scale", [1.0, 0.55], ids=["few-near-kink", "many-near-kink"])
def test_expected_hessian_matches_second_differences_on_an_independent_sample(rng, scale):
    """Along random directions and along the softest direction, the curvature of the full operator (a.e. part plus
    the boundary term) is the second difference of the loss on an independent large sample."""
    A, W, eps, signals = _kink_problem(rng, scale)
    op = hessian.HessianOperator(W, signals(200_000), eps)
    soft = hessian.extremes(hessian.HessianOperator(W, signals(5_000), eps), rng, tol=1e-2, ncv=48).vectors[0]
    Y = signals(400_000)
    split = hessian.HessianOperator(W, signals(20_000), eps, kink_Y=signals(200_000))  # the boundary term on its own sample
    for V in [_unit(v) for v in rng.standard_normal((2,) + W.shape)] + [soft]:
        reference = hessian.second_difference(W, Y, eps, V)
        assert _agrees(*op.quadratic(V), *reference)
        assert _agrees(*split.quadratic(V), *reference)


def test_the_almost_everywhere_hessian_misses_the_boundary_term(rng):
    """The counterexample: where many units sit near their kink, the a.e. Hessian fails the same comparison."""
    A, W, eps, signals = _kink_problem(rng, 0.55)
    Y0, Y = signals(200_000), signals(400_000)
    V = _unit(rng.standard_normal(W.shape))
    reference = hessian.second_difference(W, Y, eps, V)
    assert not _agrees(*hessian.HessianOperator(W, Y0, eps, part="ae").quadratic(V), *reference)
    assert hessian.HessianOperator(W, Y0, eps, part="boundary").quadratic(V)[0] < 0  # ⟨W_i, e⟩ ≈ −ε at the kink


def test_expected_hessian_matches_the_exact_k1_expectation(rng):
    """With one nonzero per code the expected gradient is exact (lib.estimators.expected_gradient_k1), so its central
    difference is the exact expected Hessian along V: the sample operator matches it within 3 % + 3 s.e."""
    A, W, eps, signals = _kink_problem(rng, 0.55, k=1)
    V = _unit(rng.standard_normal(W.shape))

    def expected_gradient(M):
        return estimators.expected_gradient_k1(estimators.GradientStructure.of(M, A, eps), 1.0, 2.0).gradient

    step = 1e-5
    exact = float(np.sum(V * (expected_gradient(W + step * V) - expected_gradient(W - step * V)) / (2 * step)))
    Y = signals(400_000)
    assert _agrees(*hessian.HessianOperator(W, Y, eps).quadratic(V), exact, 0.0)
    assert not _agrees(*hessian.HessianOperator(W, Y, eps, part="ae").quadratic(V), exact, 0.0)


@pytest.mark.parametrize("part", hessian.PARTS)
def test_quadratic_is_the_operators_own_curvature(rng, part):
    A, W, eps, signals = _kink_problem(rng, 0.55)
    op = hessian.HessianOperator(W, signals(2000), eps, part=part)
    V = rng.standard_normal(W.shape)
    value, se = op.quadratic(V)
    assert value == pytest.approx(float(np.sum(V * op.apply(V))), rel=1e-10) and se > 0


def test_kink_bandwidth_and_second_difference_validation(rng):
    U = rng.standard_normal((4, 100))
    b = hessian.kink_bandwidth(U)
    assert b.shape == (4,) and np.all(b > 0)
    assert hessian.kink_bandwidth(np.zeros((2, 5)))[0] == 0.0  # a unit whose u never varies has no kink density
    with pytest.raises(ValueError, match="U"):
        hessian.kink_bandwidth(U[:, :1])
    A, W, Y = _point(rng, n=6, h=10, N=50)
    with pytest.raises(ValueError, match="t"):
        hessian.second_difference(W, Y, 0.5, W, t=0.0)
    with pytest.raises(ValueError, match="Y"):
        hessian.second_difference(W, Y[:, :1], 0.5, W)
    with pytest.raises(ValueError, match="bandwidth"):
        hessian.HessianOperator(W, Y, 0.5, bandwidth=-1.0)
    with pytest.raises(ValueError, match="Y"):
        hessian.HessianOperator(W, Y[:, :1], 0.5)
    hessian.HessianOperator(W, Y[:, :1], 0.5, part="ae")  # the a.e. part needs no bandwidth
