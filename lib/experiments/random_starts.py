r"""Experiments of the chapter "Every atom from a random start, and how many samples it takes".

Two sweeps of independent tasks, each a pure function of a seed and its parameters:

* :func:`ablation_task`: one training run from a random start with one protocol of
  :mod:`lib.protocols` (or none), for the tied autoencoder and for the TopK sparse autoencoder
  with and without dead-latent revival; :func:`ablation_tasks` lists the grid.
* :func:`min_samples_task`: the smallest fixed training-set size :math:`N` at which a method
  recovers 99 % of the atoms (:math:`|\cos| > 0.99`), found by doubling :math:`N` then one
  geometric bisection step; :func:`min_samples_tasks` lists the grid over :math:`h` and seeds, and
  :func:`fit_exponent` fits :math:`N^* \propto h^b` with a confidence interval.

:func:`run_tasks` is the one loop over tasks, through :mod:`lib.execution` (serial, or a Dask cluster).  Sizes come from ``lib.scale.sizes("random_starts")``.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from lib import _validate as check
from lib import autoencoder, baselines, execution, protocols, training
from lib.experiments.training import ARORA_TARGET, DECAY_FROM, LR, LR_END, TOPK_LR, Tier, norm_fixed_point, starts
from lib.recovery import Recovery, recovery

__all__ = ["PROTOCOLS", "METHODS", "near_misses", "ablation_task", "with_unpolished", "ablation_tasks", "ablation_table",
           "sample_memory", "min_samples_task", "recovery_curve", "misses_at_cap", "min_samples_tasks", "fit_exponent",
           "exponent_at_most_linear", "run_tasks"]

WIDTH = 1.5  # hidden units per atom of the "wider layer" protocol
SKLEARN_EPOCHS = 10  # at most this many passes of scikit-learn over a training set (its cost grows with passes × N)
PROTOCOLS = ("none", "resample silent units", "resample + split", "resample + split + polish", "wider 1.5h + prune",
             "row-norm control", "bias ramp (low to ε)", "TopK", "TopK + revival")
POLISH_BIAS = 1.6  # bias factor of the polish phase, chosen on seeds 0 and 1 of 100 x 256 among 1.0, 1.2, ..., 2.0
POLISH_LR = 5e-4  # its learning rate (RMSProp), chosen there among 2e-4, 5e-4, 1e-3
NEAR_MISS = 0.95  # an atom missed (matched |cos| <= 0.99) but held at |cos| >= this value is a near miss
METHODS = ("tied ReLU AE", "Arora et al. 2015", "TopK + revival", "sklearn MBDL")


def _mappings(value: object, name: str) -> list[Mapping[str, Any]]:
    """A non-empty sequence of mappings (tiers, tasks, result rows)."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a sequence of mappings, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    for item in value:
        check.of_type(item, name, Mapping)
    return list(value)


def _tier(tier: object) -> Tier:
    """A :class:`~lib.experiments.training.Tier` from the mapping ``tier`` (errors name ``tier``)."""
    check.of_type(tier, "tier", Mapping)
    missing = sorted({"n", "h", "k", "eps"} - set(tier))
    if missing:
        raise ValueError(f"tier lacks the keys {missing}")
    return Tier.of(tier)


