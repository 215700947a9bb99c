"""Experiments of the simulation chapter (Table 1, sensitivity, noise floor, landscapes)."""

from dataclasses import replace

import numpy as np
import pytest

from lib import estimators, model
from lib.experiments import simulations as sim


def test_paper_table1_second_numbers_are_h_to_the_p_minus_1():
    paper = sim.paper_table1()
    assert len(paper) == 20
    assert sorted(paper["h"].unique()) == list(sim.PAPER_H)
    assert sorted(paper["p"].unique()) == list(sim.PAPER_P)
    np.testing.assert_allclose(np.round(paper["h"] ** (paper["p"] - 1.0), 4), paper["h_pow_p_minus_1"], atol=1e-12)


def test_settings():
    settings = sim.Settings()
    assert settings.n(1024) == 256
    assert settings.k(4096, 0.05) == 2 and replace(settings, rounding="floor").k(4096, 0.05) == 1
    assert settings.m1 == 1.5
    # eps = c * 2 m1 h^p (delta + mu)
    assert settings.bias(256, 0.1, 0.4) == pytest.approx(0.5 * 2 * 1.5 * 256**0.1 * 0.5)
    assert settings.bias(256, 0.1, 0.4, delta=1.0) == pytest.approx(0.5 * 2 * 1.5 * 256**0.1 * 1.4)
    for bad, name in ((dict(n_fraction=0.0), "n_fraction"), (dict(delta=-1.0), "delta"), (dict(prefactor=-1.0), "prefactor"),
                      (dict(low=2.0, high=1.0), "high"), (dict(rounding="up"), "rounding")):
        with pytest.raises(ValueError, match=name):
            sim.Settings(**bad)


def test_default_variants_change_one_setting_each():
    base = sim.Settings()
    variants = sim.default_variants(base)
    assert variants["our defaults"] == base
    for label, settings in variants.items():
        changed = [f for f in ("n_fraction", "delta", "prefactor", "low", "high", "rounding")
                   if getattr(settings, f) != getattr(base, f)]
        assert len(changed) <= 2 and (label == "our defaults") == (not changed)


def test_table1_small(rng):
    cells = sim.table1([128, 192], [0.01, 0.1], rng, points=2, batches=4, pilot_per_unit=4, max_samples=4096)
    assert [(c.h, c.p) for c in cells] == [(128, 0.01), (128, 0.1), (192, 0.01), (192, 0.1)]
    for cell in cells:
        assert cell.N % cell.batches == 0 and cell.pilot_N <= cell.N <= 4096
        assert len(cell.point_values) == 2
        assert cell.pooled <= cell.corrected * 1.01  # averaging two random points cancels their random parts
        if cell.k == 1:
            # the jackknifed Monte Carlo value agrees with the exact expectation within a few standard errors
            assert abs(cell.corrected - cell.exact) < 5 * cell.standard_error + 0.02 * cell.exact
        else:
            assert np.isnan(cell.exact)
    frame = sim.table1_frame(cells)
    assert {"ratio", "paper", "h_pow_p_minus_1", "q", "ours_over_q"} <= set(frame.columns)
    assert frame["paper"].isna().all()  # h = 128, 192 are not in the paper's table
    np.testing.assert_allclose(frame["q"], frame["k"] / frame["h"])


def test_table1_frame_merges_the_paper(rng):
    cells = sim.table1([256], [0.01], rng, points=1, batches=4, pilot_per_unit=2, max_samples=2048)
    frame = sim.table1_frame(cells)
    assert frame.loc[0, "paper"] == 0.0137 and frame.loc[0, "h_pow_p_minus_1"] == frame.loc[0, "paper_h_pow_p_minus_1"]
    assert frame.loc[0, "ratio"] == pytest.approx(frame.loc[0, "corrected"] / 0.0137)


def test_measure_cell_reuses_the_pilot_when_enough(rng):
    A = model.random_dictionary(16, 64, rng)
    structures = [estimators.GradientStructure.of(model.perturb_columns(A, 0.1, rng), A, 0.0)]
    cell = sim.measure_cell(structures, 0.01, model.coherence(A), sim.Settings(), rng, batches=4, pilot_per_unit=4,
                            max_samples=256)
    assert cell.N == cell.pilot_N == 256  # the pilot is already at the cap


def test_sensitivity(rng):
    variants = {k: v for k, v in sim.default_variants().items() if k in ("our defaults", "n = h/2", "k = ceil(h^p)")}
    rows = sim.sensitivity([64, 128], variants, rng, points=1, samples_per_unit=8, batches=4)
    assert [r.label for r in rows] == list(variants)
    for row in rows:
        assert row.values.shape == (2,) and np.all(row.values > 0)
        assert row.slope == pytest.approx(np.polyfit(np.log(row.h), np.log(row.values), 1)[0])
    with pytest.raises(ValueError, match="h_values"):
        sim.sensitivity([64], variants, rng)


