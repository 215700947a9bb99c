r"""The generative model of sparse coding (paper Sec. 2).

Signals are :math:`y = A^* x^*` with a dictionary :math:`A^* \in \mathbb R^{n\times h}` whose
columns have unit norm, and a nonnegative code :math:`x^*` whose support :math:`S` is a uniformly
random subset of size :math:`k \approx h^p` and whose nonzeros are i.i.d. uniform on
:math:`[m_{\min}, m_{\max}]` (``low``, ``high``).  Data are stored as columns: ``X`` has shape
``(h, N)`` and ``Y = A @ X`` has shape ``(n, N)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.linalg import hadamard

from lib import _validate as check

__all__ = [
    "random_dictionary",
    "hadamard_dictionary",
    "uniform_moments",
    "coherence",
    "coherence_exponent",
    "support_size",
    "sample_supports",
    "sample_sparse_codes",
    "sample_codes",
    "perturb_columns",
    "SparseCodingModel",
    "ROUNDING_RULES",
]

ROUNDING_RULES = ("round", "floor", "ceil")


def random_dictionary(n: int, h: int, rng: np.random.Generator) -> np.ndarray:
    r"""Draw a Gaussian dictionary with unit columns.

    :math:`A^*_{:,i} = g_i / \|g_i\|_2` with :math:`g_i \sim N(0, I_n)` i.i.d.; with high
    probability its coherence is :math:`O(\sqrt{\log h / n})`.

    Parameters
    ----------
    n, h : int
        Signal dimension and number of atoms (``n >= 1``, ``h >= 1``).
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        ``A`` of shape ``(n, h)`` with ``||A[:, i]|| == 1``.
    """
    n = check.integer(n, "n", minimum=1)
    h = check.integer(h, "h", minimum=1)
    rng = check.generator(rng)
    check.allocation("n, h", 2 * 8.0 * n * h)
    G = rng.standard_normal((n, h))
    return G / np.linalg.norm(G, axis=0, keepdims=True)


def hadamard_dictionary(n: int) -> np.ndarray:
    r"""The dictionary :math:`A^* = [\,I_n,\ H_n/\sqrt n\,]` of shape ``(n, 2n)``, ``n`` a power of 2.

    :math:`H_n` is Sylvester's Hadamard matrix (:func:`scipy.linalg.hadamard`); the columns are
    unit vectors, two identity columns are orthogonal, two Hadamard columns are orthogonal, and an
    identity column meets a Hadamard column at :math:`\pm1/\sqrt n`: the coherence is exactly
    :math:`1/\sqrt n = (h/2)^{-1/2}`, the smallest possible for two orthonormal bases, i.e.
    :math:`\xi = \tfrac12(1 - \log 2/\log h)`.
    """
    n = check.integer(n, "n", minimum=2)
    if n & (n - 1):
        raise ValueError(f"n must be a power of 2, got {n}")
    return np.hstack([np.eye(n), hadamard(n, dtype=np.float64) / np.sqrt(n)])


def uniform_moments(low: float, high: float) -> tuple[float, float]:
    r""":math:`m_1, m_2` of ``U[low, high]``: :math:`(m_{\min}+m_{\max})/2` and :math:`(m_{\min}^2+m_{\min}m_{\max}+m_{\max}^2)/3`."""
    low, high = _value_range(low, high)
    return 0.5 * (low + high), (low**2 + low * high + high**2) / 3.0


def coherence(A: np.ndarray) -> float:
    r"""Mutual coherence :math:`\mu/\sqrt n = \max_{i\neq j} |\langle A_i, A_j\rangle|`.

    The paper writes this as :math:`h^{-\xi}`; see :func:`coherence_exponent`.

    Parameters
    ----------
    A : numpy.ndarray
        Dictionary of shape ``(n, h)`` with ``h >= 2`` unit columns.
    """
    A = check.matrix(A, "A")
    if A.shape[1] < 2:
        raise ValueError(f"A must have at least 2 columns to define a coherence, got {A.shape[1]}")
    _check_unit_columns(A, "A")
    block = 2048
    best = 0.0
    for start in range(0, A.shape[1], block):  # Gram matrix block by block: bounded memory
        gram = np.abs(A[:, start:start + block].T @ A)
        rows = np.arange(gram.shape[0])
        gram[rows, start + rows] = 0.0
        best = max(best, float(gram.max()))
    return best


def coherence_exponent(mu: float, h: int) -> float:
    r"""The exponent :math:`\xi` with :math:`\mu/\sqrt n = h^{-\xi}`, i.e. :math:`\xi = -\log\mu / \log h`."""
    mu = check.real(mu, "mu", minimum=0.0, maximum=1.0, strict_min=True)
    h = check.integer(h, "h", minimum=2)
    return float(-np.log(mu) / np.log(h))


def support_size(h: int, p: float, rounding: str = "round") -> int:
    r"""The support size :math:`k` used for :math:`h^p` nonzeros.

    :math:`h^p` is rarely an integer (:math:`h^p \in [1.06, 2.30]` in Table 1), and the paper
    does not say how it was rounded, so the rule is a parameter: ``"round"`` (nearest integer),
    ``"floor"`` or ``"ceil"``; the result is clipped to ``[1, h]``.
    """
    h = check.integer(h, "h", minimum=1)
    p = check.exponent(p)
    if rounding not in ROUNDING_RULES:
        raise ValueError(f"rounding must be one of {ROUNDING_RULES}, got {rounding!r}")
    value = {"round": np.round, "floor": np.floor, "ceil": np.ceil}[rounding](h**p)
    return int(min(max(value, 1), h))


def sample_supports(h: int, k: int, N: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``N`` uniformly random ``k``-subsets of ``{0, ..., h-1}``, one per row, sorted.

    Returns
    -------
    numpy.ndarray
        Integer array of shape ``(N, k)``; row ``s`` is the support of sample ``s``.
    """
    h = check.integer(h, "h", minimum=1)
    k = check.integer(k, "k", minimum=1, maximum=h)
    N = check.integer(N, "N", minimum=1)
    rng = check.generator(rng)
    check.allocation("h, N" if 2 * k > h else "k, N", 3 * 8.0 * N * (h if 2 * k > h else k))
    if 2 * k > h:  # dense case: a random permutation per row
        return np.sort(np.argsort(rng.random((N, h)), axis=1)[:, :k], axis=1)
    support = np.sort(rng.integers(0, h, size=(N, k)), axis=1)
    bad = np.flatnonzero(np.any(np.diff(support, axis=1) == 0, axis=1))
    while bad.size:  # redraw the rows with a repeated index (rare when k << h)
        support[bad] = np.sort(rng.integers(0, h, size=(bad.size, k)), axis=1)
        repeated = np.any(np.diff(support[bad], axis=1) == 0, axis=1)
        bad = bad[repeated]
    return support


