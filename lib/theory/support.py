r"""Formulas of Theorem 3.1 (support recovery by one layer of ReLUs; paper Sec. 3.1 and 4).

Notation (appendix §3).  Each row :math:`W_i` of the encoder lies within :math:`\delta` of the
column :math:`A^*_i`, the dictionary has coherence :math:`\max_{i\neq j}|\langle A^*_i,A^*_j\rangle|
= \mu/\sqrt n = h^{-\xi}`, the nonzeros of :math:`x^*` lie in :math:`[m_{\min}, m_{\max}]` with mean
:math:`m_1`, and :math:`K` bounds the support size, :math:`|S|\le K` (the theorem's :math:`h^p`;
see :func:`support_bound`).  The pre-activation of unit :math:`i` is :math:`Q_i=\langle W_i, y\rangle`
and the unit fires when :math:`Q_i>\epsilon`.

The bias :math:`\epsilon = c\,m_1 K\beta` with :math:`\beta=\delta+h^{-\xi}`, the prefactor
:math:`c = 2`, the margin condition and the exponent of the probability bound are reconstructed
(appendix §3.1); every function states its formula.  Scalars or numpy arrays are accepted wherever
a formula is applied elementwise; a scalar result is returned as ``float``.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binom

from lib import _validate as check

#: The prefactor :math:`c` of the theorem's bias :math:`\epsilon = c\,m_1h^p\beta` (reconstructed).
THEOREM_PREFACTOR = 2.0
#: The simulations chapter's default bias is this fraction of the theorem's,
#: :math:`\epsilon = 0.5\cdot 2m_1h^p\beta` (``lib.experiments.simulations.Settings``).
SIMULATION_PREFACTOR = 0.5
#: The appendix's illustrative run (§8) used :math:`\epsilon = 0.5\,m_1k\mu`: this prefactor multiplies
#: :math:`m_1k\mu`, the coherence alone, not :math:`m_1K\beta`.
ILLUSTRATIVE_PREFACTOR = 0.5

__all__ = [
    "THEOREM_PREFACTOR",
    "SIMULATION_PREFACTOR",
    "ILLUSTRATIVE_PREFACTOR",
    "simulation_bias",
    "illustrative_bias",
    "ball_radius",
    "support_bound",
    "inner_product_bound",
    "bias",
    "on_support_floor",
    "off_support_ceiling",
    "margin_condition",
    "theorem31_failures",
    "chernoff_hoeffding",
    "optimal_t",
    "hoeffding_bound",
    "simplified_bound",
    "union_bound",
    "two_point_tail",
    "two_point_chernoff",
]


def _values(value: object, name: str, *, minimum: float | None = 0.0, strict: bool = False) -> np.ndarray:
    """``value`` as a finite float64 array, every entry ``>= minimum`` (``> minimum`` if ``strict``)."""
    return check.real_array(value, name, minimum=minimum, strict_min=strict)


def _result(array: np.ndarray) -> float | np.ndarray:
    return float(array) if np.ndim(array) == 0 else array


def _value_range(m_min: float, m_max: float, m1: float, names: tuple[str, str] = ("m_min", "m_max")) -> tuple[float, float, float]:
    """Check :math:`0 \\le m_{\\min} \\le m_1 \\le m_{\\max}` with :math:`m_{\\min} < m_{\\max}` (``names``: the caller's parameter names)."""
    m_min = check.real(m_min, names[0], minimum=0.0)
    m_max = check.real(m_max, names[1], minimum=m_min, strict_min=True)
    m1 = check.real(m1, "m1", minimum=m_min, maximum=m_max)
    return m_min, m_max, m1


def ball_radius(h: int, p: float, nu: float) -> float:
    r"""The theorem's ball radius :math:`\delta = h^{-p-\nu}` (``nu > 0``)."""
    h = check.integer(h, "h", minimum=2)
    p = check.exponent(p)
    nu = check.real(nu, "nu", minimum=0.0, strict_min=True)
    return float(h ** (-p - nu))


def support_bound(h: int, p: float, k: int) -> float:
    r"""The bound :math:`K = \max(h^p, k) \ge |S|` used in place of the theorem's :math:`h^p`.

    The theorem assumes :math:`|S|\le h^p`.  The book draws supports of exactly
    :math:`k =` :func:`lib.model.support_size` :math:`(h, p)` elements, :math:`h^p` rounded, which
    can exceed :math:`h^p` by less than 1/2 (e.g. :math:`h=512, p=0.1`: :math:`h^p=1.87`,
    :math:`k=2`).  The proof uses :math:`h^p` only as an upper bound on :math:`|S|`, so it holds
    verbatim with :math:`K`; where :math:`k\le h^p`, :math:`K = h^p` is the paper's quantity.
    """
    h = check.integer(h, "h", minimum=1)
    p = check.exponent(p)
    k = check.integer(k, "k", minimum=1, maximum=h)
    return float(max(h**p, k))


def inner_product_bound(delta: float | np.ndarray, mu: float | np.ndarray) -> float | np.ndarray:
    r"""Eq. (4): :math:`\beta = \delta + h^{-\xi}`, so that :math:`|\langle W_i, A^*_j\rangle| \le \beta` for :math:`j \ne i`.

    Proof: :math:`\langle W_i,A^*_j\rangle = \langle W_i-A^*_i,A^*_j\rangle + \langle A^*_i,A^*_j\rangle`,
    the first term at most :math:`\|W_i-A^*_i\|\|A^*_j\|\le\delta` (Cauchy–Schwarz, unit columns), the
    second at most the coherence :math:`\mu = h^{-\xi}` in absolute value.  On the diagonal,
    :math:`\langle W_i,A^*_i\rangle \in [1-\delta, 1+\delta]`.
    """
    return _result(_values(delta, "delta") + _values(mu, "mu"))


def bias(m1: float, K: float | np.ndarray, beta: float | np.ndarray, prefactor: float | np.ndarray = THEOREM_PREFACTOR) -> float | np.ndarray:
    r"""The bias :math:`\epsilon = c\, m_1 K \beta`; the theorem takes :math:`c = 2` and :math:`K = h^p`.

    With :math:`\delta = h^{-p-\nu}` and :math:`K = h^p` this is
    :math:`2m_1(h^{-\nu} + h^{p-\xi})`.
    """
    m1 = check.real(m1, "m1", minimum=0.0)
    c = _values(prefactor, "prefactor")
    return _result(c * m1 * _values(K, "K") * _values(beta, "beta"))


def simulation_bias(m1: float, h: int, p: float, beta: float) -> float:
    r"""The simulations chapter's default bias: :data:`SIMULATION_PREFACTOR` times the theorem's, :math:`0.5\cdot 2m_1h^p\beta`."""
    h = check.integer(h, "h", minimum=1)
    p = check.exponent(p)
    beta = check.real(beta, "beta", minimum=0.0)
    return bias(m1, h**p, beta, SIMULATION_PREFACTOR * THEOREM_PREFACTOR)


def illustrative_bias(m1: float, k: int, mu: float) -> float:
    r"""The bias of the appendix's illustrative run (§8), :math:`0.5\,m_1k\mu` (:math:`\mu` the coherence; no :math:`\delta`)."""
    k = check.integer(k, "k", minimum=1)
    mu = check.real(mu, "mu", minimum=0.0, maximum=1.0)
    return bias(m1, k, mu, ILLUSTRATIVE_PREFACTOR)


def on_support_floor(delta: float, beta: float | np.ndarray, K: float | np.ndarray, m_min: float, m_max: float) -> float | np.ndarray:
    r"""Lower bound on :math:`Q_i` for :math:`i\in S` (proof, in-support case).

    .. math::

        Q_i = \langle W_i,A^*_i\rangle x^*_i + Z_i \;\ge\; (1-\delta)\,m_{\min} - (K-1)\,\beta\, m_{\max},

    since :math:`\langle W_i,A^*_i\rangle\ge 1-\delta`, :math:`x^*_i\ge m_{\min}` and
    :math:`|Z_i| \le (|S|-1)\beta m_{\max}` by eq. (4).  The unit fires whenever this exceeds
    :math:`\epsilon`.
    """
    delta = check.real(delta, "delta", minimum=0.0, maximum=1.0)
    m_min = check.real(m_min, "m_min", minimum=0.0)
    m_max = check.real(m_max, "m_max", minimum=m_min)
    K = _values(K, "K", minimum=1.0)
    return _result((1.0 - delta) * m_min - (K - 1.0) * _values(beta, "beta") * m_max)


def off_support_ceiling(beta: float | np.ndarray, K: float | np.ndarray, m_max: float) -> float | np.ndarray:
    r"""Deterministic upper bound :math:`Z_i \le K\beta m_{\max}` for :math:`i \notin S` (eq. (4), :math:`x^*\ge0`).

    With the theorem's bias, :math:`\epsilon = 2m_1K\beta \ge K\beta m_{\max}` whenever
    :math:`m_{\max}\le 2m_1` (e.g. uniform values on :math:`[a, b]`, :math:`a\ge 0`): then no
    off-support unit can fire and the probabilistic step is not needed.
    """
    m_max = check.real(m_max, "m_max", minimum=0.0)
    return _result(_values(K, "K") * _values(beta, "beta") * m_max)


def margin_condition(
    delta: float, beta: float, K: float, m_min: float, m_max: float, m1: float, prefactor: float = THEOREM_PREFACTOR
) -> bool:
    r"""The theorem's margin hypothesis :math:`m_{\min}(1-\delta) > K\beta\,(m_{\max} + c\,m_1)` (reconstructed).

    It implies :func:`on_support_floor` :math:`> \epsilon = c\,m_1K\beta` (it bounds :math:`K-1`
    by :math:`K`), hence every unit of the support fires on every sample.
    """
    m_min, m_max, m1 = _value_range(m_min, m_max, m1)
    delta = check.real(delta, "delta", minimum=0.0, maximum=1.0)
    beta = check.real(beta, "beta", minimum=0.0)
    K = check.real(K, "K", minimum=1.0)
    c = check.real(prefactor, "prefactor", minimum=0.0)
    return bool(m_min * (1.0 - delta) > K * beta * (m_max + c * m1))


def theorem31_failures(
    h: int, p: float, k: int, delta: float, radius: float, column_error: float, mu: float, eps: float,
    m_min: float, m_max: float, m1: float,
) -> list[str]:
    r"""The reconstructed hypotheses of Theorem 3.1 that one run does not satisfy, in words (empty: all are met).

    The run has :math:`h` units, sparsity exponent :math:`p`, supports of :math:`k` elements, ball
    radius :math:`\delta` (``delta``), measured :math:`\max_i\|W_i - A^*_i\|` (``radius``) and
    :math:`\max_j|\|A^*_j\| - 1|` (``column_error``), coherence
    :math:`\mu = h^{-\xi}` (``mu``), bias :math:`\epsilon` and nonzeros in :math:`[m_{\min}, m_{\max}]` with
    mean :math:`m_1`.  The hypotheses, each checked from these numbers:

    * unit columns, :math:`|\|A^*_j\| - 1| \le 10^{-9}`;
    * every row in the ball, :math:`\max_i\|W_i - A^*_i\| \le \delta`;
    * :math:`\delta = h^{-p-\nu}` with :math:`\nu > 0`, i.e. :math:`\delta < h^{-p}`;
    * :math:`p + \nu < \xi`, i.e. :math:`\delta > h^{-\xi} = \mu`;
    * :math:`|S| \le h^p`, i.e. :math:`k \le h^p`;
    * the bias is the theorem's, :math:`\epsilon = 2m_1h^p\beta` with :math:`\beta = \delta + \mu`;
    * the margin condition :math:`m_{\min}(1-\delta) > h^p\beta(m_{\max} + 2m_1)` (:func:`margin_condition`).

    Equalities are compared with a relative tolerance of :math:`10^{-9}` (rounding of ``h ** p``).
    """
    h = check.integer(h, "h", minimum=2)
    p = check.exponent(p)
    k = check.integer(k, "k", minimum=1, maximum=h)
    delta = check.real(delta, "delta", minimum=0.0, maximum=1.0)
    radius = check.real(radius, "radius", minimum=0.0)
    column_error = check.real(column_error, "column_error", minimum=0.0)
    mu = check.real(mu, "mu", minimum=0.0, maximum=1.0)
    eps = check.real(eps, "eps", minimum=0.0)
    m_min, m_max, m1 = _value_range(m_min, m_max, m1)
    hp = float(h**p)
    beta = delta + mu
    tol = 1e-9
    conditions = {
        "unit columns": column_error <= tol,
        "rows within δ of the atoms": radius <= delta * (1 + tol),
        "ν > 0 (δ < h^-p)": delta < h**-p,
        "p + ν < ξ (δ above the coherence)": delta > mu,
        "|S| ≤ h^p": k <= hp * (1 + tol),
        "the bias is Theorem 3.1's 2m₁h^pβ": bool(np.isclose(eps, THEOREM_PREFACTOR * m1 * hp * beta, rtol=tol, atol=0.0)),
        "the margin condition": margin_condition(delta, beta, hp, m_min, m_max, m1),
    }
    return [name for name, holds in conditions.items() if not holds]


def _off_support_inputs(eps, s, beta, m1, m_min, m_max):
    m_min, m_max, m1 = _value_range(m_min, m_max, m1)
    eps = _values(eps, "eps")
    s = _values(s, "s", minimum=0.0, strict=True)
    beta = _values(beta, "beta", minimum=0.0, strict=True)
    return eps, s, beta, m1, (m_max - m_min) ** 2


def chernoff_hoeffding(
    t: float | np.ndarray, eps: float, s: float, beta: float, m1: float, m_min: float, m_max: float
) -> float | np.ndarray:
    r"""The Chernoff bound after Hoeffding's lemma, before optimising over :math:`t>0`.

    For :math:`i\notin S` with :math:`|S| = s`,

    .. math::

        \Pr[Z_i\ge\epsilon] \le e^{-t\epsilon}\,\mathbb E\,e^{t\beta\sum_{j\in S}x^*_j}
        \le \exp\!\Big(-t\epsilon + s\big(t\beta m_1 + t^2\beta^2(m_{\max}-m_{\min})^2/8\big)\Big).
    """
    t = _values(t, "t")
    eps, s, beta, m1, width2 = _off_support_inputs(eps, s, beta, m1, m_min, m_max)
    return _result(np.exp(-t * eps + s * (t * beta * m1 + t**2 * beta**2 * width2 / 8.0)))


def optimal_t(eps: float, s: float, beta: float, m1: float, m_min: float, m_max: float) -> float | np.ndarray:
    r"""The minimiser of :func:`chernoff_hoeffding`: :math:`t^* = 4(\epsilon - s\beta m_1)/(s\beta^2(m_{\max}-m_{\min})^2)`.

    It is positive (a valid Chernoff parameter) only when :math:`\epsilon > s\beta m_1`.
    """
    eps, s, beta, m1, width2 = _off_support_inputs(eps, s, beta, m1, m_min, m_max)
    return _result(4.0 * (eps - s * beta * m1) / (s * beta**2 * width2))


def hoeffding_bound(eps: float | np.ndarray, s: float | np.ndarray, beta: float, m1: float, m_min: float, m_max: float) -> float | np.ndarray:
    r"""The off-support false-positive bound of the proof, at :math:`t = t^*`:

    .. math::

        \Pr[Z_i \ge \epsilon \mid i\notin S,\ |S| = s] \le
        \exp\!\Big(-\frac{2(\epsilon - s\beta m_1)^2}{s\beta^2(m_{\max}-m_{\min})^2}\Big)
        \quad\text{if } \epsilon > s\beta m_1,

    and the trivial bound 1 otherwise.
    """
    eps, s, beta, m1, width2 = _off_support_inputs(eps, s, beta, m1, m_min, m_max)
    gap = eps - s * beta * m1
    return _result(np.where(gap > 0, np.exp(-2.0 * np.maximum(gap, 0.0) ** 2 / (s * beta**2 * width2)), 1.0))


def simplified_bound(K: float | np.ndarray, m1: float, m_min: float, m_max: float, prefactor: float = THEOREM_PREFACTOR) -> float | np.ndarray:
    r"""The theorem's form of the bound, for :math:`\epsilon = c\,m_1K\beta` and every :math:`|S|\le K`:

    .. math::

        \Pr[r_i \ne 0 \mid i\notin S] \le \exp\!\Big(-\frac{2(c-1)^2 K m_1^2}{(m_{\max}-m_{\min})^2}\Big),

    which is :math:`\exp(-2h^pm_1^2/(m_{\max}-m_{\min})^2)` for :math:`c = 2`, :math:`K = h^p`.
    It is :func:`hoeffding_bound` at :math:`s = K`, its largest value over :math:`s\le K`
    (:math:`s\mapsto (cK-s)^2/s` decreases on :math:`(0, cK)`); it needs :math:`c > 1`.
    """
    m_min, m_max, m1 = _value_range(m_min, m_max, m1)
    c = check.real(prefactor, "prefactor", minimum=1.0, strict_min=True)
    K = _values(K, "K", minimum=0.0, strict=True)
    return _result(np.exp(-2.0 * (c - 1.0) ** 2 * K * m1**2 / (m_max - m_min) ** 2))


def union_bound(h: int, per_unit: float | np.ndarray) -> float | np.ndarray:
    r"""Probability that some unit of :math:`h` errs: :math:`\min(1, h\,P_{\text{unit}})` (union bound; used by Lemma 5.1)."""
    h = check.integer(h, "h", minimum=1)
    per_unit = check.real_array(per_unit, "per_unit", minimum=0.0, maximum=1.0)  # a probability
    return _result(np.minimum(1.0, h * per_unit))


def _two_point_inputs(threshold, k, low, high, m1):
    low, high, m1 = _value_range(low, high, m1, ("low", "high"))
    threshold = _values(threshold, "threshold", minimum=None)
    k = _values(k, "k", minimum=1.0)
    if np.any(k != np.round(k)):
        raise ValueError("k must hold whole numbers")

    return threshold, k, low, high, (m1 - low) / (high - low)


def two_point_tail(threshold: float | np.ndarray, k: int | np.ndarray, low: float, high: float, m1: float) -> float | np.ndarray:
    r""":math:`\Pr[\sum_{j=1}^k x_j \ge \tau]` for i.i.d. two-point :math:`x_j\in\{m_{\min}, m_{\max}\}` with mean :math:`m_1`.

    :math:`x_j = m_{\min} + (m_{\max}-m_{\min})B_j` with :math:`B_j\sim\mathrm{Bernoulli}(\pi)`,
    :math:`\pi = (m_1-m_{\min})/(m_{\max}-m_{\min})`, so the sum exceeds :math:`\tau` iff
    :math:`\mathrm{Binomial}(k,\pi)\ge\lceil(\tau-km_{\min})/(m_{\max}-m_{\min})\rceil`: an exact tail.
    """
    threshold, k, low, high, pi = _two_point_inputs(threshold, k, low, high, m1)
    need = np.ceil((threshold - k * low) / (high - low))
    return _result(binom.sf(need - 1, k, pi))


def two_point_chernoff(threshold: float | np.ndarray, k: int | np.ndarray, low: float, high: float, m1: float) -> float | np.ndarray:
    r"""Chernoff's bound with the exact moment generating function, :math:`\inf_{\tau>0} e^{-\tau\,\mathrm{thr}}(\mathbb E e^{\tau x})^k`.

    For two-point values it is :math:`\exp(-k\,D(a\,\|\,\pi))` with :math:`a` the fraction of
    :math:`m_{\max}` values needed to reach the threshold and :math:`D` the Bernoulli relative
    entropy; it is 1 when :math:`a\le\pi` and :math:`\pi^k` when :math:`a \ge 1`.  It sits between
    the true tail (:func:`two_point_tail`) and Hoeffding's bound, which replaces the moment
    generating function by its Hoeffding-lemma upper bound.
    """
    threshold, k, low, high, pi = _two_point_inputs(threshold, k, low, high, m1)
    a = np.clip((threshold / k - low) / (high - low), pi, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        upper = np.where(a < 1.0, (1.0 - a) * np.log((1.0 - a) / (1.0 - pi)), 0.0)
    divergence = a * np.log(a / pi) + upper
    return _result(np.exp(-k * divergence))
