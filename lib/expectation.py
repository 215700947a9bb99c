r"""Closed form of the expected proxy gradient (paper App. B; appendix §6.2).

For uniformly random supports :math:`S` of size :math:`k` and i.i.d. nonzeros with
:math:`m_1 = \mathbb E[x^*_j \mid j\in S]`, :math:`m_2 = \mathbb E[x^{*2}_j \mid j\in S]`, write
:math:`z_j = \mathbf 1[j\in S]`, :math:`u = Mx^* - \epsilon` with :math:`M = WA^*`,
:math:`G = WW^\top` and :math:`v = z\odot u` (the proxy hidden code :math:`\tilde r`).  Per sample

.. math::

    \widetilde\nabla_{W_i}L = z_i\Big[u_i\sum_{j\in S}u_jW_j + \Big(\sum_{j\in S}G_{ij}u_j - 2u_i - \epsilon_i\Big)y\Big],

so that, with :math:`y = A^*x^*`,

.. math::

    \mathbb E\,\widetilde\nabla_W L = P\,W + C\,A^{*\top},\qquad
    P = \mathbb E[v v^\top],\qquad
    C = \mathbb E\big[(z\odot Gv - 2v - z\odot\epsilon)\,x^{*\top}\big].

Every entry of :math:`P` and :math:`C` is a sum of moments
:math:`\mathbb E[\mathbf 1_{T\subseteq S}\,x_l x_m] = \pi(T\cup\{l,m\})\,(m_2\text{ if }l=m\text{ else }m_1^2)`
where :math:`\pi_t = \prod_{s<t}\frac{k-s}{h-s}` is the probability that :math:`t` given indices all
lie in :math:`S`.  Grouping the free indices by how many new indices they add gives the
:math:`h\times h` matrix formulas below: no sampling, no enumeration, cost :math:`O(h^2 (n + h))`
(the products :math:`WA^*`, :math:`WW^\top` and :math:`GM`).
"""

from __future__ import annotations

import numpy as np

from lib import _validate as check

__all__ = ["inclusion_probabilities", "expected_proxy_gradient", "proxy_decomposition"]


def inclusion_probabilities(h: int, k: int, t_max: int = 4) -> np.ndarray:
    r"""``pi[t]`` :math:`=\pi_t=\Pr[T\subseteq S]` for :math:`|T|=t`, :math:`t=0..t_{\max}`, uniform ``k``-subsets of ``[h]``.

    :math:`\pi_1 = q = k/h` and :math:`\pi_2 = q_{ij} = \frac{k(k-1)}{h(h-1)}`.
    """
    h = check.integer(h, "h", minimum=1)
    k = check.integer(k, "k", minimum=1, maximum=h)
    t_max = check.loop_count(t_max, "t_max", minimum=0)
    pi = np.ones(t_max + 1)
    for t in range(1, t_max + 1):
        pi[t] = pi[t - 1] * max(k - t + 1, 0) / max(h - t + 1, 1)
    return pi


