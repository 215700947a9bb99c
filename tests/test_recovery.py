"""The recovery metric on planted cases: perfect copies, duplicated and dead atoms, the optimal matching."""

import itertools

import numpy as np
import pytest

from lib import model
from lib.recovery import align, column_distances, recovery


@pytest.fixture
def A(rng):
    return model.random_dictionary(20, 40, rng)


def test_permuted_sign_flipped_rescaled_copy_scores_perfectly(A, rng):
    perm = rng.permutation(A.shape[1])
    signs = rng.choice([-1.0, 1.0], size=A.shape[1])
    W = (A.T * signs[:, None] * rng.uniform(0.5, 2.0, size=(A.shape[1], 1)))[perm]
    match = recovery(A, W)
    assert match.mcc == pytest.approx(1.0, abs=1e-12)
    assert match.mmcs == pytest.approx(1.0, abs=1e-12)
    assert match.fraction(0.99) == 1.0
    assert match.max_dist < 1e-6  # sqrt(2 - 2cos) with cos = 1 - O(1e-16)
    np.testing.assert_array_equal(W[match.assignment], W[np.argsort(perm)])
    aligned = align(W, match)
    np.testing.assert_allclose(aligned / np.linalg.norm(aligned, axis=1, keepdims=True), A.T, atol=1e-12)


def test_duplicated_atom_is_penalised_by_the_matching(A):
    W = A.T.copy()
    W[1] = W[0]  # atom 1 lost, atom 0 learned twice
    match = recovery(A, W)
    h = A.shape[1]
    assert match.fraction(0.99) == pytest.approx((h - 1) / h)
    lost = match.cosines[1]
    assert lost == pytest.approx(abs(A[:, 0] @ A[:, 1]), abs=1e-12)  # column 1 gets the spare copy of atom 0
    assert match.mcc == pytest.approx((h - 1 + lost) / h, abs=1e-12)
    assert match.max_dist == pytest.approx(np.sqrt(2 - 2 * lost), abs=1e-9)


def test_mmcs_is_at_least_mcc_and_counts_duplicates_twice(A, rng):
    for _ in range(5):
        match = recovery(A, rng.standard_normal(A.T.shape))
        assert match.mmcs >= match.mcc - 1e-15
    W = np.repeat(A.T[:1], A.shape[1], axis=0)  # one atom, copied h times
    match = recovery(A, W)
    assert match.fraction(0.99) == pytest.approx(1 / A.shape[1])
    assert match.mmcs == pytest.approx(match.mcc)  # every column's best atom is the same vector


def test_hungarian_matching_is_the_optimal_assignment(rng):
    A = model.random_dictionary(4, 6, rng)
    W = rng.standard_normal((6, 4))
    C = np.abs((A / np.linalg.norm(A, axis=0)).T @ (W / np.linalg.norm(W, axis=1, keepdims=True)).T)
    best = max(sum(C[i, p[i]] for i in range(6)) for p in itertools.permutations(range(6)))
    assert recovery(A, W).mcc == pytest.approx(best / 6, abs=1e-12)


def test_dead_atom_has_cosine_zero_and_extra_atoms_stay_unmatched(A, rng):
    W = A.T.copy()
    W[3] = 0.0
    match = recovery(A, W)
    assert match.cosines[3] == pytest.approx(0.0) and np.isfinite(match.mcc)
    assert match.max_dist == pytest.approx(np.sqrt(2.0))
    extra = np.vstack([rng.standard_normal((5, A.shape[0])), A.T])
    assert recovery(A, extra).mcc == pytest.approx(1.0)


def test_column_distances_are_the_perturbation_size(A, rng):
    W = model.perturb_columns(A, 0.3, rng)
    np.testing.assert_allclose(column_distances(A, W), 0.3, atol=1e-12)


def test_validation_names_the_parameter(A):
    with pytest.raises(ValueError, match="W"):
        recovery(A, A.T[:5])
    with pytest.raises(ValueError, match="W"):
        recovery(A, np.ones((A.shape[1], A.shape[0] + 1)))
    with pytest.raises(ValueError, match="A"):
        recovery(np.ones(3), A.T)
    with pytest.raises(ValueError, match="threshold"):
        recovery(A, A.T).fraction(1.5)
    with pytest.raises(ValueError, match="W"):
        column_distances(A, A)
