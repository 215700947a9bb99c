r"""Fast exact estimators of the mean gradient of the autoencoder loss (paper Sec. 6).

Table 1 of the paper reports the average row norm of the empirical mean gradient
:math:`\hat g = \frac1N\sum_s \nabla_W L(y_s)` at points :math:`W` near :math:`A^{*\top}`.
The dense formula (:func:`lib.autoencoder.gradient`) costs :math:`O(hnN)` per point; this module
computes the *same* number with the structure of the generative model:

* :math:`Wy = Mx` with :math:`M = WA^*` (:math:`h\times h`, once per :math:`W`), and :math:`x`
  has only :math:`k` nonzeros, so each sample needs :math:`k` columns of :math:`M`;
* a unit :math:`i` can fire on a sample with support :math:`S` only if
  :math:`M_{ij}x_j > \epsilon_i/k` for some :math:`j\in S`, so each column :math:`j` keeps a list
  of *candidate* units and :math:`u = Wy-\epsilon` is evaluated on candidates only;
* with :math:`r = \mathrm{ReLU}(u)`, :math:`G = WW^\top` and :math:`P` the active units, the
  per-sample gradient :math:`re^\top + (\mathbb 1_u\odot We)y^\top` equals
  :math:`r r^\top W + t\,x^\top A^{*\top}` with :math:`t_P = G_{PP}r_P - 2u_P - \epsilon_P`, so

  .. math::

      \hat g = \frac1N\big(C\,W + T\,A^{*\top}\big),\qquad
      C = \sum_s r_s r_s^\top,\qquad T = \sum_s t_s x_s^\top ,

  where :math:`C` and :math:`T` are sparse :math:`h\times h` sums over active pairs only; the
  residual :math:`e = W^\top r - y` is never formed and the per-sample work does not grow with
  :math:`n`.

Samples are processed in chunks whose size bounds the memory, and in *batches* whose separate
sums give a standard error and a delete-one-batch jackknife correction of the statistic
:math:`\bar T = \frac1h\sum_i\|\hat g_i\|`, which plain Monte Carlo overestimates by about
:math:`c/N` (ESTIMATORS.md).  For one nonzero per code (:math:`k=1`) the expectation over the data
has a closed form, :func:`expected_gradient_k1`: no sampling at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import sparse

from lib import _validate as check

__all__ = [
    "GradientStructure",
    "Sums",
    "BatchedGradient",
    "NormStatistic",
    "CellStatistics",
    "ExpectedK1",
    "mean_row_norm",
    "accumulate",
    "structured_gradient",
    "signal_energy",
    "batched_gradient",
    "row_norm_statistics",
    "required_samples",
    "expected_gradient_k1",
]

PAIR_BUDGET = 1 << 21  # active (unit, unit) pairs held in memory at once (about 100 MB of work arrays)
GRAM_BLOCK = 2048  # rows per block of W @ W.T (one huge call crashes some OpenBLAS builds)


def mean_row_norm(gradient: np.ndarray) -> float:
    r"""Table 1's statistic: :math:`\frac1h\sum_i \|g_i\|_2`, the average norm of the rows of ``gradient`` (h, n)."""
    return float(np.mean(np.linalg.norm(gradient, axis=1)))


def _gram(W: np.ndarray) -> np.ndarray:
    """``W @ W.T`` block by block."""
    G = np.empty((W.shape[0], W.shape[0]))
    for start in range(0, W.shape[0], GRAM_BLOCK):
        G[start:start + GRAM_BLOCK] = W[start:start + GRAM_BLOCK] @ W.T
    return G


