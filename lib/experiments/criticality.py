r"""Experiments of the chapter "Near the dictionary the expected gradient vanishes" (Theorem 3.2, Lemmas 5.1, 5.2).

Two ways to get an expected gradient, and every result says which it used:

* **closed form** (exact, no sampling noise): :func:`lib.expectation.proxy_decomposition` or, for one
  nonzero per code, :func:`lib.theory.criticality.k1_coefficients`.  It is the expected *proxy*
  gradient; it is also the expected *true* gradient wherever
  :func:`lib.theory.criticality.recovery_margins` certifies that the ReLU layer recovers every
  support.
* **Monte Carlo** (:func:`lib.estimators.sampled_gradient`): the mean over sampled codes, with
  batch-means standard errors and a bias-corrected row norm, computed from the structure of the
  data (:mod:`lib.estimators`); no :math:`n\times N` signal matrix is formed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations, product

import numpy as np
from tqdm import tqdm  # text bars on stderr: an executed notebook stores no widget state

from lib import _validate as check
from lib import autodiff, autoencoder, expectation, model
from lib.estimators import GradientEstimate, sampled_gradient
from lib.estimators.sampled import _check_monte_carlo_size
from lib.model import hadamard_dictionary, uniform_moments
from lib.theory import criticality as theory
from lib.theory import support as support_theory

__all__ = [
    "enumerate_codes",
    "two_point_values",
    "AutodiffComparison",
    "autodiff_comparison",
    "CriticalitySweep",
    "criticality_sweep",
    "theorem32_failures",
    "lemma52_holds",
    "theorem32_vanishes",
    "ProxyGapSweep",
    "proxy_gap_sweep",
    "Decomposition",
    "decomposition_at",
]


def _hadamard_sizes(h_values: object, name: str) -> np.ndarray:
    """Sizes ``h = 2n`` of the Hadamard dictionary: powers of 2, at least 4 (an odd ``h`` cannot be ``2n``)."""
    values = np.asarray(check.integer_sequence(h_values, name, minimum=4))
    if np.any(values & (values - 1)):
        raise ValueError(f"{name} must hold powers of 2 (h = 2n with n a power of 2), got {values.tolist()}")
    check.allocation(name, 8.0 * 40 * float(values.max()) ** 2)  # the closed form's (h, h) matrices
    return values


# --------------------------------------------------------------------------- a small instance


def enumerate_codes(h: int, k: int, values: tuple[float, ...]) -> np.ndarray:
    """Every code with a ``k``-subset support and nonzeros from ``values``: shape ``(h, C(h, k) * len(values)**k)``.

    Averaging over these columns with equal weights is the exact expectation for uniform supports
    and i.i.d. nonzeros drawn uniformly from ``values``.
    """
    h = check.integer(h, "h", minimum=1)
    k = check.integer(k, "k", minimum=1, maximum=h)
    values = check.real_sequence(values, "values")
    check.allocation("h, k", 8.0 * h * math.comb(h, k) * float(len(values)) ** k)
    columns = []
    for support in combinations(range(h), k):
        for assignment in product(values, repeat=k):
            x = np.zeros(h)
            x[list(support)] = assignment
            columns.append(x)
    return np.stack(columns, axis=1)


def two_point_values(low: float, high: float) -> tuple[float, float]:
    r"""The two equally likely values :math:`m_1\pm\sqrt{m_2-m_1^2}` with the moments of ``U[low, high]``."""
    low, high = theory.check_values(low, high)
    m1, sd = 0.5 * (low + high), (high - low) / np.sqrt(12.0)
    return m1 - sd, m1 + sd



@dataclass(frozen=True)
class AutodiffComparison:
    """The closed-form expected gradient beside TensorFlow autodiff and Monte Carlo on one small instance.

    Attributes
    ----------
    W, A : numpy.ndarray
        The encoder ``(h, n)`` and the Hadamard dictionary ``(n, h)``.
    k : int
    eps : float
    closed_form : numpy.ndarray
        :func:`lib.expectation.expected_proxy_gradient` (exact, no sampling).
    autodiff : numpy.ndarray
        TensorFlow autodiff of the loss averaged over every support and both values of
        :func:`two_point_values` (exhaustive, so exact).
    numpy_exact : numpy.ndarray
        :func:`lib.autoencoder.gradient` on the same enumerated data.
    monte_carlo : lib.estimators.GradientEstimate
        The proxy gradient averaged over sampled codes with ``U[low, high]`` nonzeros.
    certified : bool
        Whether :func:`lib.theory.criticality.recovery_margins` certifies exact recovery for the
        two-point law (then the true and proxy expected gradients are equal).
    samples : int
        Number of enumerated codes.
    """

    W: np.ndarray
    A: np.ndarray
    k: int
    eps: float
    closed_form: np.ndarray
    autodiff: np.ndarray
    numpy_exact: np.ndarray
    monte_carlo: GradientEstimate
    certified: bool
    samples: int


def autodiff_comparison(
    n: int, k: int, delta: float, eps: float, N: int, rng: np.random.Generator, *,
    low: float = 1.0, high: float = 2.0, batches: int = 20,
) -> AutodiffComparison:
    """Compare three computations of the expected gradient on ``A = [I, H/sqrt(n)]`` (``h = 2n``); see :class:`AutodiffComparison`."""
    A = hadamard_dictionary(n)
    k = check.integer(k, "k", minimum=1, maximum=2 * n)
    delta = check.real(delta, "delta", minimum=0.0)
    eps = check.real(eps, "eps")
    rng = check.generator(rng)
    batches = check.loop_count(batches, "batches", minimum=3)
    N = check.integer(N, "N", minimum=3 * batches)
    m1, m2 = uniform_moments(low, high)
    _check_monte_carlo_size(2 * n, n, k, N, batches)
    W = model.perturb_columns(A, delta, rng)
    values = two_point_values(low, high)
    X = enumerate_codes(2 * n, k, values)
    Y = A @ X
    on_min, off_max = theory.recovery_margins(W, A, k, eps, *values)
    return AutodiffComparison(
        W=W, A=A, k=k, eps=float(eps),
        closed_form=expectation.expected_proxy_gradient(W, A, k, eps, m1, m2),
        autodiff=autodiff.tf_gradient(W, Y, eps),
        numpy_exact=autoencoder.gradient(W, Y, eps),
        monte_carlo=sampled_gradient(W, A, k, eps, N, rng, low=low, high=high, batches=batches, kind="proxy"),
        certified=bool(on_min.min() > 0 and off_max.max() <= 0),
        samples=X.shape[1],
    )


# --------------------------------------------------------------------------- Theorem 3.2 and Lemma 5.2


def _rms(G: np.ndarray) -> float:
    r"""Root-mean-square row norm :math:`\sqrt{\sum_i\|G_i\|^2/h}`."""
    return float(np.sqrt(np.vdot(G, G) / G.shape[0]))


def _closed_form(W: np.ndarray, A: np.ndarray, k: int, eps: float, m1: float, m2: float):
    """Lemma 5.2's ``(alpha, beta, e)`` by the cheapest exact route (``e = 0`` when ``k = 1``)."""
    if k == 1:
        alpha, beta = theory.k1_coefficients(W, A, eps, m1, m2)
        return alpha, beta, np.zeros_like(W)
    return expectation.proxy_decomposition(W, A, k, eps, m1, m2)


