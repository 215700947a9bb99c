r"""Experiments of the chapter "Near the dictionary the expected gradient vanishes" (Theorem 3.2, Lemmas 5.1, 5.2).

Two ways to get an expected gradient, and every result says which it used:

* **closed form** (exact, no sampling noise): :func:`lib.expectation.proxy_decomposition` or, for one
  nonzero per code, :func:`lib.theory.criticality.k1_coefficients`.  It is the expected *proxy*
  gradient; it is also the expected *true* gradient wherever
  :func:`lib.theory.criticality.recovery_margins` certifies that the ReLU layer recovers every
  support.
* **Monte Carlo** (:func:`monte_carlo_gradient`): the mean over sampled codes, with batch-means
  standard errors and a bias-corrected row norm.  It uses the structure of the data (MATH.md §4,
  ESTIMATORS.md): with :math:`U = MX - \epsilon`, :math:`R = \mathrm{ReLU}(U)`, the per-sample
  gradient is :math:`r\hat y^\top + t\,y^\top` with :math:`t = \mathbb 1\odot(Gr - 2u - \epsilon)`,
  so the batch mean is :math:`(CW + TA^{*\top})/N` with the sparse :math:`h\times h` matrices
  :math:`C = \sum rr^\top` and :math:`T = \sum t\,x^\top`; no :math:`n\times N` signal matrix is formed.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations, product

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from tqdm.auto import tqdm

from lib import _validate as check
from lib import autodiff, autoencoder, expectation, model
from lib.theory import criticality as theory

KINDS = ("true", "proxy", "gap")


def hadamard_dictionary(n: int) -> np.ndarray:
    r"""The dictionary :math:`A^* = [I_n,\ H_n/\sqrt n]` of shape ``(n, 2n)`` (``n`` a power of 2).

    Its columns have unit norm and its coherence is exactly :math:`1/\sqrt n = (h/2)^{-1/2}`,
    the smallest possible for two orthonormal bases; so :math:`\xi\to 1/2` as :math:`h = 2n` grows.
    """
    n = check.integer(n, "n", minimum=1)
    if n & (n - 1):
        raise ValueError(f"n must be a power of 2, got {n}")
    return np.hstack([np.eye(n), scipy.linalg.hadamard(n) / np.sqrt(n)])


# --------------------------------------------------------------------------- Monte Carlo


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
        Bias-corrected root-mean-square row norm :math:`\sqrt{\|\mathbb E g\|_F^2/h}`: the squared
        norm is estimated by the cross-batch products :math:`\sum_{b\ne c}\langle g_b, g_c\rangle`,
        which, unlike :math:`\|\bar g\|^2`, carry no upward sampling bias.
    rms_se : float
        Jackknife (delete-one-batch) standard error of ``rms``.
    failure_rate : float
        Fraction of samples on which the ReLU layer did not recover the support exactly.
    second_moment : float
        Mean over samples of :math:`\|\nabla L - \widetilde\nabla L\|_F^2` per sample (Appendix A).
    samples : int
    """

    mean: np.ndarray
    entry_se: np.ndarray
    rms: float
    rms_se: float
    failure_rate: float
    second_moment: float
    samples: int


def _sparse_codes(h: int, k: int, N: int, rng: np.random.Generator, low: float, high: float) -> sp.csc_matrix:
    support, values = model.sample_sparse_codes(h, k, N, rng, low, high)
    return sp.csc_matrix((values.ravel(), support.ravel(), np.arange(0, N * k + 1, k)), shape=(h, N))


def _masked_parts(U: np.ndarray, mask: np.ndarray, G: np.ndarray, e: np.ndarray) -> tuple[sp.csc_matrix, sp.csc_matrix]:
    r"""Sparse :math:`R = \mathbb 1\odot U` and :math:`T_w = \mathbb 1\odot(GR - 2U - \epsilon)` for one mask."""
    rows, cols = np.nonzero(mask)
    R = sp.csc_matrix((U[rows, cols], (rows, cols)), shape=U.shape)
    GR = np.asarray((R.T @ G))  # (N, h): row s is G r_s (G symmetric)
    t = GR[cols, rows] - 2 * U[rows, cols] - e[rows]
    return R, sp.csc_matrix((t, (rows, cols)), shape=U.shape)


