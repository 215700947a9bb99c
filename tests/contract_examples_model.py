"""Contract examples of the model chapter's claim criteria (registered by :mod:`contract_examples`)."""

import functools

from contract_examples import example, rng

from lib.experiments import model as em

_EM = "lib.experiments.model."


@functools.cache
def _orthogonal() -> em.OrthogonalCheck:
    return em.orthogonal_minimum(4, 10, rng(), directions=2)


@example(_EM + "orthogonal_remark_failures")
def _(): return {"result": _orthogonal()}
@example(_EM + "orthogonal_minimum_holds")
def _(): return {"result": _orthogonal(), "zero": 1e-20, "gradient": 1e-9, "rise": 1e-4, "away": 0.05}