def sample_sparse_codes(
    h: int, k: int, N: int, rng: np.random.Generator, low: float = 1.0, high: float = 2.0
) -> tuple[np.ndarray, np.ndarray]:
    """Draw codes in sparse form: supports ``(N, k)`` and their values ``(N, k)``, i.i.d. ``U[low, high]``.

    :func:`sample_codes` returns the same draw as a dense ``(h, N)`` matrix.
    """
    low, high = _value_range(low, high)
    support = sample_supports(h, k, N, rng)
    values = rng.uniform(low, high, size=support.shape)
    return support, values


def sample_codes(
    h: int, k: int, N: int, rng: np.random.Generator, low: float = 1.0, high: float = 2.0
) -> np.ndarray:
    r"""Draw ``N`` sparse nonnegative codes :math:`x^*` as the columns of ``X``.

    Each column has a uniformly random support :math:`S` with :math:`|S| = k` and i.i.d.
    nonzeros :math:`x^*_j \sim U[m_{\min}, m_{\max}]` = ``U[low, high]`` for :math:`j \in S`.

    Parameters
    ----------
    h : int
        Code dimension.
    k : int
        Support size, ``1 <= k <= h``.
    N : int
        Number of samples.
    rng : numpy.random.Generator
    low, high : float
        Range of the nonzeros, ``0 <= low <= high``.

    Returns
    -------
    numpy.ndarray
        ``X`` of shape ``(h, N)``.
    """
    check.allocation("h, N", 8.0 * check.integer(h, "h", minimum=1) * check.integer(N, "N", minimum=1))
    support, values = sample_sparse_codes(h, k, N, rng, low, high)
    X = np.zeros((h, support.shape[0]))
    X[support.T, np.arange(support.shape[0])] = values.T
    return X


