"""Contract examples of the fixed-coherence chapter's claim criteria (registered by :mod:`contract_examples`)."""

import pandas as pd
from contract_examples import example

from lib.experiments import coherence as co
from lib.experiments import simulations as sim

_CO = "lib.experiments.coherence."


def _recovery() -> pd.DataFrame:
    h, p, delta, coherence = 16384, 0.02, 16384.0 ** -0.27, 1 / 64
    return pd.DataFrame({"h": [h], "p": [p], "k": [1], "delta": [delta], "coherence": [coherence],
                         "eps": [2 * 1.5 * h**p * (delta + coherence)], "recovered": [1.0]})


def _table() -> pd.DataFrame:
    settings = sim.Settings()
    return pd.DataFrame({"h": [256, 1024], "p": [0.01, 0.01], "n": [64, 256], "k": [1, 1], "coherence": [1 / 8, 1 / 16],
                         "eps": [settings.bias(256, 0.01, 1 / 8), settings.bias(1024, 0.01, 1 / 16)],
                         "corrected": [0.006, 0.0015]})


@example(_CO + "theorem31_holds")
def _(): return {"frame": _recovery(), "settings": sim.Settings()}
@example(_CO + "recovers_where_theorem31_holds")
def _(): return {"recovery": _recovery(), "settings": sim.Settings()}
@example(_CO + "theorem32_failures")
def _(): return {"table": _table(), "settings": sim.Settings()}
@example(_CO + "below_whole_bound")
def _(): return {"table": _table(), "settings": sim.Settings()}
@example(_CO + "falls_with_h")
def _(): return {"slopes": {0.01: co.Slope(-1.0, -1.1, -0.9, 8)}}
