r"""Batch statistics of the mean gradient: Table 1's average row norm, its jackknife and noise floor.

Samples are processed in *batches* whose separate sums (:class:`BatchedGradient`) give a standard
error and a delete-one-batch jackknife correction of the statistic
:math:`\bar T = \frac1h\sum_i\|\hat g_i\|`, which plain Monte Carlo overestimates by about
:math:`c/N` (the simulations chapter, book/04_simulations, derives and measures it): :func:`row_norm_statistics`.  :func:`_rms_statistics` gives the
root-mean-square row norm with a cross-batch (unbiased) squared norm, used for the proxy gradient
and the gap of Sec. 5 (:mod:`lib.estimators.sampled`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from lib import _validate as check
from lib.estimators.structure import GradientStructure, Sums, _checked_structure, _codes, accumulate, signal_energy

ROW_BLOCK_ENTRIES = 1 << 24  # entries of the (rows, n) gradient blocks held at once, over all points (128 MB)

__all__ = [
    "BatchedGradient",
    "NormStatistic",
    "CellStatistics",
    "mean_row_norm",
    "batched_gradient",
    "row_norm_statistics",
    "required_samples",
]


def mean_row_norm(gradient: np.ndarray) -> float:
    r"""Table 1's statistic: :math:`\frac1h\sum_i \|g_i\|_2`, the average norm of the rows of ``gradient`` (h, n)."""
    return float(np.mean(np.linalg.norm(check.matrix(gradient, "gradient"), axis=1)))


