"""The validation contract, checked on every public callable of ``lib``: bad input is a ``ValueError`` or ``TypeError`` naming the parameter.

Every name in a module's ``__all__`` is public, and so is every public method (with parameters) of
a public class; a name re-exported from another public module is checked once, where it is defined.  Each needs a
valid-call example in :mod:`tests.contract_examples`; a public
callable without one fails :func:`test_every_public_callable_has_an_example`, so a new function
cannot skip the contract.  Then, one parameter at a time, Hypothesis replaces the example's value
by bad values of every category that fits the value's type (NaN, ±inf, complex, bool, numeric
strings, None, wrong shapes, empty arrays, zero/negative/huge sizes, objects of the wrong class)
and the call must raise ``ValueError`` or ``TypeError`` whose message names that parameter, within
a time limit and without a large allocation.

The second half of the promise: a request the code cannot honour exactly is refused, never answered
with something else.  One parameter at a time, Hypothesis replaces a numeric example value by other
plausible values (integers from 1 to two past the example's, as ``int`` or a numpy integer type;
floats from a quarter to twice it) and the call must either succeed, and then pass the example's
``honours`` predicate where it has one (e.g. a dictionary of ``h`` atoms has ``h`` atoms), or raise
``ValueError``/``TypeError`` naming one of the callable's parameters: never another exception (a deep
traceback), never a refusal of a numpy integer that the same Python integer passes.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import math
import pkgutil
import re
import signal
import tracemalloc
from collections.abc import Callable, Iterator

import contract_examples as ex
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import lib

HANG_SECONDS = 60.0  # a call still running then is interrupted (an exception raised into arbitrary code: last resort)
BYTES_PER_CALL = 64 * 2**20  # ... and allocate next to nothing
SKIPPED_MODULES = {
    "lib.__main__": "the command-line entry point: tests/test_cli.py checks its exit codes and messages",
    "lib.cli": "the command-line interface: tests/test_cli.py checks its exit codes and messages",
}
HYPOTHESIS = dict(max_examples=4, deadline=None, derandomize=True, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))


def public_modules() -> Iterator:
    for info in pkgutil.walk_packages(lib.__path__, "lib."):
        name = info.name
        if name in SKIPPED_MODULES or any(part.startswith("_") for part in name.split(".")):
            continue
        yield importlib.import_module(name)


def _methods(cls: type) -> Iterator[tuple[str, Callable]]:
    """Public methods with parameters, except overrides of a framework's hooks (Keras ``build``/``call``)."""
    foreign = [base for base in cls.__mro__[1:] if not base.__module__.startswith("lib")]
    for name, attr in vars(cls).items():
        if (name.startswith("_") and name != "__call__") or isinstance(attr, property):
            continue
        if any(name in vars(base) for base in foreign):
            continue
        func = attr.__func__ if isinstance(attr, (classmethod, staticmethod)) else attr
        if inspect.isfunction(func) and len(inspect.signature(func).parameters) > (0 if isinstance(attr, staticmethod) else 1):
            yield name, getattr(cls, name)


def public_callables() -> dict[str, Callable]:
    """``"module.name"`` (and ``"module.Class.method"``) → the callable, for the whole public API."""
    found = {}
    modules = list(public_modules())
    names = {module.__name__ for module in modules}
    for module in modules:
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name)
            if not callable(value) or _reexported(value, module.__name__, names):
                continue
            key = f"{module.__name__}.{name}"
            if inspect.isclass(value):
                if key not in ex.RESULT_TYPES:
                    found[key] = value
                for method, attr in _methods(value):
                    found[f"{key}.{method}"] = attr
            elif inspect.signature(value).parameters:
                found[key] = value
    return found


def _reexported(value: object, module: str, public: set[str]) -> bool:
    """Whether ``value`` is defined in another public module, where it is checked once, under its own name."""
    home = getattr(value, "__module__", module)
    return home != module and home in public


PUBLIC = public_callables()


def test_every_module_declares_its_public_api() -> None:
    missing = [m.__name__ for m in public_modules() if not hasattr(m, "__all__")]
    assert not missing, f"modules without __all__ (it defines the public API): {missing}"


def test_every_public_callable_has_an_example() -> None:
    missing = sorted(k for k in PUBLIC if k not in ex.EXAMPLES)
    assert not missing, (
        "public callables without a valid-call example; add one to tests/contract_examples.py: " + ", ".join(missing)
    )
    stale = sorted(set(ex.EXAMPLES) - set(PUBLIC))
    assert not stale, f"examples for names that are not public callables: {stale}"


def _call(key: str, kwargs: dict) -> object:
    kwargs = dict(kwargs)
    if "self" in kwargs:  # a method: the example gives the instance (or the class) as ``self``
        return getattr(kwargs.pop("self"), key.rsplit(".", 1)[1])(**kwargs)
    return PUBLIC[key](**kwargs)


@pytest.mark.parametrize("key", sorted(k for k in ex.EXAMPLES if ex.EXAMPLES[k].run))
def test_example_is_valid(key: str) -> None:
    """The example itself is accepted (so an error in the bad-input test comes from the bad value), and the
    call leaves its array arguments as they were: the examples share them, whatever order the tests run in."""
    kwargs = ex.EXAMPLES[key].kwargs()
    before = {name: value.copy() for name, value in kwargs.items() if isinstance(value, np.ndarray)}
    _call(key, kwargs)
    changed = [name for name, value in before.items() if not np.array_equal(kwargs[name], value, equal_nan=True)]
    assert not changed, f"{key} wrote into its argument(s) {', '.join(changed)}"


