"""Input validation shared by every public function of :mod:`lib`.

Each checker raises :class:`ValueError` (a value out of range, a bad shape, a non-finite entry)
or :class:`TypeError` (a wrong type: bool, complex, str or an object of the wrong class where a
number, an array or a given class is expected) whose message names the offending *public*
parameter, so that a bad call fails at the boundary of the library and never deep inside numpy.
The style is scikit-learn's ``check_scalar``/``check_array``: checks are small and composable, and
every one returns the validated, converted value.

Work and memory are bounded up front: :func:`allocation` refuses a request whose arrays would not
fit in a fraction of the physical memory (with the estimate in the message), and loop counts
(steps, epochs, repetitions) are capped at :data:`MAX_LOOP`.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MAX_LOOP",
    "MEMORY_FRACTION",
    "MAX_WORK",
    "work",
    "integer",
    "loop_count",
    "real",
    "probability",
    "exponent",
    "real_array",
    "matrix",
    "bias",
    "generator",
    "of_type",
    "choice",
    "flag",
    "text",
    "real_sequence",
    "integer_sequence",
    "codes",
    "indices",
    "allocation",
    "memory_limit",
    "instance",
    "frame",
]

MAX_LOOP = 10**7
"""The largest loop count (steps, epochs, repetitions, points) a public function accepts."""

MEMORY_FRACTION = 0.5
"""The fraction of physical memory one call may allocate (:func:`allocation`)."""

MAX_WORK = 10**12
"""The most elementary operations (multiply-adds, samples × nonzeros) one call may request (:func:`work`)."""

_NUMERIC_KINDS = "iuf"  # signed and unsigned integers, floats: what a real array may hold


def integer(value: object, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as ``int`` after checking it is an integer in ``[minimum, maximum]``.

    An integral float (``1e5``) is accepted; a float with a fraction, a bool, a complex number or a
    string is refused with the parameter's ``name``.
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got bool")
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        if not np.isfinite(value) or float(value) != int(value):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        value = int(value)
    if not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def loop_count(value: object, name: str, *, minimum: int = 1, maximum: int = MAX_LOOP) -> int:
    """An iteration count in ``[minimum, maximum]`` (default ``[1, MAX_LOOP]``): absurd counts that would run for ever are refused."""
    return integer(value, name, minimum=minimum, maximum=maximum)


def real(
    value: object,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_min: bool = False,
    strict_max: bool = False,
) -> float:
    """Return ``value`` as a finite ``float`` inside the given (open or closed) bounds."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and (value <= minimum if strict_min else value < minimum):
        raise ValueError(f"{name} must be {'>' if strict_min else '>='} {minimum}, got {value}")
    if maximum is not None and (value >= maximum if strict_max else value > maximum):
        raise ValueError(f"{name} must be {'<' if strict_max else '<='} {maximum}, got {value}")
    return value


def probability(value: object, name: str) -> float:
    """A probability: a real number in ``[0, 1]``."""
    return real(value, name, minimum=0.0, maximum=1.0)


def exponent(p: object, name: str = "p") -> float:
    """Check a sparsity exponent: ``0 < p < 1``."""
    return real(p, name, minimum=0.0, maximum=1.0, strict_min=True, strict_max=True)


def real_array(
    value: object,
    name: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
    shape: tuple[int | None, ...] | None = None,
    finite: bool = True,
    empty: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_min: bool = False,
    match: str = "",
) -> np.ndarray:
    """Return ``value`` as a float64 array after checking its type, dimension, shape, size and range.

    Integer and float dtypes are accepted; bool, complex, string and object dtypes are refused with
    a :class:`TypeError` (numpy would silently drop an imaginary part or parse ``"0.5"``).
    ``ndim`` is one allowed dimension or a tuple of them; ``shape`` gives the length of each axis
    (``None`` = any); ``empty=False`` refuses a zero-size array; ``minimum``/``maximum`` bound
    every entry (``strict_min`` makes the lower bound strict); ``match`` names the argument a
    required shape comes from, for the message (``"W must have shape (8, any) to match Y"``).
    """
    allowed = None if ndim is None else ((ndim,) if isinstance(ndim, int) else tuple(ndim))
    kind = "real scalar or array" if allowed is None or 0 in allowed else "real array"
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a {kind}, got {type(value).__name__}")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged nested sequences
        raise TypeError(f"{name} must be a {kind} ({exc})") from exc
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(f"{name} must be a {kind}, got dtype {array.dtype}")
    array = array.astype(np.float64, copy=False)
    if allowed is not None and array.ndim not in allowed:
        raise ValueError(f"{name} must be a {' or '.join(f'{d}-d' for d in allowed)} array, got {array.ndim} dimension(s)")
    if shape is not None:
        if array.ndim != len(shape) or any(w is not None and g != w for g, w in zip(array.shape, shape)):
            against = f" to match {match}" if match else ""
            raise ValueError(f"{name} must have shape {_shape_text(shape)}{against}, got {array.shape}")
    if not empty and array.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {array.shape}")
    if finite and not np.all(np.isfinite(array)):
        if array.ndim == 0:
            raise ValueError(f"{name} must be finite, got {float(array)}")
        raise ValueError(f"{name} must contain only finite values")
    if minimum is not None and np.any(array <= minimum if strict_min else array < minimum):
        raise ValueError(f"{name} must be {'>' if strict_min else '>='} {minimum} everywhere")
    if maximum is not None and np.any(array > maximum):
        raise ValueError(f"{name} must be <= {maximum} everywhere")
    return array