def _gap_second_moment(W: np.ndarray, A: np.ndarray, X: sp.csc_matrix, true: tuple, proxy: tuple, failed: np.ndarray) -> float:
    r"""Sum over failed samples of :math:`\|r\hat y^\top - \tilde r\hat{\tilde y}^\top + (t - \tilde t)y^\top\|_F^2`.

    Each term is :math:`\|PQ^\top\|_F^2 = \sum_{ab}(P^\top P)_{ab}(Q^\top Q)_{ab}` with
    :math:`P = [r, \tilde r, t-\tilde t]` and :math:`Q = [W^\top r, -W^\top\tilde r, y]`.
    """
    if not failed.any():
        return 0.0
    (R, Tw), (Rp, Twp) = true, proxy
    left = [R[:, failed].toarray(), Rp[:, failed].toarray(), (Tw - Twp)[:, failed].toarray()]
    right = [W.T @ left[0], -(W.T @ left[1]), np.asarray(A @ X[:, failed].toarray())]
    return float(sum(
        np.sum(np.einsum("hs,hs->s", left[a], left[b]) * np.einsum("ns,ns->s", right[a], right[b]))
        for a in range(3) for b in range(3)
    ))


def _batch(W, A, M, G, k, e, low, high, N, rng, with_moment):
    """One batch: sparse (C, T) sums for the true and proxy gradients, the failures and the gap's second moment."""
    X = _sparse_codes(W.shape[0], k, N, rng, low, high)
    U = np.asarray(M @ X) - e[:, None]
    true_mask, proxy_mask = U > 0, (X != 0).toarray()
    parts = {"true": _masked_parts(U, true_mask, G, e), "proxy": _masked_parts(U, proxy_mask, G, e)}
    failed = np.any(true_mask != proxy_mask, axis=0)
    moment = _gap_second_moment(W, A, X, parts["true"], parts["proxy"], failed) if with_moment else 0.0
    sums = {name: (R @ R.T, Tw @ X.T) for name, (R, Tw) in parts.items()}
    return sums, int(failed.sum()), moment


def _batch_gradient(sums: dict, kind: str, W: np.ndarray, A: np.ndarray, N: int) -> np.ndarray:
    if kind == "gap":
        C = sums["true"][0] - sums["proxy"][0]
        T = sums["true"][1] - sums["proxy"][1]
    else:
        C, T = sums[kind]
    return (np.asarray(C @ W) + np.asarray(T @ A.T)) / N


def _summarise(batch_gradients, h: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Mean, entry standard errors, bias-corrected RMS row norm and its jackknife standard error."""
    grads = list(batch_gradients)
    B = len(grads)
    S1 = sum(grads)
    S2 = sum(g * g for g in grads)
    mean = S1 / B
    entry_se = np.sqrt(np.maximum(S2 / B - mean**2, 0.0) / (B - 1))
    norms = np.array([np.vdot(g, g) for g in grads])
    cross = np.array([np.vdot(g, S1) for g in grads])
    total = float(np.vdot(S1, S1))
    unbiased = (total - norms.sum()) / (B * (B - 1))
    leave_out = (total - 2 * cross + norms - (norms.sum() - norms)) / ((B - 1) * (B - 2))
    se_sq = np.sqrt((B - 1) / B * np.sum((leave_out - leave_out.mean()) ** 2))
    if unbiased > 0:
        return mean, entry_se, float(np.sqrt(unbiased / h)), float(se_sq / (2 * np.sqrt(unbiased * h)))
    return mean, entry_se, 0.0, float(np.sqrt(se_sq / h))


def monte_carlo_gradient(
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

    Draws ``N`` codes (``batches`` batches of ``N // batches``) with uniform ``k``-subsets and
    i.i.d. ``U[low, high]`` nonzeros, and averages the exact per-sample gradient (``kind="true"``,
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
        :math:`m_{\min}, m_{\max}`.
    batches : int
        Number of batches for the standard errors, ``>= 3``.
    kind : {"true", "proxy", "gap"}
    second_moment : bool
        Also estimate :math:`\mathbb E\|\nabla L-\widetilde\nabla L\|_F^2` per sample (costs
        :math:`O(hn)` per failed sample).
    """
    W = check.matrix(W, "W")
    h, n = W.shape
    A = check.matrix(A, "A", shape=(n, h))
    k = check.integer(k, "k", minimum=1, maximum=h)
    e = check.bias(eps, h)[:, 0]
    batches = check.integer(batches, "batches", minimum=3)
    N = check.integer(N, "N", minimum=3 * batches)
    rng = check.generator(rng)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    low = check.real(low, "low", minimum=0.0)
    high = check.real(high, "high", minimum=low)
    M, G = W @ A, W @ W.T
    size = N // batches
    results = [_batch(W, A, M, G, k, e, low, high, size, rng, second_moment) for _ in range(batches)]
    mean, entry_se, rms, rms_se = _summarise((_batch_gradient(s, kind, W, A, size) for s, _, _ in results), h)
    total = size * batches
    return GradientEstimate(
        mean, entry_se, rms, rms_se,
        failure_rate=sum(f for _, f, _ in results) / total,
        second_moment=sum(m for _, _, m in results) / total,
        samples=total,
    )
