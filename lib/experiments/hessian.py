r"""Experiments of the chapter "Is the critical point a minimum?" (the paper's Sec. 6 and Conclusion).

Second-order tests of the landscape of :math:`L(W) = \frac1N\sum_s\tfrac12\|W^\top\mathrm{ReLU}(Wy_s-\epsilon)-y_s\|^2`:
the extreme eigenvalues of its exact Hessian (:mod:`lib.hessian`) at :math:`A^{*\top}`, at the scaled
point :math:`c^*A^{*\top}`, at the stationary point :math:`W^\dagger` of the *expected* loss near
:math:`A^*` (:func:`stationary_point`), along the random line of Figures 1–4, and at the end points of
gradient descent from random starts.  Every spectrum is measured on ``sets`` independent sample sets,
so the noise of the empirical Hessian is a standard error, not a guess.

The sweeps (sizes, support sizes, biases; training seeds) are pure tasks with JSON-able parameters,
:func:`stationary_task` and :func:`end_point_task`, for :func:`lib.execution.map_tasks`; the sample
sets of one measurement are looped in :func:`spectrum`.  All run with one BLAS thread (see
:mod:`lib.experiments.training`: on the shared 2-core machine threads cost more than they save).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from scipy.optimize import minimize, newton_krylov
from threadpoolctl import threadpool_limits

from lib import _validate as check
from lib import autoencoder, expectation, hessian, training
from lib import model as _model
from lib.experiments.training import Tier, norm_fixed_point

__all__ = [
    "TOL",
    "NCV",
    "STEP",
    "stationary_point",
    "empirical_stationary_point",
    "spectrum_task",
    "Spectrum",
    "spectrum",
    "Stationary",
    "stationary_task",
    "random_line",
    "EndPoint",
    "end_point_task",
    "classify",
    "DenseCheck",
    "DENSE_MAX",
    "dense_check",
]

NCV = 64  # Lanczos basis: fewer restarts on the clustered bottom of the spectrum (193 products against 241 at ARPACK's default)
TOL = 1e-2  # ARPACK's relative tolerance: a residual ~1e-2·|λ|, far below the sampling noise of λ (measured)
STEP = 0.05  # second-difference step along a unit eigenvector (t = 0.05, 0.02, 0.01 agree within their noise: tests/test_hessian.py)


def stationary_point(model: _model.SparseCodingModel, eps: float, *, f_tol: float = 1e-10) -> tuple[np.ndarray, float]:
    r"""The stationary point :math:`W^\dagger` of the expected loss near :math:`A^*`, under exact support recovery.

    Solves :math:`\mathbb E\,\widetilde\nabla_W L(W) = 0` (the closed form
    :func:`lib.expectation.expected_proxy_gradient`, no sampling) by Newton–Krylov
    (:func:`scipy.optimize.newton_krylov`, MINRES inner solves: the Jacobian is the expected proxy
    loss's Hessian, symmetric) from :math:`c^*A^{*\top}` (:func:`lib.experiments.training.norm_fixed_point`),
    on the gradient scaled by :math:`1/q`.  On every sample whose support the ReLU layer recovers,
    the proxy gradient is the true gradient, so near :math:`A^*` this is the expected loss's
    stationary point up to the rare recovery failures.

    Returns
    -------
    W : numpy.ndarray
        :math:`W^\dagger`, shape ``(h, n)``.
    residual : float
        :math:`\max|\mathbb E\widetilde\nabla_W L(W^\dagger)|/q` reached.
    """
    check.of_type(model, "model", _model.SparseCodingModel)
    eps = check.real(eps, "eps", minimum=0.0)
    f_tol = check.real(f_tol, "f_tol", minimum=0.0, strict_min=True)

    def scaled(W: np.ndarray) -> np.ndarray:
        return expectation.expected_proxy_gradient(W, model.A, model.k, eps, model.m1, model.m2) / model.q

    W = newton_krylov(scaled, norm_fixed_point(model, eps) * model.A.T, f_tol=f_tol, method="minres")
    return W, float(np.max(np.abs(scaled(W))))


def empirical_stationary_point(W0: np.ndarray, Y: np.ndarray, eps: float, *, gtol: float = 1e-8,
                               maxiter: int = 50) -> tuple[np.ndarray, float, int]:
    r"""The stationary point of the *empirical* loss on ``Y`` nearest ``W0``, by a trust-region Newton method.

    :func:`scipy.optimize.minimize` with ``method="trust-krylov"``, the exact gradient
    (:func:`lib.autoencoder.gradient`) and the exact Hessian-vector product of the empirical loss
    (:class:`lib.hessian.HessianOperator` with ``part="ae"``, rebuilt once per iterate).  With a large fixed sample it approximates the stationary point of the
    expected loss to :math:`O(N^{-1/2})` without the support-recovery assumption that
    :func:`stationary_point` needs.

    Returns
    -------
    W : numpy.ndarray
        The stationary point, ``(h, n)``.
    grad_norm : float
        :math:`\|\nabla_W\hat L\|_F` there.
    hvps : int
        Hessian-vector products spent.
    """
    W0 = check.matrix(W0, "W0")
    Y = check.matrix(Y, "Y", shape=(W0.shape[1], None))
    eps = check.real(eps, "eps", minimum=0.0)
    cache: dict[str, Any] = {"x": None, "op": None, "hvps": 0}

    def hessp(x: np.ndarray, v: np.ndarray) -> np.ndarray:
        if cache["x"] is None or not np.array_equal(cache["x"], x):
            # the empirical loss's own Hessian (no boundary term): Newton on this sample converges quadratically
            cache["x"], cache["op"] = x.copy(), hessian.HessianOperator(x.reshape(W0.shape), Y, eps, part="ae")
        cache["hvps"] += 1
        return cache["op"].matvec(v)

    result = minimize(lambda x: autoencoder.loss(x.reshape(W0.shape), Y, eps), W0.ravel(),
                      jac=lambda x: autoencoder.gradient(x.reshape(W0.shape), Y, eps).ravel(), hessp=hessp,
                      method="trust-krylov", options={"gtol": check.real(gtol, "gtol", minimum=0.0, strict_min=True),
                                                      "maxiter": check.loop_count(maxiter, "maxiter")})
    W = result.x.reshape(W0.shape)
    return W, float(np.linalg.norm(autoencoder.gradient(W, Y, eps))), int(cache["hvps"])


def spectrum_task(rng: np.random.Generator, *, W: np.ndarray, model: _model.SparseCodingModel, eps: float, N: int,
                  tol: float = TOL, ncv: int = NCV, split: bool = False, confirm_N: int | None = None) -> dict[str, Any]:
    r"""Extreme eigenvalues of the expected loss's Hessian at ``W``, estimated on one fresh sample set of ``N`` signals.

    The operator is :class:`lib.hessian.HessianOperator` (the a.e. part on the ``N`` signals plus the
    boundary term of the kinks on an independent set of ``confirm_N``, whose noise would otherwise
    dominate the bottom of the spectrum).  It acts on the *live* rows (units that fire on at least one sample): a unit that never
    fires has an exactly zero block (its rows are flat directions) and is counted in ``dead``
    instead.  The smallest eigenvalue is then confirmed without the operator: the second difference
    of the loss along its eigenvector on a second, independent set of ``confirm_N`` signals (default
    ``N``; :func:`lib.hessian.second_difference`).

    Returns
    -------
    dict
        ``lam_min, lam_max`` (Lanczos), ``res_min, res_max`` (their residual norms), ``matvecs``,
        ``grad`` (the empirical gradient, ``(h, n)``), ``dead``, ``active`` (mean fraction of units
        firing per sample), ``sd_min, sd_se`` (the confirming second difference and its standard
        error) and, with ``split``, ``split`` (:class:`lib.hessian.DirectionSplit` of the smallest
        eigenvector).
    """
    rng = check.generator(rng)
    W, eps, N = _point(W, model, eps, N)
    tol = check.real(tol, "tol", minimum=0.0, strict_min=True)
    ncv = check.integer(ncv, "ncv", minimum=3)
    split = check.flag(split, "split")
    confirm_N = N if confirm_N is None else check.loop_count(confirm_N, "confirm_N", minimum=2)
    check.allocation("confirm_N", 8.0 * confirm_N * (model.n + 2 * model.h))
    Y = training.draw_batch(model, N, rng).Y
    live = _live_rows(W, Y, eps)
    op = hessian.HessianOperator(W, Y, eps, rows=live, kink_Y=training.draw_batch(model, confirm_N, rng).Y)
    low = hessian.extremes(op, rng, which="SA", tol=tol, ncv=min(ncv, op.shape[0] - 1))
    high = hessian.extremes(op, rng, which="LA", tol=tol)
    sd_min, sd_se = hessian.second_difference(W, training.draw_batch(model, confirm_N, rng).Y, eps, low.vectors[0], t=STEP)
    out = {"lam_min": low.values[0], "lam_max": high.values[0], "res_min": low.residuals[0],
           "res_max": high.residuals[0], "matvecs": low.matvecs + high.matvecs,
           "grad": autoencoder.gradient(W, Y, eps), "dead": W.shape[0] - live.size,
           "active": float(np.mean(W @ Y - eps > 0)), "sd_min": sd_min, "sd_se": sd_se}
    if split:
        out["split"] = hessian.direction_split(low.vectors[0], W, model.A, Y, eps)
    return out


def _live_rows(W: np.ndarray, Y: np.ndarray, eps: float) -> np.ndarray:
    """The units that fire on at least one signal of ``Y``; refuses a sample on which none does."""
    live = np.flatnonzero(np.any(W @ Y - eps > 0, axis=1))
    if live.size == 0:
        raise ValueError(f"no unit of W fires on the N={Y.shape[1]} signals at eps={eps}: the Hessian there is zero; draw more "
                         "signals (N) or lower eps")
    return live


def _point(W: object, model: object, eps: object, N: object) -> tuple[np.ndarray, float, int]:
    """Check an encoder ``W`` of ``model``'s shape, a bias ``eps >= 0`` and a sample size ``N`` whose signals fit in memory."""
    check.of_type(model, "model", _model.SparseCodingModel)
    W = check.matrix(W, "W", shape=(model.h, model.n), match="model")
    eps = check.real(eps, "eps", minimum=0.0)
    N = check.loop_count(N, "N", minimum=2)  # the boundary term's bandwidth needs a spread of samples
    check.allocation("N", 8.0 * N * (model.n + 2 * model.h))
    return W, eps, N


def _tier(n: object, h: object, k: object, eps: object) -> Tier:
    """``Tier(n, h, k, eps)`` after refusing sizes whose dictionary would not fit in memory."""
    n = check.integer(n, "n", minimum=2)
    h = check.integer(h, "h", minimum=3)
    if h <= n:
        raise ValueError(f"h must be > n (an overcomplete dictionary), got n={n}, h={h}")
    check.allocation("n, h", 8.0 * n * h)
    return Tier(n, h, k, eps)


def _over_sets(task: Callable[..., dict[str, Any]], params: Sequence[Mapping[str, Any]], rng: np.random.Generator) -> list[dict[str, Any]]:
    """Run ``task(child_rng, **p)`` for every ``p`` in ``params``, each with its own child of ``rng``, one BLAS thread."""
    children = check.generator(rng).spawn(len(params))
    with threadpool_limits(limits=1, user_api="blas"):
        return [task(child, **p) for child, p in zip(children, params)]


@dataclass(frozen=True)
class Spectrum:
    r"""Extreme Hessian eigenvalues at one point, over independent sample sets.

    Attributes
    ----------
    label : str
    lam_min, lam_max : numpy.ndarray
        ``(sets,)`` smallest and largest eigenvalue on each sample set.
    residual : float
        Largest Lanczos residual :math:`\|Hv-\lambda v\|` among them.
    matvecs : int
        Hessian-vector products spent in all.
    grad_norm : float
        :math:`\|\bar G\|_F` of the gradient averaged over the sets.
    grad_se : float
        Its noise: :math:`\sqrt{\sum \mathrm{var}(G)/\mathrm{sets}}` over the entries.
    dead : int
        Most units that never fire on a set.
    active : float
        Mean fraction of units firing per sample.
    split : lib.hessian.DirectionSplit or None
        Where the smallest eigenvector of the first set lives.
    sd_min, sd_se : numpy.ndarray
        ``(sets,)`` second difference of the loss along each set's smallest eigenvector, on an
        independent sample, and its standard error (:func:`spectrum_task`).
    """

    label: str
    lam_min: np.ndarray
    lam_max: np.ndarray
    residual: float
    matvecs: int
    grad_norm: float
    grad_se: float
    dead: int
    active: float
    split: hessian.DirectionSplit | None
    sd_min: np.ndarray
    sd_se: np.ndarray

    @staticmethod
    def _se(values: np.ndarray) -> float:
        return float(np.std(values, ddof=1) / np.sqrt(values.size)) if values.size > 1 else float("nan")

    @property
    def min_mean(self) -> float:
        """Mean of :math:`\\lambda_{\\min}` over the sets."""
        return float(np.mean(self.lam_min))

    @property
    def min_se(self) -> float:
        """Standard error of :attr:`min_mean`."""
        return self._se(self.lam_min)

    @property
    def confirm_mean(self) -> float:
        """Mean over the sets of the confirming second difference along the smallest eigenvector."""
        return float(np.mean(self.sd_min))

    @property
    def confirm_se(self) -> float:
        """Standard error of :attr:`confirm_mean`: the spread over sets and each set's own noise, whichever is larger."""
        own = float(np.sqrt(np.sum(self.sd_se**2)) / self.sd_se.size)
        return max(self._se(self.sd_min), own) if self.sd_min.size > 1 else own

    @property
    def max_mean(self) -> float:
        """Mean of :math:`\\lambda_{\\max}` over the sets."""
        return float(np.mean(self.lam_max))

    @property
    def max_se(self) -> float:
        """Standard error of :attr:`max_mean`."""
        return self._se(self.lam_max)


def spectrum(label: str, W: np.ndarray, model: _model.SparseCodingModel, eps: float, rng: np.random.Generator, *,
             sets: int, N: int, tol: float = TOL, split: bool = True, confirm_N: int | None = None) -> Spectrum:
    """:func:`spectrum_task` on ``sets`` independent sample sets of ``N`` signals, summarised as a :class:`Spectrum`."""
    label = check.text(label, "label")
    sets = check.loop_count(sets, "sets", minimum=2)
    W, eps, N = _point(W, model, eps, N)
    tol = check.real(tol, "tol", minimum=0.0, strict_min=True)
    split = check.flag(split, "split")
    runs = _over_sets(spectrum_task, [dict(W=W, model=model, eps=eps, N=N, tol=tol, split=split and s == 0, confirm_N=confirm_N)
                                     for s in range(sets)], rng)
    grads = np.array([r["grad"] for r in runs])
    return Spectrum(
        label, np.array([r["lam_min"] for r in runs]), np.array([r["lam_max"] for r in runs]),
        float(max(max(r["res_min"], r["res_max"]) for r in runs)), int(sum(r["matvecs"] for r in runs)),
        float(np.linalg.norm(grads.mean(axis=0))), float(np.sqrt(np.sum(grads.var(axis=0, ddof=1)) / sets)),
        int(max(r["dead"] for r in runs)), float(np.mean([r["active"] for r in runs])), runs[0].get("split"),
        np.array([r["sd_min"] for r in runs]), np.array([r["sd_se"] for r in runs]),
    )


@dataclass(frozen=True)
class Stationary:
    r"""The stationary point of one problem size and its spectrum (:func:`stationary_task`).

    Attributes
    ----------
    tier : lib.experiments.training.Tier
    model : lib.model.SparseCodingModel
    proxy : numpy.ndarray
        :math:`W^\dagger` of :func:`stationary_point` (expected proxy gradient zero).
    W : numpy.ndarray
        :math:`\hat W` of :func:`empirical_stationary_point`, started at :math:`W^\dagger`.
    fit_grad : float
        :math:`\|\nabla\hat L(\hat W)\|_F` on the fitting sample.
    proxy_spectrum, spectrum : Spectrum
        Measured on fresh sample sets at :math:`W^\dagger` and at :math:`\hat W`.
    """

    tier: Tier
    model: _model.SparseCodingModel
    proxy: np.ndarray
    W: np.ndarray
    fit_grad: float
    proxy_spectrum: Spectrum | None
    spectrum: Spectrum


def stationary_task(rng: np.random.Generator, *, n: int, h: int, k: int, eps: float, N: int, fit_N: int, sets: int,
                    gtol: float = 1e-4, proxy: bool = False, confirm_N: int | None = None) -> Stationary:
    r"""Draw a model of size ``Tier(n, h, k, eps)``, find :math:`W^\dagger` and :math:`\hat W` (fitted on ``fit_N``
    samples), measure the spectrum at :math:`\hat W` (and at :math:`W^\dagger` with ``proxy``) on ``sets`` sets of ``N``
    samples."""
    tier = _tier(n, h, k, eps)
    N, fit_N = check.loop_count(N, "N", minimum=2), check.loop_count(fit_N, "fit_N")
    sets = check.loop_count(sets, "sets", minimum=2)
    check.allocation("N, fit_N", 8.0 * max(N, fit_N) * (tier.n + 2 * tier.h))
    gtol = check.real(gtol, "gtol", minimum=0.0, strict_min=True)
    proxy = check.flag(proxy, "proxy")
    m = tier.model(check.generator(rng))
    start, _ = stationary_point(m, tier.eps)
    with threadpool_limits(limits=1, user_api="blas"):
        W, fit_grad, _ = empirical_stationary_point(start, training.draw_batch(m, fit_N, rng).Y, tier.eps, gtol=gtol)
    at_proxy = spectrum("W†", start, m, tier.eps, rng, sets=sets, N=N, confirm_N=confirm_N) if proxy else None
    return Stationary(tier, m, start, W, fit_grad, at_proxy, spectrum("Ŵ", W, m, tier.eps, rng, sets=sets, N=N, confirm_N=confirm_N))


def random_line(model: _model.SparseCodingModel, t: float, rng: np.random.Generator) -> np.ndarray:
    r"""The encoder :math:`W = (A^* + t\Delta)^\top` of Figures 1–4, :math:`\Delta` Gaussian with unit columns drawn from ``rng``."""
    check.of_type(model, "model", _model.SparseCodingModel)
    direction = _model.random_dictionary(model.n, model.h, check.generator(rng))
    return (model.A + check.real(t, "t") * direction).T


@dataclass(frozen=True)
class EndPoint:
    """A random-start training run's end point: its recovery (mean matched |cos|, fraction of atoms above 0.95) and :class:`Spectrum`."""

    mcc: float
    frac95: float
    spectrum: Spectrum


def end_point_task(rng: np.random.Generator, *, n: int, h: int, k: int, eps: float, replicate: int, steps: int,
                   batch_size: int, lr: float, lr_end: float, N: int, sets: int, confirm_N: int | None = None) -> EndPoint:
    r"""Train from random unit rows on a fresh dictionary of size ``Tier(n, h, k, eps)``, then measure the end point.

    RMSProp on fresh batches, the rate decayed geometrically from ``lr`` to ``lr_end`` over the second
    half of the run (the training chapter's schedule); ``replicate`` only tells the tasks apart.
    """
    from lib.experiments.training import RANDOM, starts

    check.integer(replicate, "replicate", minimum=0)
    tier = _tier(n, h, k, eps)
    steps, batch_size = check.loop_count(steps, "steps"), check.loop_count(batch_size, "batch_size")
    check.work("steps, batch_size", float(steps) * batch_size * tier.n * tier.h)
    check.allocation("batch_size", 8.0 * batch_size * (tier.n + 2 * tier.h))
    lr = check.real(lr, "lr", minimum=0.0, strict_min=True)
    lr_end = check.real(lr_end, "lr_end", minimum=0.0, strict_min=True)
    N, sets = check.loop_count(N, "N", minimum=2), check.loop_count(sets, "sets", minimum=2)
    check.allocation("N", 8.0 * N * (tier.n + 2 * tier.h))
    m = tier.model(check.generator(rng))
    with threadpool_limits(limits=1, user_api="blas"):
        result = training.train(m, starts(m, [], rng)[RANDOM], tier.eps, rng, steps=steps, lr=lr, lr_end=lr_end,
                                decay_from=0.5, batch_size=batch_size, evaluate_every=steps, progress=False)
    return EndPoint(result.recovery.mcc, result.recovery.fraction(0.95),
                    spectrum(f"seed {replicate}", result.W, m, tier.eps, rng, sets=sets, N=N, confirm_N=confirm_N))


def classify(s: Spectrum, *, z: float = 3.0) -> str:
    r"""Name the kind of point from its gradient and its curvature, each against its own noise.

    ``"still moving"`` if :math:`\|\bar G\| > z\,\mathrm{se}`; else ``"saddle"`` if the loss itself bends down:
    the second difference along the smallest eigenvectors, on independent samples (:attr:`Spectrum.confirm_mean`),
    is below :math:`-z` of its standard error; ``"strict local minimum"`` if Lanczos' :math:`\lambda_{\min}` is
    above :math:`z` standard errors *and* the second difference along its eigenvectors confirms it (above :math:`z`
    of its standard error) with no dead unit, ``"flat (dead units)"`` the same with units that never fire (their
    rows are exactly flat); else ``"undetermined"``.  The smallest eigenvalue of a noisy sample Hessian is biased
    low, which is why a saddle needs the loss's own confirmation.
    """
    check.of_type(s, "s", Spectrum)
    z = check.real(z, "z", minimum=0.0, strict_min=True)
    if s.grad_norm > z * s.grad_se:
        return "still moving"
    if s.confirm_mean < -z * s.confirm_se:
        return "saddle"
    if s.min_mean > z * s.min_se and s.confirm_mean > z * s.confirm_se:
        return "strict local minimum" if s.dead == 0 else "flat (dead units)"
    return "undetermined"


@dataclass(frozen=True)
class DenseCheck:
    """Lanczos against the dense spectrum of one sample's Hessian (:func:`dense_check`).

    Attributes
    ----------
    dim : int
        Dimension of the operator (live rows × n).
    lanczos, dense : float
        The smallest eigenvalue by Lanczos and by :func:`numpy.linalg.eigvalsh` of the assembled matrix.
    residual : float
        Lanczos residual of its pair.
    """

    dim: int
    lanczos: float
    dense: float
    residual: float


DENSE_MAX = 4096  # largest operator assembled column by column (dim Hessian-vector products)


def dense_check(rng: np.random.Generator, *, W: np.ndarray, model: _model.SparseCodingModel, eps: float, N: int,
                max_dim: int = DENSE_MAX) -> DenseCheck:
    r"""The smallest eigenvalue of the Hessian at ``W`` on one fresh sample of ``N`` signals, by Lanczos and densely.

    Lanczos finds an eigenvalue within its residual of the value it reports, not that none lies below; the
    assembled matrix (one product per coordinate of the live rows, ``dim <= max_dim``) has them all.
    """
    rng = check.generator(rng)
    W, eps, N = _point(W, model, eps, N)
    max_dim = check.integer(max_dim, "max_dim", minimum=2)
    Y = training.draw_batch(model, N, rng).Y
    live = _live_rows(W, Y, eps)
    dim = live.size * W.shape[1]
    if dim > max_dim:
        raise ValueError(f"max_dim={max_dim} is below the operator's dimension {dim} (live rows × n)")
    with threadpool_limits(limits=1, user_api="blas"):
        op = hessian.HessianOperator(W, Y, eps, rows=live)
        H = np.column_stack([op.matvec(column) for column in np.eye(dim)])
        low = hessian.extremes(op, rng, which="SA", tol=TOL, ncv=min(NCV, dim - 1))
    return DenseCheck(dim, float(low.values[0]), float(np.linalg.eigvalsh(0.5 * (H + H.T))[0]), float(low.residuals[0]))
