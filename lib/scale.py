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

from lib import _validate as check

__all__ = [
    "SCALES",
    "DEFAULT_SCALE",
    "ENV_VAR",
    "SIZES",
    "CELL_TIMEOUT",
    "Scale",
    "cell_timeout",
    "current",
    "sizes",
]

SCALES = ("smoke", "paper", "large")
DEFAULT_SCALE = "paper"
ENV_VAR = "BOOK_SCALE"

# Seconds one notebook cell may run before the build (or nbval) fails on it, naming the chapter and the
# cell: a few times the slowest cell measured at that scale (``make book`` writes every cell's time to
# ``_build/cell-times.json``), so a stuck cell fails in minutes rather than after half an hour.
# Measured on 2 cores with the other core busy: smoke 15 s (06c_random_starts), paper 312 s (05_mnist's
# training sweep).  ``large`` is not measured here: six times the paper limit.
CELL_TIMEOUT: dict[str, int] = {
    "smoke": 120,
    "paper": 900,
    "large": 5400,
}

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
    "training": {
        "smoke": {"tiers": [{"n": 128, "h": 256, "k": 3, "eps": 0.7}, {"n": 64, "h": 128, "k": 4, "eps": 1.0}], "seeds": 1, "deltas": [0.1, 0.3, 0.6, 1.0, 2.0], "steps_near": 80, "steps_random": 400, "batch_size": 256, "sklearn_samples": 2048, "sklearn_epochs": 1, "eval_size": 512, "bias_eps": [0.3, 0.7, 1.1], "bias_ramp": [0.5, 1.0], "bias_delta": 0.3, "sample_sizes": [256, 1024, 4096], "sample_steps": 80, "widget_steps": 60},
        "paper": {"tiers": [{"n": 256, "h": 512, "k": 4, "eps": 0.7}, {"n": 100, "h": 256, "k": 5, "eps": 1.0}], "seeds": 2, "deltas": [0.1, 0.3, 0.6, 1.0, 2.0], "steps_near": 150, "steps_random": 500, "batch_size": 512, "sklearn_samples": 32768, "sklearn_epochs": 2, "eval_size": 1024, "bias_eps": [0.3, 0.7, 1.1, 1.3], "bias_ramp": [0.5, 1.0], "bias_delta": 0.3, "sample_sizes": [512, 1024, 2048, 4096, 8192, 16384], "sample_steps": 150, "widget_steps": 150},
        "large": {"tiers": [{"n": 256, "h": 512, "k": 4, "eps": 0.7}, {"n": 100, "h": 256, "k": 5, "eps": 1.0}, {"n": 512, "h": 1024, "k": 8, "eps": 0.7}], "seeds": 5, "deltas": [0.1, 0.3, 0.6, 1.0, 2.0], "steps_near": 300, "steps_random": 3000, "batch_size": 1024, "sklearn_samples": 65536, "sklearn_epochs": 3, "eval_size": 2048, "bias_eps": [0.1, 0.3, 0.5, 0.7, 0.9, 1.1, 1.3, 1.5], "bias_ramp": [0.5, 1.0], "bias_delta": 0.3, "sample_sizes": [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536], "sample_steps": 300, "widget_steps": 300},
    },
    "hessian": {
        "smoke": {"sd_N": 100000, "tier": {"n": 16, "h": 32, "k": 2, "eps": 0.7}, "h_values": [32, 48], "k_values": [3], "eps_values": [0.9], "N": 1024, "fit_N": 2048, "sets": 2, "seeds": 1, "steps": 200, "batch_size": 256, "line_t": [0.3], "widget_N": 1024},
        "paper": {"sd_N": 200000, "tier": {"n": 32, "h": 64, "k": 3, "eps": 0.7}, "h_values": [32, 64, 128], "k_values": [2, 4], "eps_values": [0.5, 0.9], "N": 2048, "fit_N": 4096, "sets": 3, "seeds": 2, "steps": 500, "batch_size": 256, "line_t": [-0.3, 0.3], "widget_N": 2048},
        "large": {"sd_N": 400000, "tier": {"n": 64, "h": 128, "k": 4, "eps": 0.7}, "h_values": [32, 64, 128, 256], "k_values": [2, 3, 6], "eps_values": [0.5, 0.9, 1.1], "N": 4096, "fit_N": 16384, "sets": 5, "seeds": 5, "steps": 1500, "batch_size": 512, "line_t": [-0.4, -0.2, 0.2, 0.4], "widget_N": 2048},
    },
    "coherence": {
        "smoke": {"h_values": [256, 1024], "p_values": [0.01, 0.05, 0.1, 0.15], "draws": 2, "points": 1, "batches": 8, "pilot_per_unit": 4, "max_samples": 16384, "gaussian_h": [256, 1024], "nu": 0.25, "recovery_p": [0.02, 0.1], "recovery_h": [1024, 4096], "recovery_N": 2000, "widget_h": [256, 1024]},
        "paper": {"h_values": [256, 1024, 4096], "p_values": [0.01, 0.05, 0.1, 0.15], "draws": 2, "points": 1, "batches": 16, "pilot_per_unit": 4, "max_samples": 65536, "gaussian_h": [256, 1024], "nu": 0.25, "recovery_p": [0.02, 0.1], "recovery_h": [1024, 4096, 16384], "recovery_N": 2000, "widget_h": [256, 1024]},
        "large": {"h_values": [256, 1024, 4096, 16384], "p_values": [0.01, 0.05, 0.1, 0.15, 0.2], "draws": 3, "points": 2, "batches": 16, "pilot_per_unit": 8, "max_samples": 524288, "gaussian_h": [256, 1024, 4096], "nu": 0.25, "recovery_p": [0.02, 0.05, 0.1], "recovery_h": [1024, 4096, 16384], "recovery_N": 20000, "widget_h": [256, 1024, 4096]},
    },
    "random_starts": {
        "smoke": {"tiers": [{"n": 128, "h": 256, "k": 3, "eps": 0.7}], "seeds": 1, "heldout_seeds": 1, "steps": 300, "batch_size": 256, "eval_size": 512, "protocols": ["none", "resample silent units", "resample + split + polish", "wider 1.5h + prune", "row-norm control", "bias ramp (low to ε)", "TopK", "TopK + revival"], "widget_tier": {"n": 64, "h": 128, "k": 3, "eps": 0.7}, "widget_steps": 150, "sc_h": [192, 256, 320], "sc_seeds": 1, "sc_ratio": 0.5, "sc_k": 3, "sc_eps": 0.7, "sc_delta": 0.2, "sc_steps": 150, "sc_batch_size": 256, "sc_start_factor": 0.5, "sc_max_factor": 256, "sc_methods": ["tied ReLU AE", "Arora et al. 2015"]},
        "paper": {"tiers": [{"n": 256, "h": 512, "k": 4, "eps": 0.7}, {"n": 100, "h": 256, "k": 5, "eps": 1.0, "protocols": ["none", "resample + split + polish", "TopK", "TopK + revival"]}], "seeds": 2, "heldout_seeds": 2, "steps": 1000, "batch_size": 512, "eval_size": 1024, "protocols": ["none", "resample silent units", "resample + split + polish", "wider 1.5h + prune", "row-norm control", "TopK", "TopK + revival"], "widget_tier": {"n": 128, "h": 256, "k": 3, "eps": 0.7}, "widget_steps": 400, "sc_h": [128, 256, 512], "sc_seeds": 2, "sc_ratio": 0.5, "sc_k": 3, "sc_eps": 0.7, "sc_delta": 0.2, "sc_steps": 150, "sc_batch_size": 512, "sc_start_factor": 0.5, "sc_max_factor": 256, "sc_methods": ["tied ReLU AE", "Arora et al. 2015", "TopK + revival"]},
        "large": {"tiers": [{"n": 256, "h": 512, "k": 4, "eps": 0.7}, {"n": 100, "h": 256, "k": 5, "eps": 1.0}, {"n": 512, "h": 1024, "k": 8, "eps": 0.7}], "seeds": 5, "heldout_seeds": 2, "steps": 3000, "batch_size": 1024, "eval_size": 2048, "protocols": ["none", "resample silent units", "resample + split + polish", "wider 1.5h + prune", "row-norm control", "bias ramp (low to ε)", "TopK", "TopK + revival"], "widget_tier": {"n": 128, "h": 256, "k": 3, "eps": 0.7}, "widget_steps": 400, "sc_h": [128, 256, 512, 1024, 2048, 4096], "sc_seeds": 5, "sc_ratio": 0.5, "sc_k": 3, "sc_eps": 0.7, "sc_delta": 0.2, "sc_steps": 300, "sc_batch_size": 1024, "sc_start_factor": 0.5, "sc_max_factor": 128, "sc_methods": ["tied ReLU AE", "Arora et al. 2015", "TopK + revival", "sklearn MBDL"]},
    },
    "simulations": {
        "smoke": {"h_values": [128, 256, 512], "p_values": [0.01, 0.02, 0.05, 0.1], "points": 2, "batches": 8, "pilot_per_unit": 4, "max_samples": 32768, "sensitivity_h": [128, 256, 512], "sensitivity_points": 1, "sensitivity_samples_per_unit": 16, "noise_h": 1024, "noise_N": [1024, 4096], "noise_quarter_N": [1024, 4096], "landscape": [[256, 0.01], [1024, 0.1]], "landscape_steps": 25, "landscape_samples": 4096, "t_max": 1.5, "flat_delta": 1.0, "flat_t_max": 3.0, "speed_h": 256, "speed_N": 4096},
        "paper": {"h_values": [256, 512, 1024, 2048, 4096], "p_values": [0.01, 0.02, 0.05, 0.1], "points": 3, "batches": 16, "pilot_per_unit": 8, "max_samples": 524288, "sensitivity_h": [256, 512, 1024, 2048, 4096], "sensitivity_points": 2, "sensitivity_samples_per_unit": 64, "noise_h": 4096, "noise_N": [1024, 4096, 16384, 65536], "noise_quarter_N": [1024, 4096, 16384], "landscape": [[512, 0.01], [1024, 0.1]], "landscape_steps": 41, "landscape_samples": 16384, "t_max": 1.5, "flat_delta": 1.0, "flat_t_max": 3.0, "speed_h": 1024, "speed_N": 16384},
        "large": {"h_values": [256, 512, 1024, 2048, 4096, 8192], "p_values": [0.01, 0.02, 0.05, 0.1], "points": 5, "batches": 20, "pilot_per_unit": 16, "max_samples": 1048576, "sensitivity_h": [256, 512, 1024, 2048, 4096, 8192], "sensitivity_points": 3, "sensitivity_samples_per_unit": 128, "noise_h": 4096, "noise_N": [1024, 4096, 16384, 65536, 262144], "noise_quarter_N": [1024, 4096, 16384, 65536, 262144], "landscape": [[4096, 0.01], [2048, 0.1]], "landscape_steps": 61, "landscape_samples": 65536, "t_max": 1.5, "flat_delta": 1.0, "flat_t_max": 3.0, "speed_h": 4096, "speed_N": 16384},
    },
}


