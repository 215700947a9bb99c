"""The criteria of the fixed-coherence chapter's claims: each rejects a counterexample and accepts a case that holds."""

from dataclasses import replace

import numpy as np
import pandas as pd

from lib.experiments import coherence as co
from lib.experiments import simulations as sim

SETTINGS = sim.Settings()
THEOREM = replace(SETTINGS, prefactor=1.0)  # Theorem 3.1's own bias


def _recovery_row(h: int, p: float, nu: float, recovered: float, prefactor: float = 1.0) -> dict:
    delta = h ** (-p - nu)
    coherence = 2 / np.sqrt(h)
    return {"h": h, "p": p, "k": sim.Settings().k(h, p), "delta": delta, "coherence": coherence,
            "eps": prefactor * 2 * SETTINGS.m1 * h**p * (delta + coherence), "recovered": recovered}


def test_theorem31_holds_only_inside_every_hypothesis():
    inside = _recovery_row(16384, 0.02, 0.25, 1.0)
    below_onset = _recovery_row(1024, 0.1, 0.25, 1.0)  # margin condition fails
    half_bias = _recovery_row(16384, 0.02, 0.25, 1.0, prefactor=0.5)  # not Theorem 3.1's bias
    too_small = _recovery_row(16384, 0.02, 0.45, 1.0)  # delta below the coherence: p + nu > xi
    rounded_up = _recovery_row(16384, 0.1, 0.25, 1.0)  # k = round(2.64) = 3 > h^p
    frame = pd.DataFrame([inside, below_onset, half_bias, too_small, rounded_up])
    assert co.theorem31_holds(frame, SETTINGS).tolist() == [True, False, False, False, False]


def test_recovers_where_theorem31_holds_rejects_a_miss_inside_and_an_empty_set():
    good = pd.DataFrame([_recovery_row(16384, 0.02, 0.25, 1.0), _recovery_row(1024, 0.1, 0.25, 0.3)])
    assert co.recovers_where_theorem31_holds(good, SETTINGS)  # the miss is outside the hypotheses
    missed = pd.DataFrame([_recovery_row(16384, 0.02, 0.25, 0.999), _recovery_row(1024, 0.1, 0.25, 1.0)])
    assert not co.recovers_where_theorem31_holds(missed, SETTINGS)
    nothing_inside = pd.DataFrame([_recovery_row(1024, 0.1, 0.25, 1.0)])
    assert not co.recovers_where_theorem31_holds(nothing_inside, SETTINGS)  # vacuous: refused


def _table(settings: sim.Settings, h_values, p_values, mu=lambda h: 1.0) -> pd.DataFrame:
    rows = []
    for h in h_values:
        n = h // 4
        coherence = mu(h) / np.sqrt(n)
        for p in p_values:
            rows.append({"h": h, "p": p, "n": n, "k": settings.k(h, p), "coherence": coherence,
                         "eps": settings.bias(h, p, coherence), "corrected": float(h) ** (p - 1)})
    return pd.DataFrame(rows)


def test_theorem32_failures_names_each_broken_hypothesis():
    inside = replace(THEOREM, delta=16384.0 ** (-0.02 - 0.25))  # nu = 0.25 at h = 16384, above the coherence 1/64
    assert co.theorem32_failures(_table(inside, [16384], [0.02]), inside) == []
    failures = co.theorem32_failures(_table(SETTINGS, [256, 4096], [0.01, 0.15]), SETTINGS)
    text = " ".join(failures)
    assert "the bias is Theorem 3.1's" in text and "(fails in 4 of 4 cells)" in text  # c = 1/2
    assert "p + ν < ξ" in text  # delta = 0.1 below the coherence 1/8 at h = 256
    assert "p < ν (Lemma 5.2) (fails in 1 of 4 cells)" in text  # p = 0.15 at h = 4096: nu = 0.127
    drifting = co.theorem32_failures(_table(inside, [1024, 16384], [0.02], mu=lambda h: np.log(h)), inside)
    assert any(f.startswith("μ fixed in h") for f in drifting)


def test_below_whole_bound_rejects_a_value_above_it():
    table = _table(SETTINGS, [256, 1024], [0.01, 0.1])
    bound = [co.whole_bound(float(h), p, SETTINGS)[0] for h, p in zip(table["h"], table["p"])]
    assert co.below_whole_bound(table.assign(corrected=0.5 * np.array(bound)), SETTINGS)
    above = 0.5 * np.array(bound)
    above[2] = 1.01 * bound[2]
    assert not co.below_whole_bound(table.assign(corrected=above), SETTINGS)


def test_falls_with_h_needs_every_interval_below_zero():
    assert co.falls_with_h({0.01: co.Slope(-1.0, -1.1, -0.9, 8), 0.1: co.Slope(-0.8, -0.9, -0.7, 8)})
    assert not co.falls_with_h({0.01: co.Slope(-1.0, -1.1, -0.9, 8), 0.1: co.Slope(-0.1, -0.3, 0.1, 8)})  # interval reaches 0