@dataclass(frozen=True, eq=False)
class GradientStructure:
    r"""What one encoder :math:`W` needs, computed once: :math:`M = WA^*`, :math:`G = WW^\top`, :math:`\epsilon`.

    Build it with :meth:`of`; every estimator of this module takes it.

    Attributes
    ----------
    W : numpy.ndarray
        Encoder, shape ``(h, n)``.
    A : numpy.ndarray
        Dictionary :math:`A^*`, shape ``(n, h)``.
    eps : numpy.ndarray
        Bias per unit, shape ``(h,)``.
    M, G : numpy.ndarray
        :math:`M = WA^*` and :math:`G = WW^\top`, both ``(h, h)``.
    """

    W: np.ndarray
    A: np.ndarray
    eps: np.ndarray
    M: np.ndarray
    G: np.ndarray

    @classmethod
    def of(cls, W: np.ndarray, A: np.ndarray, eps: float | np.ndarray) -> "GradientStructure":
        """Validate ``W`` (h, n), ``A`` (n, h) and ``eps`` (scalar or (h,)) and precompute ``M`` and ``G``."""
        W = check.matrix(W, "W")
        A = check.matrix(A, "A", shape=(W.shape[1], W.shape[0]))
        e = check.bias(eps, W.shape[0])[:, 0]
        return cls(W, A, e, W @ A, _gram(W))

    @property
    def h(self) -> int:
        """Number of hidden units."""
        return self.W.shape[0]

    @cached_property
    def At(self) -> np.ndarray:
        r""":math:`A^{*\top}` as a C-contiguous ``(h, n)`` array."""
        return np.ascontiguousarray(self.A.T)

    def candidates(self, k: int, xmax: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""Per column :math:`j`, the units that can fire when :math:`j` is in a support of size ``k``.

        Unit :math:`i` is a candidate for :math:`j` when :math:`M_{ij} > \theta_i =
        \epsilon_i/(k\,x_{\max})` (every unit when :math:`\epsilon_i\le 0`): if no term of
        :math:`u_i=\sum_{j\in S}M_{ij}x_j-\epsilon_i` exceeds :math:`\epsilon_i/k`, then :math:`u_i\le0`.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray, numpy.ndarray)
            ``(pointer (h+1,), units, theta (h,))``: the candidates of column ``j`` are
            ``units[pointer[j]:pointer[j + 1]]``.
        """
        theta = np.where(self.eps > 0, self.eps / (k * max(xmax, np.finfo(float).tiny)), -np.inf)
        cols, units = np.nonzero((self.M > theta[:, None]).T)
        pointer = np.concatenate([[0], np.cumsum(np.bincount(cols, minlength=self.h))])
        return pointer, units, theta


@dataclass(frozen=True, eq=False)
class Sums:
    r"""Sufficient sums of a set of samples for one :math:`W`.

    Attributes
    ----------
    N : int
        Number of samples.
    C, T : scipy.sparse.csr_matrix
        :math:`\sum_s r_s r_s^\top` and :math:`\sum_s t_s x_s^\top`, both ``(h, h)``.
    fit : float
        :math:`\sum_s \big(\tfrac12 r_s^\top G r_s - r_s^\top W y_s\big)`: the loss
        :math:`\sum_s\tfrac12\|W^\top r_s - y_s\|^2` minus the signal energy
        :math:`\sum_s\tfrac12\|y_s\|^2`, which does not depend on :math:`W` (:func:`signal_energy`).
    active : int
        Total number of active (sample, unit) pairs, :math:`\sum_s |P_s|`.
    recovered : int
        Number of samples whose active set equals their support (exact support recovery).
    """

    N: int
    C: sparse.csr_matrix
    T: sparse.csr_matrix
    fit: float
    active: int
    recovered: int

    def __add__(self, other: "Sums") -> "Sums":
        return Sums(self.N + other.N, self.C + other.C, self.T + other.T, self.fit + other.fit,
                    self.active + other.active, self.recovered + other.recovered)

    def gradient(self, structure: GradientStructure) -> np.ndarray:
        r"""The mean gradient :math:`\frac1N(CW + TA^{*\top})`, shape ``(h, n)``."""
        return (self.C @ structure.W + self.T @ structure.At) / self.N


def _codes(support: object, values: object, h: int) -> tuple[np.ndarray, np.ndarray]:
    support = np.asarray(support)
    if support.ndim != 2 or support.size == 0 or not np.issubdtype(support.dtype, np.integer):
        raise ValueError(f"support must be a non-empty 2-d integer array (N, k), got shape {support.shape}")
    if support.min() < 0 or support.max() >= h:
        raise ValueError(f"support must hold unit indices in [0, {h}), got range [{support.min()}, {support.max()}]")
    if support.shape[1] > 1 and np.any(np.diff(np.sort(support, axis=1), axis=1) == 0):
        raise ValueError("support must not repeat an index within a row")
    values = check.matrix(values, "values", shape=support.shape)
    if values.min() < 0:
        raise ValueError(f"values must be >= 0 (nonnegative codes), got minimum {values.min()}")
    return support.astype(np.intp), values


def _segments(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For segments of the given lengths: the segment of every element and its offset inside it."""
    owner = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    return owner, np.arange(owner.size) - starts[owner]


