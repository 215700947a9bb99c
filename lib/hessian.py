r"""The exact Hessian of the autoencoder's empirical loss, its extreme eigenvalues, and their eigenvectors.

Differentiate the gradient of :func:`lib.autoencoder.gradient` once more along a direction
:math:`V` (shape ``(h, n)``, like :math:`W`).  Per sample, with :math:`u = Wy - \epsilon`,
:math:`D = \mathrm{diag}(\mathbf 1[u > 0])`, :math:`r = Du`, :math:`e = W^\top r - y` and the
gradient :math:`g = re^\top + (DWe)y^\top`, the active set :math:`D` does not move under an
infinitesimal step (the ReLU's kink :math:`u_i = 0` has probability zero under the model), so

.. math::

    \dot u = Vy,\qquad \dot r = D\dot u,\qquad \dot e = V^\top r + W^\top \dot r,

    H[V] = \dot g = \underbrace{r\dot e^\top + (DW\dot e)\,y^\top}_{\text{Gauss–Newton } J^\top J V}
    \;+\; \underbrace{\dot r e^\top + (DVe)\,y^\top}_{\text{residual (active-set) terms}},

averaged over samples.  :math:`J V = \dot e` is the Jacobian of the residual :math:`e` and
:math:`J^\top\delta = r\delta^\top + (DW\delta)y^\top`, so the first part is positive
semidefinite; the second is weighted by the residual :math:`e` and vanishes at a perfect fit.
With the sample-dependent quantities :math:`(D, R, E)` cached (:class:`HessianOperator`) one
product costs eight matrix products of size :math:`h\times n\times N`, against five for the
gradient.  Every function works in float64 and flattens :math:`V` row-major (``V.ravel()``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import LinearOperator, eigsh

from lib import _validate as check

__all__ = ["PARTS", "HessianOperator", "hvp", "Extremes", "extremes", "DirectionSplit", "direction_split"]

PARTS = ("full", "gauss_newton", "residual")
SPARSE_BELOW = 16  # use the active-pairs formula when at most 1/16 of the (unit, sample) pairs fire (benchmarks/RESULTS.md)


def _rowdots(M: np.ndarray, units: np.ndarray, S: np.ndarray, samples: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """``<M[units[p]], S[samples[p]]>`` for every pair ``p``, gathered in chunks to bound memory."""
    out = np.empty(units.size)
    for start in range(0, units.size, chunk):
        part = slice(start, start + chunk)
        out[part] = np.einsum("pn,pn->p", M[units[part]], S[samples[part]])
    return out


class HessianOperator(LinearOperator):
    r"""The Hessian :math:`\nabla^2_W L` of the empirical loss at ``W`` as a symmetric ``LinearOperator``.

    Acts on flattened directions :math:`V` (``h*n`` entries, row-major), or on the rows ``rows``
    only (the Hessian restricted to those rows' coordinates; use it to leave out units that never
    fire, whose block of the Hessian is exactly zero).

    Parameters
    ----------
    W : numpy.ndarray
        Encoder, shape ``(h, n)``.
    Y : numpy.ndarray
        Signals, shape ``(n, N)``.
    eps : float or numpy.ndarray
        Bias, scalar or ``(h,)``.
    part : str
        ``"full"`` (the Hessian), ``"gauss_newton"`` (:math:`J^\top J`) or ``"residual"`` (the rest).
    rows : numpy.ndarray or None
        Indices of the rows to act on (default: all).
    """

    def __init__(self, W: np.ndarray, Y: np.ndarray, eps: float | np.ndarray, *, part: str = "full",
                 rows: np.ndarray | None = None) -> None:
        W = check.matrix(W, "W")
        Y = check.matrix(Y, "Y", shape=(W.shape[1], None))
        e = check.bias(eps, W.shape[0])
        if part not in PARTS:
            raise ValueError(f"part must be one of {', '.join(PARTS)}; got {part!r}")
        h, n = W.shape
        if rows is None:
            rows = np.arange(h)
        else:
            rows = np.asarray(rows)
            if rows.ndim != 1 or rows.size == 0 or rows.dtype.kind not in "iu" or np.unique(rows).size != rows.size \
                    or rows.min() < 0 or rows.max() >= h:
                raise ValueError(f"rows must be distinct row indices in [0, {h}), got {rows!r}")
        self.W, self.Y, self.part, self.rows = W, Y, part, rows
        U = W @ Y - e
        active = U > 0
        self.sparse = bool(active.sum() <= active.size / SPARSE_BELOW)
        if self.sparse:  # keep only the active (unit, sample) pairs: cost O(nnz(r) n) instead of O(hnN)
            self.units, self.samples = np.nonzero(active)
            self.r = U[self.units, self.samples]
            self.indptr = np.concatenate(([0], np.cumsum(active.sum(axis=1))))
            self.R = self._pairs(self.r)
            self.E = np.asarray((self.R.T @ W).T) - Y
            self.YT, self.ET = np.ascontiguousarray(Y.T), np.ascontiguousarray(self.E.T)
        else:
            self.mask = active.astype(np.float64)
            self.R = self.mask * U
            self.E = W.T @ self.R - Y
        super().__init__(np.float64, (rows.size * n, rows.size * n))

    def apply(self, V: np.ndarray) -> np.ndarray:
        r""":math:`H[V]` for a full direction ``V`` of shape ``(h, n)`` (formula of the module docstring)."""
        V = check.matrix(V, "V", shape=self.W.shape)
        return (self._apply_sparse(V) if self.sparse else self._apply_dense(V)) / self.Y.shape[1]

    def _apply_dense(self, V: np.ndarray) -> np.ndarray:
        W, Y, R, E, D = self.W, self.Y, self.R, self.E, self.mask
        dR = D * (V @ Y)
        dE = V.T @ R + W.T @ dR
        if self.part == "gauss_newton":
            return R @ dE.T + (D * (W @ dE)) @ Y.T
        if self.part == "residual":
            return dR @ E.T + (D * (V @ E)) @ Y.T
        return dR @ E.T + R @ dE.T + (D * (V @ E + W @ dE)) @ Y.T

    def _pairs(self, values: np.ndarray) -> sparse.csr_array:
        """An ``(h, N)`` CSR array with ``values`` on the active pairs (already in row-major order)."""
        return sparse.csr_array((values, self.samples, self.indptr), shape=(self.W.shape[0], self.Y.shape[1]))

    def _apply_sparse(self, V: np.ndarray) -> np.ndarray:
        W, i, s, R = self.W, self.units, self.samples, self.R
        pairs = self._pairs
        dr = _rowdots(V, i, self.YT, s)  # (V y_s)_i on the active pairs
        dR = pairs(dr)
        dE = np.asarray(R.T @ V).T + np.asarray(dR.T @ W).T  # (n, N)
        gn = np.asarray(R @ dE.T) + np.asarray(pairs(_rowdots(W, i, np.ascontiguousarray(dE.T), s)) @ self.Y.T)
        if self.part == "gauss_newton":
            return gn
        residual = np.asarray(dR @ self.E.T) + np.asarray(pairs(_rowdots(V, i, self.ET, s)) @ self.Y.T)
        return residual if self.part == "residual" else gn + residual

    def _matvec(self, x: np.ndarray) -> np.ndarray:
        n = self.W.shape[1]
        V = np.zeros_like(self.W)
        V[self.rows] = np.asarray(x, dtype=np.float64).reshape(self.rows.size, n)
        return self.apply(V)[self.rows].ravel()

    def _adjoint(self) -> "HessianOperator":
        return self  # the Hessian is symmetric


def hvp(W: np.ndarray, Y: np.ndarray, eps: float | np.ndarray, V: np.ndarray, *, part: str = "full") -> np.ndarray:
    r"""Exact Hessian-vector product :math:`\nabla^2_W L\,[V]` of the empirical loss, shape ``(h, n)``.

    :math:`L(W) = \frac1N\sum_s\tfrac12\|W^\top\mathrm{ReLU}(Wy_s-\epsilon)-y_s\|^2`; the formula is in the
    module docstring.  ``part`` selects the Gauss–Newton or the residual part (:class:`HessianOperator`).

    Parameters
    ----------
    W : numpy.ndarray
        Encoder, shape ``(h, n)``.
    Y : numpy.ndarray
        Signals, shape ``(n, N)``.
    eps : float or numpy.ndarray
        Bias, scalar or ``(h,)``.
    V : numpy.ndarray
        Direction, shape ``(h, n)``.
    part : str
        ``"full"``, ``"gauss_newton"`` or ``"residual"``.
    """
    return HessianOperator(W, Y, eps, part=part).apply(V)


@dataclass(frozen=True)
class Extremes:
    r"""Extreme eigenpairs of a Hessian found by Lanczos.

    Attributes
    ----------
    values : numpy.ndarray
        ``(m,)`` eigenvalues, ascending.
    vectors : numpy.ndarray
        ``(m, h, n)`` unit eigenvectors as directions :math:`V` (zero outside the rows acted on).
    residuals : numpy.ndarray
        ``(m,)`` :math:`\|Hv - \lambda v\|` of each pair, computed afresh.
    matvecs : int
        Hessian-vector products spent.
    """

    values: np.ndarray
    vectors: np.ndarray
    residuals: np.ndarray
    matvecs: int


class _Counted(LinearOperator):
    """Wraps an operator and counts its products."""

    def __init__(self, op: LinearOperator) -> None:
        self.op, self.count = op, 0
        super().__init__(op.dtype, op.shape)

    def _matvec(self, x: np.ndarray) -> np.ndarray:
        self.count += 1
        return self.op.matvec(x)

    def _adjoint(self) -> "_Counted":
        return self


def extremes(op: LinearOperator, rng: np.random.Generator, *, which: str = "SA", count: int = 1,
             tol: float = 1e-6, ncv: int | None = None, shape: tuple[int, int] | None = None) -> Extremes:
    r"""The ``count`` smallest (``which="SA"``) or largest (``"LA"``) eigenpairs of a symmetric ``op`` by Lanczos.

    Uses :func:`scipy.sparse.linalg.eigsh` (implicitly restarted Lanczos, ARPACK) from a start vector
    drawn from ``rng``, so a run is reproducible; reports each pair's residual :math:`\|Hv-\lambda v\|`.

    Parameters
    ----------
    op : scipy.sparse.linalg.LinearOperator
        A symmetric operator, e.g. :class:`HessianOperator`.
    rng : numpy.random.Generator
        Source of the Lanczos start vector.
    which : str
        ``"SA"`` (smallest algebraic) or ``"LA"`` (largest algebraic).
    count : int
        Number of eigenpairs, ``1 <= count < op.shape[0]``.
    tol : float
        Relative accuracy requested from ARPACK, ``> 0``.
    ncv : int or None
        Lanczos basis size (ARPACK's default when ``None``).
    shape : tuple of int or None
        ``(h, n)`` to return eigenvectors as directions; default: the operator's ``W`` shape (a
        :class:`HessianOperator`), eigenvectors scattered back to all rows.
    """
    if not isinstance(op, LinearOperator) or op.shape[0] != op.shape[1]:
        raise TypeError("op must be a square scipy.sparse.linalg.LinearOperator")
    rng = check.generator(rng)
    if which not in ("SA", "LA"):
        raise ValueError(f"which must be 'SA' or 'LA', got {which!r}")
    dim = op.shape[0]
    count = check.integer(count, "count", minimum=1, maximum=dim - 1)
    tol = check.real(tol, "tol", minimum=0.0, strict_min=True)
    counted = _Counted(op)
    values, vectors = eigsh(counted, k=count, which=which, tol=tol, ncv=ncv, v0=rng.standard_normal(dim))
    order = np.argsort(values)
    values, vectors = values[order], vectors[:, order]
    residuals = np.array([np.linalg.norm(op.matvec(v) - lam * v) for lam, v in zip(values, vectors.T)])
    if isinstance(op, HessianOperator):
        full = np.zeros((count,) + op.W.shape)
        full[:, op.rows] = vectors.T.reshape(count, op.rows.size, op.W.shape[1])
    else:
        full = vectors.T.reshape((count,) + (shape if shape is not None else (dim,)))
    return Extremes(values, full, residuals, counted.count)


@dataclass(frozen=True)
class DirectionSplit:
    r"""Where a direction :math:`V` lives (:func:`direction_split`); the three fractions sum to 1.

    Attributes
    ----------
    row_weight : numpy.ndarray
        ``(h,)`` share :math:`\|V_i\|^2/\|V\|^2` of each row.
    rows90 : int
        Fewest rows that carry 90 % of :math:`\|V\|^2`.
    along_atom : float
        Share of :math:`\|V\|^2` along each row's own atom :math:`A^*_{a(i)}`.
    coactive : float
        Share within the span of the atoms of the units that fire together with unit ``i``.
    elsewhere : float
        The rest.
    """

    row_weight: np.ndarray
    rows90: int
    along_atom: float
    coactive: float
    elsewhere: float


def direction_split(V: np.ndarray, W: np.ndarray, A: np.ndarray, Y: np.ndarray, eps: float | np.ndarray, *,
                    together: float = 0.5) -> DirectionSplit:
    r"""Split a direction :math:`V` (e.g. an eigenvector) by row and, within each row, by atom.

    Row ``i``'s atom is :math:`A^*_{a(i)}`, :math:`a(i) = \arg\max_j|\langle W_i, A^*_j\rangle|` (several rows may
    share one).  Unit ``j`` is *co-active* with unit ``i`` when it fires in at least a fraction ``together``
    of the samples of ``Y`` on which ``i`` fires.  Each :math:`V_i` is split into its projection on
    :math:`A^*_{a(i)}`, its projection on the span of the co-active units' atoms orthogonal to
    :math:`A^*_{a(i)}`, and the rest; the squared norms are summed over rows.

    Parameters
    ----------
    V : numpy.ndarray
        Direction, shape ``(h, n)``, nonzero.
    W, A, Y, eps
        The encoder ``(h, n)``, the dictionary :math:`A^*` ``(n, h)``, the signals ``(n, N)`` and the
        bias at which the direction was computed.
    together : float
        Co-activation threshold in ``(0, 1]``.
    """
    W = check.matrix(W, "W")
    h, n = W.shape
    V = check.matrix(V, "V", shape=(h, n))
    A = check.matrix(A, "A", shape=(n, None))
    Y = check.matrix(Y, "Y", shape=(n, None))
    e = check.bias(eps, h)
    together = check.real(together, "together", minimum=0.0, maximum=1.0, strict_min=True)
    total = float(np.sum(V * V))
    if total == 0.0:
        raise ValueError("V must not be zero")
    atom = np.argmax(np.abs(W @ A), axis=1)
    fires = (W @ Y - e > 0).astype(np.float64)
    co = fires @ fires.T / np.maximum(fires.sum(axis=1), 1.0)[:, None]  # co[i, j] = share of i's samples where j fires
    weight = np.sum(V * V, axis=1)
    along = coactive = 0.0
    for i in np.flatnonzero(weight > 1e-12 * total):
        own = A[:, atom[i]]
        v_along = (V[i] @ own) * own
        partners = np.setdiff1d(atom[np.flatnonzero((co[i] >= together) & (np.arange(h) != i))], atom[i])
        along += float(v_along @ v_along)
        if partners.size:
            basis = A[:, partners] - np.outer(own, own @ A[:, partners])
            Q, s, _ = np.linalg.svd(basis, full_matrices=False)
            Q = Q[:, s > 1e-10 * max(s.max(), 1.0)]
            c = Q.T @ (V[i] - v_along)
            coactive += float(c @ c)
    share = np.sort(weight)[::-1].cumsum() / total
    return DirectionSplit(weight / total, int(np.searchsorted(share, 0.9) + 1), along / total, coactive / total,
                          max(1.0 - (along + coactive) / total, 0.0))
