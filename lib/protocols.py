r"""Training protocols that bring every hidden unit into play from a random start.

From a random start, gradient descent on the tied ReLU autoencoder leaves some units silent
(their pre-activation :math:`\langle W_i, y\rangle - \epsilon_i` is never positive, so their
gradient is zero for ever) and lets others settle on a blend of two atoms or on an atom another
unit already holds.  The protocols here are the remedies of sparse-autoencoder practice, each
an option of :func:`lib.training.train` or a step around it:

* :class:`Resample` (``train(..., resample=Resample(...))``): every ``every`` steps, units that
  fired on no sample of a probe set, and the second unit of every pair with
  :math:`|\cos(W_i, W_j)| >` ``duplicates``, are re-initialised along the residuals
  :math:`y_s - W^\top\mathrm{ReLU}(Wy_s - \epsilon)` of the worst-reconstructed probe samples
  (:func:`resample_units`); their optimizer state is reset.
* bias schedules: :class:`lib.training.BiasRamp` (start low so units fire, raise towards the
  support-recovery regime).
* a wider hidden layer, :math:`m > h` units (:func:`widen`), then :func:`prune` back to :math:`h`
  units: duplicates merged, silent units dropped, the most active kept.
* a row-norm control (``train(..., row_norm=c)``): after every step each row is rescaled to length
  ``c``, which removes the length a positive bias otherwise adds to the rows.
* a polish phase, :class:`Polish` (``train(..., polish=Polish(...))``): after the main run, ``steps``
  more updates at the raised bias :math:`\beta\epsilon` (``bias_factor`` :math:`\beta > 1`) with a
  small learning rate.  A unit left at :math:`|\cos| \approx 0.95`–:math:`0.99` to its atom (a *near
  miss*) still fires on samples of neighbouring atoms, whose gradient pulls it off; the higher bias
  silences those firings, so the ReLU layer recovers the supports (Theorem 3.1's regime) and the
  gradient near the atom, now that of the correct supports, moves the unit onto it (Theorem 3.2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lib import _validate as check

__all__ = ["Resample", "Polish", "Activity", "activity", "duplicate_units", "resample_units", "split_units", "widen", "prune"]


@dataclass(frozen=True)
class Resample:
    """When and what :func:`lib.training.train` re-initialises (module docstring).

    Attributes
    ----------
    every : int
        Steps between checks (the window a unit has to fire in).
    until : float
        Fraction of the run after which no unit is re-initialised, in ``(0, 1]``, so the rest of the
        run (and the learning-rate decay) can settle.
    probe : int
        Samples the check looks at (drawn from the training stream or the training set).
    duplicates : float or None
        Re-initialise the weaker unit of every pair whose :math:`|\\cos|` exceeds this value
        (``None``: no duplicate check).
    rare : float
        Re-initialise units that fire on fewer than ``rare`` times the median unit's number of probe
        samples (``0``: only silent units).
    split : float or None
        Place the re-initialised units by splitting the units that fire on more than ``split`` times
        the median count, most active first (:func:`split_units`; a unit that blends two atoms fires
        on the samples of both); the rest go along the worst residuals (``None``: residuals only).
    """

    every: int = 50
    until: float = 0.6
    probe: int = 4096
    duplicates: float | None = 0.9
    rare: float = 0.25
    split: float | None = 1.5

    def __post_init__(self) -> None:
        check.integer(self.every, "every", minimum=1)
        check.real(self.until, "until", minimum=0.0, maximum=1.0, strict_min=True)
        check.loop_count(self.probe, "probe")
        if self.duplicates is not None:
            check.real(self.duplicates, "duplicates", minimum=0.0, maximum=1.0, strict_min=True)
        check.real(self.rare, "rare", minimum=0.0, maximum=1.0)
        if self.split is not None:
            check.real(self.split, "split", minimum=1.0)

    def due(self, t: int, steps: int) -> bool:
        """Whether to check after update ``t`` (0-based) of a run of ``steps`` updates."""
        t, steps = check.integer(t, "t", minimum=0), check.integer(steps, "steps", minimum=1)
        return (t + 1) % self.every == 0 and t + 1 <= self.until * steps


@dataclass(frozen=True)
class Polish:
    r"""The polish phase that :func:`lib.training.train` appends to a run (module docstring).

    Attributes
    ----------
    steps : int
        Updates of the phase (fresh batches, or mini-batches of the fixed training set, as in the main run).
    bias_factor : float
        :math:`\beta`: the phase trains at the bias :math:`\beta\,\epsilon_T`, the main run's last bias
        :math:`\epsilon_T` scaled, ``> 0`` (above 1 raises it).
    learning_rate : float
        Constant rate of a fresh optimizer of the main run's kind, ``> 0``.
    """

    steps: int = 300
    bias_factor: float = 1.6
    learning_rate: float = 5e-4

    def __post_init__(self) -> None:
        check.loop_count(self.steps, "steps")
        check.real(self.bias_factor, "bias_factor", minimum=0.0, strict_min=True)
        check.real(self.learning_rate, "learning_rate", minimum=0.0, strict_min=True)


@dataclass(frozen=True)
class Activity:
    """How the units behave on a probe set.

    Attributes
    ----------
    fired : numpy.ndarray
        ``(m,)`` number of probe samples on which each unit fires.
    active : numpy.ndarray
        ``(m, N)`` whether unit ``i`` fires on sample ``s``.
    residuals : numpy.ndarray
        ``(N, n)`` rows :math:`y_s - W^\\top\\mathrm{ReLU}(Wy_s - \\epsilon)`.
    """

    fired: np.ndarray
    active: np.ndarray
    residuals: np.ndarray


def activity(W: np.ndarray, Y: np.ndarray, eps: float | np.ndarray) -> Activity:
    r"""Firing counts and reconstruction residuals of the tied autoencoder on the signals ``Y``.

    Parameters
    ----------
    W : numpy.ndarray
        Encoder ``(m, n)``.
    Y : numpy.ndarray
        Probe signals ``(n, N)``.
    eps : float or numpy.ndarray
        Bias, scalar or ``(m,)``.
    """
    W = check.matrix(W, "W")
    Y = check.matrix(Y, "Y", shape=(W.shape[1], None))
    R = np.maximum(W @ Y - check.bias(eps, W.shape[0]), 0.0)
    return Activity(fired=np.count_nonzero(R, axis=1), active=R > 0, residuals=(Y - W.T @ R).T)


def duplicate_units(W: np.ndarray, threshold: float, weight: np.ndarray | None = None) -> np.ndarray:
    r"""Indices of units that duplicate a stronger unit: :math:`|\cos(W_i, W_j)| >` ``threshold`` and :math:`i` has the smaller ``weight``.

    Parameters
    ----------
    W : numpy.ndarray
        Units as rows ``(m, n)``.
    threshold : float
        In ``(0, 1]``.
    weight : numpy.ndarray or None
        ``(m,)`` strength of each unit (default: its norm); of a duplicate pair the weaker goes.

    Returns
    -------
    numpy.ndarray
        Sorted indices; each cluster of duplicates keeps exactly its strongest unit.
    """
    W = check.matrix(W, "W")
    threshold = check.real(threshold, "threshold", minimum=0.0, maximum=1.0, strict_min=True)
    norms = np.linalg.norm(W, axis=1)
    weight = norms if weight is None else check.real_array(weight, "weight", ndim=1, shape=(W.shape[0],), match="W")
    unit = W / np.maximum(norms, 1e-12)[:, None]
    close = np.abs(unit @ unit.T) > threshold
    order = np.argsort(-weight, kind="stable")
    kept = np.zeros(W.shape[0], dtype=bool)
    dropped = []
    for i in order:
        if np.any(close[i] & kept):
            dropped.append(i)
        else:
            kept[i] = True
    return np.sort(np.array(dropped, dtype=int))


def resample_units(W: np.ndarray, units: np.ndarray, residuals: np.ndarray) -> np.ndarray:
    r"""``W`` with the rows ``units`` re-initialised along the largest residuals.

    Row ``units[j]`` becomes :math:`c\,r_{s_j}/\|r_{s_j}\|`, where :math:`s_1, s_2, \dots` are the
    probe samples in decreasing order of :math:`\|r_s\|` (a sample whose atom no unit holds leaves
    that atom in its residual) and :math:`c` is the median norm of the other rows.

    Parameters
    ----------
    W : numpy.ndarray
        Encoder ``(m, n)``.
    units : numpy.ndarray
        Row indices to re-initialise (at most the number of probe samples).
    residuals : numpy.ndarray
        ``(N, n)`` residual rows, e.g. :attr:`Activity.residuals`.
    """
    W = check.matrix(W, "W").copy()
    residuals = check.matrix(residuals, "residuals", shape=(None, W.shape[1]))
    units = check.indices(units, "units", W.shape[0])
    if units.size == 0:
        return W
    if units.size > residuals.shape[0] or np.any((units < 0) | (units >= W.shape[0])):
        raise ValueError(f"units must be at most {residuals.shape[0]} row indices of W in [0, {W.shape[0]})")
    norms = np.linalg.norm(residuals, axis=1)
    worst = np.argsort(-norms, kind="stable")[: units.size]
    others = np.setdiff1d(np.arange(W.shape[0]), units)
    scale = float(np.median(np.linalg.norm(W[others], axis=1))) if others.size else 1.0
    W[units] = scale * residuals[worst] / np.maximum(norms[worst], 1e-12)[:, None]
    return W


def split_units(W: np.ndarray, pairs: np.ndarray, seen: Activity) -> np.ndarray:
    r"""``W`` with each unit ``i = pairs[j, 0]`` split in two: rows ``i`` and ``pairs[j, 1]`` become
    :math:`\|W_i\|\,u_\pm/\|u_\pm\|`, :math:`u_\pm = \hat W_i \pm d`.

    :math:`\hat W_i = W_i/\|W_i\|` and :math:`d` is the leading right singular vector of the residuals
    of the probe samples on which unit ``i`` fires.  A unit :math:`(a+b)/\sqrt2` that blends two atoms
    leaves residuals along :math:`\pm(a-b)` on the samples that hold only one of them, so
    :math:`d = (a-b)/\sqrt2` and the two halves point at :math:`a` and :math:`b` (as :math:`k`-means
    splits its largest cluster).

    Parameters
    ----------
    W : numpy.ndarray
        Encoder ``(m, n)``.
    pairs : numpy.ndarray
        ``(P, 2)`` integer rows ``(unit to split, unit to overwrite)``.
    seen : Activity
        :func:`activity` of ``W`` on a probe set.
    """
    W = check.matrix(W, "W").copy()
    pairs = check.indices(pairs, "pairs", W.shape[0], ndim=2, columns=2)
    check.of_type(seen, "seen", Activity)
    if seen.active.shape[0] != W.shape[0] or seen.residuals.shape != (seen.active.shape[1], W.shape[1]):
        raise ValueError(f"seen must be the activity of W {W.shape} on a probe set: active {seen.active.shape}, "
                         f"residuals {seen.residuals.shape}")
    for i, j in pairs:
        on = seen.active[i]
        if not on.any():
            continue
        d = np.linalg.svd(seen.residuals[on], full_matrices=False)[2][0]
        length = np.linalg.norm(W[i])
        unit = W[i] / max(length, 1e-12)
        plus, minus = unit + d, unit - d
        W[i] = length * plus / max(np.linalg.norm(plus), 1e-12)
        W[j] = length * minus / max(np.linalg.norm(minus), 1e-12)
    return W


def widen(W0: np.ndarray, extra: np.ndarray) -> np.ndarray:
    """A wider start: the rows of ``W0`` ``(h, n)`` followed by the rows of ``extra`` ``(m - h, n)``."""
    W0 = check.matrix(W0, "W0")
    return np.vstack([W0, check.matrix(extra, "extra", shape=(None, W0.shape[1]))])


def prune(W: np.ndarray, Y: np.ndarray, eps: float | np.ndarray, h: int, *, duplicates: float = 0.9) -> np.ndarray:
    r"""Reduce a wide encoder ``(m, n)`` to ``h`` units: merge duplicates, then keep the ``h`` most active.

    A unit's strength is its firing count on ``Y`` times its norm; of each cluster of units with
    :math:`|\cos| >` ``duplicates`` only the strongest stays (:func:`duplicate_units`), then the ``h``
    strongest remaining units are returned in their original order (silent units come last, so
    they go first).

    Parameters
    ----------
    W : numpy.ndarray
        Trained wide encoder ``(m, n)``, ``m >= h``.
    Y : numpy.ndarray
        Signals ``(n, N)`` the counts are taken on (training data).
    eps : float or numpy.ndarray
        Bias, scalar or ``(m,)``.
    h : int
        Units to keep.
    """
    W = check.matrix(W, "W")
    h = check.integer(h, "h", minimum=1, maximum=W.shape[0])
    duplicates = check.real(duplicates, "duplicates", minimum=0.0, maximum=1.0, strict_min=True)
    strength = activity(W, Y, eps).fired * np.linalg.norm(W, axis=1)
    alive = np.setdiff1d(np.arange(W.shape[0]), duplicate_units(W, duplicates, strength))
    order = np.concatenate([alive[np.argsort(-strength[alive], kind="stable")],
                            np.setdiff1d(np.arange(W.shape[0]), alive)])
    return W[np.sort(order[:h])]
