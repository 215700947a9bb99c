r"""The Hessian of the autoencoder's expected loss, its extreme eigenvalues, and their eigenvectors.

Differentiate the gradient of :func:`lib.autoencoder.gradient` once more along a direction
:math:`V` (shape ``(h, n)``, like :math:`W`).  Per sample, with :math:`u = Wy - \epsilon`,
:math:`D = \mathrm{diag}(\mathbf 1[u > 0])`, :math:`r = Du`, :math:`e = W^\top r - y` and the
gradient :math:`g = re^\top + (DWe)y^\top`, the active set :math:`D` does not move under an
infinitesimal step for one sample (its kinks :math:`u_i = 0` have probability zero), so

.. math::

    \dot u = Vy,\qquad \dot r = D\dot u,\qquad \dot e = V^\top r + W^\top \dot r,

    H[V] = \dot g = \underbrace{r\dot e^\top + (DW\dot e)\,y^\top}_{\text{Gauss–Newton } J^\top J V}
    \;+\; \underbrace{\dot r e^\top + (DVe)\,y^\top}_{\text{residual (active-set) terms}},

averaged over samples.  :math:`J V = \dot e` is the Jacobian of the residual :math:`e` and
:math:`J^\top\delta = r\delta^\top + (DW\delta)y^\top`, so the first part is positive
semidefinite; the second is weighted by the residual :math:`e` and vanishes at a perfect fit.
With the sample-dependent quantities :math:`(D, R, E)` cached (:class:`HessianOperator`) one
product costs eight matrix products of size :math:`h\times n\times N`, against five for the
gradient.

That is the Hessian of the *per-sample* loss almost everywhere (``part="ae"``).  The *expected* loss
:math:`\mathbb E\,\ell(W; y)` feels every crossing of a kink: row :math:`i` of :math:`g` carries
:math:`\mathbf 1[u_i > 0]\,\langle W_i, e\rangle\,y`, which jumps by :math:`\langle W_i, e\rangle y` when
:math:`u_i` crosses 0 (:math:`r` and :math:`e` are continuous there), so differentiating the expectation
of that jump adds a block-diagonal *boundary term*

.. math::

    (B[V])_i = \mathbb E\big[\delta(u_i)\,\langle W_i, e\rangle\,\langle V_i, y\rangle\,y\big],\qquad
    B_i = \mathbb E\big[\delta(u_i)\,\langle W_i, e\rangle\,y y^\top\big],

and :math:`\nabla^2\,\mathbb E\,\ell = \mathbb E[H_{\mathrm{a.e.}}] + B` (``part="full"``, the default).  The
density at the kink is estimated from the sample by the Epanechnikov kernel
:math:`K_b(u) = \tfrac{3}{4b}(1 - u^2/b^2)_+` with, per unit, half of Silverman's rule for that kernel,
:math:`b_i = 1.17\,\hat\sigma_i N^{-1/5}` (:math:`\hat\sigma_i = \min(\mathrm{sd}, \mathrm{IQR}/1.349)` of
:math:`u_i` over the samples; :data:`BANDWIDTH_CONSTANT` says why half), so
:math:`\hat B_i = \frac1N\sum_s K_{b_i}(u_{is})\langle W_i, e_s\rangle y_s y_s^\top`;
its error is :math:`O(b^2)` from the kernel plus the sampling noise, which
:meth:`HessianOperator.quadratic` reports as a standard error.  Every function works in float64 and
flattens :math:`V` row-major (``V.ravel()``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import LinearOperator, eigsh

from lib import _validate as check

__all__ = ["PARTS", "BANDWIDTH_CONSTANT", "HessianOperator", "hvp", "kink_bandwidth", "second_difference", "Extremes", "extremes",
           "DirectionSplit", "direction_split"]

PARTS = ("full", "ae", "gauss_newton", "residual", "boundary")  # full = ae + boundary; ae = gauss_newton + residual
# Half of Silverman's rule-of-thumb constant for the Epanechnikov kernel (2.34): the rule assumes one Gaussian bump, but u_i is
# a mixture (off- and on-support samples) whose density near 0 varies on a finer scale.  Measured on the 16 x 32 problem of
# tests/test_hessian.py, curvature along the softest direction, 60 sample sets: RMS error 0.0096 / 0.0090 / 0.0132 at
# N = 2048 and 0.0059 / 0.0043 / 0.0069 at N = 16384 for the full rule / half of it / sd·N^(-1/3).
BANDWIDTH_CONSTANT = 1.17
SPARSE_BELOW = 16  # use the active-pairs formula when at most 1/16 of the (unit, sample) pairs fire (benchmarks/RESULTS.md)


def _mean_se(values: np.ndarray) -> tuple[float, float]:
    """Sample mean and its standard error."""
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(values.size))


def _rowdots(M: np.ndarray, units: np.ndarray, S: np.ndarray, samples: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """``<M[units[p]], S[samples[p]]>`` for every pair ``p``, gathered in chunks to bound memory."""
    out = np.empty(units.size)
    for start in range(0, units.size, chunk):
        part = slice(start, start + chunk)
        out[part] = np.einsum("pn,pn->p", M[units[part]], S[samples[part]])
    return out


def kink_bandwidth(U: np.ndarray) -> np.ndarray:
    r"""Per-unit kernel bandwidth :math:`b_i = 1.17\,\hat\sigma_i N^{-1/5}` for the density of :math:`u_i` at its kink.

    Half of Silverman's rule of thumb for the Epanechnikov kernel (:data:`BANDWIDTH_CONSTANT`), :math:`\hat\sigma_i = \min(\mathrm{sd}(u_i),
    \mathrm{IQR}(u_i)/1.349)` over the ``N`` samples (columns of ``U``); 0 for a unit whose :math:`u_i` does not vary.

    Parameters
    ----------
    U : numpy.ndarray
        Pre-activations :math:`u = Wy - \epsilon`, shape ``(h, N)``, ``N >= 2``.
    """
    U = check.matrix(U, "U")
    if U.shape[1] < 2:
        raise ValueError(f"U must have at least 2 samples (columns) to estimate a bandwidth, got {U.shape[1]}")
    q75, q25 = np.percentile(U, [75, 25], axis=1)
    sigma = np.minimum(np.std(U, axis=1, ddof=1), (q75 - q25) / 1.349)
    return BANDWIDTH_CONSTANT * np.maximum(sigma, 0.0) * U.shape[1] ** -0.2


class HessianOperator(LinearOperator):
    r"""The Hessian :math:`\nabla^2_W\,\mathbb E\,\ell` of the expected loss at ``W``, estimated on ``Y``, as a symmetric ``LinearOperator``.

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
        ``"full"`` (the expected loss's Hessian: ``"ae"`` plus ``"boundary"``), ``"ae"`` (the sample
        mean of the per-sample Hessian, defined almost everywhere: the exact Hessian of the empirical
        loss), ``"gauss_newton"`` (:math:`J^\top J`), ``"residual"`` (the rest of ``"ae"``) or
        ``"boundary"`` (the kink term :math:`B`, module docstring).
    rows : numpy.ndarray or None
        Indices of the rows to act on (default: all).
    bandwidth : float or None
        Kernel bandwidth of the boundary term, one for every unit; ``None`` (default) uses
        :func:`kink_bandwidth` per unit.
    kink_Y : numpy.ndarray or None
        Signals ``(n, N_B)`` on which the boundary term is estimated (default ``Y``).  Only the (unit,
        sample) pairs inside the kernel enter it, so a larger independent sample than ``Y`` lowers its
        noise at little cost: the sum of the two sample means estimates the expected Hessian.
    """

    def __init__(self, W: np.ndarray, Y: np.ndarray, eps: float | np.ndarray, *, part: str = "full",
                 rows: np.ndarray | None = None, bandwidth: float | None = None, kink_Y: np.ndarray | None = None) -> None:
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
        self.W, self.Y, self.eps, self.part, self.rows = W, Y, e, part, rows
        U = W @ Y - e
        if bandwidth is not None:
            bandwidth = check.real(bandwidth, "bandwidth", minimum=0.0, strict_min=True)
        self.kinked = part in ("full", "boundary")
        self.kink_Y = Y if kink_Y is None else check.matrix(kink_Y, "kink_Y", shape=(n, None))
        if self.kinked:
            name = "Y" if kink_Y is None else "kink_Y"
            if bandwidth is None and self.kink_Y.shape[1] < 2:
                raise ValueError(f"{name} must hold at least 2 samples (columns) to estimate the boundary term's bandwidth, "
                                 f"got {self.kink_Y.shape[1]}")
            U_kink = U if kink_Y is None else W @ self.kink_Y - e
            self.bandwidth = kink_bandwidth(U_kink) if bandwidth is None else np.full(h, bandwidth)
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
        if self.kinked:
            self._kink(U_kink)
        super().__init__(np.float64, (rows.size * n, rows.size * n))

    def _kink(self, U: np.ndarray) -> None:
        r"""The boundary term's pairs on ``kink_Y``: :math:`c_{is} = K_{b_i}(u_{is})\langle W_i, e_s\rangle` where the kernel is nonzero."""
        near = np.abs(U) < self.bandwidth[:, None]
        self.kink_units, self.kink_samples = np.nonzero(near)
        z = U[self.kink_units, self.kink_samples] / self.bandwidth[self.kink_units]
        kernel = 0.75 * (1.0 - z * z) / self.bandwidth[self.kink_units]
        self.kink_YT = np.ascontiguousarray(self.kink_Y.T)
        ET = np.ascontiguousarray((self.W.T @ np.maximum(U, 0.0) - self.kink_Y).T)
        self.kink_c = kernel * _rowdots(self.W, self.kink_units, ET, self.kink_samples)
        self.kink_indptr = np.concatenate(([0], np.cumsum(near.sum(axis=1))))

    def _kink_values(self, V: np.ndarray) -> np.ndarray:
        r""":math:`c_{is}\langle V_i, y_s\rangle` on the boundary term's pairs."""
        return self.kink_c * _rowdots(V, self.kink_units, self.kink_YT, self.kink_samples)

    def _boundary(self, V: np.ndarray) -> np.ndarray:
        r""":math:`\hat B[V]`, the mean over ``kink_Y``."""
        C = sparse.csr_array((self._kink_values(V), self.kink_samples, self.kink_indptr), shape=(self.W.shape[0], self.kink_Y.shape[1]))
        return np.asarray(C @ self.kink_Y.T) / self.kink_Y.shape[1]

    def apply(self, V: np.ndarray) -> np.ndarray:
        r""":math:`H[V]` for a full direction ``V`` of shape ``(h, n)`` (formulas of the module docstring)."""
        V = check.matrix(V, "V", shape=self.W.shape)
        if self.part == "boundary":
            return self._boundary(V)
        ae = (self._apply_sparse(V) if self.sparse else self._apply_dense(V)) / self.Y.shape[1]
        return ae + self._boundary(V) if self.part == "full" else ae

    def quadratic(self, V: np.ndarray) -> tuple[float, float]:
        r"""The curvature :math:`\langle V, H[V]\rangle` of this operator's part along ``V``, and its standard error.

        The sample mean of the per-sample contributions
        :math:`\dot r^\top Ve + r^\top V\dot e + (D(Ve + W\dot e))^\top Vy` (the a.e. part) and
        :math:`\sum_i K_{b_i}(u_i)\langle W_i, e\rangle\langle V_i, y\rangle^2` (the boundary term, on ``kink_Y``),
        whose standard deviation over the samples divided by :math:`\sqrt N` is the standard error (the two
        errors combined in quadrature when the boundary term has its own sample).
        """
        V = check.matrix(V, "V", shape=self.W.shape)
        W, Y = self.W, self.Y
        U = W @ Y - self.eps
        D = (U > 0).astype(np.float64)
        R = D * U
        E = W.T @ R - Y
        VY, VE = V @ Y, V @ E
        dR = D * VY
        dE = V.T @ R + W.T @ dR
        gauss_newton = np.sum(dE * dE, axis=0)
        residual = np.sum(dR * VE + D * VE * VY, axis=0)
        per_sample = {"gauss_newton": gauss_newton, "residual": residual, "ae": gauss_newton + residual}.get(self.part)
        if per_sample is not None:
            return _mean_se(per_sample)
        kink = np.zeros(self.kink_Y.shape[1])
        np.add.at(kink, self.kink_samples, self._kink_values(V) * _rowdots(V, self.kink_units, self.kink_YT, self.kink_samples))
        if self.part == "boundary":
            return _mean_se(kink)
        if self.kink_Y is Y:
            return _mean_se(gauss_newton + residual + kink)
        (a, a_se), (b, b_se) = _mean_se(gauss_newton + residual), _mean_se(kink)
        return a + b, float(np.hypot(a_se, b_se))

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


def hvp(W: np.ndarray, Y: np.ndarray, eps: float | np.ndarray, V: np.ndarray, *, part: str = "full",
        bandwidth: float | None = None) -> np.ndarray:
    r"""Hessian-vector product :math:`\nabla^2_W\,\mathbb E\,\ell\,[V]` estimated on ``Y``, shape ``(h, n)``.

    With ``part="ae"`` it is the exact Hessian-vector product of the empirical loss
    :math:`L(W) = \frac1N\sum_s\tfrac12\|W^\top\mathrm{ReLU}(Wy_s-\epsilon)-y_s\|^2` away from its kinks; the
    default ``"full"`` adds the boundary term of the expected loss (module docstring, :class:`HessianOperator`).

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
        One of :data:`PARTS`.
    bandwidth : float or None
        The boundary term's kernel bandwidth (:class:`HessianOperator`).
    """
    return HessianOperator(W, Y, eps, part=part, bandwidth=bandwidth).apply(V)


def second_difference(W: np.ndarray, Y: np.ndarray, eps: float | np.ndarray, V: np.ndarray, *, t: float = 0.05) -> tuple[float, float]:
    r"""The curvature of the sample-mean loss along ``V`` by a second difference, and its standard error.

    :math:`\frac1N\sum_s [\ell(W + tV; y_s) + \ell(W - tV; y_s) - 2\ell(W; y_s)]/t^2`, which sees every
    kink crossed within :math:`\pm t` (on a large sample, the curvature of the *expected* loss up to
    :math:`O(t^2)`), with the standard deviation of the per-sample terms over :math:`\sqrt N`.  An
    independent check of :meth:`HessianOperator.quadratic` (for a unit ``V``, the two estimate the same number).

    Parameters
    ----------
    W, Y, eps
        Encoder ``(h, n)``, signals ``(n, N)`` with ``N >= 2``, bias (scalar or ``(h,)``).
    V : numpy.ndarray
        Direction, shape ``(h, n)``.
    t : float
        Step, ``> 0``.
    """
    W = check.matrix(W, "W")
    Y = check.matrix(Y, "Y", shape=(W.shape[1], None))
    if Y.shape[1] < 2:
        raise ValueError(f"Y must hold at least 2 samples for a standard error, got {Y.shape[1]}")
    e = check.bias(eps, W.shape[0])
    V = check.matrix(V, "V", shape=W.shape)
    t = check.real(t, "t", minimum=0.0, strict_min=True)

    def per_sample(M: np.ndarray) -> np.ndarray:
        E = M.T @ np.maximum(M @ Y - e, 0.0) - Y
        return 0.5 * np.einsum("ns,ns->s", E, E)

    d = (per_sample(W + t * V) + per_sample(W - t * V) - 2.0 * per_sample(W)) / t**2
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size))


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
