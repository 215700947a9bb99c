"""The criteria of the model chapter's claims: each rejects a counterexample and accepts a case that holds."""

from dataclasses import replace

import numpy as np
import pytest

from lib.experiments import model as em


@pytest.fixture(scope="module")
def orthogonal() -> em.OrthogonalCheck:
    return em.orthogonal_minimum(8, 100, np.random.default_rng(1), directions=3)


def test_orthogonal_minimum_holds_on_the_remark_and_meets_its_hypotheses(orthogonal):
    assert em.orthogonal_minimum_holds(orthogonal)
    assert em.orthogonal_remark_failures(orthogonal) == []


def test_orthogonal_minimum_rejects_a_point_that_is_not_a_zero_of_the_loss(orthogonal):
    overcomplete = replace(orthogonal, loss_at_truth=orthogonal.overcomplete_loss)  # W = A*^T of a Gaussian n x 2n A*
    assert not em.orthogonal_minimum_holds(overcomplete)


def test_orthogonal_minimum_rejects_a_descending_direction_and_a_flat_one(orthogonal):
    dipping = orthogonal.losses.copy()
    dipping[0, 3] = -1e-3  # some direction goes below the value at t = 0
    assert not em.orthogonal_minimum_holds(replace(orthogonal, losses=dipping))
    flat = np.zeros_like(orthogonal.losses)  # every direction flat: a minimum, but not a strict one
    assert not em.orthogonal_minimum_holds(replace(orthogonal, losses=flat))


def test_orthogonal_remark_failures_names_each_broken_hypothesis(orthogonal):
    broken = replace(orthogonal, orthogonality_error=0.1, smallest_code=-0.5, eps=0.3)
    assert em.orthogonal_remark_failures(broken) == ["A* orthogonal", "x* ≥ 0", "ε = 0"]


def test_orthogonal_minimum_records_the_hypotheses_it_was_run_under(orthogonal):
    assert orthogonal.orthogonality_error < 1e-12 and orthogonal.smallest_code >= 0 and orthogonal.eps == 0