def _certified(W: np.ndarray, A: np.ndarray, k: int, eps: float, low: float, high: float) -> bool:
    on_min, off_max = theory.recovery_margins(W, A, k, eps, low, high)
    return bool(on_min.min() > 0 and off_max.max() <= 0)


@dataclass(frozen=True)
class CriticalitySweep:
    r"""Expected gradients near :math:`A^*` across ``h`` and ``p`` (Theorem 3.2, Lemma 5.2).

    Dictionary :math:`[I, H/\sqrt n]` with :math:`h = 2n`; radius :math:`\delta = h^{-p-\nu}`;
    Theorem 3.1's bias :math:`\epsilon = 2m_1h^p(\delta + h^{-\xi})`.  Arrays are indexed
    ``[p, h]`` or ``[p, h, point]``; "RMS" is :math:`\sqrt{\sum_i\|G_i\|^2/h}`; coefficient
    summaries are means over the rows :math:`i`.

    Attributes
    ----------
    h_values, p_values : numpy.ndarray
    nu : float
    k, delta, eps, mu : numpy.ndarray
        Support size, radius, bias ``[p, h]``; coherence ``[h]``.
    radius : numpy.ndarray
        Measured :math:`\max_i\|W_i - A^*_i\|` over the ball points, ``[p, h]`` (at most :math:`\delta`).
    column_error : numpy.ndarray
        :math:`\max_j|\|A^*_j\| - 1|` of the dictionary, ``[h]``.
    dictionary : numpy.ndarray
        Closed-form RMS of :math:`\mathbb E\nabla L` at :math:`W = A^{*\top}`, ``[p, h]``.
    ball : numpy.ndarray
        Closed-form RMS at random points of the sphere of radius :math:`\delta`, ``[p, h, point]``.
    alpha, beta, alpha_beta_gap, e_norm : numpy.ndarray
        Means over :math:`i` of :math:`\alpha_i`, :math:`\beta_i`, :math:`|\alpha_i-\beta_i|`,
        :math:`\|e_i\|` at the ball points, ``[p, h, point]``.
    certified : numpy.ndarray
        Whether exact recovery is certified, ``[p, h, 1 + point]`` (index 0: :math:`A^*`); where it
        is, the closed form is the exact expected *true* gradient.
    mc, mc_se, mc_failure : numpy.ndarray
        Monte Carlo RMS of the true gradient at the first ball point, its standard error and the
        fraction of samples with imperfect recovery, ``[p, h]``.
    frozen, frozen_certified : numpy.ndarray
        Closed-form RMS (and certificate) at a ball point when :math:`\epsilon` and :math:`\delta`
        are frozen at their values for the largest ``h`` instead of shrinking with ``h`` (outside the
        theorem, which lets both vanish), ``[p, h]``.
    """

    h_values: np.ndarray
    p_values: np.ndarray
    nu: float
    k: np.ndarray
    delta: np.ndarray
    eps: np.ndarray
    mu: np.ndarray
    radius: np.ndarray
    column_error: np.ndarray
    dictionary: np.ndarray
    ball: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    alpha_beta_gap: np.ndarray
    e_norm: np.ndarray
    certified: np.ndarray
    mc: np.ndarray
    mc_se: np.ndarray
    mc_failure: np.ndarray
    frozen: np.ndarray
    frozen_certified: np.ndarray

    @property
    def q(self) -> np.ndarray:
        r""":math:`q_i = k/h`, ``[p, h]``."""
        return self.k / self.h_values[None, :]