def _chunk_sums(s: GradientStructure, pointer: np.ndarray, units: np.ndarray,
                support: np.ndarray, values: np.ndarray, theta: np.ndarray) -> Sums:
    """The :class:`Sums` of one chunk of samples (vectorised over samples and pairs)."""
    c, k = support.shape
    h = s.h
    # candidate (sample, unit) pairs, column by column of each support
    cols = support.ravel()
    entry, offset = _segments(pointer[cols + 1] - pointer[cols])
    unit = units[pointer[cols[entry]] + offset]
    sample, position = np.divmod(entry, k)
    keep = np.ones(unit.size, dtype=bool)  # a unit listed by two columns of a support is kept once
    u = -s.eps[unit]
    for t in range(k):
        m = s.M[unit, support[sample, t]]
        u += m * values[sample, t]
        keep &= ~((position > t) & (m > theta[unit]))
    active = keep & (u > 0)
    sample, unit, r = sample[active], unit[active], u[active]
    # pairs of active units within a sample: C and (G r)
    per_sample = np.bincount(sample, minlength=c)
    a, offset = _segments(per_sample[sample])
    b = (np.cumsum(per_sample) - per_sample)[sample[a]] + offset
    pair_values = r[a] * r[b]
    C = sparse.coo_matrix((pair_values, (unit[a], unit[b])), shape=(h, h)).tocsr()
    Gr = np.bincount(a, weights=s.G[unit[a], unit[b]] * r[b], minlength=r.size)
    t_value = Gr - 2.0 * r - s.eps[unit]
    T = sparse.coo_matrix(((t_value[:, None] * values[sample]).ravel(),
                           (np.repeat(unit, k), support[sample].ravel())), shape=(h, h)).tocsr()
    fit = 0.5 * float(r @ Gr) - float(r @ (r + s.eps[unit]))  # r'Wy = r'(u + eps) on active units
    hits = np.bincount(sample, weights=np.any(support[sample] == unit[:, None], axis=1), minlength=c)
    recovered = int(np.count_nonzero((per_sample == k) & (hits == k)))
    return Sums(c, C, T, fit, int(r.size), recovered)


def accumulate(structure: GradientStructure, support: np.ndarray, values: np.ndarray,
               *, chunk: int | None = None) -> Sums:
    r"""The sufficient sums :math:`C`, :math:`T` (and loss, activity) of the samples ``(support, values)``.

    Parameters
    ----------
    structure : GradientStructure
        The encoder, dictionary and bias.
    support : numpy.ndarray
        Integer array ``(N, k)``: the support of each code (from
        :func:`lib.model.sample_sparse_codes`), distinct indices per row.
    values : numpy.ndarray
        The nonzeros ``(N, k)``, nonnegative.
    chunk : int, optional
        Samples per chunk.  By default it is chosen from the candidate lists so that about
        :data:`PAIR_BUDGET` pairs are in memory at once.

    Returns
    -------
    Sums
    """
    support, values = _codes(support, values, structure.h)
    N, k = support.shape
    pointer, units, theta = structure.candidates(k, float(values.max()))
    if chunk is None:
        per_sample = k * units.size / structure.h + 1.0
        chunk = int(np.clip(PAIR_BUDGET / per_sample**2, 16, 8192))
    chunk = check.integer(chunk, "chunk", minimum=1)
    total = None
    for start in range(0, N, chunk):
        part = _chunk_sums(structure, pointer, units, support[start:start + chunk], values[start:start + chunk], theta)
        total = part if total is None else total + part
    return total


