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

  where :math:`C` and :math:`T` are sparse :math:`h\times h` sums over active pairs only (when
  many units fire, :math:`C` is kept factored as :math:`RR^\top`); the residual
  :math:`e = W^\top r - y` is never formed and the per-sample work does not grow with :math:`n`.

Samples are processed in chunks whose size bounds the memory, and in *batches* whose separate
sums give a standard error and a delete-one-batch jackknife correction of the statistic
:math:`\bar T = \frac1h\sum_i\|\hat g_i\|`, which plain Monte Carlo overestimates by about
:math:`c/N` (ESTIMATORS.md).  For one nonzero per code (:math:`k=1`) the expectation over the data
has a closed form, :func:`expected_gradient_k1`: no sampling at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
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
GRAM_DIRECT = 8192  # largest h whose W @ W.T is one call (numpy issue 19685: a huge one crashes some OpenBLAS builds)
GRAM_BLOCK = 2048  # rows per block of W @ W.T beyond that
FACTOR_ABOVE = 4  # samples with more active units than this (on average) keep r r^T factored
DENSE_FRACTION = 0.02  # a sparse h x h factor fuller than this is multiplied as a dense matrix (BLAS wins)


def mean_row_norm(gradient: np.ndarray) -> float:
    r"""Table 1's statistic: :math:`\frac1h\sum_i \|g_i\|_2`, the average norm of the rows of ``gradient`` (h, n)."""
    return float(np.mean(np.linalg.norm(gradient, axis=1)))


def _second_moment(low: float, high: float) -> float:
    r""":math:`m_2 = \mathbb E[x^2]` for :math:`x\sim U[low, high]`."""
    return (low**2 + low * high + high**2) / 3.0


def _times(S: sparse.csr_matrix, X: np.ndarray) -> np.ndarray:
    """``S @ X`` for a sparse ``S``: through a dense product once ``S`` is more than :data:`DENSE_FRACTION` full."""
    if S.nnz > DENSE_FRACTION * S.shape[0] * S.shape[1]:
        return S.toarray() @ X
    return S @ X


