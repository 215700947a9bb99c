"""Shared fixtures: a seeded generator per test, so every test is reproducible on its own."""

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20180617)
