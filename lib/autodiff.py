r"""Reference gradients by TensorFlow automatic differentiation (float64).

Used to cross-check :func:`lib.autoencoder.gradient` and in the benchmarks.  The loss is built
from the same formula, :math:`\frac1N\sum_s\tfrac12\|W^\top\mathrm{ReLU}(Wy_s-\epsilon)-y_s\|^2`,
and differentiated by ``tf.GradientTape``; TensorFlow's ReLU has derivative 0 at 0, like ours.
TensorFlow is imported on first use only, so ``import lib`` stays fast.
"""

from __future__ import annotations

import numpy as np

from lib import _validate as check

__all__ = [
    "tf_loss_and_gradient",
    "tf_gradient",
    "tf_hvp",
]


def tf_loss_and_gradient(W: np.ndarray, Y: np.ndarray, eps: float | np.ndarray) -> tuple[float, np.ndarray]:
    """Loss and its gradient with respect to ``W`` (shape ``(h, n)``) by TensorFlow autodiff in float64."""
    import tensorflow as tf

    W = check.matrix(W, "W")
    Y = check.matrix(Y, "Y", shape=(W.shape[1], None), match="W")
    e = check.bias(eps, W.shape[0])
    Wt = tf.Variable(W, dtype=tf.float64)
    Yt = tf.constant(Y, dtype=tf.float64)
    et = tf.constant(e, dtype=tf.float64)
    with tf.GradientTape() as tape:
        E = tf.matmul(Wt, tf.nn.relu(tf.matmul(Wt, Yt) - et), transpose_a=True) - Yt
        value = 0.5 * tf.reduce_sum(E * E) / Y.shape[1]
    return float(value.numpy()), tape.gradient(value, Wt).numpy()


def tf_gradient(W: np.ndarray, Y: np.ndarray, eps: float | np.ndarray) -> np.ndarray:
    """Gradient of the mean loss with respect to ``W`` by TensorFlow autodiff (float64), shape ``(h, n)``."""
    return tf_loss_and_gradient(W, Y, eps)[1]


def tf_hvp(W: np.ndarray, Y: np.ndarray, eps: float | np.ndarray, V: np.ndarray) -> np.ndarray:
    """Hessian-vector product of the mean loss along ``V`` by TensorFlow forward-over-backward autodiff (float64).

    A ``tf.autodiff.ForwardAccumulator`` along ``V`` over a ``GradientTape`` of the loss: the reference for
    :func:`lib.hessian.hvp`.  Returns shape ``(h, n)``.
    """
    import tensorflow as tf

    W = check.matrix(W, "W")
    Y = check.matrix(Y, "Y", shape=(W.shape[1], None))
    e = check.bias(eps, W.shape[0])
    V = check.matrix(V, "V", shape=W.shape)
    Wt = tf.Variable(W, dtype=tf.float64)
    Yt, et = tf.constant(Y, dtype=tf.float64), tf.constant(e, dtype=tf.float64)
    with tf.autodiff.ForwardAccumulator(Wt, tf.constant(V, dtype=tf.float64)) as acc:
        with tf.GradientTape() as tape:
            E = tf.matmul(Wt, tf.nn.relu(tf.matmul(Wt, Yt) - et), transpose_a=True) - Yt
            value = 0.5 * tf.reduce_sum(E * E) / Y.shape[1]
        grad = tape.gradient(value, Wt)
    return acc.jvp(grad).numpy()
