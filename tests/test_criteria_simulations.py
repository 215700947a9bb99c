"""The criteria of the simulations chapter's claims: each rejects a counterexample and accepts a case that holds."""

import numpy as np
import pandas as pd
import pytest

from lib.experiments import simulations as sim


def _grid(values: dict[tuple[int, float], float], column: str) -> pd.DataFrame:
    return pd.DataFrame([{"h": h, "p": p, column: v} for (h, p), v in values.items()])


def test_second_number_is_h_pow_accepts_the_paper_and_rejects_a_wrong_formula():
    paper = sim.paper_table1()
    assert sim.second_number_is_h_pow(paper, 5e-5)
    wrong = paper.assign(h_pow_p_minus_1=np.round(paper["h"].astype(float) ** -paper["p"], 4))  # h^(-p), not h^(p-1)
    assert not sim.second_number_is_h_pow(wrong, 5e-5)
    one_off = paper.copy()
    one_off.loc[3, "h_pow_p_minus_1"] += 1e-4  # one cell off by one unit of the 4th decimal
    assert not sim.second_number_is_h_pow(one_off, 5e-5)


def test_decreases_with_h_flags_a_row_that_rises_or_stalls():
    paper = sim.paper_table1()
    rows = sim.decreases_with_h(paper, "grad_norm")
    assert rows[0.01] and rows[0.05]
    assert not rows[0.1]  # 0.0071 at h = 512, then 0.0079 at h = 1024
    assert not rows[0.02]  # 0.0012 at h = 2048 and at h = 4096: not strictly smaller
    falling = _grid({(256, 0.1): 3.0, (512, 0.1): 2.0, (1024, 0.1): 1.0}, "corrected")
    assert sim.decreases_with_h(falling, "corrected") == {0.1: True}
    single = _grid({(256, 0.1): 3.0}, "corrected")
    assert sim.decreases_with_h(single, "corrected") == {0.1: False}


def test_same_order_accepts_h_pow_and_rejects_a_flat_row():
    h = np.array([256, 512, 1024, 2048, 4096])
    rate = _grid({(int(x), 0.01): 2.0 * x ** (0.01 - 1) for x in h}, "corrected")
    assert sim.same_order(rate, "corrected", 3.0)
    flat = _grid({(int(x), 0.01): 256.0 ** (0.01 - 1) for x in h}, "corrected")  # does not fall with h
    assert not sim.same_order(flat, "corrected", 3.0)
    assert not sim.same_order(sim.paper_table1(), "grad_norm", 3.0)  # its own cells reach a factor 4.6 (h = 4096, p = 0.1)
    assert sim.same_order(sim.paper_table1(), "grad_norm", 5.0)


def test_decreases_towards_zero_accepts_a_bowl_and_rejects_a_bump_or_a_shifted_minimum():
    t = np.linspace(-1.5, 1.5, 25)
    assert sim.decreases_towards_zero(t, t**2 + 1, 0.3)
    assert not sim.decreases_towards_zero(t, (t - 0.9) ** 2, 0.3)  # minimum far from A*
    bump = t**2 + 1 + 0.5 * np.exp(-((t - 0.75) / 0.1) ** 2)  # rises on the way in from the right
    assert not sim.decreases_towards_zero(t, bump, 0.3)
    assert not sim.decreases_towards_zero(t, -(t**2), 0.3)  # largest at A*
    with pytest.raises(ValueError, match="t must"):
        sim.decreases_towards_zero(t[::-1], t**2, 0.3)


def _line(active: np.ndarray, grad: np.ndarray, loss: np.ndarray) -> sim.Landscape:
    t = np.linspace(-1.0, 1.0, active.size)
    nan = np.full(t.size, np.nan)
    return sim.Landscape(h=16, p=0.01, n=4, k=1, delta=1.0, eps=1.0, coherence=0.5, N=64, t=t, loss=loss, grad_norm=grad,
                         grad_plain=grad, noise_floor=nan, active_fraction=active, recovered_fraction=nan, exact_loss=nan,
                         exact_grad_norm=nan, exact_active_fraction=nan)


def test_flat_near_truth_accepts_a_dead_zone_and_rejects_live_units_at_the_truth():
    active = np.array([0.2, 0.1, 0, 0, 0, 0, 0, 0.1, 0.2])
    grad = np.where(active > 0, 0.01, 0.0)
    loss = np.where(active > 0, 0.5, 1.0)
    assert sim.flat_near_truth(_line(active, grad, loss), 3, 1e-12)
    assert not sim.flat_near_truth(_line(active, grad, loss), 6, 1e-12)  # the zone holds 5 points
    live = active.copy()
    live[4] = 0.05  # a unit fires at A*
    assert not sim.flat_near_truth(_line(live, np.where(live > 0, 0.01, 0.0), loss), 3, 1e-12)
    sloped = loss + 1e-3 * np.arange(loss.size)  # dead units but a loss that moves: not flat
    assert not sim.flat_near_truth(_line(active, grad, sloped), 3, 1e-12)
