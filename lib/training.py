r"""Training the tied ReLU autoencoder by gradient descent on its exact gradient.

The paper proves that the expected gradient nearly vanishes near :math:`W = A^{*\top}` and leaves
open whether gradient descent started elsewhere gets there (its Conclusion).  :func:`train` runs
that experiment: at step :math:`t`,

.. math::

    W^{t+1} = W^t - \mathrm{step}\big(\nabla_W \hat L_{B_t}(W^t;\epsilon_t)\big),\qquad
    \nabla_W \hat L_{B}(W;\epsilon) = \frac1{|B|}\sum_{y\in B}
    \Big[r e^\top + \big(\mathbb 1[Wy-\epsilon>0]\odot We\big)y^\top\Big]

(:func:`lib.autoencoder.gradient`, exact, no autodiff), where the batch :math:`B_t` is either a
fresh draw from the model, a mini-batch of a fixed training set, or the whole set (full-batch
gradient descent), the bias :math:`\epsilon_t` is fixed or follows a schedule (:class:`BiasRamp`),
and ``step`` is plain gradient descent, RMSProp :cite:p:`tieleman2012rmsprop` or Adam.
Every ``evaluate_every`` steps it records, on a held-out set, the loss, the recovery metric of
:mod:`lib.recovery`, the column distances :math:`\|W_i - A^*_i\|` after matching, and the
exact-support-recovery rate of the ReLU layer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, TypeVar, Union

import numpy as np
from tqdm.auto import tqdm

from lib import _validate as check
from lib import autoencoder, model as _model
from lib.recovery import Recovery, align, column_distances, recovery

__all__ = [
    "GradientDescent",
    "RMSProp",
    "Adam",
    "make_optimizer",
    "BiasRamp",
    "sample_signals",
    "EvalSet",
    "History",
    "TrainingResult",
    "train",
    "run_loop",
    "OPTIMIZERS",
]

T = TypeVar("T")
Bias = Union[float, np.ndarray, Callable[[int], Union[float, np.ndarray]]]


# --------------------------------------------------------------------------- optimizers
@dataclass
class GradientDescent:
    r"""Plain gradient descent: the step is :math:`\eta\, g`."""

    lr: float

    def __call__(self, grad: np.ndarray) -> np.ndarray:
        return self.lr * grad


@dataclass
class RMSProp:
    r"""RMSProp :cite:p:`tieleman2012rmsprop`: :math:`v \leftarrow \rho v + (1-\rho) g^2`, step :math:`\eta\, g/(\sqrt v + \varepsilon)`."""

    lr: float
    rho: float = 0.9
    tiny: float = 1e-8
    _v: np.ndarray | None = field(default=None, repr=False)

    def __call__(self, grad: np.ndarray) -> np.ndarray:
        self._v = (1 - self.rho) * grad**2 if self._v is None else self.rho * self._v + (1 - self.rho) * grad**2
        return self.lr * grad / (np.sqrt(self._v) + self.tiny)


@dataclass
class Adam:
    r"""Adam: bias-corrected first and second moments, step :math:`\eta\,\hat m/(\sqrt{\hat v} + \varepsilon)`."""

    lr: float
    beta1: float = 0.9
    beta2: float = 0.999
    tiny: float = 1e-8
    _m: np.ndarray | None = field(default=None, repr=False)
    _v: np.ndarray | None = field(default=None, repr=False)
    _t: int = field(default=0, repr=False)

    def __call__(self, grad: np.ndarray) -> np.ndarray:
        self._t += 1
        self._m = (1 - self.beta1) * grad if self._m is None else self.beta1 * self._m + (1 - self.beta1) * grad
        self._v = (1 - self.beta2) * grad**2 if self._v is None else self.beta2 * self._v + (1 - self.beta2) * grad**2
        m_hat = self._m / (1 - self.beta1**self._t)
        v_hat = self._v / (1 - self.beta2**self._t)
        return self.lr * m_hat / (np.sqrt(v_hat) + self.tiny)


OPTIMIZERS = {"gd": GradientDescent, "rmsprop": RMSProp, "adam": Adam}


def make_optimizer(name: str, lr: float) -> GradientDescent | RMSProp | Adam:
    """A fresh optimizer state: ``name`` in ``{"gd", "rmsprop", "adam"}``, learning rate ``lr > 0``."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {name!r}")
    return OPTIMIZERS[name](check.real(lr, "lr", minimum=0.0, strict_min=True))


