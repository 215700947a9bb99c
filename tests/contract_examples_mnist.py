"""Contract example of the MNIST chapter's claim criterion (registered by :mod:`contract_examples`)."""

from contract_examples import example


@example("lib.experiments.mnist.beats_reference")
def _(): return {"errors": [0.02, 0.03], "reference": 0.1, "factor": 0.5}