@dataclass(frozen=True, eq=False)
class BatchedGradient:
    r"""The mean gradient at one encoder, kept as per-batch sums for error estimates.

    Attributes
    ----------
    structure : GradientStructure or lib.estimators.implicit.DictionaryStructure
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
        b = check.integer(b, "b", minimum=0, maximum=len(self.batches) - 1)
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


def batched_gradient(structure: GradientStructure, support: np.ndarray, values: np.ndarray,
                     batches: int = 16, *, energy: float | None = None, chunk: int | None = None) -> BatchedGradient:
    """Split the samples into ``batches`` equal consecutive batches and :func:`accumulate` each.

    ``N`` must be a multiple of ``batches`` (equal batches keep the jackknife simple).  Pass the
    data's ``energy`` (:func:`signal_energy`) when evaluating many encoders on the same data, or
    ``float("nan")`` to skip the loss.
    """
    structure = _checked_structure(structure)
    support, values = _codes(support, values, structure.h)
    batches = check.integer(batches, "batches", minimum=2)
    N = support.shape[0]
    if N % batches:
        raise ValueError(f"batches must divide the number of samples N={N}, got batches={batches}")
    if chunk is not None:
        chunk = check.integer(chunk, "chunk", minimum=1)
    if energy is None:
        energy = signal_energy(structure.A, support, values)
    elif not (isinstance(energy, float) and np.isnan(energy)):  # NaN: skip the loss
        energy = check.real(energy, "energy", minimum=0.0)
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
    The row sums are taken block by block of rows, so no ``(h, n)`` gradient is held whole.
    """
    if isinstance(points, (str, bytes)) or not isinstance(points, Sequence):
        raise TypeError(f"points must be a sequence of BatchedGradient, got {type(points).__name__}")
    if not points:
        raise ValueError("points must hold at least one BatchedGradient")
    for point in points:
        check.of_type(point, "points", BatchedGradient)
    B = len(points[0].batches)
    if any(len(p.batches) != B for p in points):
        raise ValueError("points must all have the same number of batches")
    if any(p.structure.W.shape != points[0].structure.W.shape for p in points):
        raise ValueError("points must all have encoders W of the same shape (h, n)")
    P, (h, n) = len(points), points[0].structure.W.shape
    totals_sq, pooled_sq = np.empty((P, h)), np.empty(h)
    cross, dev_sq = np.empty((P, B, h)), np.empty((P, B, h))
    pooled_cross, pooled_dev_sq = np.empty((B, h)), np.empty((B, h))
    step = max(1, ROW_BLOCK_ENTRIES // (n * (2 * P + 2)))  # totals, deviations and the pooled two
    for start in range(0, h, step):  # row blocks: no (h, n) gradient is held whole
        rows = slice(start, start + step)
        totals = [p.total.gradient(p.structure, rows) for p in points]
        totals_sq[:, rows] = [_rowsum(g, g) for g in totals]
        pooled_total = np.mean(totals, axis=0) if P > 1 else None  # one point: the pooled sums are its own (below)
        if P > 1:
            pooled_sq[rows] = _rowsum(pooled_total, pooled_total)
        for b in range(B):
            devs = [point.batches[b].gradient(point.structure, rows) for point in points]
            for index, (dev, total) in enumerate(zip(devs, totals)):
                dev -= total
                dev_sq[index, b, rows] = _rowsum(dev, dev)
                cross[index, b, rows] = _rowsum(total, dev)
            if P > 1:
                pooled_dev = np.mean(devs, axis=0)
                pooled_dev_sq[b, rows] = _rowsum(pooled_dev, pooled_dev)
                pooled_cross[b, rows] = _rowsum(pooled_total, pooled_dev)
    if P == 1:
        pooled_sq, pooled_cross, pooled_dev_sq = totals_sq[0], cross[0], dev_sq[0]
    point_out = np.array([[_leave_out(totals_sq[i], cross[i, b], dev_sq[i, b], B) for b in range(B)] for i in range(P)])
    pooled_out = np.array([_leave_out(pooled_sq, pooled_cross[b], pooled_dev_sq[b], B) for b in range(B)])
    point_var, pooled_var = dev_sq.sum(axis=1), pooled_dev_sq.sum(axis=0)
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
    check.of_type(statistic, "statistic", NormStatistic)
    N = check.integer(N, "N", minimum=1)
    relative_bias = check.real(relative_bias, "relative_bias", minimum=0.0, strict_min=True)
    relative_error = check.real(relative_error, "relative_error", minimum=0.0, strict_min=True)
    factor = max(statistic.noise_floor**2 / (2.0 * relative_bias), statistic.standard_error**2 / relative_error**2)
    value = statistic.corrected if statistic.corrected > 0 else statistic.plain
    if factor == 0 or value <= 0:  # no noise, or no signal at all (every unit dead): more samples change nothing
        return N
    return int(np.ceil(N * factor / value**2))


def _rms_statistics(batch_gradient: Callable[[int], np.ndarray], B: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    r"""Mean, entry standard errors, bias-corrected RMS row norm and its jackknife standard error.

    The RMS row norm is :math:`\sqrt{\|\mathbb E g\|_F^2/h}` with the squared norm estimated by the
    cross-batch products :math:`\frac1{B(B-1)}\sum_{b\ne c}\langle g_b, g_c\rangle`, which, unlike
    :math:`\|\bar g\|^2`, carry no upward sampling bias; its delete-one-batch jackknife gives the error.
    ``batch_gradient(b)`` returns the mean gradient ``(h, n)`` of batch ``b``; it is called twice
    per batch (the second pass gives the products with the total), so only three ``(h, n)`` arrays
    are held.  ``B >= 3``.
    """
    B = check.integer(B, "B", minimum=3)
    S1, S2, norms = 0.0, 0.0, np.zeros(B)
    for b in range(B):
        g = batch_gradient(b)
        S1, S2, norms[b] = S1 + g, S2 + g * g, np.vdot(g, g)
    h = S1.shape[0]
    cross = np.array([np.vdot(batch_gradient(b), S1) for b in range(B)])
    mean = S1 / B
    entry_se = np.sqrt(np.maximum(S2 / B - mean**2, 0.0) / (B - 1))
    total = float(np.vdot(S1, S1))
    unbiased = (total - norms.sum()) / (B * (B - 1))  # sum over b != c of <g_b, g_c>, averaged
    leave_out = (total - 2 * cross + norms - (norms.sum() - norms)) / ((B - 1) * (B - 2))
    se_sq = np.sqrt((B - 1) / B * np.sum((leave_out - leave_out.mean()) ** 2))
    if unbiased > 0:
        return mean, entry_se, float(np.sqrt(unbiased / h)), float(se_sq / (2 * np.sqrt(unbiased * h)))
    return mean, entry_se, 0.0, float(np.sqrt(se_sq / h))
