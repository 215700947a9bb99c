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
from typing import Callable, Iterator, TypeVar, Union

import numpy as np
from scipy import sparse
from tqdm import tqdm  # text bars on stderr: an executed notebook stores no widget state

from lib import _validate as check
from lib import autoencoder, estimators, protocols
from lib import model as _model
from lib.protocols import Polish, Resample
from lib.recovery import Recovery, align, column_distances, recovery

__all__ = [
    "GradientDescent",
    "RMSProp",
    "Adam",
    "make_optimizer",
    "BiasRamp",
    "Batch",
    "draw_batch",
    "batches",
    "History",
    "TrainingResult",
    "train",
    "run_loop",
    "Clock",
    "OPTIMIZERS",
]

T = TypeVar("T")
Bias = Union[float, np.ndarray, Callable[[int], Union[float, np.ndarray]]]


# --------------------------------------------------------------------------- optimizers
@dataclass
class GradientDescent:
    r"""Plain gradient descent: the step is :math:`\eta\, g`."""

    lr: float

    def __post_init__(self) -> None:
        check.real(self.lr, "lr", minimum=0.0, strict_min=True)

    def __call__(self, grad: np.ndarray) -> np.ndarray:
        return self.lr * _gradient(grad, None)

    def reset(self, rows: np.ndarray, axis: int = 0) -> None:
        """Forget the state of ``rows`` (re-initialised units; ``axis=1``: columns): plain gradient descent has none."""
        _rows(rows, axis, None)


def _gradient(grad: np.ndarray, state: np.ndarray | None) -> np.ndarray:
    """Check an optimizer's gradient: a real 1-d or 2-d array of the state's shape.

    Non-finite entries pass: a diverging run is reported by :func:`train` with its step.
    """
    return check.real_array(grad, "grad", ndim=(1, 2), finite=False, shape=None if state is None else state.shape,
                            match="the optimizer state")


def _rows(rows: np.ndarray, axis: int, state: np.ndarray | None) -> np.ndarray:
    """Check :meth:`reset`'s arguments: ``axis`` 0 or 1 and indices along that axis of the state."""
    axis = check.integer(axis, "axis", minimum=0, maximum=1)
    size = None if state is None or state.ndim <= axis else state.shape[axis]
    return check.indices(rows, "rows", size)


