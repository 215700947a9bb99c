"""The fixed-coherence chapter's experiments: tasks, smooth support sizes, slopes, the theorem's bound and onset."""

from dataclasses import asdict, replace

import numpy as np
import pandas as pd
import pytest

from lib import execution, model
from lib.experiments import coherence as co
from lib.experiments import simulations as sim
from lib.theory import criticality as theory
from lib.theory import support as support_theory

SETTINGS = sim.Settings()


def test_table_task_rows_and_reproducibility():
    task = dict(h=256, p_values=[0.01, 0.1], settings=asdict(SETTINGS), points=1, batches=4, pilot_per_unit=2,
                max_samples=2048)
    first = execution.map_tasks(co.table_task, [task], seed=5, name="test")
    again = execution.map_tasks(co.table_task, [task], seed=5, name="test")
    rows = first[0]
    assert [r["p"] for r in rows] == [0.01, 0.1] and all(r["n"] == 64 for r in rows)
    assert all(r["coherence"] == 1 / 8 for r in rows)  # mu = 1 exactly
    assert all(r["corrected"] > 0 for r in rows)
    assert [r["corrected"] for r in rows] == [r["corrected"] for r in again[0]]


def test_smooth_support_size_has_mean_h_to_the_p(rng):
    h, p = 1024, 0.12  # h^p = 2.30: sizes 2 and 3
    support, values = sim.smooth_sparse_codes(h, p, 40000, rng)
    sizes = np.count_nonzero(values, axis=1)
    assert set(np.unique(sizes)) == {int(np.floor(h**p)), int(np.ceil(h**p))}
    assert abs(sizes.mean() - h**p) < 4 * sizes.std() / np.sqrt(sizes.size)
    assert replace(SETTINGS, rounding="smooth").k(h, p) == support.shape[1] == 3


def test_fit_slopes_recovers_a_known_slope(rng):
    h = np.repeat([256, 1024, 4096], 3)
    values = 2.0 * h.astype(float) ** -0.9 * np.exp(rng.normal(0, 0.01, h.size))
    table = pd.DataFrame({"p": 0.1, "h": h, "point_values": [[v] for v in values]})
    slope = co.fit_slopes(table)[0.1]
    assert slope.low < -0.9 < slope.high and slope.high - slope.low < 0.05 and slope.values == 9


def test_bound_pieces_are_exact_at_mu_one():
    h = np.array([256, 1024, 4096])
    np.testing.assert_allclose(co.xi_exact(h, 2 / np.sqrt(h)), 0.5 - np.log(2) / np.log(h))
    nu = co.nu_of_delta(h, 0.05, 0.1)
    np.testing.assert_allclose(h.astype(float) ** (-0.05 - nu), 0.1)
    bound = co.whole_bound(h, 0.05, SETTINGS)
    m2 = 7 / 3
    expected = [theory.reconstructed_bound(int(x), 0.05, float(v), float(0.5 - np.log(2) / np.log(x)), 1.5, m2)
                for x, v in zip(h, nu)]
    np.testing.assert_allclose(bound, np.ravel(expected))
    assert np.all(co.first_order(h, 0.05, SETTINGS, smooth=True) > 0)


def test_theorem31_onset_is_where_the_margin_starts_to_hold():
    onset = co.theorem31_onset(0.05, 0.25, SETTINGS)
    assert 256 < onset < 2**20
    for h, holds in ((onset, True), (onset / 2 ** (1 / 32), False)):
        delta = h ** (-0.05 - 0.25)
        assert support_theory.margin_condition(delta, delta + 2 / np.sqrt(h), h**0.05, 1.0, 2.0, 1.5) is holds
    assert co.theorem31_onset(0.05, 0.01, SETTINGS, h_max=2.0**12) == float("inf")


def test_recovery_task_above_the_onset_recovers_everything():
    row = execution.map_tasks(co.recovery_task, [dict(h=4096, p=0.02, nu=0.25, settings=asdict(SETTINGS), samples=500)],
                              seed=1, name="test")[0]
    assert co.theorem31_onset(0.02, 0.25, SETTINGS) <= 4096
    assert row["recovered"] == 1.0 and row["k"] == 1


@pytest.mark.parametrize("family", co.FAMILIES)
def test_families_and_the_widget_row(family, rng):
    d = co.make_dictionary(family, 256, rng)
    assert d.h == 256
    row = co.row_for_widget(family, 0.1, 0.5, 1.0, [256], rng, samples_per_unit=2, batches=4)
    assert list(row["h"]) == [256] and row["value"].iloc[0] > 0


def test_validation(rng):
    with pytest.raises(ValueError, match="family"):
        co.make_dictionary("hadamard", 256, rng)
    with pytest.raises(ValueError, match="nu"):
        co.theorem31_onset(0.05, 0.0, SETTINGS)
    with pytest.raises(ValueError, match="prefactor"):
        co.row_for_widget("kerdock", 0.1, -1.0, 1.0, [256], rng)


def test_points_are_built_in_place_from_the_same_stream():
    """W = A*^T + delta Delta^T built block by block equals the one-draw construction to rounding."""
    d = co.make_dictionary("kerdock", 256, np.random.default_rng(1))
    built = co.points_on(d, 0.3, 2, np.random.default_rng(5))
    rng = np.random.default_rng(5)
    for structure in built:
        reference = d.At + 0.3 * model.random_dictionary(d.n, d.h, rng).T
        assert np.max(np.abs(structure.W - reference)) < 1e-15
