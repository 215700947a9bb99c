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
are scored by :func:`lib.recovery.recovery`.  Configurations follow BASELINES.md.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from lib import _validate as check
from lib import model as _model
from lib.recovery import Recovery, recovery
from lib.training import Adam, run_loop, sample_signals

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
    seconds : float
        Wall time of the fit (checkpoints excluded).
    trace_steps, trace_mcc : numpy.ndarray
        Mean matched :math:`|\\cos|` at checkpoints (empty for scikit-learn).
    dead : int
        Latents never active on 2048 held-out samples (TopK only; 0 otherwise).
    """

    atoms: np.ndarray
    recovery: Recovery
    seconds: float
    trace_steps: np.ndarray
    trace_mcc: np.ndarray
    dead: int = 0


def _unit_columns(M: np.ndarray) -> np.ndarray:
    return M / np.maximum(np.linalg.norm(M, axis=0, keepdims=True), 1e-12)


def _start(model: _model.SparseCodingModel, W0: np.ndarray) -> np.ndarray:
    """The start as a dictionary ``(n, h)`` with unit columns."""
    return _unit_columns(check.matrix(W0, "W0", shape=(model.h, model.n)).T.copy())


def _run(step: Callable[[], None], atoms: Callable[[], np.ndarray], A: np.ndarray, steps: int,
         every: int, desc: str, progress: bool) -> tuple[np.ndarray, np.ndarray, float]:
    """Call ``step`` ``steps`` times; record the mean matched |cos| of ``atoms()`` every ``every`` steps."""
    marks, mcc, seconds = run_loop(lambda t: step(), lambda t: recovery(A, atoms()).mcc, steps, every, desc, progress)
    return marks, np.array(mcc), seconds


def _loop_sizes(steps: int, batch_size: int, evaluate_every: int | None) -> tuple[int, int, int]:
    steps = check.integer(steps, "steps", minimum=1)
    batch_size = check.integer(batch_size, "batch_size", minimum=1)
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
    Y = check.matrix(Y, "Y", shape=(A.shape[0], None))
    h = A.shape[1]
    init = None if W0 is None else check.matrix(W0, "W0", shape=(h, A.shape[0]))
    learner = MiniBatchDictionaryLearning(
        n_components=h, alpha=check.real(alpha, "alpha", minimum=0.0, strict_min=True), fit_algorithm="cd",
        positive_code=True, transform_algorithm="lasso_cd", transform_alpha=alpha,
        batch_size=check.integer(batch_size, "batch_size", minimum=1), max_iter=check.integer(epochs, "epochs", minimum=1),
        tol=0.0, max_no_improvement=None, dict_init=init, random_state=check.integer(seed, "seed", minimum=0),
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # coordinate descent's ConvergenceWarning on a few hard batches
        learner.fit(Y.T)
    seconds = time.perf_counter() - start
    atoms = learner.components_
    return Fit(atoms=atoms, recovery=recovery(A, atoms), seconds=seconds, trace_steps=np.array([]), trace_mcc=np.array([]))


# --------------------------------------------------------------------------- Arora et al. 2015
def arora_step_size(model: _model.SparseCodingModel, target: float = 0.01) -> float:
    r"""Step size with :math:`\eta\,(k/h)\,m_1 = ` ``target``: each atom moves by about ``target`` of its error per step.

    An atom is in a sample's support with probability :math:`k/h` and then enters the update with
    weight about :math:`m_1`, so the effective step of one atom is :math:`\eta\,(k/h)\,m_1`.
    """
    return check.real(target, "target", minimum=0.0, strict_min=True) / (model.q * model.m1)


def arora_neural(
    model: _model.SparseCodingModel, W0: np.ndarray, rng: np.random.Generator, *, steps: int = 300,
    batch_size: int = 1024, lr: float | None = None, threshold: float | None = None,
    evaluate_every: int | None = None, progress: bool = True,
) -> Fit:
    r"""The neural sparse-coding update of :cite:t:`arora2015simple` (their Algorithm 2), nonnegative codes.

    Per step, on a fresh batch :math:`Y` of ``batch_size`` signals:

    .. math::

        X = A^\top Y \odot \mathbf 1[A^\top Y \ge C/2],\qquad
        A \leftarrow A + \frac{\eta}{B}(Y - AX)\,\mathrm{sgn}(X)^\top,\qquad
        A_i \leftarrow A_i/\|A_i\| .

    Parameters
    ----------
    model, W0, rng
        Generative model, starting atoms ``(h, n)``, source of the training batches.
    lr : float or None
        :math:`\eta`; default :func:`arora_step_size`.
    threshold : float or None
        :math:`C/2`; default half the smallest nonzero, ``model.low / 2``.
    """
    rng = check.generator(rng)
    steps, batch_size, every = _loop_sizes(steps, batch_size, evaluate_every)
    eta = arora_step_size(model) if lr is None else check.real(lr, "lr", minimum=0.0, strict_min=True)
    tau = model.low / 2 if threshold is None else check.real(threshold, "threshold", minimum=0.0, strict_min=True)
    D = _start(model, W0)

    def step() -> None:
        nonlocal D
        Y = sample_signals(model.A, model.k, batch_size, rng, model.low, model.high)
        Z = D.T @ Y
        active = Z >= tau
        X = np.where(active, Z, 0.0)
        D = _unit_columns(D + (eta / batch_size) * (Y - D @ X) @ active.T.astype(np.float64))

    marks, mcc, seconds = _run(step, lambda: D.T, model.A, steps, every, "Arora et al.", progress)
    return Fit(atoms=D.T.copy(), recovery=recovery(model.A, D.T), seconds=seconds, trace_steps=marks, trace_mcc=mcc)


# --------------------------------------------------------------------------- TopK sparse autoencoder
@dataclass
class TopKAutoencoder:
    r"""A TopK sparse autoencoder :cite:p:`makhzani2014ksparse,gao2024scaling`.

    .. math::

        z = \mathrm{TopK}_k\big(\mathrm{ReLU}(W_{\rm enc}(y - b_{\rm pre}) + b_{\rm enc})\big),\qquad
        \hat y = W_{\rm dec} z + b_{\rm pre},\qquad
        L = \frac1N\sum_s \tfrac12\|\hat y_s - y_s\|^2,

    where :math:`\mathrm{TopK}_k` keeps the ``k`` largest entries of each column.  Shapes:
    ``W_enc`` ``(h, n)``, ``b_enc`` ``(h,)``, ``W_dec`` ``(n, h)`` with unit columns (the atoms),
    ``b_pre`` ``(n,)``.
    """

    W_enc: np.ndarray
    b_enc: np.ndarray
    W_dec: np.ndarray
    b_pre: np.ndarray
    k: int

    @classmethod
    def start(cls, W0: np.ndarray, k: int, b_pre: np.ndarray) -> "TopKAutoencoder":
        """Decoder columns = the unit-normalised rows of ``W0``; encoder = decoder transposed; ``b_enc = 0``."""
        W_dec = _unit_columns(check.matrix(W0, "W0").T.copy())
        return cls(W_dec.T.copy(), np.zeros(W_dec.shape[1]), W_dec, np.asarray(b_pre, dtype=np.float64).copy(),
                   check.integer(k, "k", minimum=1, maximum=W_dec.shape[1]))

    def encode(self, Y: np.ndarray) -> np.ndarray:
        """Sparse codes ``Z`` ``(h, N)``: at most ``k`` positive entries per column."""
        pre = self.W_enc @ (Y - self.b_pre[:, None]) + self.b_enc[:, None]
        keep = np.argpartition(-pre, self.k - 1, axis=0)[: self.k]
        Z = np.zeros_like(pre)
        np.put_along_axis(Z, keep, np.maximum(np.take_along_axis(pre, keep, axis=0), 0.0), axis=0)
        return Z

    def loss_and_gradients(self, Y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        r"""Loss and its exact gradients: with :math:`e = \hat y - y` and :math:`m` the kept, positive entries,

        :math:`\partial_{W_{\rm dec}} = e z^\top`, :math:`\partial_z = m\odot W_{\rm dec}^\top e`,
        :math:`\partial_{W_{\rm enc}} = \partial_z (y - b_{\rm pre})^\top`,
        :math:`\partial_{b_{\rm enc}} = \partial_z`, :math:`\partial_{b_{\rm pre}} = e - W_{\rm enc}^\top\partial_z`,
        each averaged over samples.
        """
        Y = check.matrix(Y, "Y", shape=(self.W_dec.shape[0], None))
        N = Y.shape[1]
        Z = self.encode(Y)
        E = self.W_dec @ Z + self.b_pre[:, None] - Y
        dZ = np.where(Z > 0, self.W_dec.T @ E, 0.0)
        grads = {
            "W_enc": dZ @ (Y - self.b_pre[:, None]).T / N,
            "b_enc": dZ.mean(axis=1),
            "W_dec": E @ Z.T / N,
            "b_pre": E.mean(axis=1) - self.W_enc.T @ dZ.mean(axis=1),
        }
        return 0.5 * float(np.einsum("ij,ij->", E, E)) / N, grads


def topk_autoencoder(
    model: _model.SparseCodingModel, W0: np.ndarray, rng: np.random.Generator, *, steps: int = 300,
    batch_size: int = 1024, lr: float = 1e-3, k: int | None = None, evaluate_every: int | None = None,
    progress: bool = True,
) -> Fit:
    r"""Train a :class:`TopKAutoencoder` by Adam on fresh batches; the atoms are the decoder columns.

    As in :cite:t:`gao2024scaling`: ``b_pre`` starts at the data mean (nonnegative codes give
    signals a nonzero mean), the encoder starts as the decoder's transpose, the decoder gradient's
    component along each column is removed and the columns renormalised after every step.
    ``k`` defaults to the true support size.
    """
    rng = check.generator(rng)
    steps, batch_size, every = _loop_sizes(steps, batch_size, evaluate_every)
    lr = check.real(lr, "lr", minimum=0.0, strict_min=True)
    k = model.k if k is None else k
    draw = lambda size: sample_signals(model.A, model.k, size, rng, model.low, model.high)  # noqa: E731
    sae = TopKAutoencoder.start(_start(model, W0).T, k, draw(batch_size).mean(axis=1))
    optimizers = {name: Adam(lr) for name in ("W_enc", "b_enc", "W_dec", "b_pre")}

    def step() -> None:
        _, grads = sae.loss_and_gradients(draw(batch_size))
        g = grads["W_dec"]
        grads["W_dec"] = g - sae.W_dec * np.sum(g * sae.W_dec, axis=0, keepdims=True)
        for name, update in optimizers.items():
            setattr(sae, name, getattr(sae, name) - update(grads[name]))
        sae.W_dec = _unit_columns(sae.W_dec)

    marks, mcc, seconds = _run(step, lambda: sae.W_dec.T, model.A, steps, every, "TopK SAE", progress)
    dead = int(np.sum(~np.any(sae.encode(draw(2048)) > 0, axis=1)))
    atoms = sae.W_dec.T.copy()
    return Fit(atoms=atoms, recovery=recovery(model.A, atoms), seconds=seconds, trace_steps=marks, trace_mcc=mcc, dead=dead)
