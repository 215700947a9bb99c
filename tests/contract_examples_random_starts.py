"""Contract examples of the random-starts chapter's claim criteria (registered by :mod:`contract_examples`)."""

from contract_examples import example

_ER = "lib.experiments.random_starts."


@example(_ER + "exponent_at_most_linear")
def _(): return {"b": 1.05, "low": 0.82, "high": 1.28}
