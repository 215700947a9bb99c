r"""Experiments of the chapter "Theorem 3.2 at a fixed coherence": Table 1 with :math:`\mu = 1` held fixed.

The dictionaries are the Kerdock frames of :mod:`lib.dictionaries` with four orthonormal bases
(:math:`h = 4n`, coherence exactly :math:`1/\sqrt n`, :math:`\mu = 1`), each randomised by column
signs and order, so that independent draws at one :math:`h` are different dictionaries with the same
Gram matrix up to order and sign.  Everything else is the simulations chapter's
(:class:`lib.experiments.simulations.Settings`, :func:`lib.experiments.simulations.measure_cell`);
the estimator is :class:`lib.estimators.DictionaryStructure`, whose cost does not hold any
:math:`h\times h` matrix.

Sweeps are lists of independent tasks (:func:`table_task`, :func:`recovery_task`), each a pure
function ``task(rng, **params)`` of JSON-able parameters (the settings as a dict), run by
:func:`lib.execution.map_tasks` (serial or Dask, identical numbers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from lib import _validate as check
from lib import dictionaries, estimators, execution, model
from lib.experiments import simulations as sim
from lib.theory import criticality as theory
from lib.theory import support as support_theory

__all__ = [
    "FAMILIES",
    "KERDOCK_H",
    "make_dictionary",
    "points_on",
    "table_task",
    "recovery_task",
    "table",
    "Slope",
    "fit_slopes",
    "xi_exact",
    "nu_of_delta",
    "whole_bound",
    "below_whole_bound",
    "first_order",
    "theorem31_onset",
    "theorem31_holds",
    "theorem32_failures",
    "recovers_where_theorem31_holds",
    "falls_with_h",
    "row_for_widget",
]

FAMILIES = ("kerdock", "identity+hadamard", "gaussian")
KERDOCK_H = tuple(4 * n for n in (16, 64, 256, 1024, 4096, 16384))  # h = 4n: four bases need n/2 + 1 >= 4
ROW_ENTRIES = 1 << 22  # entries of a block of W built at once (32 MB)


def make_dictionary(family: str, h: int, rng: np.random.Generator):
    r"""A dictionary of ``family`` with ``h`` atoms: Kerdock (:math:`n = h/4`, randomised), identity + Hadamard (:math:`n
    = h/2`, randomised), or Gaussian (:math:`n = h/4`).

    Kerdock frames of four bases exist for :math:`n = 2^{m+1}`, :math:`m` odd, :math:`n \ge 16`
    (:data:`KERDOCK_H`), identity + Hadamard for :math:`n` a power of 2, the Gaussian family for ``h``
    a multiple of 4; any other ``h`` is a ``ValueError``, never a dictionary of another size.
    """
    rng = check.generator(rng)
    family = check.choice(family, "family", FAMILIES)
    h = check.integer(h, "h", minimum=8, maximum=4 * 16384)
    if family == "kerdock" and h not in KERDOCK_H:
        raise ValueError(f"h must be one of {KERDOCK_H} for the kerdock family (n = h/4), got {h}")
    if family == "identity+hadamard" and h & (h - 1):
        raise ValueError(f"h must be a power of 2 for the identity+hadamard family (n = h/2), got {h}")
    if family == "gaussian" and h % 4:
        raise ValueError(f"h must be a multiple of 4 for the gaussian family (n = h/4), got {h}")
    if family == "kerdock":
        return dictionaries.kerdock(h // 4, 4).randomized(rng, rotate=False)
    if family == "identity+hadamard":
        return dictionaries.identity_hadamard(h // 2).randomized(rng, rotate=False)
    if family == "gaussian":
        return dictionaries.gaussian(h // 4, h, rng)
    raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")


def points_on(dictionary, delta: float, points: int, rng: np.random.Generator) -> list[estimators.DictionaryStructure]:
    r"""``points`` random encoders :math:`W^\top = A^* + \delta\Delta` (:math:`\Delta` Gaussian with unit columns) as structures with bias 0.

    :math:`\Delta` is :func:`lib.model.random_dictionary`'s draw (the same random stream), built in
    place (:func:`_encoder`), so only :math:`W` is held at a time.
    """
    check.of_type(dictionary, "dictionary", (dictionaries.StructuredDictionary, dictionaries.DenseDictionary))
    delta = check.real(delta, "delta", minimum=0.0)
    points = check.loop_count(points, "points")
    rng = check.generator(rng)
    check.allocation("points", 8.0 * dictionary.h * dictionary.n * points)
    return [estimators.DictionaryStructure.of(_encoder(dictionary, delta, rng), dictionary, 0.0) for _ in range(points)]


def _encoder(dictionary, delta: float, rng: np.random.Generator) -> np.ndarray:
    r""":math:`W = A^{*\top} + \delta\Delta^\top` ``(h, n)`` with no other :math:`h\times n` array.

    The Gaussian :math:`G` ``(n, h)`` of :func:`lib.model.random_dictionary` is drawn block of
    rows by block of rows (the same stream as one draw) into :math:`W^\top`; its column norms are
    the row norms of :math:`W`, which is then scaled and gets :math:`A^{*\top}` added by blocks of
    rows (:meth:`~lib.dictionaries.StructuredDictionary.rows`).
    """
    n, h = dictionary.n, dictionary.h
    W = np.empty((h, n))
    step = max(1, ROW_ENTRIES // h)
    for start in range(0, n, step):
        W[:, start:start + step] = rng.standard_normal((min(step, n - start), h)).T
    W *= (delta / np.sqrt(np.einsum("ij,ij->i", W, W)))[:, None]
    step = max(1, ROW_ENTRIES // n)
    for start in range(0, h, step):
        W[start:start + step] += dictionary.rows(np.arange(start, min(start + step, h)))
    return W


def table_task(rng: np.random.Generator, *, h: int, p_values: Sequence[float], settings: dict, points: int, batches: int,
               pilot_per_unit: int, max_samples: int, family: str = "kerdock", draw: int = 0) -> list[dict]:
    """One independent dictionary at ``h`` and ``points`` random points on it: one Table-1 cell per ``p`` (rows of a table).

    ``settings`` is :class:`lib.experiments.simulations.Settings` as a dict; ``draw`` numbers the
    independent dictionaries at one ``h``.
    """
    settings = _settings(settings)
    p_values = check.real_sequence(p_values, "p_values", minimum=0.0, maximum=1.0, strict_min=True, strict_max=True)
    check.integer(draw, "draw", minimum=0)
    dictionary = make_dictionary(family, h, rng)
    structures = points_on(dictionary, settings.delta, points, rng)
    floor = min(settings.bias(h, p, dictionary.coherence) / (settings.k(h, p) * settings.high) for p in p_values)
    for structure in structures if floor > 0 else ():  # one scan of M per point at the lowest eps / (k x_max), filtered for every p
        structure.scan(floor)
    rows = []
    for p in p_values:
        cell = sim.measure_cell(structures, p, dictionary.coherence, settings, rng, batches=batches,
                                pilot_per_unit=pilot_per_unit, max_samples=max_samples, exact=False)
        row = asdict(cell)
        row.update(family=family, draw=draw, rounding=settings.rounding, point_values=list(cell.point_values))
        rows.append(row)
    return rows


def table(settings: sim.Settings, family: str, h_values: Sequence[int], *, p_values: Sequence[float], draws: int,
          points: int, batches: int, pilot_per_unit: int, max_samples: int, seed: int) -> pd.DataFrame:
    """Table 1 on ``draws`` independent dictionaries of ``family`` at every ``h``: one row per (h, draw, p).

    Every (h, draw) pair is one :func:`table_task`, run through :func:`lib.execution.map_tasks`
    (serial, or Dask when configured; identical numbers either way).  The other parameters are those of
    :func:`lib.experiments.simulations.measure_cell`.
    """
    check.of_type(settings, "settings", sim.Settings)
    family = check.choice(family, "family", FAMILIES)
    h_values = check.integer_sequence(h_values, "h_values", minimum=8, maximum=4 * 16384)  # as make_dictionary
    draws = check.loop_count(draws, "draws")
    p_values = list(check.real_sequence(p_values, "p_values", minimum=0.0, maximum=1.0, strict_min=True, strict_max=True))
    points = check.loop_count(points, "points")
    batches = check.integer(batches, "batches", minimum=2)
    pilot_per_unit = check.integer(pilot_per_unit, "pilot_per_unit", minimum=1)
    max_samples = sim._sample_cap(max_samples, batches)
    tasks = [dict(h=h, p_values=p_values, settings=asdict(settings), points=points, batches=batches,
                  pilot_per_unit=pilot_per_unit, max_samples=max_samples, family=family, draw=d)
             for h in h_values for d in range(draws)]
    rows = execution.map_tasks(table_task, tasks, seed=seed,
                               name=f"Table 1 at fixed coherence ({family}, {settings.rounding})")
    return pd.DataFrame([row for cell_rows in rows for row in cell_rows])


def recovery_task(rng: np.random.Generator, *, h: int, p: float, nu: float, settings: dict, samples: int) -> dict:
    r"""Exact support recovery at :math:`\delta = h^{-p-\nu}` with Theorem 3.1's own bias (prefactor 2), on a Kerdock frame.

    The bias is :math:`\epsilon = 2m_1h^p(\delta + 1/\sqrt n)` (:func:`lib.theory.criticality.theorem_bias`);
    returns the fraction of samples whose support the ReLU layer recovers exactly and the active
    units per sample.  ``settings`` as in :func:`table_task`.
    """
    settings = _settings(settings)
    p = check.exponent(p)
    nu = check.real(nu, "nu", minimum=0.0, strict_min=True)
    samples = check.loop_count(samples, "samples")
    dictionary = make_dictionary("kerdock", h, rng)
    delta = float(np.squeeze(theory.ball_radius(h, p, nu)))
    eps = float(np.squeeze(theory.theorem_bias(h, p, delta, dictionary.coherence, settings.m1)))
    (structure,) = points_on(dictionary, delta, 1, rng)
    support, values = model.sample_sparse_codes(h, settings.k(h, p), samples, rng, settings.low, settings.high)
    sums = estimators.accumulate(structure.with_bias(eps), support, values, xmax=settings.high)
    return {"h": h, "p": p, "nu": nu, "delta": delta, "eps": eps, "coherence": dictionary.coherence,
            "recovered": sums.recovered / sums.N,
            "active_per_sample": sums.active / sums.N, "k": support.shape[1]}


def _settings(settings: object) -> sim.Settings:
    """``settings`` of the tasks: a mapping of :class:`lib.experiments.simulations.Settings` fields."""
    check.of_type(settings, "settings", Mapping)
    try:
        return sim.Settings(**settings)
    except TypeError as exc:
        raise TypeError(f"settings must hold fields of Settings ({exc})") from exc


def _h_array(h: object) -> np.ndarray:
    return check.real_array(h, "h", ndim=(0, 1), minimum=1.0, strict_min=True)


@dataclass(frozen=True)
class Slope:
    """A log-log slope with its 95 % confidence interval (ordinary least squares on every point value)."""

    slope: float
    low: float
    high: float
    values: int


def fit_slopes(table: pd.DataFrame) -> dict[float, Slope]:
    r"""Per :math:`p`, the slope of :math:`\log\|\nabla\|` against :math:`\log h` over every point of every dictionary.

    The points are independent (fresh dictionary and directions per draw, fresh data per cell); the
    interval is the least-squares :math:`t` interval with :math:`m - 2` degrees of freedom.
    """
    check.of_type(table, "table", pd.DataFrame)
    out = {}
    for p, rows in table.groupby("p"):
        x = np.concatenate([np.full(len(v), np.log(h)) for h, v in zip(rows["h"], rows["point_values"])])
        y = np.log(np.concatenate([np.asarray(v, dtype=float) for v in rows["point_values"]]))
        fit = stats.linregress(x, y)
        half = stats.t.ppf(0.975, x.size - 2) * fit.stderr
        out[float(p)] = Slope(float(fit.slope), float(fit.slope - half), float(fit.slope + half), int(x.size))
    return out


def xi_exact(h: object, coherence: object) -> np.ndarray:
    r""":math:`\xi` with :math:`h^{-\xi} = ` coherence, exactly (:math:`\xi = \tfrac12 - \log 2/\log h` for :math:`1/\sqrt n`, :math:`n = h/4`)."""
    h = _h_array(h)
    coherence = check.real_array(coherence, "coherence", minimum=0.0, maximum=1.0, strict_min=True)
    return -np.log(coherence) / np.log(h)


def nu_of_delta(h: object, p: float, delta: float) -> np.ndarray:
    r""":math:`\nu` with :math:`\delta = h^{-p-\nu}`: :math:`\nu = -\log\delta/\log h - p` (Table 1's fixed :math:`\delta`)."""
    h, p = _h_array(h), check.exponent(p)
    delta = check.real(delta, "delta", minimum=0.0, strict_min=True)
    return -np.log(delta) / np.log(h) - p


def whole_bound(h: object, p: float, settings: sim.Settings) -> np.ndarray:
    r"""Theorem 3.2's explicit bound (:func:`lib.theory.criticality.reconstructed_bound`) at :math:`\mu = 1`, :math:`n = h/4`, Table 1's :math:`\delta`.

    :math:`h^{p-1}[4m_1^2(h^{-\nu} + h^{p-\xi}) + m_2h^{-p-\nu}]` with :math:`\xi` and :math:`\nu`
    exact at every :math:`h` (:func:`xi_exact`, :func:`nu_of_delta`).
    """
    h = np.atleast_1d(_h_array(h))
    p = check.exponent(p)
    check.of_type(settings, "settings", sim.Settings)
    m2 = (settings.low**2 + settings.low * settings.high + settings.high**2) / 3.0
    xi, nu = xi_exact(h, 2.0 / np.sqrt(h)), nu_of_delta(h, p, settings.delta)
    return np.array([float(np.squeeze(theory.reconstructed_bound(int(hh), p, float(v), float(x), settings.m1, m2)))
                     for hh, v, x in zip(h, nu, xi)])


def below_whole_bound(table: pd.DataFrame, settings: sim.Settings) -> bool:
    r"""Whether every cell's measured norm (column ``corrected``) lies below :func:`whole_bound` at its ``h`` and ``p``.

    ``table`` as :func:`table` (columns ``h``, ``p``, ``corrected``), on dictionaries with
    :math:`\mu = 1` and :math:`n = h/4` (the bound's :math:`\xi`).
    """
    table = check.frame(table, "table", ("h", "p", "corrected"))
    check.of_type(settings, "settings", sim.Settings)
    bound = np.array([whole_bound(float(h), float(p), settings)[0] for h, p in zip(table["h"], table["p"])])
    return bool(np.all(table["corrected"].to_numpy(float) < bound))


def first_order(h: object, p: float, settings: sim.Settings, smooth: bool) -> np.ndarray:
    r"""First-order size :math:`q\sqrt{\epsilon^2(2m_1-\epsilon)^2 + m_2^2\delta^2}` (:func:`lib.theory.criticality.first_order_norm`) at :math:`\mu = 1`.

    :math:`q = k/h` with :math:`k = \mathrm{round}(h^p)`, or :math:`q = h^{p-1}` for the smooth support size.
    """
    h = np.atleast_1d(_h_array(h)).astype(int)
    p = check.exponent(p)
    check.of_type(settings, "settings", sim.Settings)
    smooth = check.flag(smooth, "smooth")
    m2 = (settings.low**2 + settings.low * settings.high + settings.high**2) / 3.0
    k = np.array([hh**p if smooth else model.support_size(int(hh), p) for hh in h], dtype=float)
    eps = np.array([settings.bias(int(hh), p, 2.0 / np.sqrt(hh)) for hh in h])
    return theory.first_order_norm(k / h, eps, settings.m1, m2, settings.delta)


def theorem31_onset(p: float, nu: float, settings: sim.Settings, *, h_max: float = 2.0**40) -> float:
    r"""The smallest :math:`h` (:math:`n = h/4`, :math:`\mu = 1`) from which Theorem 3.1's reconstructed margin condition holds.

    :func:`lib.theory.support.margin_condition` with :math:`K = h^p`, :math:`\delta = h^{-p-\nu}`,
    :math:`\beta = \delta + 2/\sqrt h` and the theorem's prefactor 2; then every support unit fires
    on every sample and, as :math:`m_{\max}\le 2m_1`, no other unit does (exact recovery).  Searched
    on a grid of :math:`\log_2 h` with step 1/64; ``inf`` when it fails up to ``h_max``.
    """
    p = check.exponent(p)
    nu = check.real(nu, "nu", minimum=0.0, strict_min=True)
    check.of_type(settings, "settings", sim.Settings)
    h_max = check.real(h_max, "h_max", minimum=16.0, maximum=2.0**64)
    for log_h in np.arange(4.0, np.log2(h_max), 1 / 64):
        h = 2.0**log_h
        delta = h ** (-p - nu)
        if delta < 1 and support_theory.margin_condition(delta, delta + 2 / np.sqrt(h), h**p, settings.low, settings.high,
                                                         settings.m1):
            return float(h)
    return float("inf")


_THEOREM31 = ("the bias is Theorem 3.1's 2m1·h^p(δ + μ/√n)", "p + ν < ξ (δ above the coherence)", "|S| ≤ h^p",
              "the margin condition")


def _theorem31_conditions(h: float, p: float, k: float, delta: float, coherence: float, eps: float,
                          settings: sim.Settings) -> dict[str, bool]:
    r"""Each reconstructed hypothesis of Theorem 3.1 (:data:`_THEOREM31`) at one cell: whether it holds."""
    K = h**p
    beta = delta + coherence
    theorem_eps = 2.0 * settings.m1 * K * beta
    return {
        _THEOREM31[0]: bool(np.isclose(eps, theorem_eps, rtol=1e-9, atol=0.0)),
        _THEOREM31[1]: bool(delta > coherence),
        _THEOREM31[2]: bool(k <= K * (1 + 1e-12)),
        _THEOREM31[3]: bool(delta < 1 and support_theory.margin_condition(delta, beta, K, settings.low, settings.high,
                                                                          settings.m1, eps / (settings.m1 * K * beta))),
    }


def theorem31_holds(frame: pd.DataFrame, settings: sim.Settings) -> np.ndarray:
    r"""Per row, whether the run satisfies every reconstructed hypothesis of Theorem 3.1.

    ``frame`` has columns ``h``, ``p``, ``k`` (the support size), ``delta`` (the radius
    :math:`\|W_i - A^*_i\|`), ``coherence`` (:math:`\mu/\sqrt n`) and ``eps`` (the bias), e.g. the
    rows of :func:`recovery_task`.  The hypotheses: the bias is :math:`2m_1h^p\beta` with
    :math:`\beta = \delta + \mu/\sqrt n`; :math:`p + \nu < \xi`, i.e. :math:`\delta > \mu/\sqrt n`;
    :math:`|S| = k \le h^p`; the margin condition :math:`m_{\min}(1-\delta) > h^p\beta(m_{\max} + 2m_1)`.
    """
    frame = check.frame(frame, "frame", ("h", "p", "k", "delta", "coherence", "eps"))
    check.of_type(settings, "settings", sim.Settings)
    return np.array([all(_theorem31_conditions(r.h, r.p, r.k, r.delta, r.coherence, r.eps, settings).values())
                     for r in frame.itertuples()], dtype=bool)


def theorem32_failures(table: pd.DataFrame, settings: sim.Settings) -> list[str]:
    r"""The reconstructed hypotheses of Theorem 3.2 that a Table-1 run does not satisfy, in words.

    ``table`` has one row per cell (columns ``h``, ``p``, ``n``, ``k``, ``coherence``, ``eps``, as
    :func:`table`); the radius is ``settings.delta``, so :math:`\nu = -\log\delta/\log h - p`.
    Checked per cell: Theorem 3.1's hypotheses (:func:`theorem31_holds`) and Lemma 5.2's
    :math:`p < \nu`; over the run: :math:`\mu = \sqrt n\cdot` coherence the same at every
    :math:`h` (the theorem is a limit :math:`h\to\infty` at a fixed :math:`\mu`).  Each failure
    reads "condition (fails in m of M cells)"; an empty list means every hypothesis is met.
    """
    table = check.frame(table, "table", ("h", "p", "n", "k", "coherence", "eps"))
    check.of_type(settings, "settings", sim.Settings)
    failed: dict[str, int] = {}
    for r in table.itertuples():
        conditions = _theorem31_conditions(r.h, r.p, r.k, settings.delta, r.coherence, r.eps, settings)
        conditions["p < ν (Lemma 5.2)"] = bool(r.p < float(np.squeeze(nu_of_delta(float(r.h), r.p, settings.delta))))
        for name, holds in conditions.items():
            failed[name] = failed.get(name, 0) + (not holds)
    out = [f"{name} (fails in {count} of {len(table)} cells)" for name, count in failed.items() if count]
    mu = table["coherence"].to_numpy(float) * np.sqrt(table["n"].to_numpy(float))
    if np.ptp(mu) > 1e-9 * mu.max():
        out.append(f"μ fixed in h (μ runs from {mu.min():.2f} to {mu.max():.2f})")
    return out


def recovers_where_theorem31_holds(recovery: pd.DataFrame, settings: sim.Settings) -> bool:
    r"""Whether every support is recovered exactly wherever the run satisfies Theorem 3.1's hypotheses (:func:`theorem31_holds`).

    ``recovery`` has the columns of :func:`theorem31_holds` and ``recovered`` (the fraction of
    samples whose support the ReLU layer recovers exactly).  False when no row satisfies the
    hypotheses: the check then has nothing to test.
    """
    recovery = check.frame(recovery, "recovery", ("recovered",))
    inside = theorem31_holds(recovery, settings)
    return bool(inside.any() and np.all(recovery["recovered"].to_numpy(float)[inside] == 1.0))


def falls_with_h(slopes: Mapping[float, Slope]) -> bool:
    """Whether, for every :math:`p`, the whole 95 % interval of the log-log slope (:func:`fit_slopes`) lies below 0."""
    check.of_type(slopes, "slopes", Mapping)
    if not slopes:
        raise ValueError("slopes must hold at least one p")
    for slope in slopes.values():
        check.of_type(slope, "slopes", Slope)
    return all(slope.high < 0 for slope in slopes.values())


def row_for_widget(family: str, p: float, prefactor: float, mu_in_bias: float, h_values: Sequence[int],
                   rng: np.random.Generator, *, samples_per_unit: int = 16, batches: int = 8) -> pd.DataFrame:
    r"""The row :math:`p` of Table 1 for one family, with the bias's :math:`\mu` and prefactor chosen freely.

    The bias is :math:`\epsilon = c\cdot2m_1h^p(\delta + \mu_\epsilon/\sqrt n)` with
    :math:`\mu_\epsilon` = ``mu_in_bias`` (the dictionary's own coherence is what the family gives).
    """
    settings = replace(sim.Settings(), prefactor=check.real(prefactor, "prefactor", minimum=0.0))
    mu_in_bias = check.real(mu_in_bias, "mu_in_bias", minimum=0.0)
    family = check.choice(family, "family", FAMILIES)
    p = check.exponent(p)
    h_values = check.integer_sequence(h_values, "h_values", minimum=8, maximum=4 * 16384)
    rng = check.generator(rng)
    samples_per_unit = check.loop_count(samples_per_unit, "samples_per_unit")
    batches = check.integer(batches, "batches", minimum=2)
    check.work("samples_per_unit, batches", float(samples_per_unit * max(h_values) + batches) * max(h_values))
    rows = []
    for h in h_values:
        dictionary = make_dictionary(family, h, rng)
        (structure,) = points_on(dictionary, settings.delta, 1, rng)
        n = dictionary.n
        eps = settings.bias(h, p, mu_in_bias / np.sqrt(n))
        k = settings.k(h, p)
        N = batches * int(np.ceil(samples_per_unit * h / k / batches))
        support, values = settings.codes(h, p, N, rng)
        point = estimators.batched_gradient(structure.with_bias(eps), support, values, batches, energy=float("nan"))
        stat = estimators.row_norm_statistics([point]).per_point
        rows.append({"h": h, "value": stat.corrected, "se": stat.standard_error, "rate": h ** (p - 1),
                     "coherence": dictionary.coherence, "active": point.active_fraction * h})
    return pd.DataFrame(rows)
