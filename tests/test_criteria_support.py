"""The criteria of the support-recovery chapter's claims: each rejects a counterexample and accepts a case that holds."""

from dataclasses import replace

import numpy as np
import pytest

from lib import model
from lib.experiments import support as es
from lib.theory import support as ts

LOW, HIGH, M1 = 1.0, 2.0, 1.5


def _inside(h: int = 2048, p: float = 0.1, nu: float = 0.3) -> dict:
    delta, mu = h ** (-p - nu), 1 / np.sqrt(h / 2)
    return {"h": h, "p": p, "k": model.support_size(h, p), "delta": delta, "radius": delta, "column_error": 0.0, "mu": mu,
            "eps": 2 * M1 * h**p * (delta + mu), "m_min": LOW, "m_max": HIGH, "m1": M1}


def test_theorem31_failures_is_empty_inside_and_names_each_broken_hypothesis():
    assert ts.theorem31_failures(**_inside()) == []
    cases = {
        "rows within δ of the atoms": {"radius": 2 * _inside()["delta"]},  # a point outside the ball
        "unit columns": {"column_error": 0.01},
        "p + ν < ξ (δ above the coherence)": {"delta": 0.01, "radius": 0.01, "eps": 2 * M1 * 2048**0.1 * (0.01 + 1 / 32)},
        "ν > 0 (δ < h^-p)": {"delta": 0.5, "radius": 0.5, "eps": 2 * M1 * 2048**0.1 * (0.5 + 1 / 32)},
        "|S| ≤ h^p": {"k": 3},
        "the bias is Theorem 3.1's 2m₁h^pβ": {"eps": 0.5 * _inside()["eps"]},  # half the bias: outside the range
    }
    for name, change in cases.items():
        assert name in ts.theorem31_failures(**{**_inside(), **change}), name
    assert ts.theorem31_failures(**_inside(h=512)) == ["|S| ≤ h^p", "the margin condition"]  # coherence too large at h = 512


def _extremes(W: np.ndarray, A: np.ndarray) -> tuple[float, float, float]:
    M = W @ A
    diag = np.diag(M)
    return float(np.abs(M - np.diag(diag)).max()), float(diag.min()), float(diag.max())


def test_eq4_worst_ratio_accepts_the_ball_and_rejects_a_point_outside_it():
    A = model.hadamard_dictionary(16)
    mu = model.coherence(A)
    inside = model.perturb_columns(A, 0.1, np.random.default_rng(0))
    assert es.eq4_worst_ratio(*_extremes(inside, A), 0.1, mu) <= 1
    outside = 1.5 * A.T  # every row 0.5 from its atom, far outside the claimed delta = 0.1
    assert es.eq4_worst_ratio(*_extremes(outside, A), 0.1, mu) > 1
    assert es.eq4_worst_ratio(*_extremes(outside, A), 0.5, mu) <= 1  # with its true radius the bounds hold


@pytest.fixture(scope="module")
def runs() -> list[es.HadamardRecovery]:
    return es.hadamard_recovery([512, 2048], 0.1, 0.3, 100, np.random.default_rng(3), LOW, HIGH, bins=10)


def test_step3_margins_are_nonnegative_and_reject_a_wrong_floor_and_ceiling(runs):
    assert all(min(es.step3_margins(run)) >= 0 for run in runs)
    run = runs[-1]
    assert es.step3_margins(replace(run, floor=run.floor + 1.0))[0] < 0  # a floor above the data: a wrong formula
    assert es.step3_margins(replace(run, ceiling=0.0))[1] < 0


def test_exact_where_hypotheses_hold_accepts_the_theorem_and_rejects_a_miss_or_an_empty_test(runs):
    assert es.hadamard_failures(runs[0], LOW, HIGH) and not es.hadamard_failures(runs[1], LOW, HIGH)
    assert es.exact_where_hypotheses_hold(runs, LOW, HIGH)
    inside = runs[1]
    on = inside.pre.on.copy()
    on[0, 0] = inside.eps  # one support unit that stays off
    assert not es.exact_where_hypotheses_hold([runs[0], replace(inside, pre=replace(inside.pre, on=on))], LOW, HIGH)
    assert not es.exact_where_hypotheses_hold(runs[:1], LOW, HIGH)  # no run inside the hypotheses: nothing tested
    half_bias = replace(inside, eps=inside.eps / 2)  # outside the bias range: not evidence for the theorem
    assert not es.exact_where_hypotheses_hold([half_bias], LOW, HIGH)


@pytest.fixture(scope="module")
def fp() -> es.FalsePositives:
    return es.false_positive_frequencies([64, 256], 0.5, 20000, np.random.default_rng(4), 1.0, 10.0, 2.0)


def test_under_false_positive_bound_accepts_the_theorem_and_rejects_a_bound_below_the_truth(fp):
    bound = ts.simplified_bound(fp.K, 2.0, 1.0, 10.0)
    assert es.under_false_positive_bound(fp, bound)
    exact = ts.two_point_tail(fp.threshold, fp.k, 1.0, 10.0, 2.0)
    assert not es.under_false_positive_bound(fp, exact / 3)  # a wrong, too small "bound"
    assert not es.under_false_positive_bound(fp, np.ones_like(bound))  # a vacuous bound: nothing tested


def test_under_false_positive_bound_counts_only_sizes_with_k_at_most_hp():
    rounded_up = es.false_positive_frequencies([32], 0.5, 2000, np.random.default_rng(5), 1.0, 10.0, 2.0)  # h^p = 5.66, k = 6
    assert not es.under_false_positive_bound(rounded_up, np.array([0.5]))


def test_t_star_minimises_accepts_the_proof_and_rejects_a_wrong_t_star_or_minimum():
    args = {"eps": 16.0, "s": 4.0, "beta": 1.0, "m1": 2.0, "m_min": 1.0, "m_max": 10.0}
    t_star = ts.optimal_t(**args)
    grid = np.linspace(0.0, 2.5 * t_star, 400)
    curve = ts.chernoff_hoeffding(grid, **args)
    closed = ts.hoeffding_bound(**args)
    assert es.t_star_minimises(grid, curve, t_star, closed)
    assert not es.t_star_minimises(grid, curve, 2 * t_star, closed)  # 8(...) instead of 4(...)
    assert not es.t_star_minimises(grid, curve, t_star, 0.5 * closed)  # a closed form below the curve
    assert not es.t_star_minimises(grid, curve, t_star, 2 * closed)
