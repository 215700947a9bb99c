r"""Formulas of the asymptotic-criticality results: Theorem 3.2, Lemmas 5.1 and 5.2 (appendix §5–7).

Symbols as in the paper: :math:`h` hidden units, support size :math:`k\approx h^p`,
:math:`q_i = \Pr[i\in S] = h^{p-1}`, nonzeros in :math:`[m_{\min}, m_{\max}]` with moments
:math:`m_1, m_2`, rows of the encoder in the ball :math:`\|W_i - A^*_i\|\le\delta = h^{-p-\nu}`,
coherence :math:`\max_{i\ne j}|\langle A^*_i, A^*_j\rangle| = h^{-\xi}`, bias
:math:`\epsilon = 2m_1h^p(\delta + h^{-\xi})` (Theorem 3.1), :math:`M = WA^*`.
Everything marked *reconstructed* is the appendix's restoration, not the paper's verified text.
"""

from __future__ import annotations

import numpy as np

from lib import _validate as check
from lib.theory import support

__all__ = [
    "predicted_rate",
    "ball_radius",
    "theorem_bias",
    "k1_coefficients",
    "expected_proxy_gradient_k1",
    "first_order_norm",
    "reconstructed_bound",
    "cauchy_schwarz_bound",
    "recovery_margins",
    "check_instance",
    "check_values",
]


def check_instance(W: object, A: object, k: object, eps: object) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """Validate an encoder ``W`` ``(h, n)``, a dictionary ``A`` ``(n, h)``, a support size ``1 <= k <= h`` and a bias; the bias comes back as ``(h,)``."""
    W = check.matrix(W, "W")
    h, n = W.shape
    A = check.matrix(A, "A", shape=(n, h), match="W")
    k = check.integer(k, "k", minimum=1, maximum=h)
    return W, A, k, check.bias(eps, h)[:, 0]


def check_values(low: object, high: object) -> tuple[float, float]:
    """Validate the range ``[low, high]`` of the nonzeros: ``0 <= low <= high``."""
    low = check.real(low, "low", minimum=0.0)
    return low, check.real(high, "high", minimum=low)



def _h_array(h: object) -> np.ndarray:
    return check.real_array(h, "h", minimum=1.0)


def predicted_rate(h: object, p: float) -> np.ndarray:
    r"""The rate of Theorem 3.2 and Table 1: :math:`q_i = h^{p-1}` (vectorised over ``h``)."""
    return _h_array(h) ** (check.exponent(p) - 1.0)


def ball_radius(h: object, p: float, nu: float) -> np.ndarray:
    r"""Radius of the ball of Theorem 3.1: :math:`\delta = h^{-p-\nu}` with :math:`\nu > 0`."""
    nu = check.real(nu, "nu", minimum=0.0, strict_min=True)
    return _h_array(h) ** (-check.exponent(p) - nu)


def theorem_bias(h: object, p: float, delta: object, mu: object, m1: float, prefactor: float = 2.0) -> np.ndarray:
    r"""Bias of Theorem 3.1 (reconstructed): :math:`\epsilon = c\,m_1h^p(\delta + \mu)` with :math:`c = 2`.

    ``mu`` is the coherence :math:`h^{-\xi}`; :math:`\beta = \delta + \mu` bounds every
    :math:`|\langle W_i, A^*_j\rangle|`, :math:`j\ne i`.  ``prefactor`` is :math:`c` (the paper's
    Sec. 6 uses a smaller one).
    """
    mu = check.real_array(mu, "mu", minimum=0.0, maximum=1.0)
    prefactor = check.real(prefactor, "prefactor", minimum=0.0, strict_min=True)
    K = _h_array(h) ** check.exponent(p)
    return np.asarray(support.bias(m1, K, support.inner_product_bound(delta, mu), prefactor))


