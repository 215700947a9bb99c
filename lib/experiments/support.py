r"""Experiments of the chapter "A layer of ReLUs recovers the support" (Theorem 3.1; paper Sec. 3.1, 4).

Every experiment measures the pre-activations :math:`Q = Wy` of the hidden layer, the unit
:math:`i` firing when :math:`Q_i > \epsilon`.  With :math:`M = WA^*`
(:math:`M_{ij} = \langle W_i, A^*_j\rangle`) and a sparse code with support :math:`S`,

.. math::

    Q_i = \sum_{j\in S} M_{ij}x^*_j = M_{ii}x^*_i\mathbf 1_{i\in S} + Z_i ,

so a sample needs only the :math:`|S|` columns :math:`M_{:,S}`: the pre-activations of ``N``
samples cost :math:`O(hN|S|)` once :math:`M` is known, instead of the :math:`O(hnN)` of
:math:`W(A^*X)`.  The per-sample summaries (:class:`Preactivations`) give false-negative,
false-positive and exact-recovery rates for a whole grid of biases at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import beta as beta_distribution
from tqdm import tqdm  # text bars on stderr: an executed notebook stores no widget state

from lib import _validate as check
from lib import model
from lib.model import hadamard_dictionary
from lib.theory import support as theory

__all__ = [
    "hadamard_dictionary",
    "InnerProducts",
    "inner_products",
    "eq4_worst_ratio",
    "decomposition_residual",
    "Preactivations",
    "RATES",
    "MARKS",
    "RecoveryTradeoff",
    "gaussian_recovery",
    "tradeoff",
    "HadamardRecovery",
    "hadamard_recovery",
    "step3_margins",
    "hadamard_failures",
    "exact_where_hypotheses_hold",
    "two_point_values",
    "FalsePositives",
    "false_positive_frequencies",
    "under_false_positive_bound",
    "t_star_minimises",
    "binomial_interval",
]


def _fwht(X: np.ndarray) -> np.ndarray:
    """``X @ H`` for Sylvester's Hadamard ``H`` (symmetric), row by row in ``O(r n log n)``: the fast Walsh–Hadamard transform."""
    rows, n = X.shape
    Y = np.array(X, dtype=np.float64)
    half = 1
    while half < n:  # in-place butterflies (a, b) -> (a + b, a - b) on blocks of 2 * half
        pairs = Y.reshape(rows, n // (2 * half), 2, half)
        a, b = pairs[:, :, 0], pairs[:, :, 1]
        a += b
        b *= -2.0
        b += a
        half *= 2
    return Y


def _hadamard_products(W: np.ndarray, block: int = 1024) -> np.ndarray:
    r""":math:`M^\top = (WA^*)^\top` for :math:`A^* = [I, H/\sqrt n]`: rows :math:`j` hold :math:`\langle W_i, A^*_j\rangle` over :math:`i`."""
    h, n = W.shape
    MT = np.empty((2 * n, h))
    MT[:n] = W.T
    for start in range(0, h, block):  # blocks of rows: bounded temporary memory
        MT[n:, start:start + block] = _fwht(W[start:start + block]).T / np.sqrt(n)
    return MT


def _eq4_extremes(M: np.ndarray) -> tuple[float, float, float]:
    r"""``(max_{i != j} |M_ij|, min_i M_ii, max_i M_ii)`` for a square :math:`M = WA^*` (or its transpose)."""
    diag = np.diag(M).copy()
    np.fill_diagonal(M, 0.0)
    cross = float(max(M.max(), -M.min()))  # max |M_ij| without an |M| copy
    np.fill_diagonal(M, diag)
    return cross, float(diag.min()), float(diag.max())


@dataclass(frozen=True)
class InnerProducts:
    r"""The inner products :math:`\langle W_i, A^*_j\rangle` of eq. (4) for one random :math:`W` in the :math:`\delta`-ball.

    Attributes
    ----------
    delta, mu, beta : float
        Radius, coherence of :math:`A^*` and the bound :math:`\beta = \delta + \mu`.
    radius, column_error : float
        Measured :math:`\max_i\|W_i - A^*_i\|` and :math:`\max_j|\|A^*_j\| - 1|`: eq. (4)'s hypotheses
        ask at most :math:`\delta` and 0.
    diagonal : numpy.ndarray
        :math:`\langle W_i, A^*_i\rangle`, shape ``(h,)``; eq. (4) puts it in :math:`[1-\delta, 1+\delta]`.
    cross_max : float
        :math:`\max_{i\ne j}|\langle W_i, A^*_j\rangle|`; eq. (4) says it is at most :math:`\beta`.
    counts, edges : numpy.ndarray
        Histogram of the :math:`h(h-1)` off-diagonal inner products (edges cover all of them).
    """

    delta: float
    mu: float
    beta: float
    radius: float
    column_error: float
    diagonal: np.ndarray
    cross_max: float
    counts: np.ndarray
    edges: np.ndarray


def inner_products(A: np.ndarray, delta: float, rng: np.random.Generator, bins: int = 161) -> InnerProducts:
    r"""Draw :math:`W` = :func:`lib.model.perturb_columns` :math:`(A^*, \delta)` and measure every :math:`\langle W_i, A^*_j\rangle`.

    The rows are exactly :math:`\delta` from the columns, the boundary of the ball, where the
    bounds of eq. (4) are hardest to meet.
    """
    A = check.matrix(A, "A")
    bins = check.loop_count(bins, "bins", minimum=2)
    mu = model.coherence(A)
    W = model.perturb_columns(A, delta, rng)
    M = W @ A
    beta = theory.inner_product_bound(delta, mu)
    cross, _, _ = _eq4_extremes(M)
    reach = 1.02 * max(beta, cross)
    off = M[~np.eye(M.shape[0], dtype=bool)]
    counts, edges = np.histogram(off, bins=np.linspace(-reach, reach, bins + 1))
    return InnerProducts(float(delta), mu, beta, _radius(W, A), _column_error(A), np.diag(M).copy(), cross, counts, edges)


def _radius(W: np.ndarray, A: np.ndarray) -> float:
    r""":math:`\max_i\|W_i - A^*_i\|`."""
    return float(np.linalg.norm(W - A.T, axis=1).max())


def _column_error(A: np.ndarray) -> float:
    r""":math:`\max_j|\|A^*_j\| - 1|`."""
    return float(np.abs(np.linalg.norm(A, axis=0) - 1.0).max())


def eq4_worst_ratio(cross_max: float, diag_min: float, diag_max: float, delta: float, mu: float) -> float:
    r"""How much of eq. (4)'s bounds the measured inner products use: 1 or less where eq. (4) holds.

    .. math::

        \max\Big(\frac{\max_{i\ne j}|\langle W_i, A^*_j\rangle|}{\delta + \mu},\;
        \frac{\max_i|\langle W_i, A^*_i\rangle - 1|}{\delta}\Big)

    from the extremes ``cross_max`` (:math:`\max_{i\ne j}|\langle W_i, A^*_j\rangle|`), ``diag_min``
    and ``diag_max`` (of :math:`\langle W_i, A^*_i\rangle`), the radius :math:`\delta > 0` and the
    coherence :math:`\mu`.
    """
    cross_max = check.real(cross_max, "cross_max", minimum=0.0)
    diag_min = check.real(diag_min, "diag_min")
    diag_max = check.real(diag_max, "diag_max", minimum=diag_min)
    delta = check.real(delta, "delta", minimum=0.0, strict_min=True)
    mu = check.real(mu, "mu", minimum=0.0, maximum=1.0)
    return float(max(cross_max / theory.inner_product_bound(delta, mu), max(1.0 - diag_min, diag_max - 1.0) / delta))


def _sparse_preactivations(MT: np.ndarray, support: np.ndarray, values: np.ndarray) -> np.ndarray:
    r"""Pre-activations :math:`Q^\top` (shape ``(N, h)``) from :math:`M^\top` and sparse codes: :math:`Q_{:,s} = \sum_{j\in S_s} M_{:,j}x_{js}`."""
    QT = MT[support[:, 0]] * values[:, :1]
    for a in range(1, support.shape[1]):
        QT += MT[support[:, a]] * values[:, a:a + 1]
    return QT


def decomposition_residual(W: np.ndarray, A: np.ndarray, support: np.ndarray, values: np.ndarray) -> float:
    r"""Largest :math:`|Q_i - (M_{ii}x^*_i\mathbf 1_{i\in S} + Z_i)|` over units and samples, :math:`Q = W(A^*X)` computed directly.

    The decomposition of the proof is an identity, so this is rounding error; it also checks the
    gathered pre-activations every experiment here relies on.
    """
    W = check.matrix(W, "W")
    A = check.matrix(A, "A", shape=(W.shape[1], W.shape[0]), match="W")
    support, values = check.codes(support, values, W.shape[0])
    N = support.shape[0]
    X = np.zeros((W.shape[0], N))
    X[support.T, np.arange(N)] = values.T
    M = W @ A
    diagonal = np.diag(M)
    signal = diagonal[:, None] * X  # <W_i, A*_i> x*_i 1[i in S]
    Z = (M - np.diag(diagonal)) @ X  # sum over j in S, j != i
    direct = W @ (A @ X)
    gathered = _sparse_preactivations(np.ascontiguousarray(M.T), support, values).T
    return float(max(np.abs(direct - signal - Z).max(), np.abs(direct - gathered).max()))


@dataclass(frozen=True)
class Preactivations:
    r"""Per-sample summary of the pre-activations :math:`Q = Wy` of ``N`` samples, for a grid of biases.

    A unit fires when :math:`Q_i > \epsilon`; a false negative is :math:`i\in S` with
    :math:`Q_i\le\epsilon`, a false positive :math:`i\notin S` with :math:`Q_i>\epsilon`.

    Attributes
    ----------
    eps : numpy.ndarray
        The biases, shape ``(G,)``.
    on : numpy.ndarray
        :math:`Q_i` for the units of the support, shape ``(N, k)``.
    off_max : numpy.ndarray
        :math:`\max_{i\notin S} Q_i` per sample, shape ``(N,)``.
    off_exceed : numpy.ndarray
        Number of (sample, off-support unit) pairs with :math:`Q_i > \epsilon_g`, shape ``(G,)``.
    n_off : int
        Number of (sample, off-support unit) pairs, :math:`N(h-k)`.
    off_counts, edges : numpy.ndarray
        Histogram of the off-support :math:`Q_i` on ``edges`` (chosen to cover them all).
    """

    eps: np.ndarray
    on: np.ndarray
    off_max: np.ndarray
    off_exceed: np.ndarray
    n_off: int
    off_counts: np.ndarray
    edges: np.ndarray

    @property
    def false_negative_rate(self) -> np.ndarray:
        """Fraction of support units that stay off, per bias."""
        return np.mean(self.on.ravel()[:, None] <= self.eps[None, :], axis=0)

    @property
    def false_positive_rate(self) -> np.ndarray:
        """Fraction of off-support units that fire, per bias."""
        return self.off_exceed / self.n_off

    @property
    def exact_rate(self) -> np.ndarray:
        """Fraction of samples whose support is recovered exactly, per bias."""
        fire = self.on.min(axis=1)[:, None] > self.eps[None, :]
        quiet = self.off_max[:, None] <= self.eps[None, :]
        return np.mean(fire & quiet, axis=0)


def _summarise(QT: np.ndarray, support: np.ndarray, eps: np.ndarray, edges: np.ndarray) -> Preactivations:
    """Summarise pre-activations ``QT`` (``(N, h)``, overwritten) of codes with ``support`` (``(N, k)``) at biases ``eps``."""
    rows = np.arange(QT.shape[0])[:, None]
    on = QT[rows, support]
    QT[rows, support] = -np.inf  # leave only the off-support units
    order = np.argsort(eps)
    above = np.searchsorted(eps[order], QT.ravel(), side="left")  # number of biases below each value
    exceed = np.empty(eps.size, dtype=np.int64)
    exceed[order] = np.cumsum(np.bincount(above, minlength=eps.size + 1)[::-1])[::-1][1:]
    counts, _ = np.histogram(QT, bins=edges)
    return Preactivations(eps, on, QT.max(axis=1), exceed, QT.shape[0] * (QT.shape[1] - support.shape[1]), counts, edges)


def _concatenate(parts: list[Preactivations]) -> Preactivations:
    first = parts[0]
    return Preactivations(
        first.eps,
        np.concatenate([part.on for part in parts]),
        np.concatenate([part.off_max for part in parts]),
        sum(part.off_exceed for part in parts),
        sum(part.n_off for part in parts),
        sum(part.off_counts for part in parts),
        first.edges,
    )


def _grid(values: object, name: str) -> np.ndarray:
    grid = np.asarray(check.real_sequence(values, name, minimum=0.0))
    if np.any(np.diff(grid) < 0):
        raise ValueError(f"{name} must be non-decreasing")
    return grid


def _off_edges(beta: float, k: int, m_max: float, bins: int) -> np.ndarray:
    """Histogram edges covering every off-support pre-activation: :math:`|Z_i| \\le k\\beta m_{\\max}` by eq. (4)."""
    reach = 1.02 * theory.off_support_ceiling(beta, k, m_max)
    return np.linspace(-reach, reach, bins + 1)


RATES = ("false_negative", "false_positive", "exact")
#: The biases marked besides the prefactor grid: the simulations chapter's default
#: (:func:`lib.theory.support.simulation_bias`) and the appendix's §8 (:func:`lib.theory.support.illustrative_bias`).
MARKS = ("simulations", "illustrative")


@dataclass(frozen=True)
class RecoveryTradeoff:
    r"""Support recovery by a random :math:`W` near a Gaussian :math:`A^*`, for grids of :math:`\delta` and bias prefactor :math:`c`.

    The bias is :math:`\epsilon = c\,m_1K\beta` with :math:`\beta = \delta+\mu`
    (:func:`lib.theory.support.bias`); each result also holds, after the grid, the two biases of
    ``MARKS``.

    Attributes
    ----------
    h, n, k : int
        Code size, signal size, support size.
    K : float
        The support bound :math:`\max(h^p, k)`.
    mu : float
        Coherence of :math:`A^*`.
    m1 : float
        Mean of the nonzeros.
    deltas, prefactors : numpy.ndarray
        The grids, shapes ``(D,)`` and ``(G,)``.
    marks : numpy.ndarray
        The biases of ``MARKS`` per :math:`\delta`, shape ``(D, 2)``.
    results : tuple of Preactivations
        One per :math:`\delta`, over the ``G`` biases :math:`c\,m_1K\beta` then the two marks.
    """

    h: int
    n: int
    k: int
    K: float
    mu: float
    m1: float
    deltas: np.ndarray
    prefactors: np.ndarray
    marks: np.ndarray
    results: tuple[Preactivations, ...]

    @property
    def beta(self) -> np.ndarray:
        r""":math:`\beta = \delta + \mu` per :math:`\delta`."""
        return self.deltas + self.mu

    def _all(self, kind: str) -> np.ndarray:
        if kind not in RATES:
            raise ValueError(f"kind must be one of {RATES}, got {kind!r}")
        return np.stack([getattr(result, f"{kind}_rate") for result in self.results])

    def rate(self, kind: str) -> np.ndarray:
        """``kind`` in ``RATES``: the rate over the prefactor grid, shape ``(D, G)``."""
        return self._all(kind)[:, : self.prefactors.size]

    def _mark(self, mark: str) -> int:
        if mark not in MARKS:
            raise ValueError(f"mark must be one of {MARKS}, got {mark!r}")
        return MARKS.index(mark)

    def mark_rate(self, kind: str, mark: str) -> np.ndarray:
        """``kind`` in ``RATES`` at the bias ``mark`` in ``MARKS``, shape ``(D,)``."""
        return self._all(kind)[:, self.prefactors.size + self._mark(mark)]

    def mark_prefactor(self, mark: str) -> np.ndarray:
        r"""The prefactor :math:`c` with :math:`c\,m_1K\beta` equal to the bias ``mark``, shape ``(D,)``."""
        return self.marks[:, self._mark(mark)] / (self.m1 * self.K * self.beta)


def gaussian_recovery(
    h: int, n: int, p: float, deltas, prefactors, N: int, rng: np.random.Generator,
    low: float = 1.0, high: float = 2.0, bins: int = 120,
) -> RecoveryTradeoff:
    r"""Recovery rates of a random encoder near a fresh Gaussian dictionary, for every :math:`(\delta, c)`.

    One draw of :math:`A^*` (:func:`lib.model.random_dictionary`), of ``N`` codes with
    :math:`k =` :func:`lib.model.support_size` :math:`(h, p)` nonzeros i.i.d. :math:`U[m_{\min}, m_{\max}]`,
    and of unit directions :math:`D`; for each :math:`\delta`, :math:`W = (A^* + \delta D)^\top`,
    exactly :func:`lib.model.perturb_columns`, so that
    :math:`Q = Wy = A^{*\top}y + \delta D^\top y` costs two products for the whole grid.

    Parameters
    ----------
    h, n : int
        Code and signal sizes (``2 <= n``, ``k <= h``).
    p : float
        Sparsity exponent.
    deltas, prefactors : sequence of float
        Radii (each in ``[0, 1]``) and bias prefactors :math:`c` (non-decreasing, ``>= 0``).
    N : int
        Number of samples.
    rng : numpy.random.Generator
    low, high : float
        :math:`m_{\min}, m_{\max}`.
    bins : int
        Bins of the off-support histogram.
    """
    h = check.integer(h, "h", minimum=2)
    n = check.integer(n, "n", minimum=2)
    N = check.integer(N, "N", minimum=1)
    bins = check.loop_count(bins, "bins", minimum=2)
    deltas = _grid(deltas, "deltas")
    if np.any(deltas > 1):
        raise ValueError("deltas must lie in [0, 1]")
    prefactors = _grid(prefactors, "prefactors")
    rng = check.generator(rng)
    model.uniform_moments(low, high)  # validates low <= high
    k = model.support_size(h, p)
    check.allocation("h, n, N", _tradeoff_bytes(h, n, k, N))
    K = theory.support_bound(h, p, k)
    A = model.random_dictionary(n, h, rng)
    mu = model.coherence(A)
    support, values = model.sample_sparse_codes(h, k, N, rng, low, high)
    Y = np.einsum("nsk,sk->ns", A[:, support], values)  # y = sum_{j in S} x_j A*_j
    direction = model.random_dictionary(n, h, rng)
    base, tilt = Y.T @ A, Y.T @ direction  # (N, h) each
    m1 = 0.5 * (low + high)
    marks, results = [], []
    for delta in deltas:
        beta = theory.inner_product_bound(delta, mu)
        marks.append([theory.simulation_bias(m1, h, p, beta), theory.illustrative_bias(m1, k, mu)])
        eps = np.append(theory.bias(m1, K, beta, prefactors), marks[-1])
        results.append(_summarise(base + delta * tilt, support, eps, _off_edges(beta, k, high, bins)))
    return RecoveryTradeoff(h, n, k, K, mu, m1, deltas, prefactors, np.array(marks), tuple(results))


def _tradeoff_bytes(h: int, n: int, k: int, N: int) -> float:
    """Memory of :func:`gaussian_recovery`: two dictionaries, the signals, their gathered atoms and two ``(N, h)`` products."""
    return 8.0 * (2 * n * h + n * N * (k + 1) + 4 * N * h)


def tradeoff(
    h_values, n_fraction: float, p: float, deltas, prefactors, N: int, rng: np.random.Generator,
    low: float = 1.0, high: float = 2.0,
) -> list[RecoveryTradeoff]:
    """:func:`gaussian_recovery` for every ``h`` in ``h_values``, with ``n = round(n_fraction * h)``."""
    n_fraction = check.real(n_fraction, "n_fraction", minimum=0.0, maximum=1.0, strict_min=True)
    h_values = check.integer_sequence(h_values, "h_values", minimum=2)
    N = check.integer(N, "N", minimum=1)
    p = check.exponent(p)
    top = max(h_values)
    check.allocation("h_values, N", _tradeoff_bytes(top, max(2, round(n_fraction * top)), model.support_size(top, p), N))
    return [
        gaussian_recovery(h, max(2, round(n_fraction * h)), p, deltas, prefactors, N, rng, low, high)
        for h in tqdm(h_values, desc="trade-off", leave=False)
    ]


@dataclass(frozen=True)
class HadamardRecovery:
    r"""Theorem 3.1 on :math:`A^* = [I, H/\sqrt n]` with :math:`\delta = h^{-p-\nu}` and the theorem's bias.

    Attributes
    ----------
    h, n, k : int
        Code size :math:`h = 2n`, signal size, support size.
    p : float
        Sparsity exponent.
    hp, K : float
        :math:`h^p` and the support bound :math:`K = \max(h^p, k)`.
    mu, xi : float
        Coherence :math:`1/\sqrt n` and its exponent :math:`\xi`.
    delta, beta, eps : float
        Radius, eq.-(4) bound and the bias :math:`c\,m_1K\beta`.
    radius, column_error : float
        Measured :math:`\max_i\|W_i - A^*_i\|` and :math:`\max_j|\|A^*_j\| - 1|`.
    floor, ceiling : float
        :func:`lib.theory.support.on_support_floor` and :func:`~lib.theory.support.off_support_ceiling`.
    margin_holds : bool
        :func:`lib.theory.support.margin_condition`.
    cross_max, diag_min, diag_max : float
        Extremes of :math:`\langle W_i, A^*_j\rangle` (eq. (4) check).
    pre : Preactivations
        The ``N`` samples at the single bias ``eps``.
    """

    h: int
    n: int
    k: int
    p: float
    hp: float
    K: float
    mu: float
    xi: float
    delta: float
    beta: float
    eps: float
    radius: float
    column_error: float
    floor: float
    ceiling: float
    margin_holds: bool
    cross_max: float
    diag_min: float
    diag_max: float
    pre: Preactivations

    @property
    def false_negatives(self) -> int:
        """Support units that stayed off, over all samples."""
        return int(np.sum(self.pre.on <= self.eps))

    @property
    def false_positives(self) -> int:
        """Off-support units that fired, over all samples."""
        return int(self.pre.off_exceed[0])


def _hadamard_case(h, p, nu, N, rng, low, high, prefactor, bins, chunk) -> HadamardRecovery:
    n = h // 2
    k = model.support_size(h, p)
    K = theory.support_bound(h, p, k)
    mu = 1.0 / np.sqrt(n)
    delta = theory.ball_radius(h, p, nu)
    beta = theory.inner_product_bound(delta, mu)
    m1 = 0.5 * (low + high)
    eps = theory.bias(m1, K, beta, prefactor)
    A = hadamard_dictionary(n)
    W = model.perturb_columns(A, delta, rng)
    radius, column_error = _radius(W, A), _column_error(A)
    MT = _hadamard_products(W)
    del W, A
    cross, diag_min, diag_max = _eq4_extremes(MT)
    support, values = model.sample_sparse_codes(h, k, N, rng, low, high)
    grid, edges = np.array([eps]), _off_edges(beta, k, high, bins)
    parts = [
        _summarise(_sparse_preactivations(MT, support[s:s + chunk], values[s:s + chunk]), support[s:s + chunk], grid, edges)
        for s in range(0, N, chunk)
    ]
    return HadamardRecovery(
        h, n, k, p, float(h**p), K, float(mu), model.coherence_exponent(mu, h), delta, beta, eps, radius, column_error,
        theory.on_support_floor(delta, beta, K, low, high), theory.off_support_ceiling(beta, K, high),
        theory.margin_condition(delta, beta, K, low, high, m1, prefactor), cross, diag_min, diag_max,
        _concatenate(parts),
    )


def hadamard_recovery(
    h_values, p: float, nu: float, N: int, rng: np.random.Generator, low: float = 1.0, high: float = 2.0,
    prefactor: float = theory.THEOREM_PREFACTOR, bins: int = 120, chunk: int = 1000,
) -> list[HadamardRecovery]:
    r"""Run Theorem 3.1's setting on :func:`hadamard_dictionary` for each :math:`h` (a power of 2, :math:`h = 2n`).

    :math:`W` = :func:`lib.model.perturb_columns` :math:`(A^*, \delta)` with
    :math:`\delta = h^{-p-\nu}`; ``N`` codes with :math:`k` nonzeros i.i.d. :math:`U[m_{\min}, m_{\max}]`;
    bias :math:`\epsilon = c\,m_1K\beta`.  :math:`WA^*` is formed with a fast Walsh–Hadamard
    transform (:math:`O(h^2\log h)`), and the samples are processed ``chunk`` at a time.
    """
    h_values = check.integer_sequence(h_values, "h_values", minimum=4)
    if any(h & (h - 1) for h in h_values):
        raise ValueError(f"h_values must be powers of 2, got {h_values}")
    p = check.exponent(p)
    nu = check.real(nu, "nu", minimum=0.0, strict_min=True)
    N = check.integer(N, "N", minimum=1)
    chunk = check.integer(chunk, "chunk", minimum=1)
    bins = check.loop_count(bins, "bins", minimum=2)
    prefactor = check.real(prefactor, "prefactor", minimum=0.0)
    low = check.real(low, "low", minimum=0.0)
    high = check.real(high, "high", minimum=low, strict_min=True)
    rng = check.generator(rng)
    top = max(h_values)
    check.allocation("h_values, N, chunk", 8.0 * (3 * top * top + 4 * min(chunk, N) * top + 3 * N * model.support_size(top, p)))
    check.work("h_values, N", float(N) * top * len(h_values))
    return [
        _hadamard_case(h, p, nu, N, rng, low, high, prefactor, bins, chunk)
        for h in tqdm(h_values, desc="Hadamard", leave=False)
    ]


def _runs(runs: object) -> list[HadamardRecovery]:
    if not isinstance(runs, (list, tuple)) or not runs:
        raise TypeError(f"runs must be a non-empty list of HadamardRecovery (as hadamard_recovery returns), got {type(runs).__name__}")
    for run in runs:
        check.of_type(run, "runs", HadamardRecovery)
    return list(runs)


def step3_margins(run: HadamardRecovery) -> tuple[float, float]:
    r"""How far the data stay inside the deterministic bounds of the proof: :math:`(\min_{i\in S}Q_i - \text{floor},\ \text{ceiling} - \max_{i\notin S}Q_i)`.

    The floor is step 3's :math:`(1-\delta)m_{\min} - (K-1)\beta m_{\max}` and the ceiling
    :math:`K\beta m_{\max}` (:func:`lib.theory.support.on_support_floor`,
    :func:`~lib.theory.support.off_support_ceiling`), over every sample of ``run``; both margins are
    nonnegative (up to rounding) wherever the bounds hold.
    """
    check.of_type(run, "run", HadamardRecovery)
    return float(run.pre.on.min() - run.floor), float(run.ceiling - run.pre.off_max.max())


def hadamard_failures(run: HadamardRecovery, low: float, high: float) -> list[str]:
    """The hypotheses of Theorem 3.1 that ``run`` does not satisfy (:func:`lib.theory.support.theorem31_failures`).

    ``[low, high]`` is the range of its nonzeros, uniform, so :math:`m_1` is the midpoint.
    """
    check.of_type(run, "run", HadamardRecovery)
    low = check.real(low, "low", minimum=0.0)
    high = check.real(high, "high", minimum=low, strict_min=True)
    return theory.theorem31_failures(run.h, run.p, run.k, run.delta, run.radius, run.column_error, run.mu, run.eps,
                                     low, high, 0.5 * (low + high))


def exact_where_hypotheses_hold(runs: list[HadamardRecovery], low: float, high: float) -> bool:
    """Theorem 3.1's conclusion: zero false negatives and zero false positives on every run that satisfies every hypothesis (:func:`hadamard_failures`).

    False when no run satisfies them: the check then has nothing to test.
    """
    inside = [run for run in _runs(runs) if not hadamard_failures(run, low, high)]
    return bool(inside) and all(run.false_negatives == 0 and run.false_positives == 0 for run in inside)


def two_point_values(size: tuple[int, ...], low: float, high: float, m1: float, rng: np.random.Generator) -> np.ndarray:
    r"""I.i.d. values :math:`m_{\max}` with probability :math:`\pi = (m_1-m_{\min})/(m_{\max}-m_{\min})`, else :math:`m_{\min}`.

    A skewed distribution on :math:`[m_{\min}, m_{\max}]` with mean :math:`m_1`: with
    :math:`m_{\max} > 2m_1` a sum of such values can exceed twice its mean, which uniform values
    cannot, so false positives are possible under the theorem's bias.
    """
    low = check.real(low, "low", minimum=0.0)
    high = check.real(high, "high", minimum=low, strict_min=True)
    m1 = check.real(m1, "m1", minimum=low, maximum=high)
    rng = check.generator(rng)
    size = check.integer_sequence(size, "size", minimum=0)
    check.allocation("size", 16.0 * np.prod(size, dtype=np.float64))
    return np.where(rng.random(size) < (m1 - low) / (high - low), high, low)


@dataclass(frozen=True)
class FalsePositives:
    r"""Monte Carlo frequency of :math:`Z_i \ge \epsilon` for an off-support unit under worst-case inner products.

    Attributes
    ----------
    h, k : numpy.ndarray
        Code sizes and support sizes (integers), shape ``(H,)``.
    hp, K : numpy.ndarray
        :math:`h^p` and the support bounds :math:`K = \max(h^p, k)`.
    threshold : numpy.ndarray
        :math:`\epsilon/\beta = c\,m_1K`: the unit fires when :math:`\sum_{j\in S}x^*_j` reaches it.
    counts : numpy.ndarray
        Samples (out of ``N``) in which it did.
    N : int
        Samples per ``h``.
    """

    h: np.ndarray
    k: np.ndarray
    hp: np.ndarray
    K: np.ndarray
    threshold: np.ndarray
    counts: np.ndarray
    N: int

    @property
    def frequency(self) -> np.ndarray:
        """``counts / N``."""
        return self.counts / self.N

    def interval(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Clopper–Pearson interval of the false-positive probability (:func:`binomial_interval`)."""
        return binomial_interval(self.counts, self.N, level)


def false_positive_frequencies(
    h_values, p: float, N: int, rng: np.random.Generator, low: float = 1.0, high: float = 10.0, m1: float = 2.0,
    prefactor: float = theory.THEOREM_PREFACTOR, chunk: int = 50_000,
) -> FalsePositives:
    r"""The off-support case of the proof where it is tight: every :math:`\langle W_i, A^*_j\rangle = +\beta`.

    Eq. (4) allows :math:`\langle W_i, A^*_j\rangle` up to :math:`\beta`, and the proof's second
    inequality replaces each by :math:`\beta`.  With every cross inner product equal to
    :math:`+\beta`, an off-support unit sees :math:`Z_i = \beta\sum_{j\in S}x^*_j` (the same for every
    :math:`i\notin S`), and since :math:`x^*\ge0` every admissible :math:`W` has a smaller
    :math:`Z_i` on every sample: this is the largest false-positive probability the hypotheses allow
    for these values.  :math:`\beta` cancels: :math:`Z_i\ge\epsilon = c\,m_1K\beta` iff
    :math:`\sum_{j\in S}x^*_j \ge c\,m_1K`.  Values are :func:`two_point_values`.
    """
    h_values = np.array(check.integer_sequence(h_values, "h_values", minimum=2))
    p = check.exponent(p)
    N = check.integer(N, "N", minimum=1)
    chunk = check.integer(chunk, "chunk", minimum=1)
    prefactor = check.real(prefactor, "prefactor", minimum=0.0)
    two_point_values((0,), low, high, m1, check.generator(rng))  # validates low, high, m1 and rng
    k = np.array([model.support_size(int(h), p) for h in h_values])
    check.allocation("chunk", 16.0 * min(chunk, N) * k.max())
    check.work("N", float(N) * k.sum())
    K = np.array([theory.support_bound(int(h), p, int(s)) for h, s in zip(h_values, k)])
    threshold = prefactor * m1 * K
    counts = np.zeros(h_values.size, dtype=np.int64)
    for index in tqdm(range(h_values.size), desc="false positives", leave=False):
        for start in range(0, N, chunk):
            sums = two_point_values((min(chunk, N - start), int(k[index])), low, high, m1, rng).sum(axis=1)
            counts[index] += int(np.count_nonzero(sums >= threshold[index]))
    return FalsePositives(h_values, k, h_values.astype(np.float64) ** p, K, threshold, counts, N)


def under_false_positive_bound(fp: FalsePositives, bound: object, level: float = 0.999) -> bool:
    r"""Whether the frequencies of ``fp`` are compatible with a bound on the false-positive probability, in an informative regime.

    Only the sizes with :math:`k \le h^p` count (the theorem's :math:`|S|\le h^p`; there
    :math:`K = h^p`).  It holds when there is at least one such size, the first of them saw an event
    and has ``bound`` below 1 there (else the comparison is empty), and at every such size the lower
    end of the ``level`` Clopper–Pearson interval (:meth:`FalsePositives.interval`) is at most ``bound``.
    """
    check.of_type(fp, "fp", FalsePositives)
    bound = check.real_array(bound, "bound", minimum=0.0)
    if bound.shape != fp.h.shape:
        raise ValueError(f"bound must have one entry per size of fp, shape {fp.h.shape}, got {bound.shape}")
    inside = fp.k <= fp.hp * (1 + 1e-12)
    if not inside.any():
        return False
    first = int(np.flatnonzero(inside)[0])
    lower, _ = fp.interval(level)
    return bool(fp.counts[first] > 0 and bound[first] < 1 and np.all(lower[inside] <= bound[inside]))


def t_star_minimises(t_grid: object, curve: object, t_star: float, closed_form: float, rtol: float = 1e-3) -> bool:
    r"""Step 5: whether :math:`t^*` and the closed form are the minimiser and minimum of the Chernoff–Hoeffding ``curve`` on ``t_grid``.

    Holds when :math:`t^* > 0`, the curve never goes below the closed form (rounding :math:`10^{-12}`),
    its grid minimum is at most ``rtol`` above it, and the grid minimiser is within 2 grid steps of
    :math:`t^*` (``t_grid`` evenly spaced, increasing).
    """
    t_grid = check.real_array(t_grid, "t_grid", minimum=0.0)
    curve = check.real_array(curve, "curve", minimum=0.0)
    if t_grid.ndim != 1 or t_grid.size < 3 or curve.shape != t_grid.shape:
        raise ValueError(f"t_grid must be 1-d with at least 3 points and curve the same shape, got {t_grid.shape} and {curve.shape}")
    step = np.diff(t_grid)
    if np.any(step <= 0) or not np.allclose(step, step[0]):
        raise ValueError("t_grid must be evenly spaced and increasing")
    t_star = check.real(t_star, "t_star")
    closed_form = check.real(closed_form, "closed_form", minimum=0.0, strict_min=True)
    rtol = check.real(rtol, "rtol", minimum=0.0, strict_min=True)
    low = curve.min()
    return bool(t_star > 0 and low >= closed_form * (1 - 1e-12) and low <= closed_form * (1 + rtol)
                and abs(t_grid[np.argmin(curve)] - t_star) <= 2 * step[0])


def binomial_interval(counts, N: int, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    r"""Two-sided Clopper–Pearson interval for a probability from ``counts`` successes in ``N`` trials.

    Lower end :math:`B^{-1}(\alpha/2; c, N-c+1)` (0 if :math:`c = 0`), upper end
    :math:`B^{-1}(1-\alpha/2; c+1, N-c)` (1 if :math:`c = N`), :math:`\alpha = 1-` ``level``.
    """
    N = check.integer(N, "N", minimum=1)
    level = check.real(level, "level", minimum=0.0, maximum=1.0, strict_min=True, strict_max=True)
    counts = check.real_array(counts, "counts", minimum=0.0, maximum=N)
    if np.any(counts != np.round(counts)):
        raise ValueError(f"counts must be whole numbers in [0, N={N}]")
    alpha = 1.0 - level
    lower = np.where(counts > 0, beta_distribution.ppf(alpha / 2, np.maximum(counts, 1), N - counts + 1), 0.0)
    upper = np.where(counts < N, beta_distribution.ppf(1 - alpha / 2, counts + 1, np.maximum(N - counts, 1)), 1.0)
    return lower, upper
