r"""The exact expectation of the gradient over the data for codes with one nonzero (:math:`k=1`).

With one nonzero per code the support is :math:`\{j\}` with probability :math:`1/h` and every
term of the per-sample gradient is a polynomial of degree 2 in the nonzero on the interval where a
unit is active, so :math:`\mathbb E\,\nabla_W L` has a closed form (:func:`expected_gradient_k1`):
no sampling at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from lib import _validate as check
from lib.estimators.structure import DENSE_FRACTION, PAIR_BUDGET, GradientStructure, _segments, _times

__all__ = ["ExpectedK1", "expected_gradient_k1"]


def _second_moment(low: float, high: float) -> float:
    r""":math:`m_2 = \mathbb E[x^2]` for :math:`x\sim U[low, high]`."""
    return (low**2 + low * high + high**2) / 3.0


@dataclass(frozen=True, eq=False)
class ExpectedK1:
    r"""Exact expectations over the data for codes with one nonzero (:math:`k=1`).

    Attributes
    ----------
    gradient : numpy.ndarray
        :math:`\mathbb E\,\nabla_W L`, shape ``(h, n)``.
    loss : float
        :math:`\mathbb E\,L(W)`.
    active_fraction : float
        Expected fraction of hidden units active on a sample.
    """

    gradient: np.ndarray
    loss: float
    active_fraction: float


def _activity_intervals(m: np.ndarray, e: np.ndarray, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Where :math:`xm - e > 0` on :math:`[low, high]`: the interval ``[lo, hi]`` (empty when ``hi <= lo``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = e / m
    lo = np.where(m > 0, np.maximum(low, tau), low)
    hi = np.where(m < 0, np.minimum(high, tau), high)
    dead = (m == 0) & (e >= 0)
    return np.where(dead, low, lo), np.where(dead, low, hi)


def _k1_block(s: GradientStructure, col: np.ndarray, unit: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Contributions of live (column, unit) pairs, grouped by column, to E[C], E[T], E[r] and E[#active] (unscaled)."""
    cols, width = np.unique(col, return_counts=True)
    J, size = cols.size, int(width.max())
    owner, position = _segments(width)
    order = np.zeros((J, size), dtype=np.intp)
    valid = np.zeros((J, size), dtype=bool)
    lo_p = np.zeros((J, size))
    hi_p = np.zeros((J, size))
    order[owner, position], valid[owner, position] = unit, True
    lo_p[owner, position], hi_p[owner, position] = lo, hi  # padding: the empty interval [0, 0]
    m = s.M[order, cols[:, None]]
    e = s.eps[order]
    LO = np.maximum(lo_p[:, :, None], lo_p[:, None, :])
    HI = np.maximum(np.minimum(hi_p[:, :, None], hi_p[:, None, :]), LO)
    I0, I1, I2 = ((HI**q - LO**q) / q for q in (1, 2, 3))  # integrals of 1, x, x^2 over the intersections
    C = (m[:, :, None] * m[:, None, :] * I2 - (m[:, :, None] * e[:, None, :] + e[:, :, None] * m[:, None, :]) * I1
         + e[:, :, None] * e[:, None, :] * I0)
    Gp = s.G[order[:, :, None], order[:, None, :]]
    diag = np.arange(size)
    T = (np.einsum("jab,jab->ja", Gp, m[:, None, :] * I2 - e[:, None, :] * I1)
         - 2.0 * m * I2[:, diag, diag] + e * I1[:, diag, diag])
    r_mean = m * I1[:, diag, diag] - e * I0[:, diag, diag]
    pair = valid[:, :, None] & valid[:, None, :]
    C_entries = (np.broadcast_to(order[:, :, None], C.shape)[pair], np.broadcast_to(order[:, None, :], C.shape)[pair], C[pair])
    T_entries = (order[valid], np.repeat(cols, width), T[valid])
    return C_entries, T_entries, np.bincount(order[valid], weights=r_mean[valid], minlength=s.h), float((hi - lo).sum())


def _column_blocks(width: np.ndarray, budget: int) -> list[slice]:
    """Consecutive ranges of columns whose padded arrays (columns x widest^2) stay under ``budget``."""
    blocks, start, widest = [], 0, 0
    for j, w in enumerate(width):
        if j > start and (j + 1 - start) * max(widest, int(w)) ** 2 > budget:
            blocks.append(slice(start, j))
            start, widest = j, 0
        widest = max(widest, int(w))
    blocks.append(slice(start, width.size))
    return blocks


def _sparse_sum(entries: list[tuple[np.ndarray, np.ndarray, np.ndarray]], h: int) -> sparse.csr_matrix:
    """Sum of (row, column, value) triplets as an ``h x h`` CSR matrix (duplicates added)."""
    rows, cols, vals = (np.concatenate(parts) for parts in zip(*entries))
    return sparse.coo_matrix((vals, (rows, cols)), shape=(h, h)).tocsr()


