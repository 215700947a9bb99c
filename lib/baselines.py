r"""Established dictionary learners, run on the same data and scored by the same metric as the autoencoder.

* :func:`sklearn_dictionary`: scikit-learn's online dictionary learning
  :cite:p:`mairal2010online,pedregosa2011scikit` (``MiniBatchDictionaryLearning``) with nonnegative
  codes, on a fixed training set.
* :func:`arora_neural`: the "neural" update of Arora, Ge, Ma and Moitra :cite:p:`arora2015simple`:
  decode by thresholding, :math:`x = \mathrm{thr}_{C/2}(A^\top y)`, then
  :math:`A \leftarrow A + \eta\,\frac1B\sum_{y\in B}(y - Ax)\,\mathrm{sgn}(x)^\top`, columns renormalised.
* :func:`topk_autoencoder`: a TopK sparse autoencoder :cite:p:`makhzani2014ksparse,gao2024scaling`,
  untied, with a pre-bias and unit-norm decoder columns, trained by Adam on its exact gradient
  (numpy; cross-checked against TensorFlow autodiff in the tests).

Every learner takes a starting dictionary ``W0`` in the autoencoder's layout (atoms as rows,
``(h, n)``), so all methods can start from the same point, and returns a :class:`Fit` whose atoms
are scored by :func:`lib.recovery.recovery`.  The training chapter (book/06_training) states each configuration.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
from scipy import sparse

from lib import _validate as check
from lib import model as _model
from lib import protocols
from lib.estimators.gradient import _masked_csr
from lib.recovery import Recovery, recovery
from lib.training import Adam, Batch, Clock, batches, draw_batch, run_loop

__all__ = ["Fit", "sklearn_dictionary", "arora_neural", "arora_step_size", "TopKAutoencoder", "topk_autoencoder"]


@dataclass(frozen=True)
class Fit:
    """A learned dictionary and how it was obtained.

    Attributes
    ----------
    atoms : numpy.ndarray
        Learned atoms as rows, shape ``(h, n)``.
    recovery : lib.recovery.Recovery
        The metric against :math:`A^*`.
    seconds, cpu_seconds : float
        Wall and process CPU time of the fit (checkpoints excluded).
    trace_steps, trace_mcc : numpy.ndarray
        Mean matched :math:`|\\cos|` at checkpoints (empty for scikit-learn).
    dead : int
        Latents never active on 2048 held-out samples (TopK only; 0 otherwise).
    """

    atoms: np.ndarray
    recovery: Recovery
    seconds: float
    cpu_seconds: float
    trace_steps: np.ndarray
    trace_mcc: np.ndarray
    dead: int = 0


def _unit_columns(M: np.ndarray) -> np.ndarray:
    return M / np.maximum(np.linalg.norm(M, axis=0, keepdims=True), 1e-12)


def _start(model: _model.SparseCodingModel, W0: np.ndarray) -> np.ndarray:
    """The start as a dictionary ``(n, h)`` with unit columns."""
    return _unit_columns(check.matrix(W0, "W0", shape=(model.h, model.n)).T.copy())


def _run(step: Callable[[], None], atoms: Callable[[], np.ndarray], A: np.ndarray, steps: int,
         every: int, desc: str, progress: bool) -> Fit:
    """Call ``step`` ``steps`` times, recording the mean matched |cos| of ``atoms()`` every ``every`` steps."""
    marks, mcc, clock = run_loop(lambda t: step(), lambda t: recovery(A, atoms()).mcc, steps, every, desc, progress)
    final = atoms().copy()
    return Fit(atoms=final, recovery=recovery(A, final), seconds=clock.wall, cpu_seconds=clock.cpu,
               trace_steps=marks, trace_mcc=np.array(mcc))


def _data(data: Batch | None) -> Batch | None:
    if data is not None and not isinstance(data, Batch):
        raise TypeError(f"data must be a lib.training.Batch or None, got {type(data).__name__}")
    return data


def _loop_sizes(model: _model.SparseCodingModel, steps: int, batch_size: int,
                evaluate_every: int | None) -> tuple[int, int, int]:
    check.of_type(model, "model", _model.SparseCodingModel)
    steps = check.loop_count(steps, "steps")
    batch_size = check.integer(batch_size, "batch_size", minimum=1)
    check.allocation("batch_size", 8.0 * batch_size * (2 * model.k + model.n + 2 * model.h))
    if evaluate_every is not None:  # 0, like None, means the default
        check.integer(evaluate_every, "evaluate_every", minimum=0)
    every = check.integer(evaluate_every or max(steps // 20, 1), "evaluate_every", minimum=1)
    return steps, batch_size, every


# --------------------------------------------------------------------------- scikit-learn
def sklearn_dictionary(
    Y: np.ndarray, A: np.ndarray, W0: np.ndarray | None, *, seed: int, alpha: float = 0.2,
    batch_size: int = 256, epochs: int = 3,
) -> Fit:
    r"""scikit-learn ``MiniBatchDictionaryLearning`` with nonnegative codes on the training set ``Y``.

    Solves :math:`\min_{D, x\ge0} \frac1N\sum_s \tfrac12\|y_s - Dx_s\|^2 + \alpha\|x_s\|_1` with
    unit-norm atoms by online block coordinate descent :cite:p:`mairal2010online`.  Positive codes
    need ``fit_algorithm="cd"`` and a lasso transform (the defaults ``"lars"``/``"omp"`` raise);
    ``n_jobs`` stays 1 (parallel coordinate descent is slower, scikit-learn issue 4769).

    Parameters
    ----------
    Y : numpy.ndarray
        Training signals, shape ``(n, N)``.
    A : numpy.ndarray
        The true dictionary ``(n, h)``, for the metric only.
    W0 : numpy.ndarray or None
        Starting atoms ``(h, n)`` (``dict_init``); ``None`` uses scikit-learn's SVD start.
    seed : int
        ``random_state``.
    alpha, batch_size, epochs
        Sparsity penalty, mini-batch size and passes over ``Y`` (``max_iter``).
    """
    from sklearn.decomposition import MiniBatchDictionaryLearning

    A = check.matrix(A, "A")
    Y = check.matrix(Y, "Y", shape=(A.shape[0], None), match="A")
    h = A.shape[1]
    init = None if W0 is None else check.matrix(W0, "W0", shape=(h, A.shape[0])).copy()  # scikit-learn writes into dict_init
    learner = MiniBatchDictionaryLearning(
        n_components=h, alpha=check.real(alpha, "alpha", minimum=0.0, strict_min=True), fit_algorithm="cd",
        positive_code=True, transform_algorithm="lasso_cd", transform_alpha=alpha,
        batch_size=check.integer(batch_size, "batch_size", minimum=1), max_iter=check.loop_count(epochs, "epochs"),
        tol=0.0, max_no_improvement=None, dict_init=init, random_state=check.integer(seed, "seed", minimum=0, maximum=2**32 - 1),
    )
    with warnings.catch_warnings(), Clock() as clock:
        warnings.simplefilter("ignore")  # coordinate descent's ConvergenceWarning on a few hard batches
        learner.fit(Y.T)
    atoms = learner.components_
    return Fit(atoms=atoms, recovery=recovery(A, atoms), seconds=clock.wall, cpu_seconds=clock.cpu,
               trace_steps=np.array([]), trace_mcc=np.array([]))


# --------------------------------------------------------------------------- Arora et al. 2015
def arora_step_size(model: _model.SparseCodingModel, target: float = 0.01) -> float:
    r"""Step size with :math:`\eta\,(k/h)\,m_1 = ` ``target``: each atom moves by about ``target`` of its error per step.

    An atom is in a sample's support with probability :math:`k/h` and then enters the update with
    weight about :math:`m_1`, so the effective step of one atom is :math:`\eta\,(k/h)\,m_1`.
    """
    check.of_type(model, "model", _model.SparseCodingModel)
    return check.real(target, "target", minimum=0.0, strict_min=True) / (model.q * model.m1)


def arora_neural(
    model: _model.SparseCodingModel, W0: np.ndarray, rng: np.random.Generator, *, steps: int = 300,
    batch_size: int = 1024, lr: float | None = None, threshold: float | None = None,
    evaluate_every: int | None = None, data: Batch | None = None, progress: bool = True,
) -> Fit:
    r"""The neural sparse-coding update of :cite:t:`arora2015simple` (their Algorithm 2), nonnegative codes.

    Per step, on a fresh batch :math:`Y` of ``batch_size`` signals:

    .. math::

        X = A^\top Y \odot \mathbf 1[A^\top Y \ge C/2],\qquad
        A \leftarrow A + \frac{\eta}{B}(Y - AX)\,\mathrm{sgn}(X)^\top,\qquad
        A_i \leftarrow A_i/\|A_i\| .

    :math:`A^\top Y = (A^\top A^*)X^*` is formed through the sparse codes and :math:`X` is stored
    sparse, so a step costs one :math:`h\times h` product.

    Parameters
    ----------
    model, W0, rng
        Generative model, starting atoms ``(h, n)``, source of the training batches.
    lr : float or None
        :math:`\eta`; default :func:`arora_step_size`.
    threshold : float or None
        :math:`C/2`; default half the smallest nonzero, ``model.low / 2``.
    data : lib.training.Batch or None
        A fixed training set to take the batches from (:func:`lib.training.batches`); ``None``: fresh
        samples at every step.
    """
    rng = check.generator(rng)
    progress = check.flag(progress, "progress")
    steps, batch_size, every = _loop_sizes(model, steps, batch_size, evaluate_every)
    eta = arora_step_size(model) if lr is None else check.real(lr, "lr", minimum=0.0, strict_min=True)
    tau = model.low / 2 if threshold is None else check.real(threshold, "threshold", minimum=0.0, strict_min=True)
    D = _start(model, W0)
    stream = batches(model, steps, batch_size, _data(data), rng)

    def step() -> None:
        nonlocal D
        batch = next(stream)
        Z = batch.codes @ (model.A.T @ D)  # (N, h): row s is (A^T y_s)^T
        active = Z >= tau
        X = _masked_csr(Z, active)
        residual = batch.signals - X @ D.T  # (N, n): (y_s - A x_s)^T
        signs = _masked_csr(active.astype(np.float64), active)
        D = _unit_columns(D + (eta / batch_size) * (signs.T @ residual).T)

    return _run(step, lambda: D.T, model.A, steps, every, "Arora et al.", progress)


# --------------------------------------------------------------------------- TopK sparse autoencoder
@dataclass
class TopKAutoencoder:
    r"""A TopK sparse autoencoder :cite:p:`makhzani2014ksparse,gao2024scaling`.

    .. math::

        z = \mathrm{ReLU}\big(\mathrm{TopK}_k(W_{\rm enc}(y - b_{\rm pre}) + b_{\rm enc})\big),\qquad
        \hat y = W_{\rm dec} z + b_{\rm pre},\qquad
        L = \frac1N\sum_s \tfrac12\|\hat y_s - y_s\|^2,

    where :math:`\mathrm{TopK}_k` keeps the ``k`` largest entries of each column and zeroes the
    rest.  Shapes: ``W_enc`` ``(h, n)``, ``b_enc`` ``(h,)``, ``W_dec`` ``(n, h)`` with unit columns
    (the atoms), ``b_pre`` ``(n,)``.
    """

    W_enc: np.ndarray
    b_enc: np.ndarray
    W_dec: np.ndarray
    b_pre: np.ndarray
    k: int

    def __post_init__(self) -> None:
        h, n = check.matrix(self.W_enc, "W_enc").shape
        check.real_array(self.b_enc, "b_enc", shape=(h,), match="W_enc")
        check.matrix(self.W_dec, "W_dec", shape=(n, h), match="W_enc")
        check.real_array(self.b_pre, "b_pre", shape=(n,), match="W_enc")
        check.integer(self.k, "k", minimum=1, maximum=h)

    def _inputs(self, A: np.ndarray, batch: Batch) -> np.ndarray:
        """Check ``A`` (the decoder's shape) and ``batch`` (codes over the same ``h`` atoms)."""
        A = check.matrix(A, "A", shape=self.W_dec.shape, match="W_dec")
        check.of_type(batch, "batch", Batch)
        if batch.codes.shape[1] != A.shape[1]:
            raise ValueError(f"batch must hold codes over {A.shape[1]} atoms to match A, got {batch.codes.shape[1]}")
        return A

    @classmethod
    def start(cls, W0: np.ndarray, k: int, b_pre: np.ndarray) -> "TopKAutoencoder":
        """Decoder columns = the unit-normalised rows of ``W0``; encoder = decoder transposed; ``b_enc = 0``."""
        W_dec = _unit_columns(check.matrix(W0, "W0").T.copy())
        return cls(W_dec.T.copy(), np.zeros(W_dec.shape[1]), W_dec, check.real_array(b_pre, "b_pre", ndim=1).copy(),
                   check.integer(k, "k", minimum=1, maximum=W_dec.shape[1]))

    def encode(self, A: np.ndarray, batch: Batch) -> sparse.csr_array:
        """Codes :math:`z_s^\top` as the rows of a CSR array ``(N, h)`` with ``k`` stored entries per row (some may be 0).

        The pre-activations :math:`W_{\rm enc}(y - b_{\rm pre}) = (W_{\rm enc}A^*)x^* - W_{\rm enc}b_{\rm pre}`
        are formed through the sparse codes of ``batch`` (generated by ``A``).
        """
        A = self._inputs(A, batch)
        pre = batch.codes @ (A.T @ self.W_enc.T) + (self.b_enc - self.W_enc @ self.b_pre)
        keep = np.sort(np.argpartition(-pre, self.k - 1, axis=1)[:, : self.k], axis=1)
        values = np.maximum(np.take_along_axis(pre, keep, axis=1), 0.0)
        return sparse.csr_array((values.ravel(), keep.ravel(), np.arange(0, keep.size + 1, self.k)), shape=pre.shape)

    def loss_and_gradients(self, A: np.ndarray, batch: Batch) -> tuple[float, dict[str, np.ndarray]]:
        r"""Loss and its exact gradients: with :math:`e = \hat y - y` and :math:`m` the kept, positive entries,

        :math:`\partial_{W_{\rm dec}} = e z^\top`, :math:`\partial_z = m\odot W_{\rm dec}^\top e`,
        :math:`\partial_{W_{\rm enc}} = \partial_z (y - b_{\rm pre})^\top`,
        :math:`\partial_{b_{\rm enc}} = \partial_z`, :math:`\partial_{b_{\rm pre}} = e - W_{\rm enc}^\top\partial_z`,
        each averaged over samples (only the ``k`` kept entries per sample are touched).
        """
        A = self._inputs(A, batch)
        N = batch.size
        Z = self.encode(A, batch)
        E = Z @ self.W_dec.T + self.b_pre - batch.signals  # (N, n): e_s^T
        keep = Z.indices.reshape(N, self.k)
        dz = np.einsum("skn,sn->sk", np.take(self.W_dec.T, keep, axis=0), E) * (Z.data.reshape(N, self.k) > 0)
        dZ = sparse.csr_array((dz.ravel(), Z.indices, Z.indptr), shape=Z.shape)
        d_enc = np.asarray(dZ.sum(axis=0)).ravel() / N
        grads = {
            "W_enc": (dZ.T @ (batch.signals - self.b_pre)) / N,
            "b_enc": d_enc,
            "W_dec": (Z.T @ E).T / N,
            "b_pre": E.mean(axis=0) - self.W_enc.T @ d_enc,
        }
        return 0.5 * float(np.einsum("ij,ij->", E, E)) / N, grads


def topk_autoencoder(
    model: _model.SparseCodingModel, W0: np.ndarray, rng: np.random.Generator, *, steps: int = 300,
    batch_size: int = 1024, lr: float = 1e-3, k: int | None = None, evaluate_every: int | None = None,
    data: Batch | None = None, resample: protocols.Resample | None = None, progress: bool = True,
) -> Fit:
    r"""Train a :class:`TopKAutoencoder` by Adam on fresh batches; the atoms are the decoder columns.

    As in :cite:t:`gao2024scaling`: ``b_pre`` starts at the data mean (nonnegative codes give
    signals a nonzero mean), the encoder starts as the decoder's transpose, the decoder gradient's
    component along each column is removed and the columns renormalised after every step.
    ``k`` defaults to the true support size.  ``dead`` counts latents never active on 2048
    held-out samples.  ``data`` is a fixed training set (default: fresh samples at every step).

    ``resample`` (a :class:`lib.protocols.Resample`; ``None``: off) revives dead latents, the
    sparse-autoencoder counterpart of the autoencoder's protocol: at each check, latents that are
    never active on ``resample.probe`` samples get decoder column and encoder row along the
    residual :math:`y_s - \hat y_s` of the worst-reconstructed probe samples, ``b_enc = 0`` and
    fresh Adam moments (only silent latents: TopK fixes how many fire, so "rare" and "split" do not
    apply).
    """
    rng = check.generator(rng)
    progress = check.flag(progress, "progress")
    steps, batch_size, every = _loop_sizes(model, steps, batch_size, evaluate_every)
    lr = check.real(lr, "lr", minimum=0.0, strict_min=True)
    k = model.k if k is None else k
    if resample is not None and not isinstance(resample, protocols.Resample):
        raise TypeError(f"resample must be a lib.protocols.Resample or None, got {type(resample).__name__}")
    data = _data(data)
    sae = TopKAutoencoder.start(_start(model, W0).T, k, (data or draw_batch(model, batch_size, rng)).signals.mean(axis=0))
    optimizers = {name: Adam(lr) for name in ("W_enc", "b_enc", "W_dec", "b_pre")}
    stream = batches(model, steps, batch_size, data, rng)
    t = 0

    def revive() -> None:
        probe = data.rows(rng.choice(data.size, min(resample.probe, data.size), replace=False)) if data else draw_batch(model, resample.probe, rng)
        codes = sae.encode(model.A, probe)
        dead = np.setdiff1d(np.arange(model.h), codes.indices[codes.data > 0])[: probe.size]
        if dead.size == 0:
            return
        residuals = probe.signals - (codes @ sae.W_dec.T + sae.b_pre)
        sae.W_dec = protocols.resample_units(sae.W_dec.T, dead, residuals).T
        sae.W_enc[dead] = sae.W_dec[:, dead].T
        sae.b_enc[dead] = 0.0
        for name in ("W_enc", "b_enc"):
            optimizers[name].reset(dead)
        optimizers["W_dec"].reset(dead, axis=1)

    def step() -> None:
        nonlocal t
        _, grads = sae.loss_and_gradients(model.A, next(stream))
        g = grads["W_dec"]
        grads["W_dec"] = g - sae.W_dec * np.sum(g * sae.W_dec, axis=0, keepdims=True)
        for name, update in optimizers.items():
            setattr(sae, name, getattr(sae, name) - update(grads[name]))
        sae.W_dec = _unit_columns(sae.W_dec)
        if resample is not None and resample.due(t, steps):
            revive()
        t += 1

    fit = _run(step, lambda: sae.W_dec.T, model.A, steps, every, "TopK SAE", progress)
    codes = sae.encode(model.A, draw_batch(model, 2048, rng))
    return replace(fit, dead=model.h - int(np.unique(codes.indices[codes.data > 0]).size))
