r"""Experiments of the chapter "The motivating experiment: autoencoders on MNIST" (paper Sec. 1.1).

Training runs of the two tied ReLU autoencoders of :mod:`lib.mnist`, their references (the mean
image; principal component analysis of matching rank, the best any linear tied autoencoder with
an offset can do), a sweep over the hidden size, and the sparsity of the hidden codes measured
against the paper's picture of :math:`h^p` active units out of :math:`h`.
Errors are mean squared errors per pixel on held-out images (Keras's loss), in float64.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import tensorflow as tf

from lib import _validate as check
from lib import execution, mnist, model

__all__ = [
    "Fit",
    "fit",
    "mean_image_mse",
    "pca_mse",
    "beats_reference",
    "active_fraction",
    "effective_exponent",
    "Atoms",
    "atoms",
    "Sweep",
    "sweep",
]


@dataclass(frozen=True)
class Fit:
    """One trained autoencoder.

    Attributes
    ----------
    hidden : int
        Size :math:`h` of the first hidden layer.
    weights : lib.mnist.TiedWeights
        Its trained parameters (``weights.hidden_layers`` is 1 or 2).
    train_loss, test_loss : numpy.ndarray
        Shape ``(epochs,)``: Keras's mean training loss during each epoch and the held-out MSE after it.
    test_mse : float
        Held-out MSE per pixel of the final weights, recomputed in float64 by numpy.
    seconds : float
        Wall time of the training.
    """

    hidden: int
    weights: mnist.TiedWeights
    train_loss: np.ndarray
    test_loss: np.ndarray
    test_mse: float
    seconds: float

    @property
    def hidden_layers(self) -> int:
        """1 or 2."""
        return self.weights.hidden_layers


def _check_split(train: mnist.Digits, test: mnist.Digits) -> None:
    for name, part in (("train", train), ("test", test)):
        if not isinstance(part, mnist.Digits):
            raise TypeError(f"{name} must be a lib.mnist.Digits, got {type(part).__name__}")
        if len(part) == 0:
            raise ValueError(f"{name} must hold at least one image")
    if test.images.shape[1] != train.images.shape[1]:
        raise ValueError(f"test must have images of {train.images.shape[1]} pixels to match train, got {test.images.shape[1]}")


def fit(
    train: mnist.Digits, test: mnist.Digits, hidden: int, hidden_layers: int, *,
    epochs: int, batch_size: int, learning_rate: float, rng: np.random.Generator,
) -> Fit:
    """Train one tied autoencoder (:func:`lib.mnist.build_autoencoder`) with RMSProp on the training images.

    Parameters
    ----------
    train, test : lib.mnist.Digits
        Training images and held-out images (the latter only measured, never trained on).
    hidden, hidden_layers : int
        As in :func:`lib.mnist.build_autoencoder`.
    epochs, batch_size : int
        Passes over the training set (``>= 1``) and images per RMSProp step (``>= 1``).
    learning_rate : float
        RMSProp step size, ``> 0``.
    rng : numpy.random.Generator
        Draws the Keras seed (initial weights and the order of the mini-batches).
    """
    _check_split(train, test)
    if train.images.shape[1] != mnist.N_PIXELS:
        raise ValueError(f"train must have images of {mnist.N_PIXELS} pixels, got {train.images.shape[1]}")
    epochs = check.loop_count(epochs, "epochs")
    batch_size = check.loop_count(batch_size, "batch_size")
    seed, orders = _draws(check.generator(rng), epochs, len(train))
    model = mnist.build_autoencoder(hidden, hidden_layers, seed=seed, learning_rate=learning_rate)
    x_train, x_test = train.images.astype(np.float32), test.images.astype(np.float32)
    # The mini-batch order comes from rng, not from Keras's global random state: one permutation per
    # epoch, drawn up front (_draws), read by one tf.data pipeline, so that a single model.fit call
    # trains every epoch (a call per epoch would rebuild Keras's input pipeline each time).
    batches = _epoch_batches(x_train, orders, batch_size)
    start = time.perf_counter()
    history = model.fit(batches, epochs=epochs, steps_per_epoch=-(-len(x_train) // batch_size), shuffle=False, verbose=0,
                        validation_data=(x_test, x_test)).history
    seconds = time.perf_counter() - start
    weights = mnist.weights_of(model)
    return Fit(
        int(hidden), weights, np.asarray(history["loss"]), np.asarray(history["val_loss"]), weights.mse(test.images), seconds,
    )


def _epoch_batches(images: np.ndarray, orders: np.ndarray, batch_size: int):
    """A ``tf.data`` pipeline of ``(batch, batch)`` pairs: epoch ``e`` reads ``images`` in the order ``orders[e]``.

    Each epoch is cut into batches on its own (its last batch may be short), exactly as a
    ``model.fit(images[order], shuffle=False)`` call per epoch would cut it.
    """
    pixels = tf.constant(images)

    def epoch(order):
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    def pair(index):
        batch = tf.gather(pixels, index)
        return batch, batch

    return tf.data.Dataset.from_tensor_slices(orders).flat_map(epoch).map(pair)


def _draws(rng: np.random.Generator, epochs: int, images: int) -> tuple[int, np.ndarray]:
    """Everything :func:`fit` draws from ``rng``, in order: the Keras seed, then one order of the images per epoch (rows)."""
    seed = int(rng.integers(2**31 - 1))
    return seed, np.stack([rng.permutation(images) for _ in range(epochs)])


def mean_image_mse(train: mnist.Digits, test: mnist.Digits) -> float:
    r"""Held-out MSE of the constant guess :math:`\bar y` (the mean training image): the floor every net must beat."""
    _check_split(train, test)
    return float(np.mean((test.images - train.images.mean(axis=0)) ** 2))


def pca_mse(train: mnist.Digits, test: mnist.Digits, hidden: int) -> float:
    r"""Held-out MSE of the rank-``hidden`` principal-component reconstruction :math:`\bar y + V^\top V (y - \bar y)`.

    ``V`` (shape ``(hidden, n)``) holds the top right singular vectors of the centred training
    images.  By the Eckart–Young theorem this is the best rank-``hidden`` linear reconstruction
    with an offset on the training set; a linear tied autoencoder :math:`\hat y = \bar y + W^\top W(y - \bar y)`
    of the same size reaches it at :math:`W = V` and no better (Baldi and Hornik, 1989).
    """
    _check_split(train, test)
    hidden = check.integer(hidden, "hidden", minimum=1, maximum=min(len(train), train.images.shape[1]))
    mean = train.images.mean(axis=0)
    V = np.linalg.svd(train.images - mean, full_matrices=False)[2][:hidden]
    centred = test.images - mean
    return float(np.mean((centred @ V.T @ V - centred) ** 2))


def beats_reference(errors: Sequence[float], reference: float, factor: float = 1.0) -> bool:
    r"""Whether every held-out error in ``errors`` is at most ``factor`` times the ``reference`` error.

    E.g. both nets against the mean image (``factor`` < 1: by a margin), or the two-layer net
    against the one-layer net (``factor = 1``: no worse).
    """
    errors = check.real_sequence(errors, "errors", minimum=0.0)
    reference = check.real(reference, "reference", minimum=0.0, strict_min=True)
    factor = check.real(factor, "factor", minimum=0.0, strict_min=True)
    return all(e <= factor * reference for e in errors)


def active_fraction(weights: mnist.TiedWeights, images: np.ndarray) -> np.ndarray:
    r"""Per image, the share of first-layer units that fire: :math:`\frac1h\#\{i : (Wy - \epsilon)_i > 0\}`, shape ``(N,)``.

    In the paper's generative model exactly :math:`k = h^p` of the :math:`h` units carry the code,
    a share :math:`h^{p-1}`.
    """
    check.of_type(weights, "weights", mnist.TiedWeights)
    return np.mean(weights.encode(images) > 0, axis=1)


def effective_exponent(active_units: np.ndarray | float, hidden: np.ndarray | float) -> np.ndarray:
    r"""The exponent :math:`p` with :math:`h^p` = the number of active units: :math:`p = \log k / \log h`."""
    active_units = check.real_array(active_units, "active_units")
    hidden = check.real_array(hidden, "hidden")
    try:
        np.broadcast_shapes(active_units.shape, hidden.shape)
    except ValueError as exc:
        raise ValueError(f"active_units {active_units.shape} and hidden {hidden.shape} must broadcast together") from exc
    if np.any(hidden <= 1) or np.any(active_units <= 0):
        raise ValueError("hidden must be > 1 and active_units > 0 for the exponent log k / log h")
    return np.log(active_units) / np.log(hidden)


@dataclass(frozen=True)
class Atoms:
    r"""Geometry of the learned rows :math:`W_i` (the "atoms"), set against the paper's dictionary.

    Attributes
    ----------
    norms : numpy.ndarray
        Shape ``(h,)``: :math:`\|W_i\|_2` (the paper's dictionary has unit columns).
    coherence : float
        :math:`\max_{i\ne j}|\langle W_i, W_j\rangle|/(\|W_i\|\|W_j\|)` (the paper's incoherence :math:`h^{-\xi}`).
    orthogonality : float
        :math:`\|WW^\top - I\|_F/\sqrt h`: 0 when the rows are orthonormal and :math:`W^\top W` is a projection.
    """

    norms: np.ndarray
    coherence: float
    orthogonality: float


def atoms(weights: mnist.TiedWeights) -> Atoms:
    """Norms, coherence and distance from orthonormality of the rows of ``weights.W``."""
    check.of_type(weights, "weights", mnist.TiedWeights)
    W = weights.W
    norms = np.linalg.norm(W, axis=1)
    if W.shape[0] < 2 or np.any(norms == 0):
        raise ValueError("weights.W must have at least 2 nonzero rows to define a coherence")
    gram = W @ W.T
    orthogonality = float(np.linalg.norm(gram - np.eye(W.shape[0])) / np.sqrt(W.shape[0]))
    return Atoms(norms, model.coherence((W / norms[:, None]).T), orthogonality)


@dataclass(frozen=True)
class Sweep:
    """Both nets trained at several hidden sizes, with the references.

    Attributes
    ----------
    hidden_values : numpy.ndarray
        Shape ``(H,)``.
    fits : tuple of tuple of Fit
        ``fits[j]`` is ``(one-layer fit, two-layer fit)`` at ``hidden_values[j]``.
    mean_image : float
        Held-out MSE of the mean training image.
    pca : numpy.ndarray
        Shape ``(H,)``: held-out MSE of PCA of rank ``hidden_values[j]``.
    """

    hidden_values: np.ndarray
    fits: tuple[tuple[Fit, Fit], ...]
    mean_image: float
    pca: np.ndarray

    @property
    def test_mse(self) -> np.ndarray:
        """Shape ``(H, 2)``: held-out MSE of the one-layer (column 0) and two-layer (column 1) nets."""
        return np.array([[f.test_mse for f in pair] for pair in self.fits])

    def at(self, hidden: int) -> tuple[Fit, Fit]:
        """The two fits at hidden size ``hidden`` (one of :attr:`hidden_values`)."""
        hidden = check.integer(hidden, "hidden", minimum=1)
        where = np.flatnonzero(self.hidden_values == hidden)
        if where.size == 0:
            raise ValueError(f"hidden must be one of {self.hidden_values.tolist()}, got {hidden}")
        return self.fits[int(where[0])]

    def active_units(self, images: np.ndarray) -> np.ndarray:
        """Shape ``(H, 2)``: mean number of active first-layer units per image, per net."""
        return np.array([[f.hidden * active_fraction(f.weights, images).mean() for f in pair] for pair in self.fits])

    def summary(self, images: np.ndarray) -> pd.DataFrame:
        """One row per trained net: held-out MSE, its ratios to the references, code density on ``images``, atom geometry."""
        rows = []
        for pca, pair in zip(self.pca, self.fits):
            for f in pair:
                geometry = atoms(f.weights)
                rows.append({
                    "hidden h": f.hidden,
                    "hidden layers": f.hidden_layers,
                    "held-out MSE": f.test_mse,
                    "MSE / mean image": f.test_mse / self.mean_image,
                    "MSE / PCA": f.test_mse / pca,
                    "active share": float(active_fraction(f.weights, images).mean()),
                    "median norm of W_i": float(np.median(geometry.norms)),
                    "coherence": geometry.coherence,
                    "training seconds": f.seconds,
                })
        return pd.DataFrame(rows)


def sweep(
    train: mnist.Digits, test: mnist.Digits, hidden_values, *,
    epochs: int, batch_size: int, learning_rate: float, rng: np.random.Generator,
) -> Sweep:
    """Train both nets (:func:`fit`) at every hidden size and measure the references on the same split.

    One task per net through :func:`lib.execution.map_tasks` (serial by default, on Dask workers
    when configured).  The nets draw from ``rng`` as one serial loop of :func:`fit` calls would:
    each task resumes the state ``rng`` had where that loop would have started it
    (:func:`lib.execution.generator_state`), so every backend gives the loop's numbers, and
    ``rng`` ends where the loop would have left it.
    """
    hidden_values = np.asarray(check.integer_sequence(hidden_values, "hidden_values", minimum=1))
    check.allocation("hidden_values", 16.0 * hidden_values.max() * mnist.N_PIXELS)
    if hidden_values.size == 0 or np.unique(hidden_values).size != hidden_values.size:
        raise ValueError(f"hidden_values must be distinct and non-empty, got {hidden_values.tolist()}")
    rng = check.generator(rng)
    _check_split(train, test)  # every argument of fit, before rng moves or a task starts
    if train.images.shape[1] != mnist.N_PIXELS:
        raise ValueError(f"train must have images of {mnist.N_PIXELS} pixels, got {train.images.shape[1]}")
    epochs = check.loop_count(epochs, "epochs")
    check.loop_count(batch_size, "batch_size")
    check.real(learning_rate, "learning_rate", minimum=0.0, strict_min=True)
    data = hashlib.sha256(train.images.tobytes() + test.images.tobytes()).hexdigest()  # checkpoints belong to these images
    tasks = []
    for h in hidden_values:
        for layers in (1, 2):
            tasks.append({"hidden": int(h), "hidden_layers": layers, "stream": execution.generator_state(rng),
                          "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate, "data": data})
            _draws(rng, epochs, len(train))  # on to where this net's fit leaves rng
    fitted = execution.map_tasks(functools.partial(_fit_task, train, test), tasks, seed=0, name="MNIST autoencoders")
    pairs = tuple(zip(fitted[0::2], fitted[1::2]))
    pca = np.array([pca_mse(train, test, int(h)) for h in hidden_values])
    return Sweep(hidden_values, pairs, mean_image_mse(train, test), pca)


def _fit_task(train: mnist.Digits, test: mnist.Digits, _: np.random.Generator, *, stream: dict, data: str,
              **options) -> Fit:
    """One net of :func:`sweep`: :func:`fit` on a generator resumed from ``stream`` (the stream :mod:`lib.execution`
    derives is not used; ``data`` names the images)."""
    return fit(train, test, rng=execution.resume(stream), **options)
