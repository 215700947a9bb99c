"""BOOK_SCALE: every scale is known to every chapter, and a bad value is a clear error."""

import pytest

from lib import scale


@pytest.mark.parametrize("name", scale.SCALES)
def test_every_experiment_defines_every_scale(monkeypatch, name):
    monkeypatch.setenv("BOOK_SCALE", name)
    assert scale.current().name == name
    for experiment in scale.SIZES:
        assert set(scale.SIZES[experiment]) == set(scale.SCALES), experiment
        assert scale.sizes(experiment)  # non-empty


def test_default_and_normalisation(monkeypatch):
    monkeypatch.delenv("BOOK_SCALE", raising=False)
    assert scale.current().name == scale.DEFAULT_SCALE
    monkeypatch.setenv("BOOK_SCALE", " Smoke ")
    assert scale.current().name == "smoke"


def test_bad_scale_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("BOOK_SCALE", "huge")
    with pytest.raises(ValueError, match="BOOK_SCALE must be one of smoke, paper, large; got 'huge'"):
        scale.current()


def test_unknown_experiment_is_a_clear_error():
    with pytest.raises(ValueError, match="experiment must be one of"):
        scale.sizes("nonexistent", "smoke")


def test_sizes_are_read_only():
    with pytest.raises(TypeError):
        scale.sizes("model", "smoke")["trials"] = 99
