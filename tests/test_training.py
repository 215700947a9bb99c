"""Training by gradient descent: the structured gradient, the optimizers, the loop, and the chapter's experiments."""

import numpy as np
import pytest
from scipy import sparse

from lib import autoencoder, model, training
from lib.estimators import gradient as estimator_paths
from lib.experiments import training as ex


@pytest.fixture
def small(rng):
    return model.SparseCodingModel(model.random_dictionary(32, 64, rng), p=np.log(3) / np.log(64))


# --------------------------------------------------------------------------- data and gradient
def test_draw_batch_is_the_model_draw(small):
    batch = training.draw_batch(small, 50, np.random.default_rng(3))
    X, Y = small.sample(50, np.random.default_rng(3))
    np.testing.assert_array_equal(batch.codes.toarray().T, X)
    np.testing.assert_allclose(batch.Y, Y, atol=1e-14)
    assert batch.size == 50
    sub = batch.rows(np.array([4, 2]))
    np.testing.assert_array_equal(sub.signals, batch.signals[[4, 2]])


@pytest.mark.parametrize("eps", [0.7, 0.05, "vector"])
def test_structured_gradient_equals_the_exact_gradient(small, rng, eps):
    """Sparse path (few units fire) and dense fallback (eps small: most fire) against lib.autoencoder.gradient."""
    if eps == "vector":
        eps = rng.uniform(0.2, 1.0, size=small.h)
    W = model.perturb_columns(small.A, 0.4, rng)
    batch = training.draw_batch(small, 300, rng)
    reference = autoencoder.gradient(W, batch.Y, eps)
    np.testing.assert_allclose(training._batch_gradient(W, small.A, batch, eps), reference, rtol=0, atol=1e-13 * np.abs(reference).max())
    assert np.abs(reference).max() > 1e-3  # a nontrivial gradient


def test_pair_dots_in_chunks(rng):
    W, E = rng.standard_normal((7, 5)), rng.standard_normal((9, 5))
    units, samples = rng.integers(0, 7, 30), rng.integers(0, 9, 30)
    np.testing.assert_allclose(estimator_paths._pair_dots(W, E, units, samples, chunk=4), np.sum(W[units] * E[samples], axis=1))


def test_masked_csr(rng):
    U = rng.standard_normal((6, 8))
    R = estimator_paths._masked_csr(U, U > 0)
    assert isinstance(R, sparse.csr_array)
    np.testing.assert_array_equal(R.toarray(), np.where(U > 0, U, 0.0))


# --------------------------------------------------------------------------- optimizers and bias
def test_optimizer_first_steps(rng):
    g = rng.standard_normal((3, 4))
    np.testing.assert_allclose(training.make_optimizer("gd", 0.5)(g), 0.5 * g)
    rms = training.make_optimizer("rmsprop", 0.1)
    np.testing.assert_allclose(rms(g), 0.1 * g / (np.sqrt(0.1 * g**2) + 1e-8))
    np.testing.assert_allclose(rms(g), 0.1 * g / (np.sqrt(0.19 * g**2) + 1e-8))  # v = 0.9 * 0.1 g^2 + 0.1 g^2
    adam = training.make_optimizer("adam", 0.01)
    np.testing.assert_allclose(adam(g), 0.01 * np.sign(g), rtol=1e-6)  # bias-corrected m/sqrt(v) = sign(g)


def test_bias_ramp():
    ramp = training.BiasRamp(0.5, 1.0, 10)
    assert ramp(0) == 0.5 and ramp(5) == pytest.approx(0.75) and ramp(10) == 1.0 and ramp(50) == 1.0
    with pytest.raises(ValueError, match="steps"):
        training.BiasRamp(0.5, 1.0, 0)


def test_run_loop_checkpoints():
    calls = []
    marks, records, clock = training.run_loop(calls.append, lambda t: t * 10, steps=10, every=3, desc="", progress=False)
    assert calls == list(range(10))
    np.testing.assert_array_equal(marks, [0, 3, 6, 9, 10])
    assert records == [0, 30, 60, 90, 100] and clock.wall >= 0 and clock.cpu >= 0


