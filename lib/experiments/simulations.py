r"""Experiments of the chapter "Simulations: Table 1 and Figures 1–6" (paper Sec. 6).

The paper draws a Gaussian dictionary :math:`A^*` (:math:`n\times h`, unit columns) for each
:math:`h`, codes with :math:`h^p` nonzeros i.i.d. uniform, the bias
:math:`\epsilon = (\text{prefactor})\times(\text{Theorem 3.1's bias})`, and measures the average row
norm of the empirical mean gradient at random points :math:`W^\top = A^* + \delta\Delta`
(:math:`\Delta` Gaussian with unit columns).  What the extracted text lost (appendix §8) is a
:class:`Settings` object here, with our defaults stated and argued in the chapter.

All gradients come from :mod:`lib.estimators`: the structured Monte Carlo estimator with a
delete-one-batch jackknife (every cell), and the exact expectation for one nonzero per code.

The sweeps (:func:`table1`, :func:`sensitivity`) run their cells through :func:`lib.execution.map_tasks`:
serial by default, on Dask workers when configured.  Each cell's random stream comes from its
identity, and the draws a row shares (the dictionary and the random points of one :math:`h`) from
:func:`lib.execution.task_generator` keyed by :math:`(h, n, \text{points})`, so every backend gives
the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd
from tqdm import tqdm  # text bars on stderr: an executed notebook stores no widget state

from lib import _validate as check
from lib import estimators, execution, model
from lib.plots import fit_loglog_slope

__all__ = [
    "PAPER_H",
    "PAPER_P",
    "paper_table1",
    "Settings",
    "default_variants",
    "Cell",
    "measure_cell",
    "cell_memory",
    "table1",
    "table1_frame",
    "SensitivityRow",
    "sensitivity",
    "NoiseStudy",
    "noise_study",
    "Landscape",
    "landscape",
    "LineBiasReadings",
    "line_bias_readings",
    "k1_prediction",
    "smooth_sparse_codes",
    "second_number_is_h_pow",
    "decreases_with_h",
    "same_order",
    "decreases_towards_zero",
    "flat_near_truth",
]

PAPER_H = (256, 512, 1024, 2048, 4096)
PAPER_P = (0.01, 0.02, 0.05, 0.1)


def paper_table1() -> pd.DataFrame:
    r"""The paper's Table 1: columns ``h``, ``p``, ``grad_norm`` and ``h_pow_p_minus_1`` (its :math:`h^{p-1}`, 4 decimals)."""
    with resources.files("lib").joinpath("data/table1.csv").open("r") as handle:
        return pd.read_csv(handle)