def _gram(W: np.ndarray) -> np.ndarray:
    """``W @ W.T``: one symmetric product (numpy calls BLAS syrk) up to :data:`GRAM_DIRECT` rows, else block by block."""
    if W.shape[0] <= GRAM_DIRECT:
        return W @ W.T
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
    _candidates: dict = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def of(cls, W: np.ndarray, A: np.ndarray, eps: float | np.ndarray) -> "GradientStructure":
        """Validate ``W`` (h, n), ``A`` (n, h) and ``eps`` (scalar or (h,)) and precompute ``M`` and ``G``."""
        W = np.ascontiguousarray(check.matrix(W, "W"))  # row-major: the sparse products read rows of W
        A = check.matrix(A, "A", shape=(W.shape[1], W.shape[0]))
        e = check.bias(eps, W.shape[0])[:, 0]
        return cls(W, A, e, W @ A, _gram(W))

    @property
    def h(self) -> int:
        """Number of hidden units."""
        return self.W.shape[0]

    def with_bias(self, eps: float | np.ndarray) -> "GradientStructure":
        """The same encoder and dictionary with another bias (``M`` and ``G`` are reused, not recomputed)."""
        return replace(self, eps=check.bias(eps, self.h)[:, 0])

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
            ``units[pointer[j]:pointer[j + 1]]``.  Cached per ``(k, xmax)``.
        """
        key = (int(k), float(xmax))
        if key not in self._candidates:
            theta = np.where(self.eps > 0, self.eps / (k * max(xmax, np.finfo(float).tiny)), -np.inf)
            units, cols = np.nonzero(self.M > theta[:, None])
            order = np.argsort(cols, kind="stable")
            pointer = np.concatenate([[0], np.cumsum(np.bincount(cols, minlength=self.h))])
            self._candidates[key] = (pointer, units[order], theta)
        return self._candidates[key]


@dataclass(frozen=True, eq=False)
class Sums:
    r"""Sufficient sums of a set of samples for one :math:`W`.

    The matrix :math:`\sum_s r_s r_s^\top` is kept as ``C`` for the samples with few active units
    and in factored form :math:`RR^\top` for the others (``R`` holds their hidden codes as
    columns): with :math:`a` active units a sample adds :math:`a^2` entries to ``C`` but only
    :math:`a` to ``R``, and :math:`R(R^\top W)` costs :math:`2an` per sample.

    Attributes
    ----------
    N : int
        Number of samples.
    C : scipy.sparse.csr_matrix
        :math:`\sum_s r_s r_s^\top` over the samples with few active units, ``(h, h)``.
    R : scipy.sparse.csc_matrix
        Hidden codes :math:`r_s` of the other samples, one column each, ``(h, N_R)``.
    T : scipy.sparse.csr_matrix
        :math:`\sum_s t_s x_s^\top`, ``(h, h)``.
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
    R: sparse.csc_matrix
    T: sparse.csr_matrix
    fit: float
    active: int
    recovered: int

    def __add__(self, other: "Sums") -> "Sums":
        return Sums(self.N + other.N, self.C + other.C, sparse.hstack([self.R, other.R], format="csc"),
                    self.T + other.T, self.fit + other.fit, self.active + other.active, self.recovered + other.recovered)

    def gradient(self, structure: GradientStructure) -> np.ndarray:
        r"""The mean gradient :math:`\frac1N\big((C + RR^\top)W + TA^{*\top}\big)`, shape ``(h, n)``."""
        gradient = _times(self.T, structure.At)
        if self.C.nnz:
            gradient += _times(self.C, structure.W)
        if self.R.nnz:
            gradient += self.R @ (self.R.T @ structure.W)
        gradient /= self.N
        return gradient


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
    if a.size <= FACTOR_ABOVE * r.size:  # few active units per sample: C itself is small
        C = sparse.coo_matrix((r[a] * r[b], (unit[a], unit[b])), shape=(h, h)).tocsr()
        R = sparse.csc_matrix((h, 0))
    else:
        C = sparse.csr_matrix((h, h))
        R = sparse.csc_matrix((r, unit, np.concatenate([[0], np.cumsum(per_sample)])), shape=(h, c))  # grouped by sample
    Gr = np.bincount(a, weights=s.G[unit[a], unit[b]] * r[b], minlength=r.size)
    t_value = Gr - 2.0 * r - s.eps[unit]
    T = sparse.coo_matrix(((t_value[:, None] * values[sample]).ravel(),
                           (np.repeat(unit, k), support[sample].ravel())), shape=(h, h)).tocsr()
    fit = 0.5 * float(r @ Gr) - float(r @ (r + s.eps[unit]))  # r'Wy = r'(u + eps) on active units
    hits = np.bincount(sample, weights=np.any(support[sample] == unit[:, None], axis=1), minlength=c)
    recovered = int(np.count_nonzero((per_sample == k) & (hits == k)))
    return Sums(c, C, R, T, fit, int(r.size), recovered)


def accumulate(structure: GradientStructure, support: np.ndarray, values: np.ndarray,
               *, xmax: float | None = None, chunk: int | None = None) -> Sums:
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
    xmax : float, optional
        An upper bound of ``values`` for the candidate lists (default ``values.max()``); pass the
        same bound for every batch of a data set so that the lists are computed once.
    chunk : int, optional
        Samples per chunk.  By default it is chosen from the candidate lists so that about
        :data:`PAIR_BUDGET` pairs are in memory at once.

    Returns
    -------
    Sums
    """
    support, values = _codes(support, values, structure.h)
    N, k = support.shape
    largest = float(values.max())
    xmax = largest if xmax is None else check.real(xmax, "xmax", minimum=largest)
    pointer, units, theta = structure.candidates(k, xmax)
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
    r"""The mean gradient at one encoder, kept as per-batch sums for error estimates.

    Attributes
    ----------
    structure : GradientStructure
    batches : tuple of Sums
        One entry per batch of samples.
    energy : float
        :math:`\sum_s\tfrac12\|y_s\|^2` over all samples (:func:`signal_energy`); NaN when the
        loss is not wanted (then :attr:`loss` is NaN too).
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