# --------------------------------------------------------------------------- bias
@dataclass(frozen=True)
class BiasRamp:
    r"""A scheduled bias: :math:`\epsilon_t` moves linearly from ``start`` to ``end`` over ``steps`` steps, then stays at ``end``."""

    start: float
    end: float
    steps: int

    def __post_init__(self) -> None:
        check.real(self.start, "start")
        check.real(self.end, "end")
        check.integer(self.steps, "steps", minimum=1)

    def __call__(self, t: int) -> float:
        return self.start + (self.end - self.start) * min(t / self.steps, 1.0)


def _bias_at(eps: Bias, t: int, h: int) -> np.ndarray:
    """The bias of step ``t`` as an ``(h,)`` array (a callable is a schedule)."""
    return check.bias(eps(t) if callable(eps) else eps, h)[:, 0]


# --------------------------------------------------------------------------- data
def sample_signals(
    A: np.ndarray, k: int, N: int, rng: np.random.Generator, low: float = 1.0, high: float = 2.0
) -> np.ndarray:
    r"""Draw ``N`` signals :math:`y = A^* x^*` directly from the sparse codes, shape ``(n, N)``.

    Same distribution as ``A @ model.sample_codes(h, k, N, rng, low, high)`` (and the same draw
    for the same ``rng`` state), but forms :math:`y = \sum_{j\in S} x_j A^*_j` from the ``k``
    nonzeros instead of a dense ``(n, h) @ (h, N)`` product.
    """
    A = check.matrix(A, "A")
    support, values = _model.sample_sparse_codes(A.shape[1], k, N, rng, low, high)
    return np.einsum("nsk,sk->ns", A[:, support], values)


@dataclass(frozen=True)
class EvalSet:
    """A held-out sample used to evaluate every method at checkpoints: codes ``X`` ``(h, N)``, signals ``Y`` ``(n, N)``."""

    X: np.ndarray
    Y: np.ndarray

    @classmethod
    def draw(cls, model: _model.SparseCodingModel, N: int, rng: np.random.Generator) -> "EvalSet":
        """``N`` fresh samples of ``model``."""
        X, Y = model.sample(check.integer(N, "N", minimum=1), check.generator(rng))
        return cls(X, Y)


# --------------------------------------------------------------------------- history
@dataclass(frozen=True)
class History:
    """What :func:`train` recorded at its checkpoints (index ``c`` = after ``steps[c]`` updates).

    Attributes
    ----------
    steps : numpy.ndarray
        ``(C,)`` update counts of the checkpoints (the first is 0, the start).
    loss : numpy.ndarray
        ``(C,)`` held-out loss :math:`\\hat L(W;\\epsilon_t)`.
    distances : numpy.ndarray
        ``(C, h)`` column distances :math:`\\|s_i W_{\\pi(i)} - A^*_i\\|` after Hungarian matching
        :math:`\\pi` and sign alignment :math:`s_i` (the theory's :math:`\\delta` per column).
    mcc, frac99, max_dist : numpy.ndarray
        ``(C,)`` the recovery metric of :mod:`lib.recovery`.
    support_rate : numpy.ndarray
        ``(C,)`` share of held-out samples whose support the ReLU layer recovers exactly (units
        relabelled by the matching).
    eps : numpy.ndarray
        ``(C,)`` mean bias in use.
    """

    steps: np.ndarray
    loss: np.ndarray
    distances: np.ndarray
    mcc: np.ndarray
    frac99: np.ndarray
    max_dist: np.ndarray
    support_rate: np.ndarray
    eps: np.ndarray


@dataclass(frozen=True)
class TrainingResult:
    """The trained encoder ``W`` ``(h, n)``, its final :class:`~lib.recovery.Recovery`, the :class:`History`, and ``seconds`` of wall time spent on updates (checkpoints excluded)."""

    W: np.ndarray
    recovery: Recovery
    history: History
    seconds: float


def _checkpoint(A: np.ndarray, W: np.ndarray, eps: np.ndarray, data: EvalSet) -> tuple:
    match = recovery(A, W)
    rows = match.assignment
    support = autoencoder.support_recovered(W[rows], data.Y, data.X, eps[rows])
    dist = column_distances(A, align(W, match))
    return (autoencoder.loss(W, data.Y, eps), dist, match.mcc, match.fraction(0.99), match.max_dist,
            float(np.mean(support)), float(np.mean(eps)))


def _batches(model: _model.SparseCodingModel, steps: int, batch_size: int, train_size: int | None,
             rng: np.random.Generator):
    """Yield ``steps`` signal batches: fresh draws, or mini-batches (or the whole) of a fixed set."""
    if train_size is None:
        for _ in range(steps):
            yield sample_signals(model.A, model.k, batch_size, rng, model.low, model.high)
        return
    Y = sample_signals(model.A, model.k, train_size, rng, model.low, model.high)
    if batch_size >= train_size:
        for _ in range(steps):
            yield Y
        return
    per_epoch = train_size // batch_size
    for t in range(steps):
        if t % per_epoch == 0:
            order = rng.permutation(train_size)
        chunk = order[(t % per_epoch) * batch_size:(t % per_epoch + 1) * batch_size]
        yield Y[:, chunk]