def test_noise_study(rng):
    study = sim.noise_study(64, 0.01, rng, N_values=[64, 256], batches=4)
    assert study.N.tolist() == [64, 256]
    assert study.exact > 0 and np.all(study.noise_floor[1] < study.noise_floor[0])
    with pytest.raises(ValueError, match="k = 1"):
        sim.noise_study(64, 0.3, rng)


def test_landscape(rng):
    result = sim.landscape(256, 0.01, rng, t_values=[-1.0, 0.0, 1.0], samples=2048, batches=4)
    assert result.k == 1 and result.t.tolist() == [-1.0, 0.0, 1.0]
    # Monte Carlo over 2048 samples against the exact expectation: 10 % (about 5 standard errors)
    np.testing.assert_allclose(result.loss, result.exact_loss, rtol=0.1)
    np.testing.assert_allclose(result.active_fraction, result.exact_active_fraction, rtol=0.1)
    assert np.argmin(result.exact_loss) == 1  # at h = 256 the supports are recovered: the loss is smallest at A*
    assert list(result.frame().columns)[:3] == ["t", "loss", "grad_norm"]
    flat = sim.landscape(64, 0.01, rng, t_values=[-0.5, 0.0, 0.5], samples=256, batches=4, delta=5.0)
    assert np.all(flat.active_fraction == 0) and np.all(flat.grad_norm == 0)  # Figures 5-6: every unit off
    assert np.ptp(flat.loss) == 0.0  # the loss is then the same at every t
    with pytest.raises(ValueError, match="t_values"):
        sim.landscape(64, 0.01, rng, t_values=[])


def test_k1_prediction_matches_the_exact_expectation_when_supports_are_recovered(rng):
    h, settings = 512, sim.Settings()
    A = model.random_dictionary(settings.n(h), h, rng)
    mu = model.coherence(A)
    eps = settings.bias(h, 0.01, mu)
    structure = estimators.GradientStructure.of(model.perturb_columns(A, 0.1, rng), A, eps)
    exact = estimators.expected_gradient_k1(structure, 1.0, 2.0)
    assert exact.active_fraction == pytest.approx(1 / h, rel=1e-3)  # (almost) every support recovered
    # first order in delta = 0.1 and in the coherence of the random directions: 3 %
    assert estimators.mean_row_norm(exact.gradient) == pytest.approx(sim.k1_prediction(h, eps, 0.1, 1.0, 2.0), rel=0.03)


def test_line_bias_readings(rng):
    t = np.array([-1.5, -0.1, 0.0, 0.1, 1.5])
    r = sim.line_bias_readings(128, rng, t_values=t)
    assert set(r.grad_norm) == {"fixed", "from |t|, c = 0.5", "from |t|, c = 1"}
    assert np.allclose(r.eps["fixed"], r.eps["fixed"][0])
    # the bias from |t| is Theorem 3.1's at radius |t|, times c; at t = 0 it keeps the coherence term
    expected = 2 * 1.5 * 128**0.01 * (np.abs(t) + r.coherence)
    assert np.allclose(r.eps["from |t|, c = 1"], expected) and np.allclose(r.eps["from |t|, c = 0.5"], expected / 2)
    # at |t| = delta the default prefactor's reading from |t| is the fixed bias: the same exact number
    at_delta = np.abs(np.abs(t) - 0.1) < 1e-12
    assert np.allclose(r.grad_norm["from |t|, c = 0.5"][at_delta], r.grad_norm["fixed"][at_delta], rtol=1e-12)
    assert np.all(r.grad_norm["fixed"] > 0)
    again = sim.line_bias_readings(128, np.random.default_rng(0), t_values=t)
    assert np.array_equal(again.grad_norm["fixed"], sim.line_bias_readings(128, np.random.default_rng(0), t_values=t).grad_norm["fixed"])
    with pytest.raises(ValueError, match="p"):
        sim.line_bias_readings(1024, rng, p=0.3)
    with pytest.raises(ValueError, match="t_values"):
        sim.line_bias_readings(128, rng, t_values=[])
def test_k1_prediction_keeps_the_eps_squared_term():
    """At eps = 2 m1 only the delta term is left: q (m2 - 2 m1 eps + eps^2) delta = q m2 delta (m1 = 1.5, m2 = 7/3 for U[1, 2])."""
    h, delta = 64, 0.3
    m1, m2 = model.uniform_moments(1.0, 2.0)
    assert sim.k1_prediction(h, 2 * m1, delta, 1.0, 2.0) == pytest.approx(m2 * delta / h, rel=1e-13)
    # and in general it is the hypotenuse of the A_i and tangential parts
    eps = 0.5
    expected = np.hypot(eps * (2 * m1 - eps), (m2 - 2 * m1 * eps + eps**2) * delta) / h
    assert sim.k1_prediction(h, eps, delta, 1.0, 2.0) == pytest.approx(expected, rel=1e-13)
