r"""Experiments of the chapter "Model and assumptions" (paper Sec. 2 and the remark of Sec. 3.2)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import ortho_group
from tqdm import tqdm  # text bars on stderr: an executed notebook stores no widget state

from lib import _validate as check
from lib import autoencoder, model

__all__ = [
    "CoherenceTable",
    "gaussian_coherence_bound",
    "coherence_table",
    "OrthogonalCheck",
    "orthogonal_minimum",
    "orthogonal_remark_failures",
    "orthogonal_minimum_holds",
]


@dataclass(frozen=True)
class CoherenceTable:
    """Coherence of Gaussian dictionaries on an ``n × h`` grid.

    Attributes
    ----------
    n_values, h_values : numpy.ndarray
        The grid; cells with ``n >= h`` (not overcomplete) are NaN.
    mu : numpy.ndarray
        Shape ``(len(n_values), len(h_values), trials)``: :math:`\\max_{i\\neq j}|\\langle A_i,A_j\\rangle|` per draw.
    """

    n_values: np.ndarray
    h_values: np.ndarray
    mu: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """Mean coherence over the draws, shape ``(len(n_values), len(h_values))``."""
        return np.nanmean(self.mu, axis=2)

    @property
    def xi(self) -> np.ndarray:
        r"""The implied exponent :math:`\xi = -\log\bar\mu/\log h` per cell."""
        return -np.log(self.mean) / np.log(self.h_values)[None, :]


def gaussian_coherence_bound(n: np.ndarray | float, h: np.ndarray | float) -> np.ndarray:
    r"""Heuristic scale of the coherence of a Gaussian dictionary: :math:`\sqrt{4\log h / n}`.

    Each inner product of two independent random unit vectors is approximately :math:`N(0, 1/n)`;
    the largest of :math:`h(h-1)/2` of them in absolute value is about
    :math:`\sqrt{2\log(h^2)/n} = \sqrt{4\log h/n}`.
    """
    n = check.real_array(n, "n", minimum=0.0, strict_min=True)
    h = check.real_array(h, "h", minimum=1.0)
    return np.sqrt(4.0 * np.log(h) / n)


def coherence_table(n_values, h_values, trials: int, rng: np.random.Generator) -> CoherenceTable:
    """Measure the coherence of ``trials`` Gaussian dictionaries for every overcomplete ``(n, h)`` pair."""
    n_values = np.asarray(check.integer_sequence(n_values, "n_values", minimum=2))
    h_values = np.asarray(check.integer_sequence(h_values, "h_values", minimum=2))
    trials = check.loop_count(trials, "trials")
    rng = check.generator(rng)
    check.allocation("n_values, h_values", 8.0 * (2 * n_values.max() + 2048) * h_values.max())
    mu = np.full((n_values.size, h_values.size, trials), np.nan)
    cells = [(a, b) for a in range(n_values.size) for b in range(h_values.size) if n_values[a] < h_values[b]]
    for a, b in tqdm(cells, desc="coherence", leave=False):
        for t in range(trials):
            mu[a, b, t] = model.coherence(model.random_dictionary(int(n_values[a]), int(h_values[b]), rng))
    return CoherenceTable(n_values, h_values, mu)


@dataclass(frozen=True)
class OrthogonalCheck:
    """The square orthogonal case: loss along random directions through :math:`W = A^{*\\top}`.

    Attributes
    ----------
    orthogonality_error : float
        :math:`\\max|A^{*\\top}A^* - I|` (0 up to rounding for an orthogonal :math:`A^*`).
    smallest_code : float
        The smallest entry of the codes :math:`x^*` (the remark asks :math:`x^*\\ge 0`).
    eps : float
        The bias (the remark's is 0).
    loss_at_truth : float
        :math:`\\hat L(A^{*\\top})` with :math:`\\epsilon = 0` (exactly 0 up to rounding).
    grad_norm_at_truth : float
        Frobenius norm of the exact gradient there.
    t : numpy.ndarray
        Step sizes along each direction.
    losses : numpy.ndarray
        Shape ``(directions, len(t))``: :math:`\\hat L(A^{*\\top} + t\\Delta)`.
    overcomplete_loss : float
        For contrast, :math:`\\hat L(A^{*\\top})` with :math:`\\epsilon=0` for an overcomplete
        Gaussian :math:`A^*` (``n × 2n``, one nonzero per code): not a zero of the loss.
    """

    orthogonality_error: float
    smallest_code: float
    eps: float
    loss_at_truth: float
    grad_norm_at_truth: float
    t: np.ndarray
    losses: np.ndarray
    overcomplete_loss: float


def orthogonal_minimum(n: int, N: int, rng: np.random.Generator, directions: int = 8, t_max: float = 0.5) -> OrthogonalCheck:
    r"""Check the remark of Sec. 3.2: for square orthogonal :math:`A^*` and :math:`x^*\ge 0`, :math:`W = A^{*\top}` is a global minimum.

    With :math:`\epsilon = 0`, :math:`Wy = x^* \ge 0`, so :math:`r = x^*` and
    :math:`\hat y = A^* x^* = y`: the loss, which is nonnegative, is exactly 0.  Codes here are dense
    (every coordinate ``U[0, 1]``): the remark needs no sparsity.
    """
    n = check.integer(n, "n", minimum=2)
    N = check.integer(N, "N", minimum=1)
    directions = check.loop_count(directions, "directions")
    t_max = check.real(t_max, "t_max", minimum=0.0, strict_min=True)
    rng = check.generator(rng)
    check.allocation("n, N", 8.0 * (5 * n * N + 4 * n * n))
    A = ortho_group.rvs(n, random_state=rng)
    X = rng.uniform(0.0, 1.0, size=(n, N))
    Y = A @ X
    W = A.T
    t = np.linspace(-t_max, t_max, 41)
    losses = np.empty((directions, t.size))
    for d in range(directions):
        Delta = model.random_dictionary(n, n, rng).T
        losses[d] = [autoencoder.loss(W + s * Delta, Y, 0.0) for s in t]
    B = model.random_dictionary(n, 2 * n, rng)
    Xo = model.sample_codes(2 * n, 1, N, rng, 0.0, 1.0)
    return OrthogonalCheck(
        orthogonality_error=float(np.abs(A.T @ A - np.eye(n)).max()),
        smallest_code=float(X.min()),
        eps=0.0,
        loss_at_truth=autoencoder.loss(W, Y, 0.0),
        grad_norm_at_truth=float(np.linalg.norm(autoencoder.gradient(W, Y, 0.0))),
        t=t,
        losses=losses,
        overcomplete_loss=autoencoder.loss(B.T, B @ Xo, 0.0),
    )


def orthogonal_remark_failures(result: OrthogonalCheck) -> list[str]:
    r"""The hypotheses of the remark of Sec. 3.2 that ``result`` does not satisfy, in words (empty: all are met).

    The remark asks a square orthogonal :math:`A^*` (here :math:`\max|A^{*\top}A^* - I| \le 10^{-12}`),
    codes :math:`x^*\ge 0` and the bias :math:`\epsilon = 0`.
    """
    check.of_type(result, "result", OrthogonalCheck)
    conditions = {"A* orthogonal": result.orthogonality_error <= 1e-12, "x* ≥ 0": result.smallest_code >= 0.0,
                  "ε = 0": result.eps == 0.0}
    return [name for name, holds in conditions.items() if not holds]


def orthogonal_minimum_holds(result: OrthogonalCheck, *, zero: float = 1e-20, gradient: float = 1e-9,
                             rise: float = 1e-4, away: float = 0.05) -> bool:
    r"""The remark's conclusion: :math:`W = A^{*\top}` is a global minimum, with loss 0.

    Holds when the loss at :math:`A^{*\top}` is below ``zero`` and the gradient's norm below
    ``gradient`` (rounding), the loss along every direction is never below its value at
    :math:`t = 0`, and it exceeds ``rise`` wherever :math:`|t| >` ``away`` (a strict minimum along
    each direction, not a flat one).
    """
    check.of_type(result, "result", OrthogonalCheck)
    zero = check.real(zero, "zero", minimum=0.0, strict_min=True)
    gradient = check.real(gradient, "gradient", minimum=0.0, strict_min=True)
    rise = check.real(rise, "rise", minimum=0.0, strict_min=True)
    away = check.real(away, "away", minimum=0.0, strict_min=True)
    far = np.abs(result.t) > away
    return bool(result.loss_at_truth < zero and result.grad_norm_at_truth < gradient and far.any()
                and np.all(result.losses >= result.loss_at_truth) and np.all(result.losses[:, far] > rise))