def structured_gradient(W: np.ndarray, A: np.ndarray, support: np.ndarray, values: np.ndarray,
                        eps: float | np.ndarray, *, chunk: int | None = None) -> np.ndarray:
    r"""Exact mean gradient over the samples :math:`y_s = A^*x_s`, from the sparse codes.

    Equals :func:`lib.autoencoder.gradient` ``(W, A @ X, eps)`` with ``X`` the dense codes
    (up to rounding), computed as :math:`\frac1N(CW + TA^{*\top})` (module docstring).

    Parameters
    ----------
    W : numpy.ndarray
        Encoder ``(h, n)``.
    A : numpy.ndarray
        Dictionary ``(n, h)``.
    support, values : numpy.ndarray
        The codes in sparse form, each ``(N, k)``.
    eps : float or numpy.ndarray
        Bias, scalar or ``(h,)``.
    chunk : int, optional
        Samples per chunk (memory bound); see :func:`accumulate`.

    Returns
    -------
    numpy.ndarray
        Mean gradient, shape ``(h, n)``.
    """
    structure = GradientStructure.of(W, A, eps)
    return accumulate(structure, support, values, chunk=chunk).gradient(structure)


@dataclass(frozen=True, eq=False)
class BatchedGradient:
    """The mean gradient at one encoder, kept as per-batch sums for error estimates.

    Attributes
    ----------
    structure : GradientStructure
    batches : tuple of Sums
        One entry per batch of samples.
    energy : float
        :math:`\sum_s\tfrac12\|y_s\|^2` over all samples (:func:`signal_energy`).
    """

    structure: GradientStructure
    batches: tuple[Sums, ...]
    energy: float

    @cached_property
    def total(self) -> Sums:
        """The sums over all samples."""
        total = self.batches[0]
        for part in self.batches[1:]:
            total = total + part
        return total

    @property
    def N(self) -> int:
        """Number of samples."""
        return self.total.N

    @cached_property
    def gradient(self) -> np.ndarray:
        """Mean gradient over all samples, ``(h, n)``."""
        return self.total.gradient(self.structure)

    def batch_gradient(self, b: int) -> np.ndarray:
        """Mean gradient over batch ``b`` only, ``(h, n)``."""
        return self.batches[b].gradient(self.structure)

    @property
    def loss(self) -> float:
        r"""Empirical loss :math:`\hat L(W)`."""
        return (self.total.fit + self.energy) / self.N

    @property
    def active_fraction(self) -> float:
        """Mean fraction of hidden units active per sample."""
        return self.total.active / (self.N * self.structure.h)

    @property
    def recovered_fraction(self) -> float:
        """Fraction of samples whose support the ReLU layer recovers exactly."""
        return self.total.recovered / self.N


def signal_energy(A: np.ndarray, support: np.ndarray, values: np.ndarray, *, chunk: int = 2048) -> float:
    r"""The energy :math:`\sum_s\tfrac12\|y_s\|_2^2` of the signals :math:`y_s = A^*x_s`, from the sparse codes.

    It is the part of the summed loss that does not depend on :math:`W`: compute it once per data set.
    """
    A = check.matrix(A, "A")
    support, values = _codes(support, values, A.shape[1])
    chunk = check.integer(chunk, "chunk", minimum=1)
    total = 0.0
    for start in range(0, support.shape[0], chunk):
        y = np.einsum("nck,ck->nc", A[:, support[start:start + chunk]], values[start:start + chunk])
        total += 0.5 * float(np.einsum("nc,nc->", y, y))
    return total


def batched_gradient(structure: GradientStructure, support: np.ndarray, values: np.ndarray,
                     batches: int = 16, *, energy: float | None = None, chunk: int | None = None) -> BatchedGradient:
    """Split the samples into ``batches`` equal consecutive batches and :func:`accumulate` each.

    ``N`` must be a multiple of ``batches`` (equal batches keep the jackknife simple).  Pass the
    data's ``energy`` (:func:`signal_energy`) when evaluating many encoders on the same data.
    """
    batches = check.integer(batches, "batches", minimum=2)
    N = np.shape(support)[0]
    if N % batches:
        raise ValueError(f"batches must divide the number of samples N={N}, got batches={batches}")
    if energy is None:
        energy = signal_energy(structure.A, support, values)
    size = N // batches
    parts = tuple(accumulate(structure, support[b * size:(b + 1) * size], values[b * size:(b + 1) * size], chunk=chunk)
                  for b in range(batches))
    return BatchedGradient(structure, parts, check.real(energy, "energy", minimum=0.0))