def _moment_matrices(
    W: np.ndarray, A: np.ndarray, k: int, eps: object, m1: float, m2: float
) -> tuple[np.ndarray, np.ndarray]:
    """The matrices ``P = E[v v^T]`` and ``C`` of the module docstring, both ``(h, h)``."""
    W, A, k, e = check.instance(W, A, k, eps)
    h = W.shape[0]
    m1 = check.real(m1, "m1", minimum=0.0)
    m2 = check.real(m2, "m2", minimum=0.0)
    if m2 < m1**2 * (1 - 1e-12):
        raise ValueError(f"m2 must be >= m1**2 (a second moment), got m1={m1}, m2={m2}")
    var = max(m2 - m1**2, 0.0)
    _, p1, p2, p3, p4 = inclusion_probabilities(h, k)

    M = W @ A  # M_ij = <W_i, A*_j>
    G = W @ W.T
    s = M.sum(axis=1)  # s_i = sum_l M_il
    d = np.diag(M).copy()
    g = np.diag(G).copy()
    col = lambda v: v[:, None]  # noqa: E731  (broadcast a per-i vector along k / j)
    row = lambda v: v[None, :]  # noqa: E731

    # P_ij = E[z_i z_j u_i u_j].  Off the diagonal T = {i, j}; a = M_i., b = M_j.
    MMt = M @ M.T
    a_T = col(d) + M  # a_i + a_j
    b_T = M.T + row(d)  # b_i + b_j
    same = col(d) * M.T + M * row(d)  # a_i b_i + a_j b_j
    pairs = (
        p4 * np.outer(s, s)
        + (p3 - p4) * ((MMt - same) + (col(s) - a_T) * b_T + a_T * (row(s) - b_T))
        + (p2 - p4) * a_T * b_T
    )
    P = m1**2 * pairs + var * (p3 * MMt + (p2 - p3) * same)
    P -= row(e) * m1 * (p3 * col(s) + (p2 - p3) * a_T) + col(e) * m1 * (p3 * row(s) + (p2 - p3) * b_T)
    P += np.outer(e, e) * p2
    # Diagonal, T = {i}.
    rowsq = np.einsum("ij,ij->i", M, M)
    pairs1 = p3 * s**2 + (p2 - p3) * (rowsq - d**2 + 2 * (s - d) * d) + (p1 - p3) * d**2
    lin1 = m1 * (p2 * s + (p1 - p2) * d)
    np.fill_diagonal(P, m1**2 * pairs1 + var * (p2 * rowsq + (p1 - p2) * d**2) - 2 * e * lin1 + e**2 * p1)

    # V_ik = E[z_i u_i x_k].
    V = m1**2 * (p3 * col(s) + (p2 - p3) * (col(d) + M)) + var * p2 * M - col(e) * m1 * p2
    np.fill_diagonal(V, m1**2 * (p2 * s + (p1 - p2) * d) + var * p1 * d - e * m1 * p1)

    # H_ik = E[z_i (G v)_i x_k] = sum_{j,l} G_ij M_jl E[z_i z_j x_l x_k] - sum_j G_ij e_j m1 pi(|{i,j,k}|).
    GM = G @ M
    Gs, Gd, Ge = G @ s, G @ d, G @ e
    gd = g * d
    dGM = np.diag(GM).copy()
    S5 = col(g) * (col(d) + M) + G * (M.T + row(d))
    S3 = col(dGM) + GM - S5
    S4 = col(g) * (col(s) - col(d) - M) + G * (row(s) - M.T - row(d))
    S2 = col(Gd) - col(gd) - G * row(d)
    H = m1**2 * (p4 * col(Gs) + (p3 - p4) * (S2 + S3 + S4) + (p2 - p4) * S5)
    H += var * (p3 * GM + (p2 - p3) * (col(g) * M + G * row(d)))
    H -= m1 * (p3 * col(Ge) + (p2 - p3) * (col(g * e) + G * row(e)))
    H_diag = m1**2 * (p3 * Gs + (p2 - p3) * ((Gd - gd) + (dGM - gd) + g * (s - d)) + (p1 - p3) * gd)
    H_diag += var * (p2 * dGM + (p1 - p2) * gd) - m1 * (p2 * Ge + (p1 - p2) * g * e)
    np.fill_diagonal(H, H_diag)

    Pi = np.full((h, h), p2)
    np.fill_diagonal(Pi, p1)
    C = H - 2 * V - col(e) * m1 * Pi
    return P, C


def expected_proxy_gradient(
    W: np.ndarray, A: np.ndarray, k: int, eps: float | np.ndarray, m1: float, m2: float
) -> np.ndarray:
    r"""Exact :math:`\mathbb E\,\widetilde\nabla_W L` for uniformly random supports of size ``k``.

    Implements :math:`\mathbb E\widetilde\nabla_W L = P W + C A^{*\top}` (module docstring), the
    closed form of appendix §6.2 (:math:`T_1+T_2+T_3+T_4`) summed over all rows at once.  For
    ``k = 1`` it reduces to
    :math:`q\,[(m_2M_{ii}^2-2m_1\epsilon M_{ii}+\epsilon^2)W_i-((1-\|W_i\|^2)(m_2M_{ii}-m_1\epsilon)+m_2M_{ii})A^*_i]`.

    Parameters
    ----------
    W : numpy.ndarray
        Encoder, shape ``(h, n)``.
    A : numpy.ndarray
        Dictionary :math:`A^*`, shape ``(n, h)``.
    k : int
        Support size, ``1 <= k <= h``.
    eps : float or numpy.ndarray
        Bias :math:`\epsilon`, scalar or ``(h,)``.
    m1, m2 : float
        First and second moments of a nonzero, ``m2 >= m1**2 >= 0``.

    Returns
    -------
    numpy.ndarray
        Shape ``(h, n)``; row ``i`` is :math:`\mathbb E\,\widetilde\nabla_{W_i}L`.
    """
    P, C = _moment_matrices(W, A, k, eps, m1, m2)
    return P @ np.asarray(W, dtype=np.float64) + C @ np.asarray(A, dtype=np.float64).T


def proxy_decomposition(
    W: np.ndarray, A: np.ndarray, k: int, eps: float | np.ndarray, m1: float, m2: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Lemma 5.2's decomposition :math:`\mathbb E\widetilde\nabla_{W_i}L = \alpha_iW_i - \beta_iA^*_i + e_i`.

    :math:`\alpha_i = P_{ii} = \mathbb E[\mathbf 1_{i\in S}u_i^2]`, :math:`\beta_i = -C_{ii}`, and
    :math:`e_i = \sum_{j\ne i}P_{ij}W_j + \sum_{k\ne i}C_{ik}A^*_k` (appendix §6.1).

    Returns
    -------
    alpha, beta : numpy.ndarray
        Shape ``(h,)``.
    e : numpy.ndarray
        Shape ``(h, n)``.
    """
    P, C = _moment_matrices(W, A, k, eps, m1, m2)
    alpha, beta = np.diag(P).copy(), -np.diag(C)
    np.fill_diagonal(P, 0.0)
    np.fill_diagonal(C, 0.0)
    return alpha, beta, P @ np.asarray(W, dtype=np.float64) + C @ np.asarray(A, dtype=np.float64).T