def expected_gradient_k1(structure: GradientStructure, low: float, high: float, *, budget: int = PAIR_BUDGET // 4) -> ExpectedK1:
    r"""Exact :math:`\mathbb E\,\nabla_W L` over the data when every code has one nonzero (:math:`k=1`).

    The support is :math:`\{j\}` with probability :math:`1/h` and :math:`y = xA^*_j`,
    :math:`x\sim U[m_{\min}, m_{\max}]`.  Then :math:`u = x\,M_{:j} - \epsilon` and unit
    :math:`i` is active on an interval :math:`I_{ij}` of :math:`x` (for :math:`\epsilon_i>0`,
    :math:`x > \epsilon_i/M_{ij}`).  On every interval the terms of
    :math:`\mathbb E[C] = \mathbb E[rr^\top]` and :math:`\mathbb E[T] = \mathbb E[t\,x^\top]` are
    polynomials of degree 2 in :math:`x`, so

    .. math::

        \mathbb E[C]_{il} = \frac{1}{h(m_{\max}-m_{\min})}\sum_j\int_{I_{ij}\cap I_{lj}}
        (xM_{ij}-\epsilon_i)(xM_{lj}-\epsilon_l)\,dx ,\qquad
        \mathbb E\,\nabla_W L = \mathbb E[C]\,W + \mathbb E[T]\,A^{*\top}

    exactly, with :math:`\mathbb E[T]_{ij} = \frac{1}{h(m_{\max}-m_{\min})}\big[\sum_l G_{il}\int_{I_{ij}\cap I_{lj}}
    x(xM_{lj}-\epsilon_l)\,dx - \int_{I_{ij}}x(2xM_{ij}-\epsilon_i)\,dx\big]`.  Cost
    :math:`O(\sum_j|\{i: I_{ij}\neq\emptyset\}|^2)` plus two products with ``W`` and ``A``; no
    sampling error.

    Parameters
    ----------
    structure : GradientStructure
        Encoder, dictionary and bias (:meth:`GradientStructure.of`).
    low, high : float
        The nonzero is ``U[low, high]``, ``0 <= low < high``.
    budget : int, optional
        Largest number of padded (column, unit, unit) entries handled at once (memory bound).

    Returns
    -------
    ExpectedK1
    """
    check.of_type(structure, "structure", GradientStructure)
    low = check.real(low, "low", minimum=0.0)
    high = check.real(high, "high", minimum=0.0)
    if not high > low:
        raise ValueError(f"high must be > low for a continuous value distribution, got low={low}, high={high}")
    budget = check.integer(budget, "budget", minimum=1)
    s = structure
    h = s.h
    pointer, unit = s._candidate_lists(1, high)[:2]  # units that can fire for some x <= high
    col = np.repeat(np.arange(h), np.diff(pointer))
    lo, hi = _activity_intervals(s.M[unit, col], s.eps[unit], low, high)
    live = hi > lo
    col, unit, lo, hi = col[live], unit[live], lo[live], hi[live]
    if col.size == 0:  # every unit is dead for every input: the loss is flat and the gradient 0
        return ExpectedK1(np.zeros_like(s.W), 0.5 * _second_moment(low, high) * float(np.mean(np.sum(s.A**2, axis=0))), 0.0)
    widths = np.bincount(col, minlength=h)
    dense = int(np.sum(widths.astype(np.int64) ** 2)) > DENSE_FRACTION * h * h  # many (unit, unit) pairs: add into a dense E[C]
    C_flat = np.zeros(h * h) if dense else None
    C_parts, T_parts, r_mean, active = [], [], np.zeros(h), 0.0
    bounds = np.concatenate([[0], np.cumsum(widths)])
    for part in _column_blocks(widths, budget):
        rows = slice(bounds[part.start], bounds[part.stop])
        (ci, cl, cv), T_entries, r_part, width = _k1_block(s, col[rows], unit[rows], lo[rows], hi[rows])
        if dense:
            np.add.at(C_flat, ci * h + cl, cv)
        else:
            C_parts.append((ci, cl, cv))
        T_parts.append(T_entries)
        r_mean += r_part
        active += width
    scale = 1.0 / (h * (high - low))
    C = C_flat.reshape(h, h) * scale if dense else _sparse_sum(C_parts, h) * scale
    T = _sparse_sum(T_parts, h) * scale
    r_mean *= scale
    if dense:
        GC = float(np.einsum("ij,ij->", s.G, C))
        CW = C @ s.W
    else:
        Cc = C.tocoo()
        GC = float(np.sum(s.G[Cc.row, Cc.col] * Cc.data))
        CW = _times(C, s.W)
    loss = (0.5 * GC - float(C.diagonal().sum()) - float(s.eps @ r_mean)
            + 0.5 * _second_moment(low, high) * float(np.mean(np.sum(s.A**2, axis=0))))
    return ExpectedK1(CW + s._times_At(T), loss, active * scale / h)
