"""The criterion of the MNIST chapter's claims: it rejects a counterexample and accepts a case that holds."""

import pytest

from lib.experiments import mnist as experiment


def test_beats_reference_needs_every_error_below_the_bar():
    assert experiment.beats_reference([0.02, 0.03], 0.1, 0.5)
    assert not experiment.beats_reference([0.02, 0.06], 0.1, 0.5)  # the second net is not good enough
    assert not experiment.beats_reference([0.1], 0.1, 0.5)  # a net that ignores its input scores the mean image
    assert experiment.beats_reference([0.04], 0.04)  # two layers no worse than one: equality passes
    assert not experiment.beats_reference([0.041], 0.04)
    with pytest.raises(ValueError, match="reference"):
        experiment.beats_reference([0.04], 0.0)