def criticality_sweep(
    h_values, p_values, nu: float, points: int, N: int, rng: np.random.Generator, *,
    low: float = 1.0, high: float = 2.0, batches: int = 20,
) -> CriticalitySweep:
    """Run the sweep of :class:`CriticalitySweep` (closed forms everywhere, Monte Carlo at one point per cell)."""
    h_values = _hadamard_sizes(h_values, "h_values")
    p_values = np.asarray(check.real_sequence(p_values, "p_values", minimum=0.0, maximum=1.0, strict_min=True, strict_max=True))
    nu = check.real(nu, "nu", minimum=0.0, strict_min=True)
    points = check.loop_count(points, "points")
    rng = check.generator(rng)
    batches = check.loop_count(batches, "batches", minimum=3)
    N = check.integer(N, "N", minimum=3 * batches)
    m1, m2 = uniform_moments(low, high)
    top = int(h_values.max())
    _check_monte_carlo_size(top, top // 2, top, N * p_values.size, batches)
    shape, shape3 = (p_values.size, h_values.size), (p_values.size, h_values.size, points)
    out = {name: np.zeros(shape) for name in ("k", "delta", "eps", "radius", "dictionary", "mc", "mc_se", "mc_failure", "frozen")}
    out.update({name: np.zeros(shape3) for name in ("ball", "alpha", "beta", "alpha_beta_gap", "e_norm")})
    certified = np.zeros((*shape, points + 1), dtype=bool)
    frozen_certified = np.zeros(shape, dtype=bool)
    mu = 1.0 / np.sqrt(h_values / 2)
    column_error = np.zeros(h_values.size)
    for a, p in enumerate(p_values):
        out["k"][a] = [model.support_size(int(h), float(p)) for h in h_values]
        out["delta"][a] = theory.ball_radius(h_values, p, nu)
        out["eps"][a] = theory.theorem_bias(h_values, p, out["delta"][a], mu, m1)
    cells = [(a, b) for a in range(p_values.size) for b in range(h_values.size)]
    for a, b in tqdm(cells, desc="criticality", leave=False):
        A = hadamard_dictionary(int(h_values[b]) // 2)
        column_error[b] = np.abs(np.linalg.norm(A, axis=0) - 1.0).max()
        k, delta, eps = int(out["k"][a, b]), float(out["delta"][a, b]), float(out["eps"][a, b])
        alpha, beta, e = _closed_form(A.T, A, k, eps, m1, m2)
        out["dictionary"][a, b] = _rms((alpha - beta)[:, None] * A.T + e)
        certified[a, b, 0] = _certified(A.T, A, k, eps, low, high)
        for j in range(points):
            W = model.perturb_columns(A, delta, rng)
            out["radius"][a, b] = max(out["radius"][a, b], np.linalg.norm(W - A.T, axis=1).max())
            alpha, beta, e = _closed_form(W, A, k, eps, m1, m2)
            out["ball"][a, b, j] = _rms(alpha[:, None] * W - beta[:, None] * A.T + e)
            out["alpha"][a, b, j], out["beta"][a, b, j] = alpha.mean(), beta.mean()
            out["alpha_beta_gap"][a, b, j] = np.abs(alpha - beta).mean()
            out["e_norm"][a, b, j] = np.linalg.norm(e, axis=1).mean()
            certified[a, b, j + 1] = _certified(W, A, k, eps, low, high)
            if j == 0:
                est = sampled_gradient(W, A, k, eps, N, rng, low=low, high=high, batches=batches)
                out["mc"][a, b], out["mc_se"][a, b], out["mc_failure"][a, b] = est.rms, est.rms_se, est.failure_rate
        frozen_delta, frozen_eps = float(out["delta"][a, -1]), float(out["eps"][a, -1])
        W = model.perturb_columns(A, frozen_delta, rng)
        alpha, beta, e = _closed_form(W, A, k, frozen_eps, m1, m2)
        out["frozen"][a, b] = _rms(alpha[:, None] * W - beta[:, None] * A.T + e)
        frozen_certified[a, b] = _certified(W, A, k, frozen_eps, low, high)
    return CriticalitySweep(
        h_values=h_values, p_values=p_values, nu=float(nu), mu=mu, column_error=column_error, certified=certified,
        frozen_certified=frozen_certified, **out,
    )


def _cells(sweep: object, cells: object) -> tuple[CriticalitySweep, np.ndarray]:
    """Validate a sweep and a boolean mask ``[p, h]`` of its cells."""
    check.of_type(sweep, "sweep", CriticalitySweep)
    mask = np.asarray(cells)
    if mask.dtype != bool or mask.shape != sweep.k.shape:
        raise ValueError(f"cells must be a boolean array of shape {sweep.k.shape} ([p, h]), got {mask.dtype} {mask.shape}")
    return sweep, mask


def theorem32_failures(sweep: CriticalitySweep, cells: np.ndarray, low: float, high: float) -> list[str]:
    r"""The reconstructed hypotheses of Theorem 3.2 (and Lemma 5.2) that the sweep's ``cells`` do not satisfy, in words.

    Per cell: Theorem 3.1's (:func:`lib.theory.support.theorem31_failures`, with the measured radius,
    the Hadamard coherence and nonzeros uniform on ``[low, high]``) and Lemma 5.2's :math:`p < \nu`,
    with :math:`\nu = -\log\delta/\log h - p`.  Each failure reads "condition (fails in m of M
    cells)"; an empty list means every cell meets every hypothesis.  The remaining hypothesis, that
    :math:`e^{h^pm_1^2/(m_{\max}-m_{\min})^2}` be superpolynomial, holds for constant
    :math:`m_{\min}, m_{\max}, m_1` and is a statement about :math:`h\to\infty`, not about a cell.
    """
    sweep, mask = _cells(sweep, cells)
    low, high = theory.check_values(low, high)
    if not high > low:
        raise ValueError(f"high must be > low, got [{low}, {high}]")
    failed: dict[str, int] = {}
    for a, b in zip(*np.nonzero(mask)):
        h, p, delta = int(sweep.h_values[b]), float(sweep.p_values[a]), float(sweep.delta[a, b])
        names = support_theory.theorem31_failures(h, p, int(sweep.k[a, b]), delta, float(sweep.radius[a, b]),
                                                  float(sweep.column_error[b]), float(sweep.mu[b]), float(sweep.eps[a, b]),
                                                  low, high, 0.5 * (low + high))
        if not p < -np.log(delta) / np.log(h) - p:
            names.append("p < ν (Lemma 5.2)")
        for name in names:
            failed[name] = failed.get(name, 0) + 1
    return [f"{name} (fails in {count} of {int(mask.sum())} cells)" for name, count in failed.items()]


def _rows(values: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
    """Per ``p``, the entries of ``values`` ``[p, h]`` at the cells of ``mask``, in increasing ``h``."""
    return [values[a, mask[a]] for a in range(mask.shape[0])]


def _monotone(rows: list[np.ndarray], sign: float, minimum: int) -> bool:
    return all(row.size >= minimum and bool(np.all(sign * np.diff(row) > 0)) for row in rows)


def lemma52_holds(sweep: CriticalitySweep, cells: np.ndarray, m1: float, m2: float, *, minimum: int = 2) -> dict[str, bool]:
    r"""The orders of Lemma 5.2, each checked over the sweep's ``cells`` (``[p, h]``, e.g. the certified ones), for every :math:`p`.

    With :math:`q_i = k/h` and means over rows and ball points:

    * ``"beta"`` (:math:`\beta_i = \Theta(m_2h^{p-1})`): :math:`\beta_i/(q_im_2)` within 5 % of 1;
    * ``"alpha"`` (:math:`\alpha_i = \Theta(m_2h^{p-1})`, approached as :math:`\epsilon\to0`):
      :math:`\alpha_i/q_i` strictly increasing in :math:`h` and below :math:`m_2(1+\delta)^2`;
    * ``"difference"`` (:math:`|\alpha_i-\beta_i| = h^{p-1}O(m_2\delta+m_1\epsilon)`, vanishing
      relative to :math:`h^{p-1}`): :math:`|\alpha_i-\beta_i|/q_i \le 2(m_2\delta + m_1\epsilon)` and
      strictly decreasing in :math:`h`;
    * ``"e"`` (:math:`\|e_i\| = o(h^{p-1})`): for every :math:`p` with :math:`k\ge2` at every
      :math:`h` (with :math:`k = 1`, :math:`e_i = 0` by construction and there is nothing to test),
      :math:`\|e_i\|/q_i` and :math:`\|e_i\|/h^{p-1}` strictly decreasing in :math:`h`; false if no
      :math:`p` has :math:`k\ge2`.

    Every :math:`p` needs at least ``minimum`` cells (a trend needs two points), else its check is false.
    """
    sweep, mask = _cells(sweep, cells)
    m1 = check.real(m1, "m1", minimum=0.0)
    m2 = check.real(m2, "m2", minimum=0.0, strict_min=True)
    minimum = check.integer(minimum, "minimum", minimum=2, maximum=sweep.h_values.size)
    q = sweep.q
    scale = sweep.h_values[None, :] ** (sweep.p_values[:, None] - 1.0)
    alpha, beta = sweep.alpha.mean(axis=2) / q, sweep.beta.mean(axis=2) / q
    gap, e = sweep.alpha_beta_gap.mean(axis=2) / q, sweep.e_norm.mean(axis=2)
    enough = all(row.size >= minimum for row in _rows(q, mask))
    multi = [a for a in range(sweep.p_values.size) if sweep.k[a].min() >= 2]
    return {
        "beta": enough and bool(np.all(np.abs(beta[mask] / m2 - 1) < 0.05)),
        "alpha": _monotone(_rows(alpha, mask), 1.0, minimum) and bool(np.all(alpha[mask] < m2 * (1 + sweep.delta[mask]) ** 2)),
        "difference": _monotone(_rows(gap, mask), -1.0, minimum)
                      and bool(np.all(gap[mask] <= 2 * (m2 * sweep.delta[mask] + m1 * sweep.eps[mask]))),
        "e": bool(multi) and all(_monotone([(e / q)[a, mask[a]], (e / scale)[a, mask[a]]], -1.0, minimum) for a in multi),
    }


def theorem32_vanishes(sweep: CriticalitySweep, cells: np.ndarray, *, minimum: int = 2) -> bool:
    r"""Theorem 3.2's :math:`\|\mathbb E\,\partial L/\partial W_i\| = h^{p-1}o(1)` over the sweep's ``cells``, for every :math:`p`.

    The RMS norm divided by :math:`q_i = k/h`, and divided by :math:`h^{p-1}`, strictly decreasing in
    :math:`h` at the ball points (mean over points) and at :math:`A^*`, over at least ``minimum`` cells per :math:`p`.
    """
    sweep, mask = _cells(sweep, cells)
    minimum = check.integer(minimum, "minimum", minimum=2, maximum=sweep.h_values.size)
    scale = sweep.h_values[None, :] ** (sweep.p_values[:, None] - 1.0)
    norms = (sweep.ball.mean(axis=2), sweep.dictionary)
    return all(_monotone(_rows(norm / divisor, mask), -1.0, minimum) for norm in norms for divisor in (sweep.q, scale))


# --------------------------------------------------------------------------- Lemma 5.1


@dataclass(frozen=True)
class ProxyGapSweep:
    r"""Lemma 5.1 across ``h``: the gap :math:`\|\mathbb E\nabla L - \mathbb E\widetilde\nabla L\|` and its Cauchy–Schwarz bound.

    The dictionary :math:`[I, H/\sqrt n]` (:math:`h = 2n`, coherence :math:`\mu = 1/\sqrt n`);
    :math:`\delta = h^{-p-\nu}`; bias :math:`\epsilon = c\,m_1h^p(\delta+\mu)` with a prefactor
    :math:`c` below Theorem 3.1's (as in the paper's Sec. 6), so that recovery is imperfect and
    improves with ``h``.  Norms are RMS row norms.

    Attributes
    ----------
    h_values : numpy.ndarray
    eps : numpy.ndarray
        The bias, per ``h``.
    failure, failure_se : numpy.ndarray
        :math:`\Pr[Y\ne\hat Y]` (some unit's ReLU indicator differs from the support) and its
        binomial standard error (Monte Carlo).
    gap, gap_se : numpy.ndarray
        Bias-corrected Monte Carlo RMS of :math:`\mathbb E[\nabla L - \widetilde\nabla L]` and its
        standard error.
    bound : numpy.ndarray
        :math:`\sqrt{\mathbb E\|\nabla L-\widetilde\nabla L\|_F^2\,\Pr[Y\ne\hat Y]/h}`, Appendix A's
        Cauchy–Schwarz bound in the same units (Monte Carlo).
    proxy : numpy.ndarray
        RMS of the closed-form :math:`\mathbb E\widetilde\nabla L`, for scale (exact).
    """

    h_values: np.ndarray
    eps: np.ndarray
    failure: np.ndarray
    failure_se: np.ndarray
    gap: np.ndarray
    gap_se: np.ndarray
    bound: np.ndarray
    proxy: np.ndarray


def proxy_gap_sweep(
    h_values, p: float, nu: float, prefactor: float, N: int, rng: np.random.Generator, *,
    low: float = 1.0, high: float = 2.0, batches: int = 20,
) -> ProxyGapSweep:
    """Run the sweep of :class:`ProxyGapSweep`."""
    h_values = _hadamard_sizes(h_values, "h_values")
    p = check.exponent(p)
    nu = check.real(nu, "nu", minimum=0.0, strict_min=True)
    prefactor = check.real(prefactor, "prefactor", minimum=0.0, strict_min=True)
    rng = check.generator(rng)
    batches = check.loop_count(batches, "batches", minimum=3)
    N = check.integer(N, "N", minimum=3 * batches)
    m1, m2 = uniform_moments(low, high)
    top = int(h_values.max())
    _check_monte_carlo_size(top, top // 2, model.support_size(top, p), N * h_values.size, batches)
    out = {name: np.zeros(h_values.size) for name in ProxyGapSweep.__dataclass_fields__ if name != "h_values"}
    for b, h in enumerate(tqdm(h_values, desc="Lemma 5.1", leave=False)):
        h = int(h)
        A = hadamard_dictionary(h // 2)
        k = model.support_size(h, p)
        delta = float(theory.ball_radius(h, p, nu))
        eps = float(theory.theorem_bias(h, p, delta, 1 / np.sqrt(h // 2), m1, prefactor))
        W = model.perturb_columns(A, delta, rng)
        est = sampled_gradient(W, A, k, eps, N, rng, low=low, high=high, batches=batches, kind="gap", second_moment=True)
        out["eps"][b] = eps
        out["failure"][b] = est.failure_rate
        out["failure_se"][b] = np.sqrt(est.failure_rate * (1 - est.failure_rate) / est.samples)
        out["gap"][b], out["gap_se"][b] = est.rms, est.rms_se
        out["bound"][b] = float(theory.cauchy_schwarz_bound(est.second_moment / h, est.failure_rate))
        out["proxy"][b] = _rms(expectation.expected_proxy_gradient(W, A, k, eps, m1, m2))
    return ProxyGapSweep(h_values=h_values, **out)


# --------------------------------------------------------------------------- the interactive decomposition


@dataclass(frozen=True)
class Decomposition:
    r"""Lemma 5.2's :math:`\mathbb E\widetilde\nabla_{W_i}L = \alpha_iW_i - \beta_iA^*_i + e_i` at one point.

    Attributes
    ----------
    W, A : numpy.ndarray
    q : float
    alpha, beta : numpy.ndarray
        Shape ``(h,)``.
    e : numpy.ndarray
        Shape ``(h, n)``.
    """

    W: np.ndarray
    A: np.ndarray
    q: float
    alpha: np.ndarray
    beta: np.ndarray
    e: np.ndarray

    @property
    def gradient(self) -> np.ndarray:
        r"""The expected proxy gradient :math:`\alpha_iW_i - \beta_iA^*_i + e_i`, shape ``(h, n)``."""
        return self.alpha[:, None] * self.W - self.beta[:, None] * self.A.T + self.e


def decomposition_at(
    h: int, p: float, delta: float, eps: float, rng: np.random.Generator, *, low: float = 1.0, high: float = 2.0
) -> Decomposition:
    """Lemma 5.2's decomposition (closed form) at a random point at distance ``delta`` from the Hadamard dictionary of size ``h``."""
    h = int(_hadamard_sizes([h], "h")[0])
    k = model.support_size(h, p)
    delta = check.real(delta, "delta", minimum=0.0)
    eps = check.real(eps, "eps")
    rng = check.generator(rng)
    m1, m2 = uniform_moments(low, high)
    A = hadamard_dictionary(h // 2)
    W = model.perturb_columns(A, delta, rng)
    alpha, beta, e = _closed_form(W, A, k, eps, m1, m2)
    return Decomposition(W=W, A=A, q=k / h, alpha=alpha, beta=beta, e=e)