def matrix(value: object, name: str, *, shape: tuple[int | None, int | None] | None = None, match: str = "") -> np.ndarray:
    """Return ``value`` as a finite, non-empty float64 2-d array, optionally of a given shape (``None`` = any) set by ``match``."""
    return real_array(value, name, ndim=2, shape=shape, match=match)


def bias(eps: object, h: int, name: str = "eps", match: str = "W") -> np.ndarray:
    """Return the bias as a float64 array of shape ``(h, 1)`` (a scalar is broadcast to every unit)."""
    array = real_array(eps, name, ndim=(0, 1))
    if array.ndim == 0:
        array = np.full(h, float(array))
    if array.shape != (h,):
        raise ValueError(f"{name} must be a scalar or have shape ({h},) to match {match}, got shape {array.shape}")
    return array[:, None]


def generator(rng: object, name: str = "rng") -> np.random.Generator:
    """Check that ``rng`` is a :class:`numpy.random.Generator` (global random state is never used)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{name} must be a numpy.random.Generator (use numpy.random.default_rng(seed)), got {type(rng).__name__}")
    return rng


def of_type(value: object, name: str, cls: type | tuple[type, ...]) -> object:
    """Check that ``value`` is an instance of ``cls`` (a class or a tuple of classes)."""
    if not isinstance(value, cls):
        names = " or ".join(c.__name__ for c in (cls if isinstance(cls, tuple) else (cls,)))
        raise TypeError(f"{name} must be a {names}, got {type(value).__name__}")
    return value


def choice(value: object, name: str, choices: Sequence[str]) -> str:
    """A string among ``choices``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {tuple(choices)}, got {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def flag(value: object, name: str) -> bool:
    """A real bool (``0``, ``1`` or ``"yes"`` are refused: a flag is never guessed)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return bool(value)


def text(value: object, name: str, *, allow_empty: bool = False) -> str:
    """A string, non-empty unless ``allow_empty``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise ValueError(f"{name} must not be empty")
    return value


def real_sequence(value: object, name: str, **bounds: float | bool | None) -> tuple[float, ...]:
    """A non-empty sequence of finite reals (each checked by :func:`real` with ``bounds``)."""
    items = _sequence(value, name)
    return tuple(real(v, name, **bounds) for v in items)


def integer_sequence(value: object, name: str, *, minimum: int | None = None, maximum: int | None = None) -> tuple[int, ...]:
    """A non-empty sequence of integers in ``[minimum, maximum]``."""
    items = _sequence(value, name)
    return tuple(integer(v, name, minimum=minimum, maximum=maximum) for v in items)


def _sequence(value: object, name: str) -> list:
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise TypeError(f"{name} must be a sequence (list, tuple or 1-d array), got {type(value).__name__}")
    items = list(np.asarray(value).tolist()) if isinstance(value, np.ndarray) else list(value)
    if isinstance(value, np.ndarray) and value.ndim != 1:
        raise ValueError(f"{name} must be 1-d, got {value.ndim} dimension(s)")
    if not items:
        raise ValueError(f"{name} must not be empty")
    return items


def codes(support: object, values: object, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Sparse codes: ``support`` an ``(N, k)`` integer array of distinct indices in ``[0, h)`` per row, ``values`` finite reals of the same shape."""
    if isinstance(support, (str, bytes)):
        raise TypeError(f"support must be an integer array, got {type(support).__name__}")
    support = np.asarray(support)
    if support.dtype.kind not in "iu":
        raise TypeError(f"support must be an integer array of indices, got dtype {support.dtype}")
    if support.ndim != 2 or support.size == 0:
        raise ValueError(f"support must be a non-empty 2-d array of shape (N, k), got shape {support.shape}")
    if support.min() < 0 or support.max() >= h:
        raise ValueError(f"support must hold indices in [0, {h - 1}]")
    ordered = np.sort(support, axis=1)
    if np.any(ordered[:, 1:] == ordered[:, :-1]):
        raise ValueError("support must not repeat an index within a row (a code has k distinct nonzeros)")
    values = matrix(values, "values", shape=support.shape, match="support")
    return support, values


def indices(value: object, name: str, size: int | None = None, *, ndim: int = 1, columns: int | None = None,
            empty: bool = True) -> np.ndarray:
    """An integer array of indices into an axis of length ``size`` (``None``: any non-negative index), of dimension ``ndim``.

    ``columns`` fixes the length of the last axis of a 2-d array (``(P, 2)`` pairs); ``empty`` allows
    a zero-size array (an empty list is read as an empty integer array).
    """
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be an integer array of indices, got {type(value).__name__}")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged nested sequences
        raise TypeError(f"{name} must be an integer array of indices ({exc})") from exc
    if array.size == 0 and array.dtype.kind == "f":
        array = array.astype(np.int64)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array of indices, got dtype {array.dtype}")
    if array.ndim != ndim or (columns is not None and array.shape[-1] != columns):
        wanted = f"shape (any, {columns})" if columns is not None else f"{ndim} dimension(s)"
        raise ValueError(f"{name} must be an index array of {wanted}, got shape {array.shape}")
    if not empty and array.size == 0:
        raise ValueError(f"{name} must not be empty")
    if array.size and (array.min() < 0 or (size is not None and array.max() >= size)):
        raise ValueError(f"{name} must hold indices in [0, {'any' if size is None else size - 1}]")
    return array


def memory_limit() -> int:
    """Bytes one call may allocate: :data:`MEMORY_FRACTION` of the physical memory."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not POSIX: assume 8 GB
        physical = 8 * 2**30
    return int(MEMORY_FRACTION * physical)


def work(name: str, operations: float, *, limit: float = MAX_WORK) -> None:
    """Refuse up front a request of more than ``limit`` elementary operations: it would run for hours or for ever.

    ``name`` names the public size parameter(s) that set the request; the message gives the estimate.
    """
    if not operations <= limit:
        raise ValueError(f"{name}: this request needs about {operations:.3g} operations, more than the {limit:.3g} "
                         f"allowed in one call; reduce {name}")


def allocation(name: str, n_bytes: float, *, limit: int | None = None) -> None:
    """Refuse up front a request whose arrays would need more than ``limit`` bytes (default :func:`memory_limit`).

    ``name`` names the public size parameter(s) that set the request; the message gives the estimate.
    """
    limit = memory_limit() if limit is None else limit
    if not n_bytes <= limit:
        raise ValueError(
            f"{name}: this request needs about {n_bytes / 2**30:.3g} GiB of memory, more than the "
            f"{limit / 2**30:.3g} GiB allowed ({MEMORY_FRACTION:.0%} of physical memory); reduce {name}"
        )


def _shape_text(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"


def instance(W: object, A: object, k: object, eps: object) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """Check an (encoder, dictionary, support size, bias) quadruple that many functions share.

    Returns ``W`` (h, n), ``A`` (n, h), ``k`` in ``[1, h]`` and the bias as a vector of shape ``(h,)``.
    """
    W = matrix(W, "W")
    h, n = W.shape
    A = matrix(A, "A", shape=(n, h), match="W")
    k = integer(k, "k", minimum=1, maximum=h)
    return W, A, k, bias(eps, h)[:, 0]


def frame(value: object, name: str, columns: Sequence[str]) -> "pd.DataFrame":
    """``value`` as a non-empty :class:`pandas.DataFrame` holding ``columns``, each of finite numbers."""
    import pandas as pd

    of_type(value, name, pd.DataFrame)
    missing = [c for c in columns if c not in value.columns]
    if missing or value.empty:
        raise ValueError(f"{name} must be a non-empty DataFrame with columns {list(columns)}, missing {missing}")
    for c in columns:
        real_array(value[c].to_numpy(dtype=float), f"{name}[{c!r}]")
    return value