@dataclass(frozen=True)
class Scale:
    """A named experiment scale; ``scale.sizes("chapter")`` gives that chapter's sizes."""

    name: str

    def __post_init__(self) -> None:
        check.choice(self.name, "name", SCALES)

    def sizes(self, experiment: str) -> Mapping[str, Any]:
        """The read-only sizes of ``experiment`` at this scale."""
        check.choice(experiment, "experiment", sorted(SIZES))
        return MappingProxyType(SIZES[experiment][self.name])

    def __str__(self) -> str:
        return self.name


def current() -> Scale:
    """The scale named by ``BOOK_SCALE`` (default ``"paper"``); a bad value raises ``ValueError``."""
    name = os.environ.get(ENV_VAR, DEFAULT_SCALE).strip().lower()
    if name not in SCALES:
        raise ValueError(f"{ENV_VAR} must be one of {', '.join(SCALES)}; got {name!r}")
    return Scale(name)


def cell_timeout(scale: Scale | str | None = None) -> int:
    """The per-cell time-out in seconds at ``scale`` (a :class:`Scale`, its name, or ``None`` for :func:`current`)."""
    return CELL_TIMEOUT[_scale(scale).name]


def _scale(scale: Scale | str | None) -> Scale:
    if scale is None:
        return current()
    if isinstance(scale, str):
        return Scale(check.choice(scale, "scale", SCALES))
    check.of_type(scale, "scale", Scale)
    return scale


def sizes(experiment: str, scale: Scale | str | None = None) -> Mapping[str, Any]:
    """Sizes of ``experiment`` at ``scale`` (a :class:`Scale`, its name, or ``None`` for :func:`current`)."""
    return _scale(scale).sizes(experiment)