@dataclass(frozen=True)
class NormStatistic:
    r"""Table 1's statistic with its Monte Carlo error.

    Attributes
    ----------
    plain : float
        :math:`\bar T` computed from all samples: biased upward by about :math:`c/N`.
    corrected : float
        Delete-one-batch jackknife: :math:`B\bar T - (B-1)\,\overline{T_{(-b)}}`.
    standard_error : float
        Jackknife standard error :math:`\sqrt{\frac{B-1}{B}\sum_b (T_{(-b)}-\overline{T_{(-b)}})^2}`
        (for a linear statistic it equals the batch-means standard error).
    noise_floor : float
        :math:`\frac1h\sum_i \hat\sigma_i` with :math:`\hat\sigma_i^2 = \frac1{B(B-1)}\sum_b\|\hat g_{b,i}-\hat g_i\|^2`:
        the value the statistic would read from sampling noise alone if the true gradient were zero.
    """

    plain: float
    corrected: float
    standard_error: float
    noise_floor: float


@dataclass(frozen=True)
class CellStatistics:
    """Both readings of "the average column norm of the gradient averaged over the points".

    Attributes
    ----------
    per_point : NormStatistic
        Mean over points of each point's average row norm.
    pooled : NormStatistic
        Average row norm of the gradient averaged over the points (the literal reading).
    point_values : numpy.ndarray
        Each point's jackknife-corrected average row norm (the spread between points).
    """

    per_point: NormStatistic
    pooled: NormStatistic
    point_values: np.ndarray


def _statistic(full: float, leave_out: np.ndarray, variance: np.ndarray) -> NormStatistic:
    B = leave_out.size
    corrected = B * full - (B - 1) * float(leave_out.mean())
    se = float(np.sqrt((B - 1) / B * np.sum((leave_out - leave_out.mean()) ** 2)))
    floor = float(np.mean(np.sqrt(variance / (B * (B - 1)))))
    return NormStatistic(full, corrected, se, floor)


def row_norm_statistics(points: Sequence[BatchedGradient]) -> CellStatistics:
    r"""Average row norm of the mean gradient over one or more points, with jackknife and noise floor.

    All points must use the same number of equal batches.  For each batch :math:`b` the
    leave-one-out gradient is :math:`\hat g_{(-b)} = (N\hat g - N_b\hat g_b)/(N-N_b)`; the
    statistic on it gives the jackknife (see :class:`NormStatistic`).
    """
    if not points:
        raise ValueError("points must hold at least one BatchedGradient")
    B = len(points[0].batches)
    if any(len(p.batches) != B for p in points):
        raise ValueError("points must all have the same number of batches")
    totals = [p.gradient for p in points]
    pooled_total = np.mean(totals, axis=0)
    h = pooled_total.shape[0]
    point_out = np.empty((len(points), B))
    pooled_out = np.empty(B)
    point_var = np.zeros((len(points), h))
    pooled_var = np.zeros(h)
    for b in range(B):
        pooled_dev = np.zeros_like(pooled_total)
        for index, (point, total) in enumerate(zip(points, totals)):
            dev = point.batch_gradient(b) - total
            point_var[index] += np.einsum("ij,ij->i", dev, dev)
            point_out[index, b] = mean_row_norm(total - dev / (B - 1))
            pooled_dev += dev / len(points)
        pooled_var += np.einsum("ij,ij->i", pooled_dev, pooled_dev)
        pooled_out[b] = mean_row_norm(pooled_total - pooled_dev / (B - 1))
    per_point_stats = [_statistic(mean_row_norm(t), point_out[i], point_var[i]) for i, t in enumerate(totals)]
    per_point = NormStatistic(
        plain=float(np.mean([s.plain for s in per_point_stats])),
        corrected=float(np.mean([s.corrected for s in per_point_stats])),
        standard_error=_statistic(0.0, point_out.mean(axis=0), np.zeros(1)).standard_error,
        noise_floor=float(np.mean([s.noise_floor for s in per_point_stats])),
    )
    return CellStatistics(per_point, _statistic(mean_row_norm(pooled_total), pooled_out, pooled_var),
                          np.array([s.corrected for s in per_point_stats]))


