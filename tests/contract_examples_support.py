"""Contract examples of the support-recovery chapter's claim criteria (registered by :mod:`contract_examples`)."""

import functools

import numpy as np
from contract_examples import example, rng

from lib.experiments import support as es
from lib.theory import support as ts

_ES = "lib.experiments.support."


@functools.cache
def _run() -> es.HadamardRecovery:
    return es.hadamard_recovery([16], 0.3, 0.3, 20, rng(), 1.0, 2.0, bins=10, chunk=10)[0]


@functools.cache
def _fp() -> es.FalsePositives:
    return es.false_positive_frequencies([16], 0.5, 100, rng(), chunk=50)


@functools.cache
def _chernoff() -> dict:
    args = {"eps": 16.0, "s": 4.0, "beta": 1.0, "m1": 2.0, "m_min": 1.0, "m_max": 10.0}
    t_star = float(ts.optimal_t(**args))
    grid = np.linspace(0.0, 2.5 * t_star, 50)
    return {"t_grid": grid, "curve": ts.chernoff_hoeffding(grid, **args), "t_star": t_star, "closed_form": float(ts.hoeffding_bound(**args))}


@example("lib.theory.support.theorem31_failures", allow={"h": ["huge"], "m_min": ["zero"]})  # a formula in h
def _(): return {"h": 2048, "p": 0.1, "k": 2, "delta": 0.047, "radius": 0.047, "column_error": 0.0, "mu": 0.031,
                 "eps": 0.73, "m_min": 1.0, "m_max": 2.0, "m1": 1.5}
@example(_ES + "eq4_worst_ratio")
def _(): return {"cross_max": 0.2, "diag_min": 0.95, "diag_max": 1.02, "delta": 0.1, "mu": 0.15}
@example(_ES + "step3_margins")
def _(): return {"run": _run()}
@example(_ES + "hadamard_failures", allow={"low": ["zero"]})
def _(): return {"run": _run(), "low": 1.0, "high": 2.0}
@example(_ES + "exact_where_hypotheses_hold", allow={"low": ["zero"]})
def _(): return {"runs": [_run()], "low": 1.0, "high": 2.0}
@example(_ES + "under_false_positive_bound")
def _(): return {"fp": _fp(), "bound": np.array([0.5]), "level": 0.999}
@example(_ES + "t_star_minimises")
def _(): return {**_chernoff(), "rtol": 1e-3}
