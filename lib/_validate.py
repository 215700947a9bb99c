"""Input validation shared by every public function of :mod:`lib`.

Each checker raises :class:`ValueError` (or :class:`TypeError` for a wrong type) whose message
names the offending parameter and the allowed range, so that a bad call fails at the boundary
of the library and never deep inside numpy.
"""

from __future__ import annotations

import numbers

import numpy as np


def integer(value: object, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as ``int`` after checking it is an integer in ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


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
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and (value <= minimum if strict_min else value < minimum):
        raise ValueError(f"{name} must be {'>' if strict_min else '>='} {minimum}, got {value}")
    if maximum is not None and (value >= maximum if strict_max else value > maximum):
        raise ValueError(f"{name} must be {'<' if strict_max else '<='} {maximum}, got {value}")
    return value


def exponent(p: object, name: str = "p") -> float:
    """Check a sparsity exponent: ``0 < p < 1``."""
    return real(p, name, minimum=0.0, maximum=1.0, strict_min=True, strict_max=True)


def matrix(value: object, name: str, *, shape: tuple[int | None, int | None] | None = None) -> np.ndarray:
    """Return ``value`` as a finite float64 2-d array, optionally of a given shape (``None`` = any)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real 2-d array") from exc
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array, got {array.ndim} dimension(s)")
    if shape is not None:
        for axis, (got, want) in enumerate(zip(array.shape, shape)):
            if want is not None and got != want:
                raise ValueError(f"{name} must have shape {_shape_text(shape)}, got {array.shape} (axis {axis})")
    if array.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must contain only finite values")
    return array


def bias(eps: object, h: int, name: str = "eps") -> np.ndarray:
    """Return the bias as a float64 array of shape ``(h, 1)`` (a scalar is broadcast to every unit)."""
    try:
        array = np.asarray(eps, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real scalar or a vector of length h={h}") from exc
    if array.ndim == 0:
        array = np.full(h, float(array))
    if array.shape != (h,):
        raise ValueError(f"{name} must be a scalar or have shape ({h},), got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite")
    return array[:, None]


def generator(rng: object, name: str = "rng") -> np.random.Generator:
    """Check that ``rng`` is a :class:`numpy.random.Generator` (global random state is never used)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{name} must be a numpy.random.Generator (use numpy.random.default_rng(seed)), got {type(rng).__name__}")
    return rng


def _shape_text(shape: tuple[int | None, int | None]) -> str:
    return "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"


def instance(W: object, A: object, k: object, eps: object) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """Check an (encoder, dictionary, support size, bias) quadruple that many functions share.

    Returns ``W`` (h, n), ``A`` (n, h), ``k`` in ``[1, h]`` and the bias as a vector of shape ``(h,)``.
    """
    W = matrix(W, "W")
    h, n = W.shape
    A = matrix(A, "A", shape=(n, h))
    k = integer(k, "k", minimum=1, maximum=h)
    return W, A, k, bias(eps, h)[:, 0]