# --------------------------------------------------------------------------- the training loop
def test_full_batch_gradient_descent_decreases_the_training_loss(small, rng):
    """With a small rate, each step of GD on the exact gradient of the training loss lowers that loss."""
    W0 = model.perturb_columns(small.A, 0.5, rng)
    data = training.draw_batch(small, 400, np.random.default_rng(9))
    losses = [autoencoder.loss(training.train(small, W0, 0.5, np.random.default_rng(9), steps=s, lr=1.0, optimizer="gd",
                                              batch_size=400, train_size=400, eval_set=data, progress=False).W, data.Y, 0.5)
              for s in (1, 2, 3, 4, 5)]  # with eval_set given, the training set is the generator's first draw: data
    assert np.all(np.diff([autoencoder.loss(W0, data.Y, 0.5)] + losses) < 0)


def test_training_from_a_close_start_recovers_the_dictionary(rng):
    small = model.SparseCodingModel(model.random_dictionary(64, 128, rng), p=np.log(3) / np.log(128))
    W0 = model.perturb_columns(small.A, 0.6, rng)
    result = training.train(small, W0, 0.7, rng, steps=150, lr=5e-3, lr_end=2e-4, decay_from=0.5, batch_size=256, progress=False)
    H = result.history
    assert H.mcc[0] < 0.9 and result.recovery.mcc > 0.99  # cos 1/sqrt(1.36) ~ 0.86 at the start
    assert H.distances.shape == (H.steps.size, small.h) and H.steps[0] == 0 and H.steps[-1] == 150
    assert H.support_rate[-1] > H.support_rate[0]
    assert result.seconds >= 0 and result.cpu_seconds >= 0  # recorded (how long is for benchmarks/)


def test_training_is_seeded_and_the_structured_path_matches_the_dense_one(small, rng):
    W0 = model.perturb_columns(small.A, 0.3, rng)
    runs = [training.train(small, W0, 0.6, np.random.default_rng(4), steps=20, batch_size=64, structured=s, progress=False)
            for s in (True, True, False)]
    np.testing.assert_array_equal(runs[0].W, runs[1].W)
    np.testing.assert_allclose(runs[0].W, runs[2].W, atol=1e-10)


def test_mini_batches_of_a_fixed_set_and_a_bias_schedule(small, rng):
    W0 = model.perturb_columns(small.A, 0.3, rng)
    ramp = training.BiasRamp(0.2, 0.8, 10)
    result = training.train(small, W0, ramp, rng, steps=10, batch_size=30, train_size=100, evaluate_every=5, progress=False)
    np.testing.assert_allclose(result.history.eps, [0.2, 0.5, 0.8])
    np.testing.assert_array_equal(result.history.steps, [0, 5, 10])


def test_support_rate_is_recorded_under_the_matching(small, rng):
    perm = rng.permutation(small.h)
    W0 = small.A.T[perm] * 1.1
    data = training.draw_batch(small, 500, rng)
    result = training.train(small, W0, 0.6, rng, steps=1, lr=1e-12, optimizer="gd", eval_set=data, progress=False)
    expected = np.mean(autoencoder.support_recovered(small.A.T * 1.1, data.Y, data.codes.T.toarray(), 0.6))
    assert result.history.support_rate[0] == pytest.approx(expected)
    assert result.history.norm[0] == pytest.approx(1.1)
    assert result.history.mcc[0] == pytest.approx(1.0)


def test_divergence_is_reported(small, rng):
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(FloatingPointError, match="lower lr"):
        training.train(small, small.A.T * 3, 0.0, rng, steps=50, lr=1e6, optimizer="gd", progress=False)