def run_loop(
    step: Callable[[int], None], evaluate: Callable[[int], T], steps: int, every: int, desc: str, progress: bool
) -> tuple[np.ndarray, list[T], float]:
    """Call ``step(t)`` for ``t = 0..steps-1`` and ``evaluate(t)`` at the start and every ``every`` steps (and at the end).

    Returns the checkpoint step counts, the evaluations, and the wall time of the steps alone.
    """
    marks, records, seconds = [0], [evaluate(0)], 0.0
    for t in tqdm(range(steps), desc=desc, leave=False, disable=not progress):
        start = time.perf_counter()
        step(t)
        seconds += time.perf_counter() - start
        if (t + 1) % every == 0 or t + 1 == steps:
            marks.append(t + 1)
            records.append(evaluate(t + 1))
    return np.array(marks), records, seconds


def train(
    model: _model.SparseCodingModel,
    W0: np.ndarray,
    eps: Bias,
    rng: np.random.Generator,
    *,
    steps: int = 300,
    lr: float = 1e-3,
    optimizer: str = "rmsprop",
    batch_size: int = 1024,
    train_size: int | None = None,
    evaluate_every: int | None = None,
    eval_set: EvalSet | None = None,
    gradient: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] = autoencoder.gradient,
    progress: bool = True,
) -> TrainingResult:
    r"""Run gradient descent on the autoencoder's exact gradient from ``W0`` (module docstring).

    Parameters
    ----------
    model : lib.model.SparseCodingModel
        The generative model (:math:`A^*`, :math:`k`, value range).
    W0 : numpy.ndarray
        Starting encoder, shape ``(h, n)``.
    eps : float, numpy.ndarray or callable
        Bias: a scalar, an ``(h,)`` vector, or a schedule ``t -> eps`` such as :class:`BiasRamp`.
    rng : numpy.random.Generator
        Source of the training samples (and of the held-out set when ``eval_set`` is None).
    steps : int
        Number of updates.
    lr : float
        Learning rate of the optimizer.
    optimizer : str
        ``"gd"``, ``"rmsprop"`` or ``"adam"``.
    batch_size : int
        Samples per update.
    train_size : int or None
        ``None``: fresh samples at every step.  Otherwise a fixed training set of this size, cycled
        in shuffled mini-batches of ``batch_size`` (full-batch gradient descent when
        ``batch_size >= train_size``).
    evaluate_every : int or None
        Checkpoint period (default: 20 checkpoints over the run).
    eval_set : EvalSet or None
        Held-out samples for the checkpoints (default: 2048 fresh samples).
    gradient : callable
        ``gradient(W, Y, eps) -> (h, n)``, the mean gradient on a batch; default the exact
        :func:`lib.autoencoder.gradient` (a faster exact estimator can be passed instead).
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    TrainingResult
    """
    rng = check.generator(rng)
    A = model.A
    W = check.matrix(W0, "W0", shape=(model.h, model.n)).copy()
    steps = check.integer(steps, "steps", minimum=1)
    batch_size = check.integer(batch_size, "batch_size", minimum=1)
    if train_size is not None:
        train_size = check.integer(train_size, "train_size", minimum=1)
    every = check.integer(evaluate_every or max(steps // 20, 1), "evaluate_every", minimum=1)
    _bias_at(eps, 0, model.h)  # validate the bias (or the schedule's first value) up front
    update = make_optimizer(optimizer, lr)
    data = eval_set if eval_set is not None else EvalSet.draw(model, 2048, rng)
    batches = _batches(model, steps, batch_size, train_size, rng)

    def step(t: int) -> None:
        nonlocal W
        W = W - update(gradient(W, next(batches), _bias_at(eps, t, model.h)))

    marks, records, seconds = run_loop(
        step, lambda t: _checkpoint(A, W, _bias_at(eps, t, model.h), data), steps, every, f"{optimizer} training", progress
    )
    columns = list(zip(*records))
    history = History(
        steps=marks, loss=np.array(columns[0]), distances=np.array(columns[1]),
        mcc=np.array(columns[2]), frac99=np.array(columns[3]), max_dist=np.array(columns[4]),
        support_rate=np.array(columns[5]), eps=np.array(columns[6]),
    )
    return TrainingResult(W=W, recovery=recovery(A, W), history=history, seconds=seconds)
