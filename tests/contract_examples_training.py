"""Contract examples of the training chapter's claim criteria (registered by :mod:`contract_examples`)."""

import functools

import numpy as np
from contract_examples import example

import lib.training
from lib.experiments import training as ex

_ET = "lib.experiments.training."


@functools.cache
def _sweep() -> ex.BiasSweep:
    """A bias sweep of two fixed biases and the ramp, from a near and a random start (made up, nothing trained)."""
    rows = np.array([[0.99, 0.5], [0.995, 0.6], [0.996, 0.6]])
    support = np.array([[0.4, 0.0], [0.9, 0.1], [0.92, 0.1]])
    return ex.BiasSweep(np.array([0.5, 1.0]), lib.training.BiasRamp(0.5, 1.0, 10), ("δ0=0.3", "random"), rows, rows, support,
                        np.ones((3, 2)), 5.0, 0.0, 0.0, ())


@example(_ET + "near_starts_recover")
def _(): return {"mcc": np.array([0.995, 0.999]), "frac99": np.array([1.0, 1.0]), "threshold": 0.99, "every_atom": True}
@example(_ET + "ramp_gets_both")
def _(): return {"sweep": _sweep(), "init": "δ0=0.3", "mcc_tol": 0.002, "support_tol": 0.05}