@dataclass(frozen=True)
class Settings:
    r"""The settings of Sec. 6 that the extracted paper lost, with our defaults.

    Attributes
    ----------
    n_fraction : float
        Signal dimension :math:`n = \mathrm{round}(n_{\text{fraction}}\,h)` (default :math:`h/4`).
    delta : float
        Column-wise distance :math:`\delta = \|W_i - A^*_i\|` of the random points (default 0.1).
    prefactor : float
        :math:`c` in :math:`\epsilon = c\cdot 2m_1h^p(\delta+\mu)`, where :math:`2m_1h^p(\delta+\mu)`
        is Theorem 3.1's bias as appendix §3 reconstructs it and :math:`\mu` is the coherence of
        :math:`A^*` (default :math:`1/2`).
    low, high : float
        The nonzeros are i.i.d. :math:`U[m_{\min}, m_{\max}]` (default :math:`U[1, 2]`).
    rounding : str
        How :math:`h^p` becomes the support size :math:`k` (:func:`lib.model.support_size`), or
        ``"smooth"``: :math:`|S|` drawn per sample between :math:`\lfloor h^p\rfloor` and
        :math:`\lceil h^p\rceil` with mean exactly :math:`h^p` (:func:`smooth_sparse_codes`).
    """

    n_fraction: float = 0.25
    delta: float = 0.1
    prefactor: float = 0.5
    low: float = 1.0
    high: float = 2.0
    rounding: str = "round"

    def __post_init__(self) -> None:
        values = {
            "n_fraction": check.real(self.n_fraction, "n_fraction", minimum=0.0, maximum=1.0, strict_min=True),
            "delta": check.real(self.delta, "delta", minimum=0.0),
            "prefactor": check.real(self.prefactor, "prefactor", minimum=0.0),
            "low": check.real(self.low, "low", minimum=0.0),
            "high": check.real(self.high, "high", minimum=0.0),
            "rounding": check.choice(self.rounding, "rounding", (*model.ROUNDING_RULES, "smooth")),
        }
        if not values["high"] > values["low"]:
            raise ValueError(f"high must be > low, got low={self.low}, high={self.high}")
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @property
    def m1(self) -> float:
        r""":math:`m_1 = (m_{\min}+m_{\max})/2`."""
        return 0.5 * (self.low + self.high)

    def n(self, h: int) -> int:
        """Signal dimension for ``h`` hidden units."""
        return max(1, int(round(self.n_fraction * check.integer(h, "h", minimum=1))))

    def k(self, h: int, p: float) -> int:
        r"""Support size for ``h`` and ``p`` (the largest one, :math:`\lceil h^p\rceil`, when ``rounding`` is ``"smooth"``)."""
        return model.support_size(h, p, "ceil" if self.rounding == "smooth" else self.rounding)

    def codes(self, h: int, p: float, N: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``N`` codes in sparse form with this support-size rule and value range."""
        check.allocation("h, p, N", 16.0 * check.integer(N, "N", minimum=1) * self.k(h, p))
        if self.rounding == "smooth":
            return smooth_sparse_codes(h, p, N, rng, self.low, self.high)
        return model.sample_sparse_codes(h, self.k(h, p), N, rng, self.low, self.high)

    def bias(self, h: int, p: float, coherence: float, delta: float | None = None) -> float:
        r""":math:`\epsilon = c\cdot2m_1h^p(\delta+\mu)` (``delta`` defaults to :attr:`delta`)."""
        delta = self.delta if delta is None else check.real(delta, "delta", minimum=0.0)
        h = check.integer(h, "h", minimum=1)
        p = check.exponent(p)
        coherence = check.real(coherence, "coherence", minimum=0.0, maximum=1.0)
        return float(self.prefactor * 2.0 * self.m1 * h**p * (delta + coherence))


def default_variants(base: Settings = Settings()) -> dict[str, Settings]:
    """The alternatives of the sensitivity panel: two per unrecovered setting, plus the rounding rule."""
    check.of_type(base, "base", Settings)
    return {
        "our defaults": base,
        "n = h/8": replace(base, n_fraction=1 / 8),
        "n = h/2": replace(base, n_fraction=1 / 2),
        f"δ = {base.delta / 2:g}": replace(base, delta=base.delta / 2),
        f"δ = {base.delta * 2.5:g}": replace(base, delta=base.delta * 2.5),
        f"prefactor {base.prefactor / 2:g}": replace(base, prefactor=base.prefactor / 2),
        f"prefactor {base.prefactor * 2:g}": replace(base, prefactor=base.prefactor * 2),
        "x ~ U[0.5, 1.5]": replace(base, low=0.5, high=1.5),
        "x ~ U[1, 3]": replace(base, low=1.0, high=3.0),
        "k = ceil(h^p)": replace(base, rounding="ceil"),
    }


@dataclass(frozen=True)
class LineBiasReadings:
    r"""The exact :math:`k=1` gradient norm along :math:`t\mapsto A^*+t\Delta` under several readings of the bias.

    Attributes
    ----------
    h : int
    p : float
        Sparsity exponent with :math:`k = 1` at this ``h``.
    coherence : float
        :math:`\mu` of the dictionary.
    t : numpy.ndarray
        Positions along the line (:math:`\|W_i - A^*_i\| = |t|`).
    eps, grad_norm : dict of str to numpy.ndarray
        Per reading: the bias at each ``t`` and the exact average row norm of
        :math:`\mathbb E\,\nabla_W L` there (Table 1's statistic without sampling error).
    """

    h: int
    p: float
    coherence: float
    t: np.ndarray
    eps: dict
    grad_norm: dict


def _reading_biases(settings: Settings, h: int, p: float, mu: float, t: float, prefactors: Sequence[float]) -> dict[str, float]:
    """The bias of each reading at the point ``t`` of the line."""
    biases = {"fixed": settings.bias(h, p, mu)}
    for c in prefactors:
        biases[f"from |t|, c = {c:g}"] = replace(settings, prefactor=c).bias(h, p, mu, abs(t))
    return biases


def _bias_readings_point(rng: np.random.Generator, *, t: float, h: int, p: float, settings: dict, seed: int,
                         prefactors: list) -> dict[str, float]:
    """One task of :func:`line_bias_readings`: the exact gradient norm of every reading at one ``t``."""
    settings = Settings(**settings)
    A, mu, (direction,) = _shared_draws(seed, h, settings.n(h), 1)
    structure = estimators.GradientStructure.of(_line(A, direction, t), A, 0.0)
    row = {"coherence": float(mu)}
    for name, eps in _reading_biases(settings, h, p, mu, t, prefactors).items():
        expected = estimators.expected_gradient_k1(structure.with_bias(eps), settings.low, settings.high)
        row[name] = estimators.mean_row_norm(expected.gradient)
    return row


def line_bias_readings(h: int, rng: np.random.Generator, settings: Settings = Settings(), *,
                       t_values: Sequence[float] = tuple(np.linspace(-1.5, 1.5, 31)), p: float = 0.01,
                       prefactors: Sequence[float] = (0.5, 1.0)) -> LineBiasReadings:
    r"""Figures 2/4 under other readings of Section 6's bias: fixed, or recomputed from each point's distance.

    Readings (each exact, :func:`lib.estimators.expected_gradient_k1`, along one random line
    :math:`A^* + t\Delta`):

    * ``"fixed"``: Table 1's bias :math:`\epsilon = c\cdot 2m_1h^p(\delta+\mu)` with ``settings``,
      the same at every ``t`` (what :func:`landscape` uses);
    * ``"from |t|, c = ..."``: for each prefactor :math:`c` in ``prefactors``, that fraction of
      Theorem 3.1's bias at the point's own radius, :math:`\epsilon(t) = c\cdot 2m_1h^p(|t|+\mu)`.

    ``p`` must give one nonzero per code at ``h`` (``settings.k(h, p) == 1``).  One task per ``t``
    on the backend of :mod:`lib.execution`; the dictionary and the direction come from one seed
    drawn from ``rng``, so every backend gives the same numbers.
    """
    rng = check.generator(rng)
    h = check.integer(h, "h", minimum=2)
    p = check.exponent(p)
    _check_settings(settings)
    check.allocation("h", 8.0 * h * h)
    if settings.k(h, p) != 1:
        raise ValueError(f"p must give k = 1 at h = {h}, got k = {settings.k(h, p)}")
    t = np.array(check.real_sequence(t_values, "t_values"))
    prefactors = list(check.real_sequence(prefactors, "prefactors", minimum=0.0, strict_min=True))
    seed = _sweep_seed(rng)
    common = {"h": h, "p": p, "settings": asdict(settings), "seed": seed, "prefactors": prefactors}
    rows = execution.map_tasks(_bias_readings_point, [{"t": float(v), **common} for v in t], seed=seed,
                               name=f"bias readings h={h}")
    mu = rows[0]["coherence"]
    names = list(_reading_biases(settings, h, p, mu, 0.0, prefactors))
    eps = {name: np.array([_reading_biases(settings, h, p, mu, float(v), prefactors)[name] for v in t]) for name in names}
    norms = {name: np.array([row[name] for row in rows]) for name in names}
    return LineBiasReadings(h=h, p=p, coherence=mu, t=t, eps=eps, grad_norm=norms)


def k1_prediction(h: int, eps: float, delta: float, low: float, high: float) -> float:
    r"""First-order size of the expected proxy gradient for one nonzero per code (appendix §6.2).

    With :math:`W_i = A^*_i + \delta d_i`, :math:`d_i\perp A^*_i` to first order (random
    :math:`d_i` in high dimension) and :math:`q = 1/h`,

    .. math::

        \mathbb E\,\widetilde\nabla_{W_i}L \approx q\big[-\epsilon(2m_1-\epsilon)A^*_i
        + (m_2 - 2m_1\epsilon + \epsilon^2)\,\delta\, d_i\big],\qquad
        \|\cdot\| \approx q\sqrt{\epsilon^2(2m_1-\epsilon)^2 + (m_2-2m_1\epsilon+\epsilon^2)^2\delta^2}.

    It is the true expected gradient when every support is recovered exactly.
    """
    h = check.integer(h, "h", minimum=1)
    eps = check.real(eps, "eps")
    delta = check.real(delta, "delta", minimum=0.0)
    m1, m2 = model.uniform_moments(low, high)
    return float(np.hypot(eps * (2 * m1 - eps), (m2 - 2 * m1 * eps + eps**2) * delta) / h)


def _line(A: np.ndarray, direction: np.ndarray, t: float) -> np.ndarray:
    r"""The encoder :math:`W = (A^* + t\Delta)^\top` on the line through :math:`A^*` along :math:`\Delta`."""
    return (A + t * direction).T


@dataclass(frozen=True)
class Cell:
    r"""One cell of Table 1: the average row norm of the mean gradient at ``points`` random points.

    Attributes
    ----------
    h, p, n, k : int, float, int, int
        Sizes; :math:`k` is :math:`h^p` rounded.
    coherence, eps : float
        :math:`\mu = \max_{i\ne j}|\langle A^*_i, A^*_j\rangle|` and the bias used.
    N, pilot_N, batches : int
        Samples used, samples of the pilot run that chose ``N``, jackknife batches.
    plain, corrected, standard_error, noise_floor : float
        Mean over points of the plain statistic, of its jackknife correction, the jackknife
        standard error of that mean, and the noise floor (:class:`lib.estimators.NormStatistic`).
    pooled : float
        Corrected average row norm of the gradient averaged over the points (the literal reading).
    point_values : tuple of float
        Each point's corrected value.
    exact : float
        Mean over points of the exact expected value (:func:`lib.estimators.expected_gradient_k1`);
        NaN when ``k > 1``.
    active_per_sample, recovered_fraction : float
        Mean number of active hidden units per sample; fraction of samples whose support is
        recovered exactly.
    """

    h: int
    p: float
    n: int
    k: int
    coherence: float
    eps: float
    N: int
    pilot_N: int
    batches: int
    plain: float
    corrected: float
    standard_error: float
    noise_floor: float
    pooled: float
    point_values: tuple[float, ...]
    exact: float
    active_per_sample: float
    recovered_fraction: float


def smooth_sparse_codes(h: int, p: float, N: int, rng: np.random.Generator, low: float = 1.0,
                        high: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    r"""Codes whose support size is :math:`\lceil h^p\rceil` or :math:`\lfloor h^p\rfloor`, with mean exactly :math:`h^p`.

    Every row of ``support`` has :math:`\lceil h^p\rceil` indices; on a fraction
    :math:`\lceil h^p\rceil - h^p` of the samples (drawn independently) the last value is 0, so
    that code has :math:`\lfloor h^p\rfloor` nonzeros (the signal, the loss and the gradient are
    those of the smaller support; only the exact-support-recovery count reads the zero as a miss).
    """
    p = check.exponent(p)
    top = model.support_size(h, p, "ceil")
    check.allocation("h, p, N", 16.0 * check.integer(N, "N", minimum=1) * top)
    support, values = model.sample_sparse_codes(h, top, N, rng, low, high)
    short = rng.random(support.shape[0]) < top - h**p
    values[short, -1] = 0.0
    return support, values


def _monte_carlo(structures: Sequence[estimators.GradientStructure], k: int, settings: Settings, N: int,
                 batches: int, rng: np.random.Generator, p: float | None = None
                 ) -> tuple[list[estimators.BatchedGradient], estimators.CellStatistics]:
    """Fresh data of ``N`` samples (``k`` nonzeros, or the rule of ``settings`` for ``p``), the batched gradient at every point, and the cell statistics."""
    h = structures[0].h
    if p is None:
        support, values = model.sample_sparse_codes(h, k, N, rng, settings.low, settings.high)
    else:
        support, values = settings.codes(h, p, N, rng)
    points = [estimators.batched_gradient(s, support, values, batches, energy=float("nan")) for s in structures]
    return points, estimators.row_norm_statistics(points)


def _sample_cap(value: object, batches: int, name: str = "max_samples") -> int:
    """A sample count ``name``: an integer of at least ``batches`` (one sample per batch)."""
    value = check.integer(value, name, minimum=1)
    if value < batches:
        raise ValueError(f"{name} must be >= batches, got {name}={value}, batches={batches}")
    return value


def _check_settings(settings: object) -> Settings:
    return check.of_type(settings, "settings", Settings)


def _check_structures(structures: object) -> list:
    """A non-empty sequence of gradient structures (dense or implicit), all of one size."""
    if not isinstance(structures, Sequence) or isinstance(structures, (str, bytes)) or not structures:
        raise TypeError(f"structures must be a non-empty sequence of gradient structures, got {type(structures).__name__}")
    for s in structures:
        check.of_type(s, "structures", (estimators.GradientStructure, estimators.DictionaryStructure))
    return list(structures)


def _round_up(N: float, multiple: int) -> int:
    return int(multiple * np.ceil(N / multiple))


def measure_cell(structures: Sequence[estimators.GradientStructure], p: float, coherence: float, settings: Settings,
                 rng: np.random.Generator, *, batches: int = 16, pilot_per_unit: int = 8, max_samples: int = 2**19,
                 relative_bias: float = 0.01, exact: bool = True) -> Cell:
    r"""Measure one cell: a pilot run chooses :math:`N`, the final run measures with it.

    The pilot uses :math:`N_0 = ` ``pilot_per_unit`` :math:`\cdot h/k` samples (each unit is
    active on about ``pilot_per_unit`` samples); :func:`lib.estimators.required_samples` turns its
    noise floor and standard error into the :math:`N` for a worst-case plain bias below
    ``relative_bias`` and a standard error below 1 %, clipped to ``[N0, max_samples]``.

    Parameters
    ----------
    structures : sequence of lib.estimators.GradientStructure or lib.estimators.DictionaryStructure
        One per random point, all with the same :math:`A^*`; their bias is replaced by the cell's.
    p : float
        Sparsity exponent.
    coherence : float
        Coherence :math:`\mu` of :math:`A^*` (enters the bias).
    settings : Settings
    rng : numpy.random.Generator
    batches, pilot_per_unit, max_samples, relative_bias
        Monte Carlo controls (see above).
    exact : bool
        Also compute the exact expectation when :math:`k = 1` (dense structures only).
    """
    structures = _check_structures(structures)
    p = check.exponent(p)
    coherence = check.real(coherence, "coherence", minimum=0.0, maximum=1.0)
    _check_settings(settings)
    rng = check.generator(rng)
    batches = check.integer(batches, "batches", minimum=2)
    pilot_per_unit = check.integer(pilot_per_unit, "pilot_per_unit", minimum=1)
    max_samples = _sample_cap(max_samples, batches)
    relative_bias = check.real(relative_bias, "relative_bias", minimum=0.0, strict_min=True)
    exact = check.flag(exact, "exact")
    h = structures[0].h
    k = settings.k(h, p)
    eps = settings.bias(h, p, coherence)
    structures = [s.with_bias(eps) for s in structures]
    pilot_N = min(_round_up(pilot_per_unit * h / k, batches), _round_up(max_samples, batches))
    points, stats = _monte_carlo(structures, k, settings, pilot_N, batches, rng, p)
    need = estimators.required_samples(stats.per_point, pilot_N, relative_bias)
    N = min(_round_up(max(need, pilot_N), batches), _round_up(max_samples, batches))
    if N > pilot_N:
        points, stats = _monte_carlo(structures, k, settings, N, batches, rng, p)
    exact_value = float("nan")
    if exact and k == 1 and isinstance(structures[0], estimators.GradientStructure):
        exact_value = float(np.mean([estimators.mean_row_norm(estimators.expected_gradient_k1(
            s, settings.low, settings.high).gradient) for s in structures]))
    return Cell(
        h=h, p=p, n=structures[0].W.shape[1], k=k, coherence=coherence, eps=eps, N=N, pilot_N=pilot_N, batches=batches,
        plain=stats.per_point.plain, corrected=stats.per_point.corrected, standard_error=stats.per_point.standard_error,
        noise_floor=stats.per_point.noise_floor, pooled=stats.pooled.corrected,
        point_values=tuple(float(v) for v in stats.point_values), exact=exact_value,
        active_per_sample=float(np.mean([q.active_fraction for q in points])) * h,
        recovered_fraction=float(np.mean([q.recovered_fraction for q in points])),
    )


def _dictionary_and_points(n: int, h: int, points: int, rng: np.random.Generator):
    """A dictionary ``(n, h)``, its coherence, and ``points`` unit-column directions :math:`\\Delta`."""
    A = model.random_dictionary(n, h, rng)
    return A, model.coherence(A), [model.random_dictionary(n, h, rng) for _ in range(points)]


def _sweep_seed(rng: np.random.Generator) -> int:
    """The seed of a sweep: one draw from the caller's generator."""
    return int(rng.integers(2**63))


@lru_cache(maxsize=4)
def _shared_draws(seed: int, h: int, n: int, points: int):
    """The dictionary, its coherence and the directions of row ``h``: the same in every task (and process) that asks."""
    return _dictionary_and_points(n, h, points, execution.task_generator(seed, {"h": h, "n": n, "points": points}))


_structures_cache: dict[tuple, tuple] = {}


def _shared_structures(seed: int, h: int, n: int, points: int, delta: float):
    """Coherence and the :class:`lib.estimators.GradientStructure` of every point of row ``h``.

    Computed once per process and row; the previous row's are released first (at :math:`h = 8192`
    they take gigabytes).
    """
    key = (seed, h, n, points, delta)
    if key not in _structures_cache:
        _structures_cache.clear()
        A, mu, directions = _shared_draws(seed, h, n, points)
        _structures_cache[key] = mu, [estimators.GradientStructure.of(_line(A, d, delta), A, 0.0) for d in directions]
    return _structures_cache[key]


def _forget_shared() -> None:
    _structures_cache.clear()
    _shared_draws.cache_clear()


def _table1_cell(rng: np.random.Generator, *, h: int, p: float, settings: dict, seed: int, points: int,
                 batches: int, pilot_per_unit: int, max_samples: int, relative_bias: float) -> Cell:
    """One task of :func:`table1`."""
    settings = Settings(**settings)
    mu, structures = _shared_structures(seed, h, settings.n(h), points, settings.delta)
    return measure_cell(structures, p, mu, settings, rng, batches=batches, pilot_per_unit=pilot_per_unit,
                        max_samples=max_samples, relative_bias=relative_bias)


def cell_memory(h: int, n: int, points: int, samples: int, k: int) -> float:
    r"""Estimated peak memory in bytes of one cell of :func:`table1`.

    :math:`8\,[P(2hn + 2h^2) + 2(P+1)hn + h^2 + hn] + 16Nk` for ``P = points``: the structures
    (:math:`W`, :math:`WA^*`, :math:`WW^\top` per point), the dictionary and directions of this row
    and of a previous one, one :math:`h\times h` temporary and one gradient, and the ``samples``
    codes of support size ``k`` (indices and values).  An estimate for the pre-flight check of
    :func:`lib.execution.map_tasks`, not a bound.
    """
    h, n, points, samples, k = (check.integer(v, name, minimum=1) for v, name in
                                ((h, "h"), (n, "n"), (points, "points"), (samples, "samples"), (k, "k")))
    return 8.0 * (points * (2 * h * n + 2 * h * h) + 2 * (points + 1) * h * n + h * h + h * n) + 16.0 * samples * k


def _table1_memory(task: dict) -> float:
    settings = Settings(**task["settings"])
    h = task["h"]
    return cell_memory(h, settings.n(h), task["points"], task["max_samples"], settings.k(h, task["p"]))


def table1(h_values: Sequence[int], p_values: Sequence[float], rng: np.random.Generator,
           settings: Settings = Settings(), *, points: int = 3, batches: int = 16, pilot_per_unit: int = 8,
           max_samples: int = 2**19, relative_bias: float = 0.01) -> list[Cell]:
    """Every cell of Table 1: one dictionary and ``points`` random points per ``h``, shared by the ``p`` values.

    One task per cell on the backend of :mod:`lib.execution` (largest ``h`` first, so workers
    finish together); cells come back in the order of ``h_values`` then ``p_values``.  A cell
    whose memory estimate (:func:`cell_memory`) exceeds a worker's is refused before anything
    runs.  See :func:`measure_cell` for the Monte Carlo controls.
    """
    rng = check.generator(rng)
    points = check.integer(points, "points", minimum=1)
    batches = check.integer(batches, "batches", minimum=2)
    pilot_per_unit = check.integer(pilot_per_unit, "pilot_per_unit", minimum=1)
    max_samples = _sample_cap(max_samples, batches)
    relative_bias = check.real(relative_bias, "relative_bias", minimum=0.0, strict_min=True)
    h_values = list(check.integer_sequence(h_values, "h_values", minimum=2))
    check.allocation("h_values", 8.0 * max(h_values) ** 2)
    p_values = list(check.real_sequence(p_values, "p_values", minimum=0.0, maximum=1.0, strict_min=True, strict_max=True))
    _check_settings(settings)
    seed = _sweep_seed(rng)
    common = {"settings": asdict(settings), "seed": seed, "points": points, "batches": batches,
              "pilot_per_unit": pilot_per_unit, "max_samples": max_samples, "relative_bias": relative_bias}
    tasks = [{"h": h, "p": p, **common} for h in sorted(set(h_values), reverse=True) for p in dict.fromkeys(p_values)]
    cells = execution.map_tasks(_table1_cell, tasks, seed=seed, name="Table 1", memory_bytes=_table1_memory)
    _forget_shared()
    by_key = {(task["h"], task["p"]): cell for task, cell in zip(tasks, cells)}
    return [by_key[h, p] for h in h_values for p in p_values]


def table1_frame(cells: Sequence[Cell]) -> pd.DataFrame:
    r"""Our cells beside the paper's numbers.

    Columns: the :class:`Cell` fields, ``h_pow_p_minus_1`` (:math:`h^{p-1}` to 4 decimals),
    ``q`` (:math:`k/h`), ``ours_over_q``, and where the paper has the cell ``paper`` (its gradient
    norm), ``paper_h_pow_p_minus_1`` and ``ratio`` (ours / paper).
    """
    if not isinstance(cells, Sequence) or isinstance(cells, (str, bytes)) or not cells:
        raise TypeError(f"cells must be a non-empty sequence of Cell, got {type(cells).__name__}")
    frame = pd.DataFrame([asdict(check.of_type(c, "cells", Cell)) for c in cells])
    frame["h_pow_p_minus_1"] = np.round(frame["h"].astype(float) ** (frame["p"] - 1.0), 4)
    frame["q"] = frame["k"] / frame["h"]
    frame["ours_over_q"] = frame["corrected"] / frame["q"]
    paper = paper_table1().rename(columns={"grad_norm": "paper", "h_pow_p_minus_1": "paper_h_pow_p_minus_1"})
    frame = frame.merge(paper, on=["h", "p"], how="left")
    frame["ratio"] = frame["corrected"] / frame["paper"]
    return frame


@dataclass(frozen=True)
class SensitivityRow:
    r"""One row of Table 1 (fixed :math:`p`) under one choice of the unrecovered settings.

    Attributes
    ----------
    label : str
        Name of the variant.
    settings : Settings
    p : float
    h : numpy.ndarray
        The :math:`h` values.
    values : numpy.ndarray
        Average row norm of the expected gradient, mean over the points (exact when :math:`k=1`,
        jackknife-corrected Monte Carlo otherwise).
    spread : numpy.ndarray
        Standard deviation over the points.
    active_per_sample : numpy.ndarray
        Mean number of active hidden units per sample.
    slope : float
        Least-squares slope of :math:`\log` value against :math:`\log h` (compare :math:`p-1`); NaN
        when some value is 0 (every unit dead).
    """

    label: str
    settings: Settings
    p: float
    h: np.ndarray
    values: np.ndarray
    spread: np.ndarray
    active_per_sample: np.ndarray
    slope: float


def _expected_or_sampled(structures, k: int, settings: Settings, samples_per_unit: int, batches: int,
                         rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Per point, the average row norm (exact for ``k = 1``, jackknifed Monte Carlo otherwise) and the active units per sample."""
    h = structures[0].h
    if k == 1:
        expected = [estimators.expected_gradient_k1(s, settings.low, settings.high) for s in structures]
        return np.array([estimators.mean_row_norm(e.gradient) for e in expected]), h * float(np.mean([e.active_fraction for e in expected]))
    points, stats = _monte_carlo(structures, k, settings, _round_up(samples_per_unit * h / k, batches), batches, rng)
    return np.asarray(stats.point_values), h * float(np.mean([q.active_fraction for q in points]))


def _sensitivity_cell(rng: np.random.Generator, *, h: int, label: str, settings: dict, seed: int, p: float,
                      points: int, samples_per_unit: int, batches: int) -> tuple[float, float, float]:
    """One task of :func:`sensitivity`: mean and spread over the points, and active units per sample."""
    settings = Settings(**settings)
    A, mu, directions = _shared_draws(seed, h, settings.n(h), points)
    eps = settings.bias(h, p, mu)
    structures = [estimators.GradientStructure.of(_line(A, d, settings.delta), A, eps) for d in directions]
    per_point, active = _expected_or_sampled(structures, settings.k(h, p), settings, samples_per_unit, batches, rng)
    return float(per_point.mean()), float(per_point.std()), active


def sensitivity(h_values: Sequence[int], variants: Mapping[str, Settings], rng: np.random.Generator, *,
                p: float = 0.01, points: int = 2, samples_per_unit: int = 64, batches: int = 8) -> list[SensitivityRow]:
    r"""The row ``p`` of Table 1 under each variant of the settings.

    Variants with the same :math:`n(h)` share the dictionary and the random directions
    :math:`\Delta` (only :math:`\delta`, the bias or the values change), so their differences are
    not sampling noise.  Cells with :math:`k=1` use the exact expectation; others use the
    jackknifed Monte Carlo estimator with ``samples_per_unit`` :math:`\cdot h/k` samples.  One
    task per (``h``, variant) on the backend of :mod:`lib.execution`.
    """
    rng = check.generator(rng)
    p = check.exponent(p)
    points = check.integer(points, "points", minimum=1)
    samples_per_unit = check.integer(samples_per_unit, "samples_per_unit", minimum=1)
    batches = check.integer(batches, "batches", minimum=2)
    h_values = np.array(check.integer_sequence(h_values, "h_values", minimum=2))
    check.allocation("h_values", 8.0 * float(h_values.max()) ** 2)
    check.work("points, samples_per_unit, batches", float(points) * (samples_per_unit * float(h_values.max()) + batches)
               * float(h_values.max()))
    check.of_type(variants, "variants", Mapping)
    if not variants:
        raise ValueError("variants must not be empty")
    for settings in variants.values():
        check.of_type(settings, "variants", Settings)
    if h_values.size < 2:
        raise ValueError(f"h_values must hold at least 2 sizes for a slope, got {h_values.size}")
    seed = _sweep_seed(rng)
    tasks = [{"h": int(h), "label": label, "settings": asdict(settings), "seed": seed, "p": p, "points": points,
              "samples_per_unit": samples_per_unit, "batches": batches}
             for h in h_values for label, settings in variants.items()]
    measured = execution.map_tasks(_sensitivity_cell, tasks, seed=seed, name="sensitivity")
    _forget_shared()
    rows = []
    for index, (label, settings) in enumerate(variants.items()):
        values, spread, active = (np.array(v) for v in zip(*measured[index::len(variants)]))
        slope = fit_loglog_slope(h_values, values)[0] if np.all(values > 0) else float("nan")  # NaN: a dead row
        rows.append(SensitivityRow(label, settings, p, h_values, values, spread, active, slope))
    return rows


@dataclass(frozen=True)
class NoiseStudy:
    r"""The plain statistic against the number of samples, beside its jackknife correction and the exact value.

    Attributes
    ----------
    h, p : int, float
    settings : Settings
    N : numpy.ndarray
        Sample sizes.
    plain, corrected, standard_error, noise_floor : numpy.ndarray
        :class:`lib.estimators.NormStatistic` fields at each ``N`` (one point, fresh data per ``N``).
    exact : float
        The exact expected value at the same point (:math:`k=1`).
    active_per_sample : float
        Mean number of active hidden units per sample at the largest ``N``.
    """

    h: int
    p: float
    settings: Settings
    N: np.ndarray
    plain: np.ndarray
    corrected: np.ndarray
    standard_error: np.ndarray
    noise_floor: np.ndarray
    exact: float
    active_per_sample: float


def noise_study(h: int, p: float, rng: np.random.Generator, settings: Settings = Settings(), *,
                N_values: Sequence[int] = (2048, 8192, 32768, 131072), batches: int = 16) -> NoiseStudy:
    r"""How the plain statistic, its jackknife correction and the noise floor depend on :math:`N` at one point.

    Requires :math:`k = 1` so that the exact value is known.
    """
    rng = check.generator(rng)
    h = check.integer(h, "h", minimum=2)
    check.allocation("h", 8.0 * h * h)
    _check_settings(settings)
    batches = check.integer(batches, "batches", minimum=2)
    N_values = check.integer_sequence(N_values, "N_values", minimum=1)
    check.allocation("N_values", 16.0 * max(N_values))
    k = settings.k(h, check.exponent(p))
    if k != 1:
        raise ValueError(f"p must give one nonzero per code (k = 1) for the exact reference, got k={k} for h={h}, p={p}")
    A, mu, (direction,) = _dictionary_and_points(settings.n(h), h, 1, rng)
    structure = estimators.GradientStructure.of(_line(A, direction, settings.delta), A, settings.bias(h, p, mu))
    exact = estimators.mean_row_norm(estimators.expected_gradient_k1(structure, settings.low, settings.high).gradient)
    N_values = np.array([_round_up(_sample_cap(N, batches, "N_values"), batches) for N in N_values])
    stats, active = [], 0.0
    for N in tqdm(N_values, desc="noise floor", leave=False):
        (point,), cell = _monte_carlo([structure], 1, settings, int(N), batches, rng)
        stats.append(cell.per_point)
        active = point.active_fraction * h
    column = lambda name: np.array([getattr(s, name) for s in stats])  # noqa: E731
    return NoiseStudy(h, p, settings, N_values, column("plain"), column("corrected"), column("standard_error"),
                      column("noise_floor"), exact, active)


@dataclass(frozen=True)
class Landscape:
    r"""The loss and the gradient along :math:`t\mapsto A^* + t\Delta` (Figures 1–6).

    Attributes
    ----------
    h, p, n, k : int, float, int, int
    delta : float
        The radius :math:`\delta` that sets the bias :math:`\epsilon = c\cdot2m_1h^p(\delta+\mu)`.
    eps, coherence : float
    N : int
        Samples of the data set (the same at every ``t``).
    t : numpy.ndarray
        Positions along the line.
    loss : numpy.ndarray
        Empirical loss :math:`\hat L(A^* + t\Delta)`.
    grad_norm, grad_plain, noise_floor : numpy.ndarray
        Average column norm of the empirical gradient: jackknife-corrected, plain, and the noise floor.
    active_fraction : numpy.ndarray
        Mean fraction of hidden units active per sample.
    recovered_fraction : numpy.ndarray
        Fraction of samples whose support is recovered exactly.
    exact_loss, exact_grad_norm, exact_active_fraction : numpy.ndarray
        The same expectations computed exactly when :math:`k=1` (NaN otherwise).
    """

    h: int
    p: float
    n: int
    k: int
    delta: float
    eps: float
    coherence: float
    N: int
    t: np.ndarray
    loss: np.ndarray
    grad_norm: np.ndarray
    grad_plain: np.ndarray
    noise_floor: np.ndarray
    active_fraction: np.ndarray
    recovered_fraction: np.ndarray
    exact_loss: np.ndarray
    exact_grad_norm: np.ndarray
    exact_active_fraction: np.ndarray

    def frame(self) -> pd.DataFrame:
        """One row per ``t`` (the arrays of this object as columns)."""
        names = ["t", "loss", "grad_norm", "grad_plain", "noise_floor", "active_fraction", "recovered_fraction",
                 "exact_loss", "exact_grad_norm", "exact_active_fraction"]
        return pd.DataFrame({name: getattr(self, name) for name in names})


_LANDSCAPE_COLUMNS = ("loss", "grad_norm", "grad_plain", "noise_floor", "active_fraction", "recovered_fraction",
                      "exact_loss", "exact_grad_norm", "exact_active_fraction")
_landscape_cache: dict[tuple, tuple] = {}


def _landscape_data(seed: int, h: int, n: int, k: int, samples: int, low: float, high: float):
    """The dictionary, its coherence, the direction and the data set of one landscape (once per process)."""
    key = (seed, h, n, k, samples, low, high)
    if key not in _landscape_cache:
        _landscape_cache.clear()
        rng = execution.task_generator(seed, {"h": h, "n": n, "k": k, "samples": samples, "low": low, "high": high})
        A, mu, (direction,) = _dictionary_and_points(n, h, 1, rng)
        support, values = model.sample_sparse_codes(h, k, samples, rng, low, high)
        _landscape_cache[key] = A, mu, direction, support, values, estimators.signal_energy(A, support, values)
    return _landscape_cache[key]


def _landscape_point(rng: np.random.Generator, *, t: float, h: int, p: float, settings: dict, seed: int,
                     samples: int, batches: int, delta: float) -> dict[str, float]:
    """One task of :func:`landscape`: every column at one ``t`` (the shared draws come from ``seed``)."""
    settings = Settings(**settings)
    k = settings.k(h, p)
    A, mu, direction, support, values, energy = _landscape_data(seed, h, settings.n(h), k, samples, settings.low,
                                                                settings.high)
    eps = settings.bias(h, p, mu, delta)
    structure = estimators.GradientStructure.of(_line(A, direction, t), A, eps)
    point = estimators.batched_gradient(structure, support, values, batches, energy=energy)
    stat = estimators.row_norm_statistics([point]).per_point
    row = {"loss": point.loss, "grad_norm": stat.corrected, "grad_plain": stat.plain, "noise_floor": stat.noise_floor,
           "active_fraction": point.active_fraction, "recovered_fraction": point.recovered_fraction,
           "exact_loss": np.nan, "exact_grad_norm": np.nan, "exact_active_fraction": np.nan,
           "n": A.shape[0], "k": k, "eps": eps, "coherence": mu}
    if k == 1:
        expected = estimators.expected_gradient_k1(structure, settings.low, settings.high)
        row.update(exact_loss=expected.loss, exact_grad_norm=estimators.mean_row_norm(expected.gradient),
                   exact_active_fraction=expected.active_fraction)
    return {name: float(value) for name, value in row.items()}


def landscape(h: int, p: float, rng: np.random.Generator, settings: Settings = Settings(), *,
              t_values: Sequence[float] = tuple(np.linspace(-0.5, 0.5, 21)), samples: int = 16384, batches: int = 8,
              delta: float | None = None) -> Landscape:
    r"""Loss, average gradient column norm and active units along :math:`t\mapsto A^* + t\Delta`.

    :math:`\Delta` is Gaussian with unit columns, so :math:`\|W_i(t) - A^*_i\| = |t|`.  One data set
    of ``samples`` codes serves every ``t`` (the paper's empirical averages).  The bias is fixed
    along the line, computed with radius ``delta`` (default ``settings.delta``).  One task per
    ``t`` on the backend of :mod:`lib.execution`; each process draws the shared data set once.
    """
    rng = check.generator(rng)
    h = check.integer(h, "h", minimum=2)
    p = check.exponent(p)
    _check_settings(settings)
    check.allocation("h", 8.0 * h * h)
    batches = check.integer(batches, "batches", minimum=2)
    samples = _round_up(_sample_cap(samples, batches, "samples"), batches)
    check.allocation("samples", 16.0 * samples * settings.k(h, p))
    t = np.array(check.real_sequence(t_values, "t_values"))
    delta = settings.delta if delta is None else check.real(delta, "delta", minimum=0.0)
    seed = _sweep_seed(rng)
    common = {"h": h, "p": p, "settings": asdict(settings), "seed": seed, "samples": samples, "batches": batches,
              "delta": delta}
    distinct = list(dict.fromkeys(float(v) for v in t))
    rows = execution.map_tasks(_landscape_point, [{"t": v, **common} for v in distinct], seed=seed,
                               name=f"landscape h={h} p={p}")
    _landscape_cache.clear()
    by_t = dict(zip(distinct, rows))
    columns = {name: np.array([by_t[float(v)][name] for v in t]) for name in _LANDSCAPE_COLUMNS}
    first = rows[0]
    return Landscape(h=h, p=p, n=int(first["n"]), k=int(first["k"]), delta=delta, eps=first["eps"],
                     coherence=first["coherence"], N=samples, t=t, **columns)


def second_number_is_h_pow(table: pd.DataFrame, tol: float = 5e-5) -> bool:
    r"""Whether every cell's second number (column ``h_pow_p_minus_1``) is :math:`h^{p-1}` to within ``tol``.

    With ``tol`` half a unit of the 4th decimal, this says that the number is :math:`h^{p-1}`
    rounded to 4 decimals (Table 1's layout: :func:`paper_table1`).
    """
    frame = check.frame(table, "table", ("h", "p", "h_pow_p_minus_1"))
    tol = check.real(tol, "tol", minimum=0.0, strict_min=True)
    exact = frame["h"].to_numpy(float) ** (frame["p"].to_numpy(float) - 1.0)
    return bool(np.all(np.abs(frame["h_pow_p_minus_1"].to_numpy(float) - exact) < tol))


def decreases_with_h(table: pd.DataFrame, value: str) -> dict[float, bool]:
    r"""Per :math:`p`, whether the column ``value`` strictly decreases from each :math:`h` to the next larger one.

    ``table`` has one row per cell (columns ``h``, ``p`` and ``value``), e.g. :func:`table1_frame`
    (``value="corrected"``) or :func:`paper_table1` (``value="grad_norm"``); a :math:`p` with a
    single :math:`h` has no step and counts as not decreasing.
    """
    check.of_type(table, "table", pd.DataFrame)
    value = check.choice(value, "value", [c for c in table.columns if c not in ("h", "p")])
    frame = check.frame(table, "table", ("h", "p", value))
    out = {}
    for p, rows in frame.groupby("p"):
        values = rows.sort_values("h")[value].to_numpy(float)
        out[float(p)] = bool(values.size > 1 and np.all(np.diff(values) < 0))
    return out


def same_order(table: pd.DataFrame, value: str, factor: float = 3.0) -> bool:
    r"""Whether every cell's ``value`` lies within a factor ``factor`` of :math:`h^{p-1}`: :math:`1/f < \text{value}/h^{p-1} < f`."""
    check.of_type(table, "table", pd.DataFrame)
    value = check.choice(value, "value", [c for c in table.columns if c not in ("h", "p")])
    frame = check.frame(table, "table", ("h", "p", value))
    factor = check.real(factor, "factor", minimum=1.0, strict_min=True)
    ratio = frame[value].to_numpy(float) / frame["h"].to_numpy(float) ** (frame["p"].to_numpy(float) - 1.0)
    return bool(np.all((ratio > 1.0 / factor) & (ratio < factor)))


def decreases_towards_zero(t: np.ndarray, values: np.ndarray, window: float) -> bool:
    r"""Whether ``values`` along a line :math:`t\mapsto A^* + t\Delta` keep decreasing as :math:`t` approaches 0.

    True when the grid minimum lies within ``window`` of :math:`t = 0` and, walking in from either
    end of the grid (``t`` increasing), the values never rise before that minimum: a minimum at
    :math:`A^*` (up to ``window``) approached monotonically from both sides.
    """
    t = check.real_array(t, "t", ndim=1)
    values = check.real_array(values, "values", ndim=1)
    if values.shape != t.shape:
        raise ValueError(f"values must have the shape of t {t.shape}, got {values.shape}")
    window = check.real(window, "window", minimum=0.0)
    if t.size < 3 or np.any(np.diff(t) <= 0):
        raise ValueError(f"t must hold at least 3 strictly increasing positions, got {t.tolist()}")
    low = int(np.argmin(values))
    return bool(abs(t[low]) <= window and np.all(np.diff(values[:low + 1]) <= 0) and np.all(np.diff(values[low:]) >= 0))


def flat_near_truth(line: Landscape, min_points: int = 3, tol: float = 1e-12) -> bool:
    r"""Whether the loss is flat around :math:`A^*` because every ReLU is off (Figures 5–6).

    The zone is the run of grid points around :math:`t = 0` (the closest) with no active unit; true
    when it holds at least ``min_points`` points, the gradient is exactly 0 on it and the loss
    varies by less than ``tol`` there.
    """
    check.of_type(line, "line", Landscape)
    min_points = check.integer(min_points, "min_points", minimum=1, maximum=line.t.size)
    tol = check.real(tol, "tol", minimum=0.0, strict_min=True)
    dead = line.active_fraction == 0
    centre = int(np.argmin(np.abs(line.t)))
    if not dead[centre]:
        return False
    live = np.flatnonzero(~dead)
    start = live[live < centre].max() + 1 if np.any(live < centre) else 0
    stop = live[live > centre].min() if np.any(live > centre) else line.t.size
    zone = slice(start, stop)
    return bool(stop - start >= min_points and np.all(line.grad_norm[zone] == 0) and np.ptp(line.loss[zone]) < tol)
