r"""Monte Carlo estimates of the expected true gradient, proxy gradient, or their gap (Sec. 5).

:func:`sampled_gradient` draws codes batch by batch and averages the exact per-sample gradient
through the sums of :mod:`lib.estimators.structure` (``proxy=True`` for the proxy gradient
:math:`\widetilde\nabla L`, whose active set is the support), with batch-means standard errors and
the bias-corrected RMS row norm of :func:`lib.estimators.statistics._rms_statistics`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lib import _validate as check
from lib import model
from lib.estimators.statistics import _rms_statistics
from lib.estimators.structure import GradientStructure, accumulate

__all__ = ["KINDS", "GradientEstimate", "sampled_gradient"]

KINDS = ("true", "proxy", "gap")


@dataclass(frozen=True)
class GradientEstimate:
    r"""A Monte Carlo estimate of an expected gradient (true, proxy, or their difference).

    Attributes
    ----------
    mean : numpy.ndarray
        Sample mean, shape ``(h, n)``.
    entry_se : numpy.ndarray
        Batch-means standard error of every entry, shape ``(h, n)``.
    rms : float
        Bias-corrected root-mean-square row norm :math:`\sqrt{\|\mathbb E g\|_F^2/h}`
        (:func:`lib.estimators.statistics._rms_statistics`).
    rms_se : float
        Jackknife (delete-one-batch) standard error of ``rms``.
    failure_rate : float
        Fraction of samples on which the ReLU layer did not recover the support exactly.
    second_moment : float
        Mean over samples of :math:`\|\nabla L - \widetilde\nabla L\|_F^2` per sample (Appendix A);
        0 unless requested.
    samples : int
    """

    mean: np.ndarray
    entry_se: np.ndarray
    rms: float
    rms_se: float
    failure_rate: float
    second_moment: float
    samples: int


def _check_monte_carlo_size(h: int, n: int, k: int, N: int, batches: int, name: str = "N") -> None:
    """Refuse a Monte Carlo run whose batch arrays (a few dense ``(h, N / batches)``) or total work would not fit."""
    check.allocation(f"{name}, batches", 8.0 * (h * h + 2 * h * n + 8 * h * (N // batches + 1)))
    check.work(name, float(N) * h * (k + n))


def _gap_second_moment(structure: GradientStructure, support: np.ndarray, values: np.ndarray) -> float:
    r"""Sum over the samples of :math:`\|\nabla L(y_s) - \widetilde\nabla L(y_s)\|_F^2`.

    Only the samples whose support is not recovered contribute.  Each term is
    :math:`\|PQ^\top\|_F^2 = \sum_{ab}(P^\top P)_{ab}(Q^\top Q)_{ab}` with
    :math:`P = [r, \tilde r, t-\tilde t]`, :math:`Q = [W^\top r, -W^\top\tilde r, y]`,
    :math:`t = \mathbb 1\odot(Gr - 2u - \epsilon)` on the true active set and :math:`\tilde t` on the support.
    """
    s = structure
    N, k = support.shape
    U = (sum(s.M[:, support[:, t]] * values[:, t] for t in range(k)) - s.eps[:, None])  # (h, N)
    true_mask = U > 0
    proxy_mask = np.zeros_like(true_mask)
    proxy_mask[support.T, np.arange(N)] = True
    failed = np.any(true_mask != proxy_mask, axis=0)
    if not failed.any():
        return 0.0
    U, true_mask, proxy_mask = U[:, failed], true_mask[:, failed], proxy_mask[:, failed]
    R, Rp = U * true_mask, U * proxy_mask
    t_gap = (s.G @ R - 2 * U - s.eps[:, None]) * true_mask - (s.G @ Rp - 2 * U - s.eps[:, None]) * proxy_mask
    Y = sum(s.A[:, support[failed, t]] * values[failed, t] for t in range(k))
    left = [R, Rp, t_gap]
    right = [s.W.T @ R, -(s.W.T @ Rp), Y]
    return float(sum(
        np.sum(np.einsum("hs,hs->s", left[a], left[b]) * np.einsum("ns,ns->s", right[a], right[b]))
        for a in range(3) for b in range(3)
    ))


def sampled_gradient(
    W: np.ndarray,
    A: np.ndarray,
    k: int,
    eps: float | np.ndarray,
    N: int,
    rng: np.random.Generator,
    *,
    low: float = 1.0,
    high: float = 2.0,
    batches: int = 10,
    kind: str = "true",
    second_moment: bool = False,
) -> GradientEstimate:
    r"""Monte Carlo estimate of :math:`\mathbb E\nabla L`, :math:`\mathbb E\widetilde\nabla L` or their difference.

    Draws ``N`` codes (``batches`` batches of ``N // batches``, one
    :func:`lib.model.sample_sparse_codes` call each) with uniform ``k``-subsets and i.i.d.
    ``U[low, high]`` nonzeros, and averages the exact per-sample gradient (``kind="true"``,
    :func:`lib.autoencoder.gradient`), the proxy gradient (``"proxy"``,
    :func:`lib.autoencoder.proxy_gradient`) or the difference ``"gap"``
    :math:`\nabla L - \widetilde\nabla L`, which vanishes on every sample whose support is recovered.

    Parameters
    ----------
    W, A, k, eps
        Encoder ``(h, n)``, dictionary ``(n, h)``, support size, bias.
    N : int
        Number of samples, ``N >= 3 * batches``.
    rng : numpy.random.Generator
    low, high : float
        :math:`m_{\min}, m_{\max}`, ``0 <= low <= high``.
    batches : int
        Number of batches for the standard errors, ``>= 3``.
    kind : {"true", "proxy", "gap"}
    second_moment : bool
        Also estimate :math:`\mathbb E\|\nabla L-\widetilde\nabla L\|_F^2` per sample (costs
        :math:`O(hn)` per failed sample).
    """
    W, A, k, e = check.instance(W, A, k, eps)
    batches = check.loop_count(batches, "batches", minimum=3)
    N = check.integer(N, "N", minimum=3 * batches)
    rng = check.generator(rng)
    kind = check.choice(kind, "kind", KINDS)
    low = check.real(low, "low", minimum=0.0)
    high = check.real(high, "high", minimum=low)
    second_moment = check.flag(second_moment, "second_moment")
    _check_monte_carlo_size(*W.shape, k, N, batches)
    size = N // batches
    structure = GradientStructure.of(W, A, e)
    sums, failures, moment = [], 0, 0.0
    for _ in range(batches):
        support, values = model.sample_sparse_codes(structure.h, k, size, rng, low, high)
        parts = {name: accumulate(structure, support, values, xmax=high, proxy=name == "proxy") for name in ("true", "proxy")}
        failures += size - parts["true"].recovered
        moment += _gap_second_moment(structure, support, values) if second_moment else 0.0
        sums.append(parts)

    def batch_gradient(b: int) -> np.ndarray:
        if kind == "gap":
            return sums[b]["true"].gradient(structure) - sums[b]["proxy"].gradient(structure)
        return sums[b][kind].gradient(structure)

    mean, entry_se, rms, rms_se = _rms_statistics(batch_gradient, batches)
    total = size * batches
    return GradientEstimate(mean, entry_se, rms, rms_se, failure_rate=failures / total,
                            second_moment=moment / total, samples=total)