def signal_energy(A: np.ndarray, support: np.ndarray, values: np.ndarray, *, chunk: int = 4096) -> float:
    r"""The energy :math:`\sum_s\tfrac12\|y_s\|_2^2` of the signals :math:`y_s = A^*x_s`, from the sparse codes.

    :math:`\|y_s\|^2 = \sum_{t}x_{st}^2\|A^*_{S_t}\|^2 + 2\sum_{t<t'}x_{st}x_{st'}\langle A^*_{S_t},A^*_{S_{t'}}\rangle`.
    It is the part of the summed loss that does not depend on :math:`W`: compute it once per data set.
    """
    A = check.matrix(A, "A")
    support, values = _codes(support, values, A.shape[1])
    chunk = check.integer(chunk, "chunk", minimum=1)
    norms = np.einsum("nj,nj->j", A, A)
    total = float(np.sum(values**2 * norms[support]))
    k = support.shape[1]
    for t in range(k):
        for t2 in range(t + 1, k):
            for start in range(0, support.shape[0], chunk):
                rows = slice(start, start + chunk)
                dots = np.einsum("nc,nc->c", A[:, support[rows, t]], A[:, support[rows, t2]])
                total += 2.0 * float(np.sum(values[rows, t] * values[rows, t2] * dots))
    return 0.5 * total


def batched_gradient(structure: GradientStructure, support: np.ndarray, values: np.ndarray,
                     batches: int = 16, *, energy: float | None = None, chunk: int | None = None) -> BatchedGradient:
    """Split the samples into ``batches`` equal consecutive batches and :func:`accumulate` each.

    ``N`` must be a multiple of ``batches`` (equal batches keep the jackknife simple).  Pass the
    data's ``energy`` (:func:`signal_energy`) when evaluating many encoders on the same data, or
    ``float("nan")`` to skip the loss.
    """
    batches = check.integer(batches, "batches", minimum=2)
    N = np.shape(support)[0]
    if N % batches:
        raise ValueError(f"batches must divide the number of samples N={N}, got batches={batches}")
    energy = signal_energy(structure.A, support, values) if energy is None else float(energy)
    if energy < 0:
        raise ValueError(f"energy must be >= 0 (or NaN to skip the loss), got {energy}")
    size = N // batches
    xmax = float(np.max(values))
    parts = tuple(accumulate(structure, support[b * size:(b + 1) * size], values[b * size:(b + 1) * size],
                             xmax=xmax, chunk=chunk) for b in range(batches))
    return BatchedGradient(structure, parts, energy)


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


