"""The criteria of the criticality chapter's claims: each rejects a counterexample and accepts a case that holds."""

from dataclasses import replace

import numpy as np

from lib.experiments import criticality as ec
from lib.theory import criticality as tc

LOW, HIGH, M1, M2 = 1.0, 2.0, 1.5, 7 / 3


def _sweep(h_values=(256, 512, 1024), p: float = 0.1, nu: float = 0.3, k: int = 2) -> ec.CriticalitySweep:
    """A sweep with the shapes of :func:`lib.experiments.criticality.criticality_sweep` and values that follow Lemma 5.2 and Theorem 3.2."""
    H = np.array(h_values)
    shape = (1, H.size)
    delta = np.atleast_2d(tc.ball_radius(H, p, nu))
    mu = 1 / np.sqrt(H / 2)
    eps = np.atleast_2d(tc.theorem_bias(H, p, delta[0], mu, M1))
    q = k / H[None, :]
    shrink = np.linspace(1.0, 0.5, H.size)[None, :]  # a vanishing factor: everything below q falls relative to q
    point = lambda values: values[..., None]  # noqa: E731  one ball point
    return ec.CriticalitySweep(
        h_values=H, p_values=np.array([p]), nu=nu, k=np.full(shape, float(k)), delta=delta, eps=eps, mu=mu, radius=delta.copy(),
        column_error=np.zeros(H.size), dictionary=q * shrink, ball=point(q * shrink), alpha=point(q * M2 * (1 - 0.3 * shrink)),
        beta=point(q * M2), alpha_beta_gap=point(q * (M2 * delta + M1 * eps) * shrink), e_norm=point(0.1 * q * shrink),
        certified=np.ones((*shape, 2), dtype=bool), mc=q * shrink, mc_se=0.01 * q, mc_failure=np.zeros(shape),
        frozen=q, frozen_certified=np.ones(shape, dtype=bool))


CELLS = np.ones((1, 3), dtype=bool)


def test_lemma52_holds_accepts_the_orders():
    assert ec.lemma52_holds(_sweep(), CELLS, M1, M2) == {"beta": True, "alpha": True, "difference": True, "e": True}


def test_lemma52_holds_rejects_each_broken_order():
    s = _sweep()
    assert not ec.lemma52_holds(replace(s, beta=1.2 * s.beta), CELLS, M1, M2)["beta"]  # beta_i = 1.2 m2 q_i
    assert not ec.lemma52_holds(replace(s, alpha=s.alpha[:, ::-1]), CELLS, M1, M2)["alpha"]  # alpha_i / q_i falling
    assert not ec.lemma52_holds(replace(s, alpha_beta_gap=10 * s.alpha_beta_gap), CELLS, M1, M2)["difference"]  # above 2(m2 delta + m1 eps)
    scale = s.h_values[None, :, None] ** (s.p_values[0] - 1.0)
    assert not ec.lemma52_holds(replace(s, e_norm=0.1 * scale * np.ones_like(s.e_norm)), CELLS, M1, M2)["e"]  # ||e_i|| ~ h^(p-1): not o(.)
    assert not ec.lemma52_holds(_sweep(k=1), CELLS, M1, M2)["e"]  # k = 1 only: nothing to test


def test_lemma52_holds_needs_two_cells_per_p():
    one = np.array([[False, False, True]])
    assert not any(ec.lemma52_holds(_sweep(), one, M1, M2).values())


def test_theorem32_vanishes_accepts_a_vanishing_factor_and_rejects_the_bare_scale():
    s = _sweep()
    assert ec.theorem32_vanishes(s, CELLS)
    flat = s.q * 1.7  # the norm at exactly the scale q_i: O(h^(p-1)) but not o(h^(p-1))
    assert not ec.theorem32_vanishes(replace(s, ball=flat[..., None]), CELLS)
    assert not ec.theorem32_vanishes(replace(s, dictionary=flat), CELLS)


def test_theorem32_failures_names_each_broken_hypothesis():
    inside = _sweep(h_values=(1024, 2048), p=0.01, k=1)
    cells = np.ones((1, 2), dtype=bool)
    assert ec.theorem32_failures(inside, cells, LOW, HIGH) == []
    outside = " ".join(ec.theorem32_failures(replace(inside, radius=2 * inside.radius), cells, LOW, HIGH))
    assert "rows within δ of the atoms (fails in 2 of 2 cells)" in outside  # points outside the ball
    small = " ".join(ec.theorem32_failures(_sweep(h_values=(256, 512), p=0.1, k=2), cells, LOW, HIGH))
    assert "the margin condition (fails in 2 of 2 cells)" in small and "|S| ≤ h^p (fails in 2 of 2 cells)" in small
    close = _sweep(h_values=(1024, 2048), p=0.01, nu=0.005, k=1)  # nu < p
    assert "p < ν (Lemma 5.2) (fails in 2 of 2 cells)" in ec.theorem32_failures(close, cells, LOW, HIGH)
    half = replace(inside, eps=inside.eps / 2)  # half the bias: outside Theorem 3.1's
    assert any(f.startswith("the bias is Theorem 3.1's") for f in ec.theorem32_failures(half, cells, LOW, HIGH))


def test_the_sweep_records_the_radius_it_measured():
    sweep = ec.criticality_sweep([8, 16], [0.3], 0.3, 2, 30, np.random.default_rng(2), batches=3)
    assert np.all(sweep.radius <= sweep.delta * (1 + 1e-12)) and np.all(sweep.radius >= sweep.delta * (1 - 1e-12))
    assert np.all(sweep.column_error < 1e-12)
