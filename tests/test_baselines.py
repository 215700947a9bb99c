"""The baselines: TopK gradients against TensorFlow autodiff, Arora et al.'s update, scikit-learn's set-up."""

import numpy as np
import pytest

from lib import baselines, model, training
from lib.recovery import recovery


@pytest.fixture
def problem(rng):
    return model.SparseCodingModel(model.random_dictionary(64, 128, rng), p=np.log(3) / np.log(128))


def _sae(problem, rng, k=3):
    start = model.perturb_columns(problem.A, 0.5, rng)
    sae = baselines.TopKAutoencoder.start(start, k, rng.standard_normal(problem.n) * 0.1)
    sae.b_enc = rng.standard_normal(problem.h) * 0.05
    return sae


def test_topk_codes_keep_the_k_largest_positive_preactivations(problem, rng):
    sae = _sae(problem, rng)
    batch = training.draw_batch(problem, 40, rng)
    Z = sae.encode(problem.A, batch).toarray()
    pre = (batch.signals - sae.b_pre) @ sae.W_enc.T + sae.b_enc
    for s in range(40):
        top = np.sort(np.argsort(pre[s])[-3:])
        np.testing.assert_allclose(Z[s, top], np.maximum(pre[s, top], 0.0), atol=1e-12)
        assert np.count_nonzero(Z[s]) <= 3


def test_topk_gradients_match_tensorflow_autodiff(problem, rng):
    tf = pytest.importorskip("tensorflow")
    sae = _sae(problem, rng)
    batch = training.draw_batch(problem, 60, rng)
    loss, grads = sae.loss_and_gradients(problem.A, batch)
    params = {name: tf.Variable(getattr(sae, name)) for name in ("W_enc", "b_enc", "W_dec", "b_pre")}
    Y = tf.constant(batch.signals, dtype=tf.float64)  # (N, n)
    with tf.GradientTape() as tape:
        pre = tf.matmul(Y - params["b_pre"], params["W_enc"], transpose_b=True) + params["b_enc"]
        values, index = tf.math.top_k(pre, k=sae.k)
        Z = tf.reduce_sum(tf.one_hot(index, problem.h, dtype=tf.float64) * tf.nn.relu(values)[..., None], axis=1)
        E = tf.matmul(Z, params["W_dec"], transpose_b=True) + params["b_pre"] - Y
        value = 0.5 * tf.reduce_sum(E * E) / batch.size
    reference = tape.gradient(value, params)
    assert loss == pytest.approx(float(value.numpy()), rel=1e-12)
    for name, g in grads.items():
        np.testing.assert_allclose(g, reference[name].numpy(), rtol=0, atol=1e-12 * max(1.0, np.abs(g).max()), err_msg=name)


def test_topk_training_from_a_close_start(problem, rng):
    fit = baselines.topk_autoencoder(problem, model.perturb_columns(problem.A, 0.5, rng), rng, steps=150, batch_size=256,
                                     lr=3e-3, progress=False)
    assert fit.trace_mcc[0] < 0.95 and fit.recovery.mcc > 0.99
    np.testing.assert_allclose(np.linalg.norm(fit.atoms, axis=1), 1.0)  # unit-norm decoder columns
    assert 0 <= fit.dead <= problem.h and fit.recovery.mcc == recovery(problem.A, fit.atoms).mcc


def test_arora_step_size_scales_with_the_samples_per_atom(problem):
    eta = baselines.arora_step_size(problem, 0.03)
    assert eta * problem.k / problem.h * problem.m1 == pytest.approx(0.03)


def test_arora_update_stays_at_and_moves_towards_the_dictionary(rng):
    problem = model.SparseCodingModel(model.random_dictionary(128, 256, rng), p=np.log(3) / np.log(256))
    at_truth = baselines.arora_neural(problem, problem.A.T, rng, steps=30, batch_size=512, progress=False)
    # Not an exact fixed point: the guarantee is ||A_i - A*_i||^2 <= (1-tau)^s ||A0_i - A*_i||^2 + O(k/n), and
    # k/n = 3/128 here, i.e. cos >= 1 - O(k/n)/2 ~ 0.99.
    assert 0.98 < at_truth.recovery.mcc < 1 - 1e-4
    start = model.perturb_columns(problem.A, 0.4, rng)
    fit = baselines.arora_neural(problem, start, rng, steps=150, batch_size=512, lr=baselines.arora_step_size(problem, 0.03),
                                 progress=False)
    assert fit.trace_mcc[0] < 0.95 and fit.recovery.mcc > 0.98
    np.testing.assert_allclose(np.linalg.norm(fit.atoms, axis=1), 1.0)


def test_arora_equals_the_dense_update(problem, rng):
    """One step through the sparse codes equals the textbook dense formula on the same batch."""
    start = model.perturb_columns(problem.A, 0.3, rng)
    fit = baselines.arora_neural(problem, start, np.random.default_rng(1), steps=1, batch_size=100, lr=0.7, progress=False)
    Y = training.draw_batch(problem, 100, np.random.default_rng(1)).Y
    D = start.T / np.linalg.norm(start.T, axis=0)
    Z = D.T @ Y
    X = np.where(Z >= 0.5, Z, 0.0)
    D = D + 0.7 / 100 * (Y - D @ X) @ np.sign(X).T
    np.testing.assert_allclose(fit.atoms, (D / np.linalg.norm(D, axis=0)).T, atol=1e-12)


def test_sklearn_with_nonnegative_codes_learns_a_small_dictionary(rng):
    small = model.SparseCodingModel(model.random_dictionary(32, 48, rng), p=np.log(2) / np.log(48))
    Y = training.draw_batch(small, 3000, rng).Y
    fit = baselines.sklearn_dictionary(Y, small.A, model.random_dictionary(32, 48, rng).T, seed=0, epochs=2)
    assert fit.atoms.shape == (48, 32)  # atoms as rows, like W
    assert fit.recovery.mcc > 0.9 and fit.cpu_seconds >= 0


def test_validation_names_the_parameter(problem, rng):
    with pytest.raises(ValueError, match="W0"):
        baselines.arora_neural(problem, problem.A, rng, progress=False)
    with pytest.raises(ValueError, match="lr"):
        baselines.topk_autoencoder(problem, problem.A.T, rng, lr=-1.0, progress=False)
    with pytest.raises(ValueError, match="k"):
        baselines.topk_autoencoder(problem, problem.A.T, rng, k=problem.h + 1, progress=False)
    with pytest.raises(ValueError, match="steps"):
        baselines.arora_neural(problem, problem.A.T, rng, steps=0, progress=False)
    with pytest.raises(ValueError, match="alpha"):
        baselines.sklearn_dictionary(problem.A @ np.ones((problem.h, 5)), problem.A, None, seed=0, alpha=0.0)
    with pytest.raises(ValueError, match="target"):
        baselines.arora_step_size(problem, 0.0)