def _rowsum(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Row-wise inner products of two ``(h, n)`` arrays."""
    return np.einsum("ij,ij->i", X, Y)


def _statistic(full_sq: np.ndarray, leave_out: np.ndarray, variance: np.ndarray) -> NormStatistic:
    """From squared row norms (h,), the leave-one-batch-out statistics (B,) and the summed squared deviations (h,)."""
    B = leave_out.size
    full = float(np.mean(np.sqrt(full_sq)))
    corrected = B * full - (B - 1) * float(leave_out.mean())
    floor = float(np.mean(np.sqrt(variance / (B * (B - 1)))))
    return NormStatistic(full, corrected, _jackknife_error(leave_out), floor)


def _jackknife_error(leave_out: np.ndarray) -> float:
    B = leave_out.size
    return float(np.sqrt((B - 1) / B * np.sum((leave_out - leave_out.mean()) ** 2)))


def _leave_out(full_sq: np.ndarray, cross: np.ndarray, dev_sq: np.ndarray, B: int) -> float:
    r"""Statistic on :math:`\hat g - d_b/(B-1)` from the row sums :math:`\|\hat g_i\|^2`, :math:`\hat g_i\cdot d_{b,i}`, :math:`\|d_{b,i}\|^2`."""
    return float(np.mean(np.sqrt(np.maximum(full_sq - 2.0 * cross / (B - 1) + dev_sq / (B - 1) ** 2, 0.0))))


def row_norm_statistics(points: Sequence[BatchedGradient]) -> CellStatistics:
    r"""Average row norm of the mean gradient over one or more points, with jackknife and noise floor.

    All points must use the same number :math:`B` of equal batches.  With
    :math:`d_b = \hat g_b - \hat g`, the leave-one-batch-out gradient is
    :math:`\hat g_{(-b)} = \hat g - d_b/(B-1)`, and its row norms follow from three row sums, so
    no leave-out matrix is formed; the statistic on it gives the jackknife (:class:`NormStatistic`).
    """
    if not points:
        raise ValueError("points must hold at least one BatchedGradient")
    B = len(points[0].batches)
    if any(len(p.batches) != B for p in points):
        raise ValueError("points must all have the same number of batches")
    totals = [p.gradient for p in points]
    totals_sq = [_rowsum(g, g) for g in totals]
    pooled_total = np.mean(totals, axis=0)
    pooled_sq = _rowsum(pooled_total, pooled_total)
    point_out = np.empty((len(points), B))
    pooled_out = np.empty(B)
    point_var = np.zeros((len(points), pooled_total.shape[0]))
    pooled_var = np.zeros(pooled_total.shape[0])
    for b in range(B):
        pooled_dev = np.zeros_like(pooled_total)
        for index, (point, total) in enumerate(zip(points, totals)):
            dev = point.batch_gradient(b)
            dev -= total
            dev_sq = _rowsum(dev, dev)
            point_var[index] += dev_sq
            point_out[index, b] = _leave_out(totals_sq[index], _rowsum(total, dev), dev_sq, B)
            pooled_dev += dev
        pooled_dev /= len(points)
        dev_sq = _rowsum(pooled_dev, pooled_dev)
        pooled_var += dev_sq
        pooled_out[b] = _leave_out(pooled_sq, _rowsum(pooled_total, pooled_dev), dev_sq, B)
    per_point = [_statistic(totals_sq[i], point_out[i], point_var[i]) for i in range(len(points))]
    summary = NormStatistic(
        plain=float(np.mean([s.plain for s in per_point])),
        corrected=float(np.mean([s.corrected for s in per_point])),
        standard_error=_jackknife_error(point_out.mean(axis=0)),
        noise_floor=float(np.mean([s.noise_floor for s in per_point])),
    )
    return CellStatistics(summary, _statistic(pooled_sq, pooled_out, pooled_var), np.array([s.corrected for s in per_point]))


def required_samples(statistic: NormStatistic, N: int, relative_bias: float = 0.01,
                     relative_error: float = 0.01) -> int:
    r"""Samples needed for the statistic to be bias- and noise-controlled, from a pilot run with ``N`` samples.

    A row with true norm :math:`\mu_i` and noise of total variance :math:`\sigma_i^2\propto1/N`
    reads :math:`\mathbb E\|\hat g_i\|\le\mu_i+\sigma_i^2/(2\mu_i)` (equality when all the
    noise is orthogonal to the row), so the plain statistic's relative bias is at most about
    :math:`F^2/(2\bar T^2)`, :math:`F` the noise floor.  With :math:`F^2` and the squared standard
    error both :math:`\propto1/N`:

    .. math::

        N_{\text{need}} = N\max\Big(\frac{F^2}{2\,b\,\bar T^2},\ \frac{\mathrm{SE}^2}{e^2\,\bar T^2}\Big),

    with :math:`b` = ``relative_bias``, :math:`e` = ``relative_error`` and :math:`\bar T` the
    jackknife-corrected value (the plain one if the correction is not positive).  Without noise or
    without signal (every unit dead) it returns ``N``.
    """
    N = check.integer(N, "N", minimum=1)
    relative_bias = check.real(relative_bias, "relative_bias", minimum=0.0, strict_min=True)
    relative_error = check.real(relative_error, "relative_error", minimum=0.0, strict_min=True)
    factor = max(statistic.noise_floor**2 / (2.0 * relative_bias), statistic.standard_error**2 / relative_error**2)
    value = statistic.corrected if statistic.corrected > 0 else statistic.plain
    if factor == 0 or value <= 0:  # no noise, or no signal at all (every unit dead): more samples change nothing
        return N
    return int(np.ceil(N * factor / value**2))


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
    low = check.real(low, "low", minimum=0.0)
    high = check.real(high, "high", minimum=0.0)
    if not high > low:
        raise ValueError(f"high must be > low for a continuous value distribution, got low={low}, high={high}")
    budget = check.integer(budget, "budget", minimum=1)
    s = structure
    h = s.h
    pointer, unit, _ = s.candidates(1, high)  # units that can fire for some x <= high
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
    return ExpectedK1(CW + _times(T, s.At), loss, active * scale / h)