def required_samples(statistic: NormStatistic, N: int, relative_bias: float = 0.01) -> int:
    r"""Samples needed for the *plain* statistic's noise bias to fall below ``relative_bias``.

    A row with true norm :math:`\mu_i` and noise of total variance :math:`\sigma_i^2\propto 1/N`
    reads :math:`\mathbb E\|\hat g_i\|\approx\mu_i+\sigma_i^2/(2\mu_i)`, so the relative bias is
    about :math:`F^2/(2\bar T^2)` with :math:`F` the noise floor.  From a pilot run with ``N``
    samples, :math:`F^2\propto1/N` gives :math:`N_{\text{need}} = N\,F^2/(2\,b\,\bar T^2)`
    with :math:`b` = ``relative_bias`` (computed from the jackknife-corrected value).
    """
    N = check.integer(N, "N", minimum=1)
    relative_bias = check.real(relative_bias, "relative_bias", minimum=0.0, strict_min=True)
    value = max(statistic.corrected, statistic.plain * 1e-3, np.finfo(float).tiny)
    return int(np.ceil(N * statistic.noise_floor**2 / (2.0 * relative_bias * value**2)))


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


def _k1_block(s: GradientStructure, cols: np.ndarray, low: float, high: float):
    """Contributions of the columns ``cols`` to E[C], E[T], E[r] (as coo triplets / dense rows)."""
    lo, hi = _activity_intervals(s.M[:, cols], s.eps[:, None], low, high)
    live = hi > lo  # (h, J)
    width = live.sum(axis=0)
    J, size = cols.size, int(width.max(initial=0))
    order = np.argsort(~live, axis=0, kind="stable")[:size].T  # (J, size): live units first
    valid = np.arange(size)[None, :] < width[:, None]
    jj = np.arange(J)[:, None]
    lo_p = np.where(valid, lo[order, jj], low)
    hi_p = np.where(valid, hi[order, jj], low)
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
    rows = np.broadcast_to(order[:, :, None], C.shape)[pair]
    cols_pair = np.broadcast_to(order[:, None, :], C.shape)[pair]
    return (rows, cols_pair, C[pair]), (order[valid], np.repeat(cols, width), T[valid]), \
        np.bincount(order[valid], weights=r_mean[valid], minlength=s.h), float(I0[:, diag, diag][valid].sum())


def expected_gradient_k1(structure: GradientStructure, low: float, high: float, *, block: int | None = None) -> ExpectedK1:
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
    :math:`O(\sum_j|\{i: I_{ij}\neq\emptyset\}|^2 + h^2n)`, no sampling error.

    Parameters
    ----------
    structure : GradientStructure
        Encoder, dictionary and bias (:meth:`GradientStructure.of`).
    low, high : float
        The nonzero is ``U[low, high]``, ``0 <= low < high``.
    block : int, optional
        Columns per vectorised block (memory bound); chosen automatically by default.

    Returns
    -------
    ExpectedK1
    """
    low = check.real(low, "low", minimum=0.0)
    high = check.real(high, "high", minimum=0.0)
    if not high > low:
        raise ValueError(f"high must be > low for a continuous value distribution, got low={low}, high={high}")
    s = structure
    h = s.h
    if block is None:
        lo, hi = _activity_intervals(s.M, s.eps[:, None], low, high)
        widest = int((hi > lo).sum(axis=0).max(initial=1))
        block = int(np.clip(PAIR_BUDGET // (4 * max(widest, 1) ** 2), 1, h))
    block = check.integer(block, "block", minimum=1)
    scale = 1.0 / (h * (high - low))
    C = np.zeros((h, h))
    T = np.zeros((h, h))
    r_mean = np.zeros(h)
    active = 0.0
    for start in range(0, h, block):
        (ci, cl, cv), (ti, tj, tv), r_part, width = _k1_block(s, np.arange(start, min(start + block, h)), low, high)
        np.add.at(C, (ci, cl), cv)
        T[ti, tj] += tv  # (unit, column) pairs are distinct
        r_mean += r_part
        active += width
    C *= scale
    T *= scale
    r_mean *= scale
    m2 = (low**2 + low * high + high**2) / 3.0
    loss = (0.5 * float(np.einsum("ij,ij->", s.G, C)) - float(np.trace(C)) - float(s.eps @ r_mean)
            + 0.5 * m2 * float(np.mean(np.einsum("nj,nj->j", s.A, s.A))))
    return ExpectedK1(C @ s.W + T @ s.At, loss, active * scale / h)