def _cases() -> Iterator:
    for key in sorted(ex.EXAMPLES):
        example = ex.EXAMPLES[key]
        target = PUBLIC.get(key)
        defaults = {} if target is None else {
            name: p.default for name, p in inspect.signature(target).parameters.items()}
        for param, value in example.kwargs().items():
            if param == "self":
                continue
            allowed = tuple(example.allow.get(param, ())) + (("none",) if defaults.get(param, 0) is None else ())
            for category in ex.categories(value, allowed):
                yield pytest.param(key, param, category, id=f"{key}-{param}-{category}")


class _Timeout(Exception):
    pass


def _alarm(signum, frame):  # noqa: ARG001
    raise _Timeout


@contextlib.contextmanager
def _hang_guard(failure: str) -> Iterator[None]:
    """Interrupt the body after ``HANG_SECONDS`` (a last resort: an exception raised into arbitrary code) and fail with ``failure``."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
    try:
        yield
    except _Timeout:
        pytest.fail(failure)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize(("key", "param", "category"), list(_cases()))
def test_bad_input_is_refused(key: str, param: str, category: str) -> None:
    # A fresh settings object per case: one module-level settings decorating ~2,000 parametrized cases
    # grows Hypothesis's settings fallback chain until RecursionError (seen after ~1,000 cases).
    settings(**HYPOTHESIS)(given(data=st.data())(lambda data: _refuses(key, param, category, data)))()


def _refuses(key: str, param: str, category: str, data) -> None:
    example = ex.EXAMPLES[key]
    kwargs = example.kwargs()
    bad = data.draw(ex.STRATEGIES[category](kwargs[param]), label=f"{param} ({category})")
    kwargs[param] = bad
    tracemalloc.start()
    try:
        with _hang_guard(f"{key}({param}={bad!r}) ran for more than {HANG_SECONDS} s instead of refusing it"):
            with pytest.raises((ValueError, TypeError)) as info:
                _call(key, kwargs)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    message = str(info.value)
    assert re.search(rf"(?<![\w.]){re.escape(example.names.get(param, param))}(?![\w])", message), (
        f"{key}({param}={bad!r}) raised {type(info.value).__name__}({message!r}), which does not name {param}"
    )
    assert peak < BYTES_PER_CALL, f"{key}({param}={bad!r}) allocated {peak / 2**20:.0f} MiB before refusing"


def _numeric(value: object) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, np.integer)):
        return value >= 1
    return isinstance(value, (float, np.floating)) and math.isfinite(value) and value != 0


def _range_cases() -> Iterator:
    for key in sorted(ex.EXAMPLES):
        example = ex.EXAMPLES[key]
        if not example.run:
            continue
        for param, value in example.kwargs().items():
            if param != "self" and _numeric(value):
                yield pytest.param(key, param, id=f"{key}-{param}")


def _plausible(value: object) -> st.SearchStrategy:
    if isinstance(value, (int, np.integer)):
        return st.tuples(st.integers(1, int(value) + 2), st.sampled_from([int, np.int64, np.int32, np.intp])).map(
            lambda pair: pair[1](pair[0]))
    low, high = sorted((value / 4, 2 * value))
    return st.floats(low, high, allow_nan=False, allow_infinity=False).map(float) | st.just(np.float64(value))


def _parameters(key: str) -> set[str]:
    target = PUBLIC[key]
    names = set(inspect.signature(target).parameters)
    return names | set(ex.EXAMPLES[key].names.values())


@pytest.mark.parametrize(("key", "param"), list(_range_cases()))
def test_plausible_values_are_honoured_or_refused(key: str, param: str) -> None:
    settings(**HYPOTHESIS)(given(data=st.data())(lambda data: _honours(key, param, data)))()


def _guarded(key: str, kwargs: dict, label: str) -> object:
    with _hang_guard(f"{key}({label}) ran for more than {HANG_SECONDS} s"):
        return _call(key, kwargs)


def _honours(key: str, param: str, data) -> None:
    example = ex.EXAMPLES[key]
    kwargs = example.kwargs()
    value = data.draw(_plausible(kwargs[param]), label=param)
    kwargs[param] = value
    label = f"{param}={value!r} ({type(value).__name__})"
    try:
        result = _guarded(key, kwargs, label)
    except (ValueError, TypeError) as error:
        message = str(error)
        named = [name for name in _parameters(key) if re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", message)]
        assert named, f"{key}({label}) raised {type(error).__name__}({message!r}), which names no parameter"
        if isinstance(value, np.integer):
            kwargs[param] = int(value)
            try:
                _guarded(key, kwargs, f"{param}={int(value)}")
            except (ValueError, TypeError):
                return
            pytest.fail(f"{key}({label}) refuses a numpy integer that the Python integer {int(value)} passes: {message}")
        return
    if example.honours is not None:
        assert example.honours(kwargs, result), f"{key}({label}) returned an answer to another question: {result!r:.300}"
