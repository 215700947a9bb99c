"""Contract examples of the criticality chapter's claim criteria (registered by :mod:`contract_examples`)."""

import functools

import numpy as np
from contract_examples import example, rng

from lib.experiments import criticality as ec

_EC = "lib.experiments.criticality."


@functools.cache
def _sweep() -> ec.CriticalitySweep:
    return ec.criticality_sweep([8, 16], [0.3], 0.3, 1, 30, rng(), batches=3)


def _cells() -> np.ndarray:
    return np.ones((1, 2), dtype=bool)


_CELLS = {"cells": ["bool_array"]}  # another boolean mask of the cells is a valid mask


@example(_EC + "theorem32_failures", allow={**_CELLS, "low": ["zero"]})
def _(): return {"sweep": _sweep(), "cells": _cells(), "low": 1.0, "high": 2.0}
@example(_EC + "lemma52_holds", allow=_CELLS)
def _(): return {"sweep": _sweep(), "cells": _cells(), "m1": 1.5, "m2": 7 / 3, "minimum": 2}
@example(_EC + "theorem32_vanishes", allow=_CELLS)
def _(): return {"sweep": _sweep(), "cells": _cells(), "minimum": 2}