def k1_coefficients(W: np.ndarray, A: np.ndarray, eps: float | np.ndarray, m1: float, m2: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Lemma 5.2's :math:`\alpha_i, \beta_i` in closed form for one nonzero per code (:math:`k = 1`; then :math:`e_i = 0`).

    With :math:`q = 1/h` and :math:`M_{ii} = \langle W_i, A^*_i\rangle` (appendix §6.2):

    .. math::

        \alpha_i = q\big(m_2M_{ii}^2 - 2m_1\epsilon M_{ii} + \epsilon^2\big),\qquad
        \beta_i = q\big((1-\|W_i\|^2)(m_2M_{ii} - m_1\epsilon) + m_2M_{ii}\big).

    Cost :math:`O(hn)`; the general closed form :func:`lib.expectation.proxy_decomposition` costs
    :math:`O(h^2n)`.

    Returns
    -------
    alpha, beta : numpy.ndarray
        Shape ``(h,)``.
    """
    W, A, _, e = check_instance(W, A, 1, eps)
    h = W.shape[0]
    m1 = check.real(m1, "m1", minimum=0.0)
    m2 = check.real(m2, "m2", minimum=0.0)
    d = np.einsum("in,ni->i", W, A)
    norm2 = np.einsum("in,in->i", W, W)
    alpha = (m2 * d**2 - 2 * m1 * e * d + e**2) / h
    beta = ((1 - norm2) * (m2 * d - m1 * e) + m2 * d) / h
    return alpha, beta


def expected_proxy_gradient_k1(W: np.ndarray, A: np.ndarray, eps: float | np.ndarray, m1: float, m2: float) -> np.ndarray:
    r"""Exact :math:`\mathbb E\widetilde\nabla_{W_i}L = \alpha_iW_i - \beta_iA^*_i` for :math:`k = 1` (:func:`k1_coefficients`).

    At :math:`W = A^{*\top}` it is :math:`q\,\epsilon(\epsilon - 2m_1)A^*_i`: not zero unless
    :math:`\epsilon = 0`.

    Returns
    -------
    numpy.ndarray
        Shape ``(h, n)``.
    """
    alpha, beta = k1_coefficients(W, A, eps, m1, m2)
    return alpha[:, None] * np.asarray(W, dtype=np.float64) - beta[:, None] * np.asarray(A, dtype=np.float64).T


def first_order_norm(q: object, eps: object, m1: float, m2: float, delta: object) -> np.ndarray:
    r"""First-order size of the :math:`k=1` expected gradient: :math:`q\sqrt{\epsilon^2(2m_1-\epsilon)^2 + (m_2-2m_1\epsilon+\epsilon^2)^2\delta^2}`.

    Valid for a random direction :math:`W_i - A^*_i = \delta d_i` to first order in :math:`\delta`
    (appendix §6.2); at :math:`\delta = 0` it is exact: :math:`q\,\epsilon|2m_1-\epsilon|`.
    """
    q = check.real_array(q, "q", minimum=0.0, maximum=1.0, strict_min=True)
    eps = check.real_array(eps, "eps")
    delta = check.real_array(delta, "delta", minimum=0.0)
    m1 = check.real(m1, "m1", minimum=0.0)
    m2 = check.real(m2, "m2", minimum=0.0)
    tangential = m2 - 2 * m1 * eps + eps**2  # alpha_i / q at W_i = A*_i: the coefficient of delta d_i
    return q * np.sqrt(eps**2 * (2 * m1 - eps) ** 2 + tangential**2 * delta**2)


def reconstructed_bound(h: object, p: float, nu: float, xi: float, m1: float, m2: float) -> np.ndarray:
    r"""The explicit part of Theorem 3.2's bound as reconstructed in appendix §7.

    .. math::

        h^{p-1}\Big[4m_1^2\big(h^{-\nu} + h^{p-\xi}\big) + m_2h^{-p-\nu}\Big]

    (the :math:`O(\cdot)` constant of the ball term set to 1; the :math:`\|e_i\|` and
    :math:`\mathrm{poly}(h)e^{-h^pm_1^2/(m_{\max}-m_{\min})^2}` terms omitted).  It is
    :math:`h^{p-1}\times o(1)`: the bracket vanishes as :math:`h\to\infty`.
    """
    h = _h_array(h)
    p = check.exponent(p)
    nu = check.real(nu, "nu", minimum=0.0, strict_min=True)
    xi = check.real(xi, "xi", minimum=0.0, strict_min=True)
    m1 = check.real(m1, "m1", minimum=0.0)
    m2 = check.real(m2, "m2", minimum=0.0)
    return h ** (p - 1) * (4 * m1**2 * (h**-nu + h ** (p - xi)) + m2 * h ** (-p - nu))


def cauchy_schwarz_bound(second_moment: object, failure_probability: object) -> np.ndarray:
    r"""Appendix A's bound on Lemma 5.1's gap: :math:`\sqrt{\mathbb E\|f(Y)-f(\hat Y)\|^2}\,\sqrt{\Pr[Y\ne\hat Y]}`.

    ``second_moment`` is :math:`\mathbb E\|\nabla L - \widetilde\nabla L\|^2` (per sample) and
    ``failure_probability`` is :math:`\Pr[Y\ne\hat Y]`, the probability that the ReLU layer misses
    the support.
    """
    second_moment = check.real_array(second_moment, "second_moment", minimum=0.0)
    prob = check.real_array(failure_probability, "failure_probability", minimum=0.0, maximum=1.0)
    return np.sqrt(second_moment * prob)


def recovery_margins(
    W: np.ndarray, A: np.ndarray, k: int, eps: float | np.ndarray, low: float, high: float
) -> tuple[np.ndarray, np.ndarray]:
    r"""Worst cases, over every support and every value in :math:`[m_{\min}, m_{\max}]^k`, of the pre-activations.

    With :math:`M = WA^*` and :math:`u_i = \sum_{j\in S}M_{ij}x_j - \epsilon_i`:

    .. math::

        \underline u_i = m_{\min}M_{ii}^{+} - m_{\max}M_{ii}^{-} + \min_{|T|=k-1,\,i\notin T}\sum_{j\in T}\min(m_{\min}M_{ij}, m_{\max}M_{ij}) - \epsilon_i
        \quad(i\in S),

    .. math::

        \overline u_i = \max_{|T|=k,\,i\notin T}\sum_{j\in T}\max(m_{\min}M_{ij}, m_{\max}M_{ij}) - \epsilon_i
        \quad(i\notin S).

    If :math:`\underline u_i > 0` and :math:`\overline u_i \le 0` for every :math:`i`, the ReLU
    layer recovers every support exactly, with probability one; then the true and proxy gradients
    coincide sample by sample and :math:`\mathbb E\nabla L = \mathbb E\widetilde\nabla L`.  This is
    Theorem 3.1's margin argument with the measured :math:`M` in place of its bounds
    :math:`1-\delta` and :math:`\beta`.

    Returns
    -------
    on_min, off_max : numpy.ndarray
        :math:`\underline u` and :math:`\overline u`, shape ``(h,)`` (``off_max`` is
        :math:`-\infty` when ``k == h``).
    """
    W, A, k, e = check_instance(W, A, k, eps)
    low, high = check_values(low, high)
    h = W.shape[0]
    M = W @ A
    diag = np.diag(M).copy()
    lo = np.minimum(low * M, high * M)
    hi = np.maximum(low * M, high * M)
    np.fill_diagonal(lo, np.inf)
    np.fill_diagonal(hi, -np.inf)
    on_min = np.minimum(low * diag, high * diag) - e
    if k > 1:
        on_min += np.partition(lo, k - 2, axis=1)[:, : k - 1].sum(axis=1)
    if k == h:
        return on_min, np.full(h, -np.inf)
    off_max = -np.partition(-hi, k - 1, axis=1)[:, :k].sum(axis=1) - e
    return on_min, off_max