def test_train_validation_names_the_parameter(small, rng):
    W0 = small.A.T
    with pytest.raises(ValueError, match="W0"):
        training.train(small, W0[:-1], 0.5, rng, progress=False)
    with pytest.raises(ValueError, match="steps"):
        training.train(small, W0, 0.5, rng, steps=0, progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        training.train(small, W0, 0.5, rng, batch_size=0, progress=False)
    with pytest.raises(ValueError, match="eps"):
        training.train(small, W0, np.ones(3), rng, progress=False)
    with pytest.raises(ValueError, match="decay_from"):
        training.train(small, W0, 0.5, rng, lr_end=1e-4, decay_from=1.0, progress=False)
    with pytest.raises(ValueError, match="optimizer"):
        training.train(small, W0, 0.5, rng, optimizer="sgd", progress=False)
    with pytest.raises(ValueError, match="lr"):
        training.train(small, W0, 0.5, rng, lr=0.0, progress=False)
    with pytest.raises(TypeError, match="rng"):
        training.train(small, W0, 0.5, 0, progress=False)


# --------------------------------------------------------------------------- the chapter's experiments
def test_tier_starts_and_theory_bias(rng):
    tier = ex.Tier(32, 64, 3, 0.6)
    m = tier.model(rng)
    assert m.k == 3 and tier.name == "32×64, k=3"
    W0s = ex.starts(m, [0.1, 1.0], rng)
    assert list(W0s) == ["δ0=0.1", "δ0=1", "random"]
    np.testing.assert_allclose(np.linalg.norm(W0s["δ0=1"] - m.A.T, axis=1), 1.0)
    assert ex.theory_bias(m, 0.2) == pytest.approx(2 * 1.5 * 3 * (0.2 + m.mu))
    with pytest.raises(ValueError, match="k"):
        ex.Tier(32, 64, 40, 0.5)


def test_norm_fixed_point_matches_the_k1_cubic(rng):
    """For k = 1 and an orthonormal-like dictionary, c solves 2 m2 c (c^2-1) - eps m1 (c^2-1) - 2 eps m1 c^2 + eps^2 c = 0."""
    m = model.SparseCodingModel(np.eye(64)[:, :64], p=1e-9)  # orthonormal, k = 1
    assert m.k == 1
    c = ex.norm_fixed_point(m, 0.7)
    m1, m2, e = m.m1, m.m2, 0.7
    assert 2 * m2 * c * (c**2 - 1) - e * m1 * (c**2 - 1) - 2 * e * m1 * c**2 + e**2 * c == pytest.approx(0.0, abs=1e-9)
    assert c > 1.2


def test_compare_and_the_results_table(rng):
    tier = ex.Tier(32, 64, 2, 0.6)
    sizes = dict(seeds=2, deltas=[0.3], steps_near=20, steps_random=20, batch_size=64, sklearn_samples=256,
                 sklearn_epochs=1, eval_size=128, progress=False)
    comparison = ex.compare(tier, rng, **sizes)
    assert len(comparison.runs) == 2 * (2 * 3 + 1)
    table = ex.results_table([comparison])
    assert (table[("seeds", "")] == 2).all() and len(table) == 2 * 3 + 1
    assert not table.isna().any().any()
    shown = ex.format_table(table)
    assert list(shown.columns) == ["fraction > 0.99", "mean matched |cos|", "max distance", "unmatched MMCS", "CPU s", "wall s"]
    assert set(comparison.histories) == {(tier.name, init, s) for init in ("δ0=0.3", "random") for s in (0, 1)}
    assert all(0 <= r.dead <= tier.h for r in comparison.runs)


def test_far_start_separates_scale_from_direction(rng):
    far = ex.far_start(ex.Tier(32, 64, 2, 0.6), rng, delta=2.0, steps=5, batch_size=64, eval_size=128)
    assert far.start_norm == pytest.approx(np.sqrt(5), abs=0.3)  # |A_i + 2 g_i| with g_i nearly orthogonal to A_i
    assert 0.2 < far.start_mcc < 0.7
    assert 0 <= far.raw_frac99 <= 1 and 0 <= far.unit_frac99 <= 1


def test_adam_matches_the_textbook_recursion_over_many_steps(rng):
    """Adam's moments over several steps: m with beta1, v with beta2 (a v that decayed with beta1 would differ from step 2)."""
    lr, beta1, beta2, tiny = 0.01, 0.8, 0.95, 1e-8
    opt = training.Adam(lr, beta1=beta1, beta2=beta2, tiny=tiny)
    m = v = np.zeros((3, 2))
    for t in range(1, 6):
        g = rng.standard_normal((3, 2))
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        expected = lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + tiny)
        np.testing.assert_allclose(opt(g), expected, rtol=1e-12)
