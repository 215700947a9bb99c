"""Contract examples of the simulations chapter's claim criteria (registered by :mod:`contract_examples`)."""

import functools

import numpy as np
import pandas as pd
from contract_examples import example

from lib.experiments import simulations as sim

_SI = "lib.experiments.simulations."


def _cells() -> pd.DataFrame:
    return pd.DataFrame({"h": [256, 512, 256, 512], "p": [0.01, 0.01, 0.1, 0.1], "corrected": [0.008, 0.004, 0.012, 0.007]})


@functools.cache
def _flat_line() -> sim.Landscape:
    t = np.linspace(-1.0, 1.0, 5)
    zeros, nan = np.zeros(5), np.full(5, np.nan)
    return sim.Landscape(h=16, p=0.01, n=4, k=1, delta=1.0, eps=1.0, coherence=0.5, N=64, t=t, loss=np.ones(5),
                         grad_norm=zeros, grad_plain=zeros, noise_floor=nan, active_fraction=zeros, recovered_fraction=nan,
                         exact_loss=nan, exact_grad_norm=nan, exact_active_fraction=nan)


@example(_SI + "second_number_is_h_pow")
def _(): return {"table": sim.paper_table1(), "tol": 5e-5}
@example(_SI + "decreases_with_h")
def _(): return {"table": _cells(), "value": "corrected"}
@example(_SI + "same_order")
def _(): return {"table": _cells(), "value": "corrected", "factor": 3.0}
@example(_SI + "decreases_towards_zero")
def _(): return {"t": np.linspace(-1.0, 1.0, 5), "values": np.array([4.0, 1.0, 0.0, 1.0, 4.0]), "window": 0.3}
@example(_SI + "flat_near_truth")
def _(): return {"line": _flat_line(), "min_points": 3, "tol": 1e-12}
