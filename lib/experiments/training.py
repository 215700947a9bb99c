r"""Experiments of the chapter "Does gradient descent find the dictionary?" (the paper's Conclusion).

The paper shows that the expected gradient nearly vanishes near :math:`A^*` and leaves open whether
gradient descent started away from :math:`A^*` gets there.  These experiments train the tied ReLU
autoencoder by :func:`lib.training.train` from starts at column distance :math:`\delta_0` and from
random starts, and run three established dictionary learners (:mod:`lib.baselines`) on the same
data, from the same starts, scored by the same metric (:mod:`lib.recovery`).

Sizes come from ``lib.scale.sizes("training")``; every function takes a ``numpy.random.Generator``.
The sweeps (:func:`compare`, :func:`bias_sweep`, :func:`sample_sweep`, :func:`far_start`) run one
task per training run through :func:`lib.execution.map_tasks`: serial by default, on Dask workers
when configured.  Each task rebuilds the draws its runs share (:math:`A^*`, the starts, the
held-out set, the data seed) from the state of the caller's generator where the serial loop drew
them (:func:`lib.execution.generator_state`, part of the task's identity), so every backend gives
the numbers of that loop to the last bit, and the caller's generator ends where the loop left it.
All experiments run with one BLAS thread: their matrix products are small (at most
:math:`512\times256\times512`) and, on a shared 2-core machine, OpenBLAS threads that spin while
waiting for a core cost more CPU time than they save (measured: 10 ms against 31 ms per step).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from lib import _validate as check
from lib import autoencoder, baselines, execution, training
from lib import model as _model
from lib.recovery import recovery
from lib.theory import support as _support

__all__ = [
    "Tier",
    "init_name",
    "starts",
    "theory_bias",
    "norm_fixed_point",
    "Run",
    "Comparison",
    "compare",
    "results_table",
    "format_table",
    "FarStart",
    "far_start",
    "BiasSweep",
    "bias_sweep",
    "SampleSweep",
    "sample_sweep",
    "near_starts_recover",
    "ramp_gets_both",
]

RANDOM = "random"
# Step sizes, each picked from three values on one seed of the 256×512 tier at the paper-scale budget
# (autoencoder RMSProp rate 1e-3 / 3e-3 / 5e-3 and its decay; Arora et al. target 0.01 / 0.03;
# TopK Adam 1e-3 / 3e-3 / 1e-2); full-batch GD diverged at rate 30 and was stable at 5-15.
LR, LR_END, DECAY_FROM = 5e-3, 2e-4, 0.5
ARORA_TARGET = 0.03
TOPK_LR = 3e-3
GD_LR = 10.0
METHODS = ("tied ReLU AE (ours)", "Arora et al. 2015", "TopK SAE", "sklearn MBDL")
METRICS = ("frac99", "mcc", "max_dist", "cpu_seconds")

# --------------------------------------------------------------------------- set-up
@dataclass(frozen=True)
class Tier:
    r"""One problem size: :math:`A^*\in\mathbb R^{n\times h}`, supports of size ``k``, and the autoencoder's bias ``eps``."""

    n: int
    h: int
    k: int
    eps: float

    def __post_init__(self) -> None:
        check.integer(self.h, "h", minimum=3)
        check.integer(self.n, "n", minimum=2, maximum=self.h - 1)
        check.integer(self.k, "k", minimum=2, maximum=self.h // 2)  # k = 1 would be p = log k / log h = 0
        check.real(self.eps, "eps")

    @classmethod
    def of(cls, spec: Mapping[str, Any]) -> "Tier":
        """A tier from a sizes entry ``{"n": ..., "h": ..., "k": ..., "eps": ...}``."""
        check.of_type(spec, "spec", Mapping)
        missing = sorted({"n", "h", "k", "eps"} - set(spec))
        if missing:
            raise ValueError(f"spec lacks the keys {missing}")
        return cls(int(spec["n"]), int(spec["h"]), int(spec["k"]), float(spec["eps"]))

    @property
    def name(self) -> str:
        """``"n×h, k=..."``."""
        return f"{self.n}×{self.h}, k={self.k}"

    @property
    def p(self) -> float:
        r"""The sparsity exponent with :math:`h^p = k` exactly."""
        return float(np.log(self.k) / np.log(self.h))

    def model(self, rng: np.random.Generator) -> _model.SparseCodingModel:
        """A fresh Gaussian dictionary with nonzeros ``U[1, 2]`` (the generator of the training chapter's comparison)."""
        check.generator(rng)
        return _model.SparseCodingModel.gaussian(self.n, self.h, self.p, rng)


def init_name(delta: float | None) -> str:
    """Label of a start: ``"δ0=0.3"`` or ``"random"`` (``delta=None``)."""
    if delta is not None:
        check.real(delta, "delta", minimum=0.0)
    return RANDOM if delta is None else f"δ0={delta:g}"


def starts(model: _model.SparseCodingModel, deltas: Sequence[float], rng: np.random.Generator) -> dict[str, np.ndarray]:
    r"""Starting encoders ``(h, n)``: rows at distance exactly :math:`\delta_0` from the columns of :math:`A^*`
    (:func:`lib.model.perturb_columns`), then random unit rows."""
    check.of_type(model, "model", _model.SparseCodingModel)
    if not (isinstance(deltas, Sequence) and not isinstance(deltas, str) and len(deltas) == 0):  # none: random only
        check.real_sequence(deltas, "deltas", minimum=0.0)
    check.generator(rng)
    out = {init_name(d): _model.perturb_columns(model.A, d, rng) for d in deltas}
    out[RANDOM] = _model.random_dictionary(model.n, model.h, rng).T
    return out


def theory_bias(model: _model.SparseCodingModel, delta: float) -> float:
    r"""The bias of Theorem 3.1 as reconstructed in appendix §3.1: :math:`\epsilon = 2m_1h^p(\delta + \mu)` (with :math:`h^p = k`)."""
    check.of_type(model, "model", _model.SparseCodingModel)
    return 2.0 * model.m1 * model.k * (check.real(delta, "delta", minimum=0.0) + model.mu)


def norm_fixed_point(model: _model.SparseCodingModel, eps: float) -> float:
    r"""The scale :math:`c^*` at which :math:`W = c^*A^{*\top}` is stationary along the rows for the expected proxy gradient.

    Solves :math:`\frac1h\sum_i\langle \mathbb E\widetilde\nabla_{W_i}L(cA^{*\top}),\,A^*_i\rangle = 0`
    for :math:`c` (Brent's method on :math:`[0.5, 3]`), with the exact expectation
    :func:`lib.autoencoder.expected_proxy_gradient`.  At :math:`c = 1` the projection is
    :math:`\approx q\,\epsilon(\epsilon - 2m_1) < 0` (appendix §6.2), so gradient descent lengthens the
    rows until the bias is compensated: a trained autoencoder with a fixed bias points along
    :math:`A^*` but has rows of norm about :math:`c^* > 1`.
    """
    check.of_type(model, "model", _model.SparseCodingModel)
    eps = check.real(eps, "eps", minimum=0.0)

    def along_rows(c: float) -> float:
        G = autoencoder.expected_proxy_gradient(c * model.A.T, model.A, model.k, eps, model.m1, model.m2)
        return float(np.mean(np.sum(G * model.A.T, axis=1)))

    return float(brentq(along_rows, 0.5, 3.0))


@dataclass(frozen=True)
class _Instance:
    """The draws every run of one seed shares: :math:`A^*`, the starts, the held-out set, the seed of the batches."""

    model: _model.SparseCodingModel
    starts: dict[str, np.ndarray]
    eval_set: training.Batch
    data_seed: int


def _instance(tier: Tier, rng: np.random.Generator, deltas: Sequence[float], eval_size: int, *,
              starts_first: bool) -> _Instance:
    """Draw an :class:`_Instance` from ``rng`` in the order each experiment has always drawn it (``compare``: starts last)."""
    model = tier.model(rng)
    if starts_first:
        drawn = starts(model, deltas, rng)
    eval_set = training.draw_batch(model, eval_size, rng)
    data_seed = int(rng.integers(2**63))
    if not starts_first:
        drawn = starts(model, deltas, rng)
    return _Instance(model, drawn, eval_set, data_seed)


# --------------------------------------------------------------------------- the comparison
@dataclass(frozen=True)
class Run:
    """One fit: which method, start and seed, the final metric, the cost, and the mean matched |cos| at checkpoints.

    ``dead`` counts hidden units (autoencoders) that never fire on the held-out set; 0 for the
    dictionary learners.
    """

    tier: str
    method: str
    init: str
    seed: int
    mcc: float
    frac99: float
    frac95: float
    max_dist: float
    mmcs: float
    seconds: float
    cpu_seconds: float
    dead: int
    trace_steps: np.ndarray
    trace_mcc: np.ndarray

    @classmethod
    def of(cls, tier: str, method: str, init: str, seed: int, fit: baselines.Fit | training.TrainingResult) -> "Run":
        """Summarise a :class:`~lib.baselines.Fit` or a :class:`~lib.training.TrainingResult`."""
        for name, label in (("tier", tier), ("method", method), ("init", init)):
            check.text(label, name)
        seed = check.integer(seed, "seed", minimum=0)
        check.of_type(fit, "fit", (baselines.Fit, training.TrainingResult))
        rec = fit.recovery
        if isinstance(fit, training.TrainingResult):
            steps, trace, dead = fit.history.steps, fit.history.mcc, 0
        else:
            steps, trace, dead = fit.trace_steps, fit.trace_mcc, fit.dead
        return cls(tier, method, init, seed, rec.mcc, rec.fraction(0.99), rec.fraction(0.95), rec.max_dist, rec.mmcs,
                   fit.seconds, fit.cpu_seconds, dead, steps, trace)


@dataclass(frozen=True)
class Comparison:
    """Every :class:`Run` of :func:`compare`, and the autoencoder's full histories keyed by ``(tier, init, seed)``."""

    runs: tuple[Run, ...]
    histories: Mapping[tuple[str, str, int], training.History]

    def frame(self) -> pd.DataFrame:
        """One row per run (traces dropped)."""
        rows = [{k: v for k, v in vars(r).items() if not k.startswith("trace")} for r in self.runs]
        return pd.DataFrame(rows)


@execution.one_blas_thread
def compare(
    tier: Tier, rng: np.random.Generator, *, seeds: int, deltas: Sequence[float], steps_near: int,
    steps_random: int, batch_size: int, sklearn_samples: int, sklearn_epochs: int, eval_size: int,
    lr: float = LR, lr_end: float = LR_END, decay_from: float = DECAY_FROM, arora_target: float = ARORA_TARGET,
    topk_lr: float = TOPK_LR, progress: bool = True,
) -> Comparison:
    r"""Train the autoencoder and the baselines from every start, for ``seeds`` independent dictionaries.

    Per seed: a fresh :math:`A^*`, the starts of :func:`starts`, a held-out set of ``eval_size``
    samples and one data seed, so that every streaming method sees the same batches.  Starts at
    :math:`\delta_0` get ``steps_near`` updates, random starts ``steps_random``; all neural methods
    use batches of ``batch_size`` fresh samples.  The autoencoder uses RMSProp with rate ``lr``,
    held for ``decay_from`` of the run and then decayed geometrically to ``lr_end``, and the bias
    ``tier.eps``; Arora et al. use :func:`lib.baselines.arora_step_size` with ``arora_target``; the
    TopK autoencoder uses Adam with ``topk_lr``.  scikit-learn (from the random start only: it is a
    global method) gets a fixed set of ``sklearn_samples`` signals, ``sklearn_epochs`` passes.
    One task of :func:`lib.execution.map_tasks` per seed × start × method; ``progress`` shows its bar.
    """
    _check_run(tier, rng, batch_size=batch_size, eval_size=eval_size, lr=lr, lr_end=lr_end, decay_from=decay_from,
               progress=progress, seeds=seeds, steps_near=steps_near, steps_random=steps_random, sklearn_epochs=sklearn_epochs)
    check.real_sequence(deltas, "deltas", minimum=0.0)
    check.integer(sklearn_samples, "sklearn_samples", minimum=1)
    _check_samples(tier, "sklearn_samples", sklearn_samples)
    check.real(arora_target, "arora_target", minimum=0.0, strict_min=True)
    check.real(topk_lr, "topk_lr", minimum=0.0, strict_min=True)
    seed_rngs = rng.spawn(check.integer(seeds, "seeds", minimum=1))
    options = {"lr": lr, "lr_end": lr_end, "decay_from": decay_from, "batch_size": batch_size, "eval_size": eval_size,
               "arora_target": arora_target, "topk_lr": topk_lr, "sklearn_samples": sklearn_samples,
               "sklearn_epochs": sklearn_epochs}
    tasks = [
        {"tier": asdict(tier), "seed": seed, "stream": execution.generator_state(child), "deltas": list(deltas),
         "init": init, "method": method, "steps": steps_random if init == RANDOM else steps_near, "options": options}
        for seed, child in enumerate(seed_rngs)
        for init in dict.fromkeys([init_name(d) for d in deltas] + [RANDOM])  # the keys of starts()
        for method in (METHODS if init == RANDOM else METHODS[:3])
    ]
    results = execution.map_tasks(_compare_task, tasks, seed=0, name=f"compare {tier.name}", progress=progress)
    histories = {(tier.name, task["init"], task["seed"]): history
                 for task, (_, history) in zip(tasks, results) if history is not None}
    return Comparison(tuple(run for run, _ in results), histories)


@execution.one_blas_thread
def _compare_task(_: np.random.Generator, *, tier: dict, seed: int, stream: dict, deltas: list[float], init: str,
                  method: str, steps: int, options: dict) -> tuple[Run, training.History | None]:
    """One run of :func:`compare`: ``method`` from start ``init`` of seed ``seed``, whose draws come from ``stream``.

    The first argument (the stream :mod:`lib.execution` derives) is not used: the seed's draws
    continue the caller's stream, recorded in ``stream``.  Returns the run and, for the
    autoencoder, its history.
    """
    spec = Tier(**tier)
    drawn = _instance(spec, execution.resume(stream), deltas, options["eval_size"], starts_first=False)
    model, W0, data = drawn.model, drawn.starts[init], np.random.default_rng(drawn.data_seed)
    batch_size = options["batch_size"]
    if method == METHODS[0]:
        ae = training.train(model, W0, spec.eps, data, steps=steps, lr=options["lr"], lr_end=options["lr_end"],
                            decay_from=options["decay_from"], batch_size=batch_size, eval_set=drawn.eval_set,
                            progress=False)
        dead = int(np.sum(~np.any(autoencoder.encode(ae.W, drawn.eval_set.Y, spec.eps) > 0, axis=1)))
        return replace(Run.of(spec.name, method, init, seed, ae), dead=dead), ae.history
    if method == METHODS[1]:
        fit = baselines.arora_neural(model, W0, data, steps=steps, batch_size=batch_size,
                                     lr=baselines.arora_step_size(model, options["arora_target"]), progress=False)
    elif method == METHODS[2]:
        fit = baselines.topk_autoencoder(model, W0, data, steps=steps, batch_size=batch_size, lr=options["topk_lr"],
                                         progress=False)
    else:
        Y = training.draw_batch(model, options["sklearn_samples"], data).Y
        fit = baselines.sklearn_dictionary(Y, model.A, W0, seed=seed, epochs=options["sklearn_epochs"])
    return Run.of(spec.name, method, init, seed, fit), None


def results_table(comparisons: Sequence[Comparison]) -> pd.DataFrame:
    """Median, min and max over seeds of every metric, per tier × method × start.

    Returns
    -------
    pandas.DataFrame
        Index ``(tier, method, init)``; columns ``(metric, stat)`` with metric in :data:`METRICS`
        plus ``"mmcs"``, ``"seconds"`` (wall) and ``"dead"``, stat in ``median, min, max``; and
        ``("seeds", "")``.
    """
    if isinstance(comparisons, (str, bytes)) or not isinstance(comparisons, Sequence):
        raise TypeError(f"comparisons must be a sequence of Comparison, got {type(comparisons).__name__}")
    if not comparisons:
        raise ValueError("comparisons must not be empty")
    for c in comparisons:
        check.of_type(c, "comparisons", Comparison)
    frame = pd.concat([c.frame() for c in comparisons], ignore_index=True)
    metrics = list(METRICS) + ["mmcs", "seconds", "dead"]
    grouped = frame.groupby(["tier", "method", "init"], sort=False)[metrics]
    table = grouped.agg(["median", "min", "max"])
    table[("seeds", "")] = grouped.size()
    return table


def format_table(table: pd.DataFrame, digits: Mapping[str, int] | None = None) -> pd.DataFrame:
    """The table as text: ``median [min, max]`` per metric, ready to display."""
    check.of_type(table, "table", pd.DataFrame)
    if digits is not None:
        check.of_type(digits, "digits", Mapping)
        for metric, d in digits.items():
            check.integer(d, "digits", minimum=0, maximum=20)
            if metric not in _NAMES:
                raise ValueError(f"digits: unknown metric {metric!r}, not one of {tuple(_NAMES)}")
    wanted = {(m, s) for m in {**_DIGITS, **(digits or {})} for s in ("median", "min", "max")}
    if not wanted <= set(table.columns):
        raise ValueError("table must be a results_table (columns (metric, median/min/max))")
    digits = {**_DIGITS, **(digits or {})}
    names = _NAMES
    out = pd.DataFrame(index=table.index)
    for metric, d in digits.items():
        med, lo, hi = (table[(metric, s)] for s in ("median", "min", "max"))
        out[names[metric]] = [f"{a:.{d}f} [{b:.{d}f}, {c:.{d}f}]" for a, b, c in zip(med, lo, hi)]
    return out


_DIGITS = {"frac99": 3, "mcc": 4, "max_dist": 3, "mmcs": 4, "cpu_seconds": 1, "seconds": 1}
_NAMES = {"frac99": "fraction > 0.99", "mcc": "mean matched |cos|", "max_dist": "max distance", "mmcs": "unmatched MMCS",
          "cpu_seconds": "CPU s", "seconds": "wall s"}


def _check_samples(tier: Tier, name: str, N: int) -> None:
    """Refuse up front a batch of ``N`` samples (parameter ``name``) that would not fit in memory."""
    check.allocation(name, 8.0 * N * (2 * tier.k + tier.n + 2 * tier.h))


def _check_run(tier: Tier, rng: np.random.Generator, *, batch_size: int, eval_size: int, lr: float, lr_end: float,
               decay_from: float, progress: bool = True, **counts: int) -> None:
    """Validate the arguments every experiment here shares; ``counts`` are loop counts (steps, seeds, epochs) by name."""
    check.of_type(tier, "tier", Tier)
    check.generator(rng)
    for name, value in counts.items():
        check.loop_count(value, name)
    for name, value in (("batch_size", batch_size), ("eval_size", eval_size)):
        _check_samples(tier, name, check.integer(value, name, minimum=1))
    check.real(lr, "lr", minimum=0.0, strict_min=True)
    check.real(lr_end, "lr_end", minimum=0.0, strict_min=True)
    check.real(decay_from, "decay_from", minimum=0.0, maximum=1.0, strict_max=True)
    check.flag(progress, "progress")


@execution.one_blas_thread
def _train_task(_: np.random.Generator, *, tier: dict, stream: dict, delta: float, eval_size: int, run: int, init: str,
                bias: float | list[float] | None, unit: bool, train: dict) -> dict[str, float]:
    """Run number ``run`` of :func:`far_start`, :func:`bias_sweep` or :func:`sample_sweep`: the autoencoder from start ``init``.

    The shared draws come from ``stream`` (the first argument is not used).  ``bias``: a fixed
    value, ``[start, end]`` for a :class:`lib.training.BiasRamp` over the run, or ``None`` for the
    tier's.  ``unit``: rescale the start's rows to unit length.  ``train``: the keyword arguments of
    :func:`lib.training.train`.  Returns the final ``mcc``, ``frac99``, ``support_rate`` and ``norm``.
    """
    spec = Tier(**tier)
    drawn = _instance(spec, execution.resume(stream), [delta], eval_size, starts_first=True)
    W0 = drawn.starts[init]
    if unit:
        W0 = W0 / np.linalg.norm(W0, axis=1, keepdims=True)
    if bias is None:
        bias = spec.eps
    elif not isinstance(bias, (int, float)):
        bias = training.BiasRamp(bias[0], bias[1], train["steps"])
    result = training.train(drawn.model, W0, bias, np.random.default_rng(drawn.data_seed), eval_set=drawn.eval_set,
                            progress=False, **train)
    return {"mcc": result.recovery.mcc, "frac99": result.recovery.fraction(0.99),
            "support_rate": float(result.history.support_rate[-1]), "norm": float(result.history.norm[-1])}


def _train_runs(tier: Tier, rng: np.random.Generator, *, delta: float, eval_size: int, runs: Sequence[dict],
                name: str, progress: bool) -> tuple[_Instance, list[dict[str, float]]]:
    """Draw the shared instance from ``rng`` (advancing it as the serial loop did) and run ``runs`` (:func:`_train_task` parameters) on it."""
    common = {"tier": asdict(tier), "stream": execution.generator_state(rng), "delta": delta, "eval_size": eval_size}
    drawn = _instance(tier, rng, [delta], eval_size, starts_first=True)
    tasks = [{**common, "run": index, "unit": False, "bias": None, **run} for index, run in enumerate(runs)]
    return drawn, execution.map_tasks(_train_task, tasks, seed=0, name=f"{name} {tier.name}", progress=progress)


@dataclass(frozen=True)
class FarStart:
    """Training from a far start as drawn, and from the same start with its rows rescaled to unit length.

    Attributes
    ----------
    start_mcc, start_norm : float
        Mean matched |cos| and mean row norm of the start.
    raw_mcc, raw_frac99 : float
        Final recovery from the start as drawn.
    unit_mcc, unit_frac99 : float
        Final recovery from the same directions with unit-length rows.
    """

    start_mcc: float
    start_norm: float
    raw_mcc: float
    raw_frac99: float
    unit_mcc: float
    unit_frac99: float


@execution.one_blas_thread
def far_start(tier: Tier, rng: np.random.Generator, *, delta: float, steps: int, batch_size: int, eval_size: int,
              lr: float = LR, lr_end: float = LR_END, decay_from: float = DECAY_FROM, progress: bool = True) -> FarStart:
    r"""Separate direction from scale at a far start :math:`W^0_i = A^*_i + \delta_0 g_i/\|g_i\|`.

    Its rows have length about :math:`\sqrt{1+\delta_0^2}`, so a bias chosen for unit rows is
    relatively small there; training again from :math:`W^0_i/\|W^0_i\|` (same directions) tells
    whether a failure comes from the direction or from the scale.
    """
    _check_run(tier, rng, batch_size=batch_size, eval_size=eval_size, lr=lr, lr_end=lr_end, decay_from=decay_from,
               steps=steps)
    check.real(delta, "delta", minimum=0.0)
    check.flag(progress, "progress")
    train = {"steps": steps, "lr": lr, "lr_end": lr_end, "decay_from": decay_from, "batch_size": batch_size}
    drawn, (raw, unit) = _train_runs(tier, rng, delta=delta, eval_size=eval_size, name="far start", progress=progress,
                                     runs=[{"init": init_name(delta), "unit": u, "train": train} for u in (False, True)])
    W0 = drawn.starts[init_name(delta)]
    return FarStart(recovery(drawn.model.A, W0).mcc, float(np.mean(np.linalg.norm(W0, axis=1))),
                    raw["mcc"], raw["frac99"], unit["mcc"], unit["frac99"])


# --------------------------------------------------------------------------- the bias
@dataclass(frozen=True)
class BiasSweep:
    """Final state of the autoencoder per bias (rows: each fixed value, then the ramp) and start (columns).

    Attributes
    ----------
    eps : numpy.ndarray
        ``(E,)`` the fixed biases (rows ``0..E-1``).
    ramp : lib.training.BiasRamp
        The scheduled bias of the last row (its ``steps`` is rescaled to each run's length).
    inits : tuple of str
    mcc, frac99, support_rate, norm : numpy.ndarray
        ``(E + 1, len(inits))``: final mean matched |cos|, fraction above 0.99, exact-support rate
        of the ReLU layer and mean row norm :math:`\\|W_i\\|`.
    theory_eps : float
        Theorem 3.1's bias :func:`theory_bias` at the near start.
    theory_active : float
        Fraction of (unit, sample) pairs that fire at the near start with ``theory_eps``.
    theory_grad_norm : float
        Frobenius norm of the exact gradient there.
    theory_unmet : tuple of str
        The reconstructed hypotheses of Theorem 3.1 that the near start, with that bias, breaks
        (:func:`lib.theory.support.theorem31_failures`; empty when all hold).
    """

    eps: np.ndarray
    ramp: training.BiasRamp
    inits: tuple[str, ...]
    mcc: np.ndarray
    frac99: np.ndarray
    support_rate: np.ndarray
    norm: np.ndarray
    theory_eps: float
    theory_active: float
    theory_grad_norm: float
    theory_unmet: tuple[str, ...]


@execution.one_blas_thread
def bias_sweep(
    tier: Tier, rng: np.random.Generator, *, eps_values: Sequence[float], ramp: Sequence[float], delta: float,
    steps_near: int, steps_random: int, batch_size: int, eval_size: int, lr: float = LR, lr_end: float = LR_END,
    decay_from: float = DECAY_FROM, progress: bool = True,
) -> BiasSweep:
    r"""Train from a start at :math:`\delta_0 =` ``delta`` and from a random start with each fixed bias in ``eps_values``,
    then with a bias ramped linearly from ``ramp[0]`` to ``ramp[1]`` over the run.

    Also evaluates Theorem 3.1's own bias at the near start (so ``delta <= 1``): how many units fire,
    how large the gradient is there, and which of the theorem's hypotheses that start breaks.
    """
    _check_run(tier, rng, batch_size=batch_size, eval_size=eval_size, lr=lr, lr_end=lr_end, decay_from=decay_from,
               progress=progress, steps_near=steps_near, steps_random=steps_random)
    check.real(delta, "delta", minimum=0.0, maximum=1.0)
    check.real_sequence(eps_values, "eps_values")
    if len(check.real_sequence(ramp, "ramp")) != 2:
        raise ValueError(f"ramp must be (start, end), got {len(ramp)} values")
    start, end = (check.real(v, "ramp") for v in ramp)
    biases = [float(e) for e in eps_values] + [[start, end]]
    inits = (init_name(delta), RANDOM)
    train = {"lr": lr, "lr_end": lr_end, "decay_from": decay_from, "batch_size": batch_size}
    runs = [{"init": init, "bias": bias, "train": {"steps": steps_random if init == RANDOM else steps_near, **train}}
            for bias in biases for init in inits]
    drawn, results = _train_runs(tier, check.generator(rng), delta=delta, eval_size=eval_size, runs=runs, name="bias",
                                 progress=progress)
    model, eval_set = drawn.model, drawn.eval_set
    mcc, frac, support, norm = (np.array([r[key] for r in results]).reshape(len(biases), len(inits))
                                for key in ("mcc", "frac99", "support_rate", "norm"))
    near = drawn.starts[init_name(delta)]
    eps_theory = theory_bias(model, delta)
    active = float(np.mean(autoencoder.encode(near, eval_set.Y, eps_theory) > 0))
    grad = float(np.linalg.norm(autoencoder.gradient(near, eval_set.Y, eps_theory)))
    unmet = _support.theorem31_failures(model.h, model.p, model.k, delta, float(np.max(np.linalg.norm(near - model.A.T, axis=1))),
                                        float(np.max(np.abs(np.linalg.norm(model.A, axis=0) - 1.0))), model.mu, eps_theory,
                                        model.low, model.high, model.m1)
    return BiasSweep(np.asarray(eps_values, dtype=float), training.BiasRamp(start, end, steps_near), tuple(drawn.starts),
                     mcc, frac, support, norm, eps_theory, active, grad, tuple(unmet))


# --------------------------------------------------------------------------- samples
@dataclass(frozen=True)
class SampleSweep:
    """Final recovery against the size of a fixed training set.

    Attributes
    ----------
    sizes : numpy.ndarray
        ``(S,)`` training-set sizes :math:`N`.
    methods : tuple of str
        ``"full-batch GD"`` and ``"mini-batch RMSProp"``.
    mcc, frac99 : numpy.ndarray
        ``(len(methods), S)``.
    fresh_mcc, fresh_frac99 : float
        Mini-batch RMSProp on fresh samples at every step, for reference.
    fresh_samples : int
        How many samples that run drew in all.
    """

    sizes: np.ndarray
    methods: tuple[str, ...]
    mcc: np.ndarray
    frac99: np.ndarray
    fresh_mcc: float
    fresh_frac99: float
    fresh_samples: int


@execution.one_blas_thread
def sample_sweep(
    tier: Tier, rng: np.random.Generator, *, sizes: Sequence[int], delta: float, steps: int, batch_size: int,
    eval_size: int, lr: float = LR, lr_end: float = LR_END, decay_from: float = DECAY_FROM, gd_lr: float = GD_LR,
    progress: bool = True,
) -> SampleSweep:
    r"""Train from a start at :math:`\delta_0 =` ``delta`` on fixed training sets of each size in ``sizes``.

    Two optimizers per size, ``steps`` updates each: full-batch gradient descent with rate
    ``gd_lr`` (the classical empirical-risk setting), and RMSProp on mini-batches of
    ``batch_size`` drawn from the set (the whole set when it is smaller).
    """
    _check_run(tier, rng, batch_size=batch_size, eval_size=eval_size, lr=lr, lr_end=lr_end, decay_from=decay_from,
               progress=progress, steps=steps)
    check.real(delta, "delta", minimum=0.0)
    check.real(gd_lr, "gd_lr", minimum=0.0, strict_min=True)
    for N in check.integer_sequence(sizes, "sizes", minimum=1):
        _check_samples(tier, "sizes", N)
    common = {"steps": steps, "evaluate_every": steps}
    rms = {"lr": lr, "lr_end": lr_end, "decay_from": decay_from, "batch_size": batch_size}
    methods = ("full-batch GD", "mini-batch RMSProp")
    runs = [{"init": init_name(delta), "train": {**common, **options, "train_size": int(N)}}
            for options in ({"optimizer": "gd", "lr": gd_lr, "batch_size": int(N)}, rms) for N in sizes]
    runs.append({"init": init_name(delta), "train": {**common, **rms}})  # fresh samples at every step
    _, results = _train_runs(tier, check.generator(rng), delta=delta, eval_size=eval_size, runs=runs, name="samples",
                             progress=progress)
    mcc, frac = (np.array([r[key] for r in results[:-1]]).reshape(2, len(sizes)) for key in ("mcc", "frac99"))
    fresh = results[-1]
    return SampleSweep(np.asarray(sizes), methods, mcc, frac, fresh["mcc"], fresh["frac99"], steps * batch_size)


# --------------------------------------------------------------------------- the chapter's criteria
def near_starts_recover(mcc: Sequence[float] | np.ndarray, frac99: Sequence[float] | np.ndarray, *, threshold: float,
                        every_atom: bool) -> bool:
    r"""Whether every run from a close start ends near the dictionary's directions (the ISIT abstract's claim).

    Parameters
    ----------
    mcc, frac99 : array_like
        ``(R,)``, ``R >= 1``: the final mean matched :math:`|\cos|` of each run and its fraction of atoms
        with :math:`|\cos| > 0.99`.
    threshold : float
        In :math:`(0, 1)`: the mean matched :math:`|\cos|` every run must exceed.
    every_atom : bool
        Also require every atom of every run above :math:`|\cos| = 0.99` (fraction exactly 1).

    Returns
    -------
    bool
        ``min(mcc) > threshold`` and, with ``every_atom``, ``min(frac99) == 1``.
    """
    mcc = check.real_array(mcc, "mcc", ndim=1, minimum=0.0, maximum=1.0 + 1e-9)
    frac99 = check.real_array(frac99, "frac99", ndim=1, shape=mcc.shape, minimum=0.0, maximum=1.0, match="mcc")
    threshold = check.real(threshold, "threshold", minimum=0.0, maximum=1.0, strict_min=True, strict_max=True)
    every_atom = check.flag(every_atom, "every_atom")
    return bool(mcc.min() > threshold and (not every_atom or frac99.min() == 1.0))


def ramp_gets_both(sweep: BiasSweep, init: str, *, mcc_tol: float, support_tol: float) -> bool:
    r"""Whether the ramped bias ends, from start ``init``, at both ends of the fixed biases' trade-off.

    A fixed bias trades direction (mean matched :math:`|\cos|`, best at a moderate :math:`\epsilon`) against
    the exact-support rate (best at a large one).  True when the ramp's mean matched :math:`|\cos|` is
    at least the largest over the fixed biases minus ``mcc_tol`` *and* its exact-support rate is at
    least the largest over the fixed biases minus ``support_tol``.
    """
    check.of_type(sweep, "sweep", BiasSweep)
    column = sweep.inits.index(check.choice(init, "init", sweep.inits))
    mcc_tol = check.real(mcc_tol, "mcc_tol", minimum=0.0)
    support_tol = check.real(support_tol, "support_tol", minimum=0.0)
    mcc, support = sweep.mcc[:, column], sweep.support_rate[:, column]
    return bool(mcc[-1] >= mcc[:-1].max() - mcc_tol and support[-1] >= support[:-1].max() - support_tol)