def _typical_rows(state: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The mean of the rows of ``state`` outside ``rows`` (a neutral second moment for re-initialised units)."""
    keep = np.ones(state.shape[0], dtype=bool)
    keep[rows] = False
    return state[keep].mean(axis=0) if keep.any() else state.mean(axis=0)


@dataclass
class RMSProp:
    r"""RMSProp :cite:p:`tieleman2012rmsprop`: :math:`v \leftarrow \rho v + (1-\rho) g^2`, step :math:`\eta\, g/(\sqrt v + \varepsilon)`."""

    lr: float
    rho: float = 0.9
    tiny: float = 1e-8
    _v: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        check.real(self.lr, "lr", minimum=0.0, strict_min=True)
        check.real(self.rho, "rho", minimum=0.0, maximum=1.0, strict_max=True)
        check.real(self.tiny, "tiny", minimum=0.0, strict_min=True)

    def __call__(self, grad: np.ndarray) -> np.ndarray:
        grad = _gradient(grad, self._v)
        self._v = (1 - self.rho) * grad**2 if self._v is None else self.rho * self._v + (1 - self.rho) * grad**2
        return self.lr * grad / (np.sqrt(self._v) + self.tiny)

    def reset(self, rows: np.ndarray, axis: int = 0) -> None:
        """Give ``rows`` (re-initialised units; ``axis=1``: columns) the mean second moment of the other rows."""
        rows = _rows(rows, axis, self._v)
        if self._v is not None:
            v = self._v if axis == 0 else self._v.T
            v[rows] = _typical_rows(v, rows)


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

    def __post_init__(self) -> None:
        check.real(self.lr, "lr", minimum=0.0, strict_min=True)
        check.real(self.beta1, "beta1", minimum=0.0, maximum=1.0, strict_max=True)
        check.real(self.beta2, "beta2", minimum=0.0, maximum=1.0, strict_max=True)
        check.real(self.tiny, "tiny", minimum=0.0, strict_min=True)

    def __call__(self, grad: np.ndarray) -> np.ndarray:
        grad = _gradient(grad, self._m)
        self._t += 1
        self._m = (1 - self.beta1) * grad if self._m is None else self.beta1 * self._m + (1 - self.beta1) * grad
        self._v = (1 - self.beta2) * grad**2 if self._v is None else self.beta2 * self._v + (1 - self.beta2) * grad**2
        m_hat = self._m / (1 - self.beta1**self._t)
        v_hat = self._v / (1 - self.beta2**self._t)
        return self.lr * m_hat / (np.sqrt(v_hat) + self.tiny)

    def reset(self, rows: np.ndarray, axis: int = 0) -> None:
        """Zero the first moment of ``rows`` (re-initialised units; ``axis=1``: columns), give them the others' mean second moment."""
        rows = _rows(rows, axis, self._m)
        if self._m is not None:
            m, v = (self._m, self._v) if axis == 0 else (self._m.T, self._v.T)
            m[rows] = 0.0
            v[rows] = _typical_rows(v, rows)


OPTIMIZERS = {"gd": GradientDescent, "rmsprop": RMSProp, "adam": Adam}


def make_optimizer(name: str, lr: float) -> GradientDescent | RMSProp | Adam:
    """A fresh optimizer state: ``name`` in ``{"gd", "rmsprop", "adam"}``, learning rate ``lr > 0``."""
    if not isinstance(name, str) or name not in OPTIMIZERS:
        raise (ValueError if isinstance(name, str) else TypeError)(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {name!r}")
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
        t = check.integer(t, "t", minimum=0)
        return self.start + (self.end - self.start) * min(t / self.steps, 1.0)


def _bias_at(eps: Bias, t: int, h: int) -> np.ndarray:
    """The bias of step ``t`` as an ``(h,)`` array (a callable is a schedule)."""
    return check.bias(eps(t) if callable(eps) else eps, h)[:, 0]


# --------------------------------------------------------------------------- data
@dataclass(frozen=True)
class Batch:
    r"""Signals :math:`y_s = A^* x^*_s` kept with their sparse codes (one row per sample, for fast products).

    Attributes
    ----------
    codes : scipy.sparse.csr_array
        :math:`X^{*\top}`, shape ``(N, h)``, ``k`` nonzeros per row.
    signals : numpy.ndarray
        :math:`Y^\top = X^{*\top}A^{*\top}`, shape ``(N, n)``.
    """

    codes: sparse.csr_array
    signals: np.ndarray

    def __post_init__(self) -> None:
        if not isinstance(self.codes, sparse.csr_array):
            raise TypeError(f"codes must be a scipy.sparse.csr_array, got {type(self.codes).__name__}")
        check.matrix(self.signals, "signals", shape=(self.codes.shape[0], None), match="codes")

    @property
    def Y(self) -> np.ndarray:
        """The signals in the book's layout, ``(n, N)``."""
        return self.signals.T

    @property
    def size(self) -> int:
        """Number of samples ``N``."""
        return self.signals.shape[0]

    def rows(self, index: np.ndarray) -> "Batch":
        """The samples ``index`` (a mini-batch of a fixed training set)."""
        index = check.indices(index, "index", self.size)
        return Batch(self.codes[index], self.signals[index])


def draw_batch(model: _model.SparseCodingModel, N: int, rng: np.random.Generator) -> Batch:
    r"""Draw ``N`` samples of ``model`` as a :class:`Batch`.

    Same distribution as :meth:`lib.model.SparseCodingModel.sample`; the signals are formed from
    the ``k`` nonzeros of each code, :math:`y = \sum_{j\in S} x_j A^*_j`, never from a dense
    ``(n, h) @ (h, N)`` product.
    """
    check.of_type(model, "model", _model.SparseCodingModel)
    N = check.integer(N, "N", minimum=1)
    check.allocation("N", 8.0 * N * (2 * model.k + model.n))
    support, values = _model.sample_sparse_codes(model.h, model.k, N, rng, model.low, model.high)
    indptr = np.arange(0, support.size + 1, model.k)
    codes = sparse.csr_array((values.ravel(), support.ravel(), indptr), shape=(support.shape[0], model.h))
    return Batch(codes, np.asarray(codes @ model.A.T))


def _batch_gradient(W: np.ndarray, A: np.ndarray, batch: Batch, eps: np.ndarray) -> np.ndarray:
    """The exact mean gradient on ``batch`` by :func:`lib.estimators.structured_gradient`'s direct path (its codes and signals)."""
    support = batch.codes.indices.reshape(batch.size, -1)
    values = batch.codes.data.reshape(batch.size, -1)
    return estimators.structured_gradient(W, A, support, values, eps, signals=batch.signals, path="direct")


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
    norm : numpy.ndarray
        ``(C,)`` mean row norm :math:`\\frac1h\\sum_i\\|W_i\\|`; a positive bias lengthens the rows
        beyond 1 (:func:`lib.experiments.training.norm_fixed_point`).
    """

    steps: np.ndarray
    loss: np.ndarray
    distances: np.ndarray
    mcc: np.ndarray
    frac99: np.ndarray
    max_dist: np.ndarray
    support_rate: np.ndarray
    eps: np.ndarray
    norm: np.ndarray


@dataclass(frozen=True)
class TrainingResult:
    """The trained encoder ``W`` ``(h, n)``, its final :class:`~lib.recovery.Recovery`, the :class:`History`, and the wall
    (``seconds``) and CPU (``cpu_seconds``) time spent on updates (checkpoints excluded).

    ``main`` is the result of the main run alone when a polish phase followed
    (:class:`lib.protocols.Polish`), else ``None``.
    """

    W: np.ndarray
    recovery: Recovery
    history: History
    seconds: float
    cpu_seconds: float
    main: "TrainingResult | None" = None


def _checkpoint(A: np.ndarray, W: np.ndarray, eps: np.ndarray, Y: np.ndarray, X: np.ndarray) -> tuple:
    match = recovery(A, W)
    rows = match.assignment
    support = autoencoder.support_recovered(W[rows], Y, X, eps[rows])
    dist = column_distances(A, align(W, match))
    return (autoencoder.loss(W, Y, eps), dist, match.mcc, match.fraction(0.99), match.max_dist,
            float(np.mean(support)), float(np.mean(eps)), float(np.mean(np.linalg.norm(W, axis=1))))


def batches(model: _model.SparseCodingModel, steps: int, batch_size: int, data: Batch | None,
             rng: np.random.Generator) -> Iterator[Batch]:
    """Yield ``steps`` batches: fresh draws (``data`` None), or mini-batches (or the whole) of the fixed training set ``data``."""
    check.of_type(model, "model", _model.SparseCodingModel)
    steps = check.loop_count(steps, "steps")
    batch_size = check.integer(batch_size, "batch_size", minimum=1)
    if data is None:
        check.allocation("batch_size", 8.0 * batch_size * (2 * model.k + model.n))
    elif not isinstance(data, Batch):
        raise TypeError(f"data must be a lib.training.Batch or None, got {type(data).__name__}")
    return _batches(model, steps, batch_size, data, check.generator(rng))


def _batches(model: _model.SparseCodingModel, steps: int, batch_size: int, data: Batch | None,
             rng: np.random.Generator) -> Iterator[Batch]:
    """:func:`batches` after validation (a generator runs nothing until its first item is asked for)."""
    if data is None:
        for _ in range(steps):
            yield draw_batch(model, batch_size, rng)
        return
    train_size = data.size
    if batch_size >= train_size:
        for _ in range(steps):
            yield data
        return
    per_epoch = train_size // batch_size
    for t in range(steps):
        if t % per_epoch == 0:
            order = rng.permutation(train_size)
        yield data.rows(order[(t % per_epoch) * batch_size:(t % per_epoch + 1) * batch_size])


@dataclass
class Clock:
    """Accumulates wall time and process CPU time over the ``with clock:`` blocks it times.

    On a shared machine the CPU time is the fairer cost: it does not grow with other users' load.
    """

    wall: float = 0.0
    cpu: float = 0.0

    def __enter__(self) -> "Clock":
        self._start = (time.perf_counter(), time.process_time())
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._start[0]
        self.cpu += time.process_time() - self._start[1]


def run_loop(
    step: Callable[[int], None], evaluate: Callable[[int], T], steps: int, every: int, desc: str, progress: bool
) -> tuple[np.ndarray, list[T], Clock]:
    """Call ``step(t)`` for ``t = 0..steps-1`` and ``evaluate(t)`` at the start and every ``every`` steps (and at the end).

    Returns the checkpoint step counts, the evaluations, and the wall and CPU time (all threads
    of the process) of the steps alone.
    """
    for name, func in (("step", step), ("evaluate", evaluate)):
        if not callable(func):
            raise TypeError(f"{name} must be callable, got {type(func).__name__}")
    steps = check.loop_count(steps, "steps")
    every = check.loop_count(every, "every")
    if not isinstance(desc, str):
        raise TypeError(f"desc must be a string, got {type(desc).__name__}")
    progress = check.flag(progress, "progress")
    marks, records, clock = [0], [evaluate(0)], Clock()
    for t in tqdm(range(steps), desc=desc, leave=False, disable=not progress):
        with clock:
            step(t)
        if (t + 1) % every == 0 or t + 1 == steps:
            marks.append(t + 1)
            records.append(evaluate(t + 1))
    return np.array(marks), records, clock


def _resample(W: np.ndarray, Y: np.ndarray, eps: np.ndarray, rule: Resample,
              update: GradientDescent | RMSProp | Adam) -> np.ndarray:
    """Re-initialise the silent and duplicate units of ``W`` on the probe signals ``Y`` (:mod:`lib.protocols`)."""
    seen = protocols.activity(W, Y, eps)
    silent = np.flatnonzero((seen.fired == 0) | (seen.fired < rule.rare * np.median(seen.fired)))
    extra = np.array([], dtype=int) if rule.duplicates is None else protocols.duplicate_units(W, rule.duplicates, seen.fired * np.linalg.norm(W, axis=1))
    redo = np.union1d(silent, extra)[: Y.shape[1]]
    if redo.size == 0:
        return W
    update.reset(redo)
    busy = np.array([], dtype=int)
    if rule.split is not None:
        order = np.argsort(-seen.fired, kind="stable")
        busy = np.setdiff1d(order[seen.fired[order] > rule.split * np.median(seen.fired)], redo, assume_unique=True)
        busy = order[np.isin(order, busy)][: redo.size]
        update.reset(busy)
        W = protocols.split_units(W, np.column_stack([busy, redo[: busy.size]]), seen)
    return protocols.resample_units(W, redo[busy.size:], seen.residuals)


def train(
    model: _model.SparseCodingModel,
    W0: np.ndarray,
    eps: Bias,
    rng: np.random.Generator,
    *,
    steps: int = 300,
    lr: float = 1e-3,
    lr_end: float | None = None,
    decay_from: float = 0.0,
    optimizer: str = "rmsprop",
    batch_size: int = 1024,
    train_size: int | None = None,
    train_set: Batch | None = None,
    evaluate_every: int | None = None,
    eval_set: Batch | None = None,
    structured: bool = True,
    resample: Resample | None = None,
    row_norm: float | None = None,
    polish: Polish | None = None,
    progress: bool = True,
) -> TrainingResult:
    r"""Run gradient descent on the autoencoder's exact gradient from ``W0`` (module docstring).

    Parameters
    ----------
    model : lib.model.SparseCodingModel
        The generative model (:math:`A^*`, :math:`k`, value range).
    W0 : numpy.ndarray
        Starting encoder, shape ``(m, n)`` with ``m >= h`` units (``m > h``: a wider hidden layer,
        :func:`lib.protocols.widen`; the metric matches ``h`` of its rows to the atoms).
    eps : float, numpy.ndarray or callable
        Bias: a scalar, an ``(m,)`` vector, or a schedule ``t -> eps`` such as :class:`BiasRamp`
        (start low so that units fire, then raise it towards the support-recovery regime).
    rng : numpy.random.Generator
        Source of the training samples (and of the held-out set when ``eval_set`` is None).
    steps : int
        Number of updates.
    lr : float
        Learning rate of the optimizer (at the first step).
    lr_end : float or None
        Learning rate at the last step: the rate decays geometrically from ``lr`` to ``lr_end``
        (``None``: constant ``lr``).  A decaying rate lets the stochastic updates settle instead of
        jittering at a noise floor set by ``lr``.
    decay_from : float
        Fraction of the run spent at the constant rate ``lr`` before the decay starts, in ``[0, 1)``.
    optimizer : str
        ``"gd"``, ``"rmsprop"`` or ``"adam"``.
    batch_size : int
        Samples per update.
    train_size : int or None
        ``None``: fresh samples at every step.  Otherwise a fixed training set of this size, cycled
        in shuffled mini-batches of ``batch_size`` (full-batch gradient descent when
        ``batch_size >= train_size``).
    train_set : Batch or None
        A given fixed training set, used instead of drawing ``train_size`` samples (nested sets
        for a search over :math:`N`).
    evaluate_every : int or None
        Checkpoint period (default: 20 checkpoints over the run).
    eval_set : Batch or None
        Held-out samples for the checkpoints (default: 2048 fresh samples).
    structured : bool
        Compute the exact gradient by :func:`lib.estimators.structured_gradient` (fast); ``False`` calls
        :func:`lib.autoencoder.gradient` on the dense signals (same values, slower).
    resample : lib.protocols.Resample or None
        Re-initialise silent and duplicate units along the residuals of the worst-reconstructed
        samples of a probe set drawn like the training batches (:mod:`lib.protocols`); ``None``: never.
    row_norm : float or None
        Keep every row at this length: the gradient's component along each row is removed before
        the optimizer step and the rows are rescaled after it (``None``: no control).
    polish : lib.protocols.Polish or None
        After the ``steps`` updates, ``polish.steps`` more at the bias ``polish.bias_factor`` times the
        last bias, with a fresh optimizer at the constant rate ``polish.learning_rate``, on the same
        data stream (no resampling); the history continues with its checkpoints (``None``: no polish).
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    TrainingResult
    """
    rng = check.generator(rng)
    check.of_type(model, "model", _model.SparseCodingModel)
    A = model.A
    W = check.matrix(W0, "W0", shape=(None, model.n)).copy()
    units = check.integer(W.shape[0], "W0 rows", minimum=model.h)
    steps = check.loop_count(steps, "steps")
    batch_size = check.integer(batch_size, "batch_size", minimum=1)
    check.allocation("batch_size", 8.0 * batch_size * (2 * model.k + model.n + 2 * units))
    if train_size is not None:
        train_size = check.integer(train_size, "train_size", minimum=1)
        check.allocation("train_size", 8.0 * train_size * (2 * model.k + model.n))
    structured, progress = check.flag(structured, "structured"), check.flag(progress, "progress")
    if eval_set is not None and not isinstance(eval_set, Batch):
        raise TypeError(f"eval_set must be a lib.training.Batch or None, got {type(eval_set).__name__}")
    if evaluate_every is not None:  # 0, like None, means the default
        check.integer(evaluate_every, "evaluate_every", minimum=0)
    every = check.integer(evaluate_every or max(steps // 20, 1), "evaluate_every", minimum=1)
    if resample is not None and not isinstance(resample, Resample):
        raise TypeError(f"resample must be a lib.protocols.Resample or None, got {type(resample).__name__}")
    if row_norm is not None:
        row_norm = check.real(row_norm, "row_norm", minimum=0.0, strict_min=True)
    if polish is not None and not isinstance(polish, Polish):
        raise TypeError(f"polish must be a lib.protocols.Polish or None, got {type(polish).__name__}")
    _bias_at(eps, 0, units)  # validate the bias (or the schedule's first value) up front
    update = make_optimizer(optimizer, lr)
    if train_set is not None and not isinstance(train_set, Batch):
        raise TypeError(f"train_set must be a lib.training.Batch or None, got {type(train_set).__name__}")
    hold = int(check.real(decay_from, "decay_from", minimum=0.0, maximum=1.0, strict_max=True) * steps)
    decay = 1.0 if lr_end is None else (check.real(lr_end, "lr_end", minimum=0.0, strict_min=True) / lr) ** (1 / max(steps - 1 - hold, 1))
    data = eval_set if eval_set is not None else draw_batch(model, 2048, rng)
    Y_eval, X_eval = data.Y, data.codes.T.toarray()
    fixed = train_set if train_set is not None or train_size is None else draw_batch(model, train_size, rng)
    stream = batches(model, steps, batch_size, fixed, rng)

    def probe(size: int) -> Batch:
        if fixed is None:
            return draw_batch(model, size, rng)
        return fixed.rows(rng.choice(fixed.size, min(size, fixed.size), replace=False))

    def step(t: int) -> None:
        nonlocal W
        batch, e = next(stream), _bias_at(eps, t, units)
        update.lr = lr * decay ** max(t - hold, 0)
        square = structured and W.shape[0] == model.h  # the structured estimator pairs units with atoms; a wider layer takes the dense formula
        grad = _batch_gradient(W, A, batch, e) if square else autoencoder.gradient(W, batch.Y, e)
        if row_norm is not None:  # a step on the sphere: drop the radial part before the optimizer sees it
            grad -= W * (np.sum(grad * W, axis=1) / np.sum(W * W, axis=1))[:, None]
        W = W - update(grad)
        if row_norm is not None:
            W *= row_norm / np.maximum(np.linalg.norm(W, axis=1, keepdims=True), 1e-12)
        if resample is not None and resample.due(t, steps):
            W = _resample(W, probe(resample.probe).Y, e, resample, update)
        if not np.all(np.isfinite(W)):
            raise FloatingPointError(f"training diverged at step {t} (W is not finite); lower lr (now {update.lr:g})")

    marks, records, clock = run_loop(
        step, lambda t: _checkpoint(A, W, _bias_at(eps, t, units), Y_eval, X_eval), steps, every,
        f"{optimizer} training", progress,
    )
    columns = list(zip(*records))
    history = History(
        steps=marks, loss=np.array(columns[0]), distances=np.array(columns[1]),
        mcc=np.array(columns[2]), frac99=np.array(columns[3]), max_dist=np.array(columns[4]),
        support_rate=np.array(columns[5]), eps=np.array(columns[6]), norm=np.array(columns[7]),
    )
    result = TrainingResult(W=W, recovery=recovery(A, W), history=history, seconds=clock.wall, cpu_seconds=clock.cpu)
    return result if polish is None else _polished(result, model, polish.bias_factor * _bias_at(eps, steps, units), rng,
                                                   polish, optimizer=optimizer, batch_size=batch_size, train_set=fixed,
                                                   eval_set=data, structured=structured, row_norm=row_norm, progress=progress)


def _polished(main: TrainingResult, model: _model.SparseCodingModel, eps: np.ndarray, rng: np.random.Generator,
              polish: Polish, **options: object) -> TrainingResult:
    """Continue ``main`` for ``polish.steps`` updates at the bias ``eps`` (:class:`lib.protocols.Polish`); one joined history."""
    tail = train(model, main.W, eps, rng, steps=polish.steps, lr=polish.learning_rate,
                 evaluate_every=max(polish.steps // 4, 1), **options)
    offset = main.history.steps[-1]
    joined = {name: np.concatenate([getattr(main.history, name), getattr(tail.history, name)[1:]
                                    + (offset if name == "steps" else 0)])
              for name in History.__dataclass_fields__}
    return TrainingResult(W=tail.W, recovery=tail.recovery, history=History(**joined), seconds=main.seconds + tail.seconds,
                          cpu_seconds=main.cpu_seconds + tail.cpu_seconds, main=main)
