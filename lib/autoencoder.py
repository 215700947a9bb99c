r"""The tied-weight ReLU autoencoder of the paper (eq. (1)-(2)) and its exact gradients.

.. math::

    r = \mathrm{ReLU}(W y - \epsilon), \qquad \hat y = W^\top r, \qquad
    L(W) = \tfrac12 \|W^\top \mathrm{ReLU}(Wy - \epsilon) - y\|_2^2 .

Shapes follow the book's conventions: ``W`` is ``(h, n)`` (row ``W[i]`` is :math:`W_i`), data
are columns (``Y`` is ``(n, N)``, ``X`` is ``(h, N)``), ``eps`` is a scalar or ``(h,)``.  Losses
and gradients are means over the ``N`` samples, in float64.
"""

from __future__ import annotations

import numpy as np

from lib import _validate as check
from lib.expectation import expected_proxy_gradient

__all__ = [
    "encode",
    "reconstruct",
    "loss",
    "gradient",
    "proxy_gradient",
    "expected_proxy_gradient",
    "support_recovered",
]


def _inputs(W: np.ndarray, Y: np.ndarray, eps: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    W = check.matrix(W, "W")
    Y = check.matrix(Y, "Y", shape=(W.shape[1], None), match="W")
    return W, Y, check.bias(eps, W.shape[0])


def encode(W: np.ndarray, Y: np.ndarray, eps: float | np.ndarray) -> np.ndarray:
    r"""Hidden codes :math:`r = \mathrm{ReLU}(W y - \epsilon)` for every column of ``Y``.

    Returns
    -------
    numpy.ndarray
        ``R`` of shape ``(h, N)``.
    """
    W, Y, e = _inputs(W, Y, eps)
    return np.maximum(W @ Y - e, 0.0)


def reconstruct(W: np.ndarray, Y: np.ndarray, eps: float | np.ndarray) -> np.ndarray:
    r"""Reconstructions :math:`\hat y = W^\top \mathrm{ReLU}(W y - \epsilon)`, shape ``(n, N)``."""
    W = check.matrix(W, "W")  # validated before any cast: a complex W is refused, not silently made real
    return W.T @ encode(W, Y, eps)


def loss(W: np.ndarray, Y: np.ndarray, eps: float | np.ndarray) -> float:
    r"""Empirical loss :math:`\frac1N\sum_s \tfrac12\|W^\top\mathrm{ReLU}(Wy_s-\epsilon)-y_s\|_2^2`."""
    W, Y, e = _inputs(W, Y, eps)
    E = W.T @ np.maximum(W @ Y - e, 0.0) - Y
    return 0.5 * float(np.einsum("ij,ij->", E, E)) / Y.shape[1]


def _masked_gradient(W: np.ndarray, Y: np.ndarray, U: np.ndarray, mask: np.ndarray) -> np.ndarray:
    r"""Mean over samples of :math:`r e^\top + (\mathbb 1 \odot W e)\, y^\top` with :math:`r = \mathbb 1 \odot u`."""
    R = np.where(mask, U, 0.0)
    E = W.T @ R - Y
    return (R @ E.T + np.where(mask, W @ E, 0.0) @ Y.T) / Y.shape[1]


def gradient(W: np.ndarray, Y: np.ndarray, eps: float | np.ndarray) -> np.ndarray:
    r"""Exact gradient of the empirical loss with respect to ``W`` (appendix §4).

    Per sample, with :math:`u = Wy - \epsilon`, :math:`\mathbb 1_u = \mathbf 1[u > 0]`,
    :math:`r = \mathbb 1_u \odot u` and :math:`e = W^\top r - y`,

    .. math::

        \frac{\partial L}{\partial W} = r\, e^\top + \big(\mathbb 1_u \odot (W e)\big)\, y^\top,
        \qquad
        \frac{\partial L}{\partial W_i} = \mathbf 1[u_i > 0]\,\big(u_i\, e + \langle W_i, e\rangle\, y\big),

    averaged over the columns of ``Y`` with matrix products (no loop over samples).
    At :math:`u_i = 0` the ReLU's derivative is taken to be 0.

    Parameters
    ----------
    W : numpy.ndarray
        Encoder, shape ``(h, n)``.
    Y : numpy.ndarray
        Signals, shape ``(n, N)``.
    eps : float or numpy.ndarray
        Bias :math:`\epsilon`, scalar or shape ``(h,)``.

    Returns
    -------
    numpy.ndarray
        Mean gradient, shape ``(h, n)``.
    """
    W, Y, e = _inputs(W, Y, eps)
    U = W @ Y - e
    return _masked_gradient(W, Y, U, U > 0)


def proxy_gradient(W: np.ndarray, Y: np.ndarray, X: np.ndarray, eps: float | np.ndarray) -> np.ndarray:
    r"""The proxy gradient :math:`\widetilde\nabla_{W} L` of Sec. 5: the ReLU indicator replaced by the true support.

    Every :math:`\mathbf 1[(Wy - \epsilon)_i > 0]` is replaced by :math:`\mathbf 1[i \in S]`,
    :math:`S = \mathrm{supp}(x^*)`: with :math:`\tilde r = \mathbf 1_S \odot (Wy - \epsilon)` and
    :math:`\tilde e = W^\top \tilde r - y`,

    .. math::

        \widetilde\nabla_{W_i} L = \mathbf 1_{i \in S}\big(u_i\,\tilde e + \langle W_i, \tilde e\rangle\, y\big).

    It equals :func:`gradient` on every sample whose support the ReLU layer recovers exactly.

    Parameters
    ----------
    W, Y, eps
        As in :func:`gradient`.
    X : numpy.ndarray
        The codes that generated ``Y``, shape ``(h, N)``; their nonzero pattern is the support.
    """
    W, Y, e = _inputs(W, Y, eps)
    X = check.matrix(X, "X", shape=(W.shape[0], Y.shape[1]), match="W and Y")
    return _masked_gradient(W, Y, W @ Y - e, X != 0)


def support_recovered(W: np.ndarray, Y: np.ndarray, X: np.ndarray, eps: float | np.ndarray) -> np.ndarray:
    r"""Per sample, whether :math:`\mathbf 1[r_i > 0] = \mathbf 1[i \in \mathrm{supp}(x^*)]` for every :math:`i`.

    Returns
    -------
    numpy.ndarray
        Boolean array of shape ``(N,)``.
    """
    W, Y, e = _inputs(W, Y, eps)
    X = check.matrix(X, "X", shape=(W.shape[0], Y.shape[1]), match="W and Y")
    return np.all((W @ Y - e > 0) == (X != 0), axis=0)
