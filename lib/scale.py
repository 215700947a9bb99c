"""Experiment sizes, selected by the environment variable ``BOOK_SCALE``.

``smoke``
    CI: small ``h``, few samples; every chapter runs in well under a minute.
``paper``
    The paper's sizes (``h`` up to 4096); what ``make book`` builds.
``large``
    Beyond the paper (larger ``h``, more seeds) for machines with more time.

Every chapter reads its sizes from :data:`SIZES` through :func:`sizes`, so changing the size of
an experiment is a change here, not in a notebook.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

SCALES = ("smoke", "paper", "large")
DEFAULT_SCALE = "paper"
ENV_VAR = "BOOK_SCALE"

# One entry per chapter (the key is the chapter's experiment module); each maps a scale to the
# keyword arguments of that chapter's experiments.
SIZES: dict[str, dict[str, dict[str, Any]]] = {
    "model": {
        "smoke": {"n_values": [16, 32, 64], "h_values": [64, 128, 256], "trials": 2, "orthogonal_n": 16, "orthogonal_N": 200},
        "paper": {"n_values": [32, 64, 128, 256], "h_values": [256, 512, 1024, 2048, 4096], "trials": 5, "orthogonal_n": 64, "orthogonal_N": 2000},
        "large": {"n_values": [64, 128, 256, 512, 1024], "h_values": [256, 1024, 4096, 16384], "trials": 10, "orthogonal_n": 256, "orthogonal_N": 10000},
    },
    "mnist": {
        "smoke": {"max_images": 300, "test_fraction": 0.2, "hidden": 16, "hidden_values": [8, 16], "epochs": 30, "batch_size": 32, "learning_rate": 1e-3},
        "paper": {"max_images": 1000, "test_fraction": 0.2, "hidden": 64, "hidden_values": [16, 32, 64, 128, 256], "epochs": 150, "batch_size": 32, "learning_rate": 1e-3},
        "large": {"max_images": 14000, "test_fraction": 0.2, "hidden": 64, "hidden_values": [16, 32, 64, 128, 256, 512, 1024], "epochs": 150, "batch_size": 32, "learning_rate": 1e-3},
    },
    "support": {
        "smoke": {"inner_h": 512, "inner_n": 128, "hadamard_h": [512, 2048], "hadamard_N": 2000, "fp_h": [64, 256, 1024], "fp_N": 20000, "tradeoff_h": [256, 512], "tradeoff_N": 300, "widget_N": 300},
        "paper": {"inner_h": 2048, "inner_n": 512, "hadamard_h": [512, 1024, 2048, 4096, 8192], "hadamard_N": 20000, "fp_h": [64, 256, 1024, 4096, 16384], "fp_N": 200000, "tradeoff_h": [256, 512, 1024, 2048, 4096], "tradeoff_N": 1000, "widget_N": 500},
        "large": {"inner_h": 4096, "inner_n": 1024, "hadamard_h": [512, 1024, 2048, 4096, 8192], "hadamard_N": 100000, "fp_h": [64, 256, 1024, 4096, 16384], "fp_N": 2000000, "tradeoff_h": [256, 512, 1024, 2048, 4096, 8192], "tradeoff_N": 4000, "widget_N": 1000},
    },
    "criticality": {
        "smoke": {"small_n": 32, "small_N": 20000, "h_values": [256, 512, 1024], "p_values": [0.01, 0.1], "nu": 0.3, "points": 1, "N": 4000, "gap_h": [128, 256, 512, 1024], "gap_N": 8000},
        "paper": {"small_n": 32, "small_N": 40000, "h_values": [256, 512, 1024, 2048], "p_values": [0.01, 0.05, 0.1], "nu": 0.3, "points": 3, "N": 20000, "gap_h": [128, 256, 512, 1024, 2048], "gap_N": 20000},
        "large": {"small_n": 32, "small_N": 100000, "h_values": [256, 512, 1024, 2048, 4096], "p_values": [0.01, 0.05, 0.1], "nu": 0.3, "points": 5, "N": 50000, "gap_h": [128, 256, 512, 1024, 2048, 4096], "gap_N": 50000},
    },
}


@dataclass(frozen=True)
class Scale:
    """A named experiment scale; ``scale.sizes("chapter")`` gives that chapter's sizes."""

    name: str

    def __post_init__(self) -> None:
        if self.name not in SCALES:
            raise ValueError(f"{ENV_VAR} must be one of {', '.join(SCALES)}; got {self.name!r}")

    def sizes(self, experiment: str) -> Mapping[str, Any]:
        """The read-only sizes of ``experiment`` at this scale."""
        if experiment not in SIZES:
            raise ValueError(f"experiment must be one of {sorted(SIZES)}, got {experiment!r}")
        return MappingProxyType(SIZES[experiment][self.name])

    def __str__(self) -> str:
        return self.name


def current() -> Scale:
    """The scale named by ``BOOK_SCALE`` (default ``"paper"``); a bad value raises ``ValueError``."""
    return Scale(os.environ.get(ENV_VAR, DEFAULT_SCALE).strip().lower())


def sizes(experiment: str, scale: Scale | str | None = None) -> Mapping[str, Any]:
    """Sizes of ``experiment`` at ``scale`` (a :class:`Scale`, its name, or ``None`` for :func:`current`)."""
    if scale is None:
        scale = current()
    elif isinstance(scale, str):
        scale = Scale(scale)
    return scale.sizes(experiment)