def _resample(steps: int, **options: Any) -> protocols.Resample:
    """The resampling schedule of the chapter: a check every ``steps / 20`` updates over the first 60 % of the run."""
    return protocols.Resample(every=max(steps // 20, 1), until=0.6, **options)


def _polish(steps: int) -> protocols.Polish:
    """The polish phase of the chapter: half as many updates as the main run, at :data:`POLISH_BIAS` times the bias."""
    return protocols.Polish(steps=max(steps // 2, 1), bias_factor=POLISH_BIAS, learning_rate=POLISH_LR)


def near_misses(A: np.ndarray, W: np.ndarray, data: training.Batch, eps: float, factor: float) -> dict[str, Any]:
    r"""The atoms that ``W`` misses, and how its units that nearly hold them fire at the bias :math:`\epsilon` and :math:`\beta\epsilon`.

    An atom :math:`A^*_a` is *missed* when its matched :math:`|\cos| \le 0.99`, a *near miss* when
    moreover :math:`|\cos| \ge` :data:`NEAR_MISS`.  For the unit :math:`i` matched to a near miss,
    the *false-fire share* at bias :math:`b` is the share of the samples on which it fires,
    :math:`\langle W_i, y\rangle > b`, whose support does not contain :math:`a`: the samples whose
    gradient pulls it towards neighbouring atoms.

    Parameters
    ----------
    A : numpy.ndarray
        Dictionary ``(n, h)``.
    W : numpy.ndarray
        Encoder ``(m, n)``, ``m >= h``.
    data : lib.training.Batch
        Samples of the model whose codes give the supports.
    eps : float
        The bias :math:`\epsilon`.
    factor : float
        :math:`\beta > 0`.

    Returns
    -------
    dict
        ``misses`` (count), ``near`` (count), ``lowest`` (smallest matched :math:`|\cos|` of a near miss,
        ``nan`` if none), ``false_eps`` and ``false_raised`` (median false-fire share over the near
        misses at :math:`\epsilon` and :math:`\beta\epsilon`; ``nan`` if none), ``near_atoms``
        (their indices).
    """
    A = check.matrix(A, "A")
    W = check.matrix(W, "W", shape=(None, A.shape[0]), match="A")
    check.integer(W.shape[0], "W rows", minimum=A.shape[1])
    check.of_type(data, "data", training.Batch)
    if data.codes.shape[1] != A.shape[1] or data.signals.shape[1] != A.shape[0]:
        raise ValueError(f"data must hold samples of A {A.shape}: codes {data.codes.shape}, signals {data.signals.shape}")
    eps = check.real(eps, "eps")
    factor = check.real(factor, "factor", minimum=0.0, strict_min=True)
    match = recovery(A, W)
    missed = match.cosines <= 0.99
    near = np.flatnonzero(missed & (match.cosines >= NEAR_MISS))
    holds = data.codes[:, near].toarray() != 0  # (N, near): does sample s hold atom a
    projections = data.signals @ W[match.assignment[near]].T  # (N, near)

    def false_share(bias: float) -> float:
        fires = projections > bias
        shares = [np.mean(~holds[fires[:, j], j]) for j in range(near.size) if fires[:, j].any()]
        return float(np.median(shares)) if shares else float("nan")

    return {"misses": int(missed.sum()), "near": int(near.size),
            "lowest": float(match.cosines[near].min()) if near.size else float("nan"),
            "false_eps": false_share(eps), "false_raised": false_share(factor * eps), "near_atoms": near}


def _autoencoder_options(protocol: str, model: Any, W0: np.ndarray, eps: float, steps: int,
                         rng: np.random.Generator) -> tuple[np.ndarray, Any, dict[str, Any]]:
    """Start, bias and :func:`lib.training.train` options of an autoencoder protocol."""
    if protocol == "none":
        return W0, eps, {}
    if protocol == "resample silent units":
        return W0, eps, {"resample": _resample(steps, duplicates=None, rare=0.0, split=None)}
    if protocol == "resample + split":
        return W0, eps, {"resample": _resample(steps)}
    if protocol == "resample + split + polish":
        return W0, eps, {"resample": _resample(steps), "polish": _polish(steps)}
    if protocol == "wider 1.5h + prune":
        extra = rng.standard_normal((int((WIDTH - 1) * model.h), model.n))
        return protocols.widen(W0, extra / np.linalg.norm(extra, axis=1, keepdims=True)), eps, {}
    if protocol == "row-norm control":
        return W0, eps, {"row_norm": norm_fixed_point(model, eps)}
    if protocol == "bias ramp (low to ε)":
        return W0, training.BiasRamp(0.5 * eps, eps, max(steps // 2, 1)), {}
    raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")


@execution.one_blas_thread
def ablation_task(seed: int, *, tier: Mapping[str, Any], protocol: str, steps: int, batch_size: int,
                  eval_size: int) -> dict[str, Any]:
    r"""Train from a random start with ``protocol`` on a fresh instance ``tier`` drawn from ``seed``.

    Every protocol of one seed sees the same :math:`A^*`, start, held-out set and training batches.
    The autoencoder uses RMSProp (rate held for half the run, then decayed) and the tier's bias;
    TopK uses Adam.  The wider layer is pruned back to :math:`h` units on 4096 training samples
    (:func:`lib.protocols.prune`).

    Parameters
    ----------
    seed : int
        Seed of the instance and the training stream.
    tier : mapping
        ``{"n", "h", "k", "eps"}`` (:class:`lib.experiments.training.Tier`).
    protocol : str
        One of :data:`PROTOCOLS`.
    steps, batch_size, eval_size : int
        Updates, samples per update, held-out samples.

    Returns
    -------
    dict
        ``tier, protocol, seed, frac99, mcc, dead, cpu_seconds`` and ``cosines``, the matched
        :math:`|\cos|` of every atom.  With a polish phase also ``frac99_before``, ``mcc_before``,
        ``dead_before``, ``cpu_seconds_before`` and ``cosines_before`` (the same of the main run, before
        the polish), :func:`near_misses` of the encoder before the polish on the held-out set (its keys
        with the suffix ``_before``) and ``near_after``, the matched :math:`|\cos|` after the polish of
        the atoms that were near misses.
    """
    check.choice(protocol, "protocol", PROTOCOLS)
    spec = _tier(tier)
    check.loop_count(steps, "steps")
    for name, value in (("batch_size", batch_size), ("eval_size", eval_size)):
        check.allocation(name, 8.0 * check.integer(value, name, minimum=1) * (2 * spec.k + spec.n + 3 * spec.h))
    rng = np.random.default_rng(check.integer(seed, "seed", minimum=0))
    model = spec.model(rng)
    W0 = starts(model, [], rng)["random"]
    eval_set = training.draw_batch(model, check.integer(eval_size, "eval_size", minimum=1), rng)
    data_rng = np.random.default_rng(int(rng.integers(2**63)))
    extra: dict[str, Any] = {}
    if protocol.startswith("TopK"):
        fit = baselines.topk_autoencoder(model, W0, data_rng, steps=steps, batch_size=batch_size, lr=TOPK_LR,
                                         resample=_resample(steps) if "revival" in protocol else None, progress=False)
        match, dead, cpu = fit.recovery, fit.dead, fit.cpu_seconds
    else:
        start, eps, options = _autoencoder_options(protocol, model, W0, spec.eps, steps, rng)
        result = training.train(model, start, eps, data_rng, steps=steps, lr=LR, lr_end=LR_END, decay_from=DECAY_FROM,
                                batch_size=batch_size, eval_set=eval_set, evaluate_every=steps, progress=False, **options)
        W = result.W
        if W.shape[0] > model.h:
            W = protocols.prune(W, training.draw_batch(model, 4096, data_rng).Y, spec.eps, model.h)
        match, cpu, dead = recovery(model.A, W), result.cpu_seconds, _dead(W, eval_set, spec.eps)
        if result.main is not None:
            first = result.main
            near = near_misses(model.A, first.W, eval_set, spec.eps, POLISH_BIAS)
            extra = {"frac99_before": first.recovery.fraction(0.99), "mcc_before": first.recovery.mcc,
                     "dead_before": _dead(first.W, eval_set, spec.eps), "cpu_seconds_before": first.cpu_seconds,
                     "cosines_before": first.recovery.cosines, **{f"{key}_before": value for key, value in near.items()},
                     "near_after": match.cosines[near["near_atoms"]]}
    return {"tier": spec.name, "protocol": protocol, "seed": seed, "frac99": match.fraction(0.99), "mcc": match.mcc,
            "dead": dead, "cpu_seconds": cpu, "cosines": match.cosines, **extra}


def _dead(W: np.ndarray, data: training.Batch, eps: float) -> int:
    """Units of ``W`` that fire on no sample of ``data``."""
    return int(np.sum(~np.any(autoencoder.encode(W, data.Y, eps) > 0, axis=1)))


def with_unpolished(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with, before every row of "resample + split + polish", the row of "resample + split" that its main run is.

    The main run of the polish protocol is a run of "resample + split" on the same instance, start,
    held-out set and batches (the polish only follows it), so its numbers (the ``_before`` keys of
    :func:`ablation_task`) are that protocol's row, and the ablation need not train it twice.
    """
    out = []
    for row in _mappings(rows, "rows"):
        if row.get("protocol") == "resample + split + polish":
            missing = sorted({"frac99_before", "mcc_before", "dead_before", "cpu_seconds_before", "cosines_before"} - set(row))
            if missing:
                raise ValueError(f"rows: a polish row of ablation_task lacks {missing}")
            out.append({"tier": row["tier"], "protocol": "resample + split", "seed": row["seed"],
                        "frac99": row["frac99_before"], "mcc": row["mcc_before"], "dead": row["dead_before"],
                        "cpu_seconds": row["cpu_seconds_before"], "cosines": row["cosines_before"]})
        out.append(dict(row))
    return out


def ablation_tasks(tiers: Sequence[Mapping[str, Any]], seeds: int, *, steps: int, batch_size: int, eval_size: int,
                   protocols_: Sequence[str] = PROTOCOLS, first_seed: int = 0) -> list[dict[str, Any]]:
    """The task list of the ablation: every tier × protocol × seed ``first_seed .. first_seed + seeds - 1`` (a tier's own
    ``"protocols"`` list replaces ``protocols_``)."""
    for t in _mappings(tiers, "tiers"):
        _tier({k: v for k, v in t.items() if k != "protocols"})
        for p in t.get("protocols", ()):
            check.choice(p, "tiers", PROTOCOLS)
    if isinstance(protocols_, str) or not isinstance(protocols_, Sequence) or not protocols_:
        raise TypeError(f"protocols_ must be a non-empty sequence of protocol names, got {protocols_!r}")
    for p in protocols_:
        check.choice(p, "protocols_", PROTOCOLS)
    check.loop_count(steps, "steps")
    check.integer(batch_size, "batch_size", minimum=1)
    check.integer(eval_size, "eval_size", minimum=1)
    check.loop_count(seeds, "seeds")
    first = check.integer(first_seed, "first_seed", minimum=0)
    return [{"seed": first + s, "tier": {k: v for k, v in t.items() if k != "protocols"}, "protocol": p, "steps": steps,
             "batch_size": batch_size, "eval_size": eval_size}
            for t in tiers for p in t.get("protocols", protocols_) for s in range(check.integer(seeds, "seeds", minimum=1))]


def ablation_table(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Median and worst seed of the fraction above 0.99, median mean matched |cos|, dead units and CPU seconds, per tier and protocol."""
    rows = _mappings(rows, "rows")
    needed = {"tier", "protocol", "frac99", "mcc", "dead", "cpu_seconds"}
    if any(not needed <= set(row) for row in rows):
        raise ValueError(f"rows must be results of ablation_task, each with the keys {sorted(needed)}")
    frame = pd.DataFrame(list(rows))
    grouped = frame.groupby(["tier", "protocol"], sort=False)
    return pd.DataFrame({
        "fraction > 0.99 (median)": grouped["frac99"].median(),
        "fraction > 0.99 (worst seed)": grouped["frac99"].min(),
        "mean matched |cos| (median)": grouped["mcc"].median(),
        "dead units (median)": grouped["dead"].median(),
        "CPU s (median)": grouped["cpu_seconds"].median(),
    })


# --------------------------------------------------------------------------- sample complexity
def _fit_on(method: str, model: Any, W0: np.ndarray, data: training.Batch, eps: float, steps: int, batch_size: int,
            seed: int) -> tuple[Recovery, float]:
    """The recovery of the atoms and the CPU seconds of ``method`` trained on the fixed set ``data``."""
    rng = np.random.default_rng(seed)
    if method == "tied ReLU AE":
        out = training.train(model, W0, eps, rng, steps=steps, lr=LR, lr_end=LR_END, decay_from=DECAY_FROM,
                             batch_size=batch_size, train_set=data, evaluate_every=steps, progress=False,
                             eval_set=data.rows(np.arange(min(data.size, 256))))
        return out.recovery, out.cpu_seconds
    if method == "Arora et al. 2015":
        fit = baselines.arora_neural(model, W0, rng, steps=steps, batch_size=batch_size, data=data,
                                     lr=baselines.arora_step_size(model, ARORA_TARGET), evaluate_every=steps, progress=False)
    elif method == "TopK + revival":
        fit = baselines.topk_autoencoder(model, W0, rng, steps=steps, batch_size=batch_size, lr=TOPK_LR, data=data,
                                         resample=_resample(steps), evaluate_every=steps, progress=False)
    elif method == "sklearn MBDL":
        epochs = min(max(steps * batch_size // data.size, 1), SKLEARN_EPOCHS)  # as many passes as the others' updates see, capped
        fit = baselines.sklearn_dictionary(data.Y, model.A, W0, seed=seed, epochs=epochs)
    else:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return fit.recovery, fit.cpu_seconds


def sample_memory(h: int, ratio: float, k: int, max_factor: float) -> float:
    r"""Bytes of the sample pool of :func:`min_samples_task`: :math:`\mathrm{max\_factor}\cdot h` samples, each ``k``
    codes and :math:`n = \mathrm{ratio}\cdot h` signal entries."""
    h = check.integer(h, "h", minimum=1)
    n = int(round(check.real(ratio, "ratio", minimum=0.0, maximum=1.0, strict_min=True) * h))
    return 8.0 * check.real(max_factor, "max_factor", minimum=1.0) * h * (2 * check.integer(k, "k", minimum=1) + n)


@execution.one_blas_thread
def min_samples_task(seed: int, *, h: int, ratio: float, k: int, eps: float, method: str, delta: float, steps: int,
                     batch_size: int, start_factor: float, max_factor: float) -> dict[str, Any]:
    r"""The smallest training-set size :math:`N^*` at which ``method`` recovers 99 % of the atoms.

    Instance: :math:`n = \mathrm{ratio}\cdot h`, supports of size ``k``, nonzeros U[1, 2]; start at
    column distance ``delta`` (:func:`lib.model.perturb_columns`; ``None``-free: the search needs a
    start every method reaches).  :math:`N` doubles from ``start_factor * h`` until the method
    succeeds (``steps`` updates on mini-batches of the fixed set), then the geometric midpoint of the
    last failure and the first success is tried, so :math:`N^*` is known to a factor
    :math:`\sqrt2`.  Training sets are nested (the first :math:`N` samples of one stream), so a
    larger :math:`N` only adds samples.  Returns ``nan`` when ``max_factor * h`` samples do not
    suffice.

    Returns
    -------
    dict
        ``method, h, seed, N_star, cpu_seconds`` (CPU time of the run at :math:`N^*`) and
        ``attempts``: for every :math:`N` tried, in order, a dict ``N, fraction`` (of atoms with
        :math:`|\cos| > 0.99`) ``, median_cos`` (the median matched :math:`|\cos|`);
        :func:`recovery_curve` turns them into a table.
    """
    check.choice(method, "method", METHODS)
    h = check.integer(h, "h", minimum=4)
    ratio = check.real(ratio, "ratio", minimum=0.0, maximum=1.0, strict_min=True, strict_max=True)
    n = check.integer(int(round(ratio * h)), "ratio * h", minimum=2, maximum=h - 1)
    check.loop_count(steps, "steps")
    check.integer(batch_size, "batch_size", minimum=1)
    k = check.integer(k, "k", minimum=2, maximum=h // 2)  # a Tier: p = log k / log h > 0
    check.allocation("h, max_factor", sample_memory(h, ratio, k, max_factor))
    rng = np.random.default_rng(check.integer(seed, "seed", minimum=0))
    model = Tier(n, h, k, check.real(eps, "eps")).model(rng)
    W0 = starts(model, [check.real(delta, "delta", minimum=0.0)], rng)[f"δ0={delta:g}"]
    limit = int(check.real(max_factor, "max_factor", minimum=1.0) * h)
    pool = training.draw_batch(model, limit, rng)

    attempts: list[dict[str, float]] = []

    def attempt(N: int) -> tuple[bool, float]:
        found, cpu = _fit_on(method, model, W0, pool.rows(np.arange(N)), eps, steps, batch_size, seed)
        attempts.append({"N": N, "fraction": found.fraction(0.99), "median_cos": float(np.median(found.cosines))})
        return attempts[-1]["fraction"] >= 0.99, cpu

    N, last_fail = int(check.real(start_factor, "start_factor", minimum=0.0, strict_min=True) * h), None
    while N <= limit:
        ok, cpu = attempt(N)
        if ok:
            if last_fail is not None:
                mid = int(round(np.sqrt(N * last_fail)))
                if mid not in (N, last_fail):
                    ok_mid, cpu_mid = attempt(mid)
                    if ok_mid:
                        N, cpu = mid, cpu_mid
            return {"method": method, "h": h, "seed": seed, "N_star": float(N), "cpu_seconds": cpu, "attempts": attempts}
        last_fail, N = N, 2 * N
    return {"method": method, "h": h, "seed": seed, "N_star": float("nan"), "cpu_seconds": float("nan"),
            "attempts": attempts}


def _results(rows: object) -> list[Mapping[str, Any]]:
    """``rows`` as a list of :func:`min_samples_task` results, one per run, or a ValueError naming ``rows``."""
    rows = _mappings(rows, "rows")
    for row in rows:
        if missing := {"method", "h", "seed", "N_star", "attempts"} - set(row):
            raise ValueError(f"rows must hold min_samples_task results; one lacks {sorted(missing)}")
    runs = [(row["method"], row["h"], row["seed"]) for row in rows]
    if len(set(runs)) < len(runs):
        raise ValueError("rows must hold each (method, h, seed) run once")
    return rows


def recovery_curve(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    r"""Recovery against the training-set size: one row per :math:`N` tried by :func:`min_samples_task`.

    Parameters
    ----------
    rows : sequence of dict
        Results of :func:`min_samples_task` (``method, h, seed, attempts``).

    Returns
    -------
    pandas.DataFrame
        ``method, h, seed, N, samples_per_atom`` (:math:`N/h`) ``, fraction`` (of atoms with
        :math:`|\cos| > 0.99`) ``, median_cos``, in the order of ``rows`` and by increasing
        :math:`N` within each.
    """
    rows = _results(rows)
    frame = pd.DataFrame([{"method": row["method"], "h": row["h"], "seed": row["seed"], **tried}
                          for row in rows for tried in sorted(row["attempts"], key=lambda tried: tried["N"])],
                         columns=["method", "h", "seed", "N", "fraction", "median_cos"])
    frame.insert(4, "samples_per_atom", frame["N"] / frame["h"].astype(float))
    return frame


def misses_at_cap(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    r"""The runs of :func:`min_samples_task` that missed the target, at the cap: is more data still helping?

    Parameters
    ----------
    rows : sequence of dict
        Results of :func:`min_samples_task`.

    Returns
    -------
    pandas.DataFrame
        One row per run with ``N_star`` nan: ``method, h, seed, N`` (the largest :math:`N` tried),
        ``fraction, median_cos`` there, and ``change``: the median matched :math:`|\cos|` at that
        :math:`N` minus its value at :math:`N/2` (nan when only one :math:`N` was tried).
    """
    curve = recovery_curve(rows)
    missed = pd.DataFrame([(row["method"], row["h"], row["seed"]) for row in _results(rows) if not np.isfinite(row["N_star"])],
                          columns=["method", "h", "seed"])
    runs = curve.merge(missed)
    keys = ["method", "h", "seed"]
    runs["change"] = runs.groupby(keys, sort=False)["median_cos"].diff()
    return runs.groupby(keys, sort=False).tail(1).drop(columns="samples_per_atom").reset_index(drop=True)


def min_samples_tasks(h_values: Sequence[int], seeds: int, methods: Sequence[str] = METHODS, *, first_seed: int = 0,
                      **params: Any) -> list[dict[str, Any]]:
    """The task list of the sample-complexity sweep: every method × ``h`` × seed ``first_seed .. first_seed + seeds - 1``, with the shared ``params``."""
    check.integer_sequence(h_values, "h_values", minimum=4)
    if isinstance(methods, str) or not isinstance(methods, Sequence) or not methods:
        raise TypeError(f"methods must be a non-empty sequence of method names, got {methods!r}")
    for m in methods:
        check.choice(m, "methods", METHODS)
    check.loop_count(seeds, "seeds")
    first = check.integer(first_seed, "first_seed", minimum=0)
    return [{"seed": first + s, "h": int(h), "method": m, **params}
            for m in methods for h in h_values for s in range(check.integer(seeds, "seeds", minimum=1))]


def fit_exponent(h: np.ndarray, N: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    r"""Least-squares slope :math:`b` of :math:`\log N^* = a + b\log h` over all (h, seed) points, with a ``level`` t-interval.

    Returns
    -------
    tuple of float
        ``(b, low, high)``; ``nan`` when fewer than three finite points or fewer than two distinct ``h``.
    """
    h = check.real_array(h, "h", ndim=1, minimum=0.0, strict_min=True)
    N = check.real_array(N, "N", ndim=1, shape=h.shape, finite=False, match="h")  # nan: not found
    level = check.real(level, "level", minimum=0.0, maximum=1.0, strict_min=True, strict_max=True)
    keep = np.isfinite(N) & (N > 0)
    if keep.sum() < 3 or np.unique(h[keep]).size < 2:
        return float("nan"), float("nan"), float("nan")
    fit = stats.linregress(np.log(h[keep]), np.log(N[keep]))
    half = stats.t.ppf(0.5 + level / 2, keep.sum() - 2) * fit.stderr
    return float(fit.slope), float(fit.slope - half), float(fit.slope + half)


def exponent_at_most_linear(b: float, low: float, high: float) -> bool:
    r"""Whether a fitted exponent of :math:`N^* \propto h^b` with interval ``[low, high]`` (:func:`fit_exponent`) bounds the growth.

    True when the interval reaches down to 1 (growth no faster than linear is consistent with the
    data) and stays below 2 (quadratic growth is excluded): ``low <= 1`` and ``high < 2``.  A wider
    interval is no evidence either way and gives ``False``.
    """
    b, low, high = (check.real(v, name) for v, name in ((b, "b"), (low, "low"), (high, "high")))
    if not low <= b <= high:
        raise ValueError(f"b must lie in its interval [low, high], got b={b}, low={low}, high={high}")
    return bool(low <= 1.0 and high < 2.0)


def _own_stream(task: Callable[..., dict[str, Any]], rng: np.random.Generator, **params: Any) -> dict[str, Any]:
    """Call ``task(**params)``: its ``seed`` parameter, part of the task's identity, fixes its random stream."""
    return task(**params)


def run_tasks(task: Callable[..., dict[str, Any]], tasks: Sequence[Mapping[str, Any]], *, desc: str) -> list[dict[str, Any]]:
    """Run ``task(**params)`` for every parameter dict of ``tasks`` through :func:`lib.execution.map_tasks`; results in task order.

    The tasks draw from their own ``seed`` rather than from the stream :mod:`lib.execution` derives,
    so that every protocol (or method) of one seed sees the same instance: a paired comparison.
    The numbers are the same on every backend either way.
    """
    if not callable(task):
        raise TypeError(f"task must be callable, got {type(task).__name__}")
    check.text(desc, "desc")
    return execution.map_tasks(functools.partial(_own_stream, task), _mappings(tasks, "tasks"), seed=0, name=desc)