def perturb_columns(A: np.ndarray, delta: float, rng: np.random.Generator) -> np.ndarray:
    r"""A random encoder whose rows lie exactly :math:`\delta` from the columns of :math:`A^*`.

    :math:`W_i = A^*_i + \delta\, \Delta_i` with :math:`\Delta_i = g_i/\|g_i\|`,
    :math:`g_i \sim N(0, I_n)`, so :math:`\|W_i - A^*_i\|_2 = \delta` for every :math:`i`
    (the construction of the paper's Sec. 6 and of the authors' code).

    Returns
    -------
    numpy.ndarray
        ``W`` of shape ``(h, n)``.
    """
    A = check.matrix(A, "A")
    delta = check.real(delta, "delta", minimum=0.0)
    n, h = A.shape
    return (A + delta * random_dictionary(n, h, rng)).T


def _value_range(low: float, high: float) -> tuple[float, float]:
    low = check.real(low, "low", minimum=0.0)
    high = check.real(high, "high", minimum=0.0)
    if high < low:
        raise ValueError(f"high must be >= low, got low={low}, high={high}")
    return low, high


def _check_unit_columns(A: np.ndarray, name: str) -> None:
    norms = np.linalg.norm(A, axis=0)
    if not np.allclose(norms, 1.0, atol=1e-8):
        raise ValueError(f"{name} must have unit-norm columns (largest deviation {np.max(np.abs(norms - 1)):.2e})")


@dataclass(frozen=True, eq=False)
class SparseCodingModel:
    r"""One instance of the generative model with its derived quantities.

    Attributes
    ----------
    A : numpy.ndarray
        Dictionary :math:`A^*`, shape ``(n, h)``, unit columns.
    p : float
        Sparsity exponent, ``0 < p < 1``; the support size is ``k = support_size(h, p, rounding)``.
    low, high : float
        :math:`m_{\min}, m_{\max}`: the nonzeros are i.i.d. ``U[low, high]``.
    rounding : str
        How :math:`h^p` is rounded to an integer support size.
    """

    A: np.ndarray
    p: float
    low: float = 1.0
    high: float = 2.0
    rounding: str = "round"

    def __post_init__(self) -> None:
        A = check.matrix(self.A, "A")
        _check_unit_columns(A, "A")
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "p", check.exponent(self.p))
        low, high = _value_range(self.low, self.high)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        support_size(A.shape[1], self.p, self.rounding)  # validates ``rounding``

    @classmethod
    def gaussian(
        cls, n: int, h: int, p: float, rng: np.random.Generator, low: float = 1.0, high: float = 2.0,
        rounding: str = "round",
    ) -> "SparseCodingModel":
        """A model with a fresh Gaussian dictionary from :func:`random_dictionary`."""
        return cls(random_dictionary(n, h, rng), p, low, high, rounding)

    @property
    def n(self) -> int:
        """Signal dimension."""
        return self.A.shape[0]

    @property
    def h(self) -> int:
        """Code dimension (number of atoms and of hidden units)."""
        return self.A.shape[1]

    @property
    def k(self) -> int:
        """Support size, :math:`h^p` rounded."""
        return support_size(self.h, self.p, self.rounding)

    @property
    def q(self) -> float:
        r""":math:`q_i = \Pr[i \in S] = k/h` for uniform supports (the paper's :math:`h^{p-1}` when :math:`k = h^p`)."""
        return self.k / self.h

    @property
    def m1(self) -> float:
        r""":math:`m_1 = \mathbb E[x^*_i \mid i \in S] = (m_{\min}+m_{\max})/2`."""
        return uniform_moments(self.low, self.high)[0]

    @property
    def m2(self) -> float:
        r""":math:`m_2 = \mathbb E[x^{*2}_i \mid i \in S] = (m_{\min}^2 + m_{\min}m_{\max} + m_{\max}^2)/3`."""
        return uniform_moments(self.low, self.high)[1]

    @cached_property
    def mu(self) -> float:
        r"""Coherence :math:`\max_{i\ne j}|\langle A^*_i, A^*_j\rangle|` (:func:`coherence`)."""
        return coherence(self.A)

    @property
    def xi(self) -> float:
        r"""Coherence exponent :math:`\xi = -\log\mu/\log h`."""
        return coherence_exponent(self.mu, self.h)

    def sample(self, N: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``N`` samples; returns ``(X, Y)`` with shapes ``(h, N)`` and ``(n, N)``."""
        check.allocation("N", 8.0 * (self.h + self.n) * check.integer(N, "N", minimum=1))
        X = sample_codes(self.h, self.k, N, rng, self.low, self.high)
        return X, self.A @ X
