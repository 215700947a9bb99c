r"""One dictionary-recovery metric for every method (the training chapter's, book/06_training).

A learner returns atoms :math:`\hat a_1,\dots,\hat a_m \in \mathbb R^n` (the rows of ``W``: the
autoencoder's encoder, scikit-learn's ``components_``, or a dictionary's transpose).  Atoms are
compared with the columns of :math:`A^*` through the absolute cosines

.. math::

    C_{ij} = \frac{|\langle A^*_i, \hat a_j\rangle|}{\|A^*_i\|\,\|\hat a_j\|},

because learned atoms may come in any order and, for tied autoencoders, with either sign.  The
Hungarian algorithm :cite:p:`kuhn1955hungarian` (``scipy.optimize.linear_sum_assignment``) picks
the one-to-one matching :math:`\pi` that maximises :math:`\sum_i C_{i\pi(i)}`; then

* ``mcc`` = :math:`\frac1h\sum_i C_{i\pi(i)}` (mean matched :math:`|\cos|`);
* ``fraction(0.99)`` = share of columns with :math:`C_{i\pi(i)} > 0.99`;
* ``max_dist`` = :math:`\max_i \sqrt{2 - 2C_{i\pi(i)}}`, the largest distance between unit atoms after
  sign alignment (Arora et al.'s :math:`\delta`);
* ``mmcs`` = :math:`\frac1h\sum_i \max_j C_{ij}` (unmatched mean max cosine similarity of the
  sparse-autoencoder literature); ``mmcs >= mcc`` always, since the matching is a constraint.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from lib import _validate as check

__all__ = ["Recovery", "recovery", "align", "column_distances"]


@dataclass(frozen=True)
class Recovery:
    """The matching of learned atoms to the columns of :math:`A^*` and its scores.

    Attributes
    ----------
    cosines : numpy.ndarray
        Shape ``(h,)``: :math:`C_{i\\pi(i)}`, the matched :math:`|\\cos|` of column ``i``.
    assignment : numpy.ndarray
        Shape ``(h,)``: ``assignment[i]`` is the row of ``W`` matched to column ``A[:, i]``.
    signs : numpy.ndarray
        Shape ``(h,)``: the sign ``±1`` that aligns the matched atom with ``A[:, i]``.
    mmcs : float
        Unmatched mean max :math:`|\\cos|`.
    """

    cosines: np.ndarray
    assignment: np.ndarray
    signs: np.ndarray
    mmcs: float

    @property
    def mcc(self) -> float:
        """Mean matched :math:`|\\cos|`."""
        return float(np.mean(self.cosines))

    def fraction(self, threshold: float = 0.99) -> float:
        """Share of the columns of :math:`A^*` whose matched :math:`|\\cos|` exceeds ``threshold``."""
        threshold = check.real(threshold, "threshold", minimum=0.0, maximum=1.0)
        return float(np.mean(self.cosines > threshold))

    @property
    def max_dist(self) -> float:
        r"""Largest :math:`\sqrt{2 - 2C_{i\pi(i)}}` over the columns (unit atoms, sign aligned)."""
        return float(np.sqrt(max(2.0 - 2.0 * float(np.min(self.cosines)), 0.0)))


def _unit_rows(M: np.ndarray) -> np.ndarray:
    """Rows scaled to unit norm; zero rows (dead atoms) stay zero and so have cosine 0."""
    norms = np.linalg.norm(M, axis=1, keepdims=True)
    return np.divide(M, norms, out=np.zeros_like(M), where=norms > 0)


def recovery(A: np.ndarray, W: np.ndarray) -> Recovery:
    r"""Match the rows of ``W`` to the columns of ``A`` and score the match (module docstring).

    Parameters
    ----------
    A : numpy.ndarray
        True dictionary :math:`A^*`, shape ``(n, h)`` (columns need not be exactly unit: the
        metric uses cosines).
    W : numpy.ndarray
        Learned atoms as rows, shape ``(m, n)`` with ``m >= h``; extra atoms stay unmatched.

    Returns
    -------
    Recovery
    """
    A = check.matrix(A, "A")
    W = check.matrix(W, "W", shape=(None, A.shape[0]), match="A")
    if W.shape[0] < A.shape[1]:
        raise ValueError(f"W must have at least h={A.shape[1]} rows (atoms), got {W.shape[0]}")
    signed = _unit_rows(A.T) @ _unit_rows(W).T
    C = np.abs(signed)
    rows, cols = linear_sum_assignment(C, maximize=True)
    signs = np.where(signed[rows, cols] < 0, -1.0, 1.0)
    return Recovery(cosines=C[rows, cols], assignment=cols, signs=signs, mmcs=float(np.mean(C.max(axis=1))))


def align(W: np.ndarray, match: Recovery) -> np.ndarray:
    r"""The matched atoms in the order of the columns of :math:`A^*`, sign aligned: row ``i`` estimates ``A[:, i]``.

    Returns
    -------
    numpy.ndarray
        ``match.signs[:, None] * W[match.assignment]``, shape ``(h, n)``.
    """
    W = check.matrix(W, "W")
    check.of_type(match, "match", Recovery)
    if match.assignment.max() >= W.shape[0]:
        raise ValueError(f"W must have at least {match.assignment.max() + 1} rows to match match, got {W.shape[0]}")
    return match.signs[:, None] * W[match.assignment]


def column_distances(A: np.ndarray, W: np.ndarray) -> np.ndarray:
    r"""The theory's column distances :math:`\|W_i - A^*_i\|_2` (no matching, no normalisation).

    Parameters
    ----------
    A : numpy.ndarray
        Shape ``(n, h)``.
    W : numpy.ndarray
        Shape ``(h, n)``; use :func:`align` first when the rows come in another order.

    Returns
    -------
    numpy.ndarray
        Shape ``(h,)``.
    """
    A = check.matrix(A, "A")
    W = check.matrix(W, "W", shape=(A.shape[1], A.shape[0]), match="A")
    return np.linalg.norm(W - A.T, axis=1)
