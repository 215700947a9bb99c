"""The criteria of the random-starts chapter's claims: each rejects a counterexample and accepts a case that holds."""

import numpy as np
import pytest

from lib.experiments import random_starts as rs


def test_exponent_at_most_linear_accepts_an_informative_interval_and_rejects_an_uninformative_one():
    assert rs.exponent_at_most_linear(1.05, 0.82, 1.28)  # TopK at large scale
    assert rs.exponent_at_most_linear(-0.75, -1.83, 0.33)
    assert not rs.exponent_at_most_linear(-5.16, -14.38, 4.06)  # three points, one degree of freedom: says nothing
    assert not rs.exponent_at_most_linear(1.8, 1.3, 2.3)  # super-linear: the interval does not reach 1
    with pytest.raises(ValueError, match="b must lie"):
        rs.exponent_at_most_linear(2.5, 0.8, 1.3)


def test_exponent_at_most_linear_reads_the_fit_of_quadratic_and_linear_growth():
    h = np.repeat([128.0, 256.0, 512.0, 1024.0], 2)
    wobble = np.tile([0.9, 1.1], 4)
    assert not rs.exponent_at_most_linear(*rs.fit_exponent(h, 0.01 * h**2 * wobble))  # N* ∝ h²
    assert rs.exponent_at_most_linear(*rs.fit_exponent(h, 30 * h * wobble))  # N* ∝ h
