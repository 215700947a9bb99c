r"""The structure of the data behind the mean gradient: :math:`M = WA^*`, candidate units, the sums :math:`C` and :math:`T`.

With :math:`y = A^*x`, :math:`x` having :math:`k` nonzeros on the support :math:`S`:

* :math:`Wy = Mx` with :math:`M = WA^*` (:math:`h\times h`, once per :math:`W`), so each sample needs
  :math:`k` columns of :math:`M`;
* a unit :math:`i` can fire on a sample only if :math:`M_{ij}x_j > \epsilon_i/k` for some
  :math:`j\in S`, so each column :math:`j` keeps a list of *candidate* units and
  :math:`u = Wy-\epsilon` is evaluated on candidates only;
* with :math:`r = \mathrm{ReLU}(u)`, :math:`G = WW^\top` and :math:`P` the active units, the
  per-sample gradient :math:`re^\top + (\mathbb 1_u\odot We)y^\top` equals
  :math:`r r^\top W + t\,x^\top A^{*\top}` with :math:`t_P = G_{PP}r_P - 2u_P - \epsilon_P`, so

  .. math::

      \hat g = \frac1N\big(C\,W + T\,A^{*\top}\big),\qquad
      C = \sum_s r_s r_s^\top,\qquad T = \sum_s t_s x_s^\top ,

  sparse :math:`h\times h` sums over active pairs only (when many units fire, :math:`C` is kept
  factored as :math:`RR^\top`); the residual :math:`e = W^\top r - y` is never formed.

The same sums with the active set replaced by the support (``proxy=True``) give the proxy gradient
:math:`\widetilde\nabla L` of Sec. 5 (:func:`lib.autoencoder.proxy_gradient`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
from scipy import sparse

from lib import _validate as check

__all__ = ["GradientStructure", "Sums", "accumulate", "signal_energy"]

PAIR_BUDGET = 1 << 21  # active (unit, unit) pairs held in memory at once (about 100 MB of work arrays)
GRAM_DIRECT = 8192  # largest h whose W @ W.T is one call (numpy issue 19685: a huge one crashes some OpenBLAS builds)
GRAM_BLOCK = 2048  # rows per block of W @ W.T beyond that
FACTOR_ABOVE = 4  # samples with more active units than this (on average) keep r r^T factored
DENSE_FRACTION = 0.02  # a sparse h x h factor fuller than this is multiplied as a dense matrix (BLAS wins)


def _times(S: sparse.csr_matrix, X: np.ndarray) -> np.ndarray:
    """``S @ X`` for a sparse ``S``: through a dense product once ``S`` is more than :data:`DENSE_FRACTION` full."""
    if S.nnz > DENSE_FRACTION * S.shape[0] * S.shape[1]:
        return S.toarray() @ X
    return S @ X


def _gram(W: np.ndarray) -> np.ndarray:
    """``W @ W.T``: one symmetric product (numpy calls BLAS syrk) up to :data:`GRAM_DIRECT` rows, else block by block."""
    if W.shape[0] <= GRAM_DIRECT:
        return W @ W.T
    G = np.empty((W.shape[0], W.shape[0]))
    for start in range(0, W.shape[0], GRAM_BLOCK):
        G[start:start + GRAM_BLOCK] = W[start:start + GRAM_BLOCK] @ W.T
    return G


class _Structure:
    r"""What the sums need of an encoder, a dictionary and a bias, however they are stored.

    Subclasses are frozen dataclasses with fields ``W`` ``(h, n)``, ``eps`` ``(h,)`` and
    ``_candidates`` (a cache), and provide the entries of :math:`M = WA^*` and :math:`G = WW^\top`
    for lists of pairs, the candidate pairs, and the products :math:`SW` and :math:`SA^{*\top}`
    of a sparse :math:`S`: :class:`GradientStructure` from dense arrays,
    :class:`lib.estimators.implicit.DictionaryStructure` from a dictionary with fast transforms.
    """

    @property
    def h(self) -> int:
        """Number of hidden units."""
        return self.W.shape[0]

    def with_bias(self, eps: float | np.ndarray) -> "_Structure":
        """The same encoder and dictionary with another bias (the products are reused, not recomputed)."""
        return replace(self, eps=check.bias(eps, self.h)[:, 0])

    def _candidate_lists(self, k: int, xmax: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        r"""Per column :math:`j`, the units that can fire when :math:`j` is in a support of size ``k``.

        Unit :math:`i` is a candidate for :math:`j` when :math:`M_{ij} > \theta_i =
        \epsilon_i/(k\,x_{\max})` (every unit when :math:`\epsilon_i\le 0`): if no term of
        :math:`u_i=\sum_{j\in S}M_{ij}x_j-\epsilon_i` exceeds :math:`\epsilon_i/k`, then :math:`u_i\le0`.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray, numpy.ndarray, numpy.ndarray)
            ``(pointer (h+1,), units, theta (h,), values)``: the candidates of column ``j`` are
            ``units[pointer[j]:pointer[j + 1]]`` and ``values`` their entries :math:`M_{ij}`.
            Cached per ``(k, xmax)``.
        """
        key = (int(k), float(xmax))
        if key not in self._candidates:
            theta = np.where(self.eps > 0, self.eps / (k * max(xmax, np.finfo(float).tiny)), -np.inf)
            units, cols, values = self._candidate_pairs(theta)
            order = np.argsort(cols, kind="stable")
            pointer = np.concatenate([[0], np.cumsum(np.bincount(cols, minlength=self.h))])
            self._candidates[key] = (pointer, units[order], theta, values[order])
        return self._candidates[key]


def _checked_structure(structure: object, name: str = "structure") -> _Structure:
    """Check that ``structure`` is a :class:`GradientStructure` or a :class:`~lib.estimators.implicit.DictionaryStructure`."""
    if not isinstance(structure, _Structure):
        raise TypeError(f"{name} must be a GradientStructure or DictionaryStructure (built by their .of), "
                        f"got {type(structure).__name__}")
    return structure


@dataclass(frozen=True, eq=False)
class GradientStructure(_Structure):
    r"""What one encoder :math:`W` needs, computed once: :math:`M = WA^*`, :math:`G = WW^\top`, :math:`\epsilon`.

    Build it with :meth:`of`; every estimator of this package takes it.

    Attributes
    ----------
    W : numpy.ndarray
        Encoder, shape ``(h, n)``.
    A : numpy.ndarray
        Dictionary :math:`A^*`, shape ``(n, h)``.
    eps : numpy.ndarray
        Bias per unit, shape ``(h,)``.
    M, G : numpy.ndarray
        :math:`M = WA^*` and :math:`G = WW^\top`, both ``(h, h)``.
    """

    W: np.ndarray
    A: np.ndarray
    eps: np.ndarray
    M: np.ndarray
    G: np.ndarray
    _candidates: dict = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def of(cls, W: np.ndarray, A: np.ndarray, eps: float | np.ndarray) -> "GradientStructure":
        """Validate ``W`` (h, n), ``A`` (n, h) and ``eps`` (scalar or (h,)) and precompute ``M`` and ``G``."""
        W = np.ascontiguousarray(check.matrix(W, "W"))  # row-major: the sparse products read rows of W
        A = check.matrix(A, "A", shape=(W.shape[1], W.shape[0]), match="W")
        check.allocation("W", 2 * 8.0 * W.shape[0] ** 2)  # M and G, (h, h) each
        e = check.bias(eps, W.shape[0])[:, 0]
        return cls(W, A, e, W @ A, _gram(W))

    @cached_property
    def At(self) -> np.ndarray:
        r""":math:`A^{*\top}` as a C-contiguous ``(h, n)`` array."""
        return np.ascontiguousarray(self.A.T)

    def _m_entries(self, units: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Entries ``M[units, cols]`` (pairs)."""
        return self.M[units, cols]

    def _g_entries(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Entries ``G[a, b]`` (pairs)."""
        return self.G[a, b]

    def _candidate_pairs(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""All pairs ``(unit, column)`` with :math:`M_{ij} > \theta_i`, and those entries."""
        units, cols = np.nonzero(self.M > theta[:, None])
        return units, cols, self.M[units, cols]

    def _times_W(self, S: sparse.csr_matrix) -> np.ndarray:
        """``S @ W`` for a sparse ``S`` with ``h`` columns."""
        return _times(S, self.W)

    def _times_At(self, S: sparse.csr_matrix) -> np.ndarray:
        r"""``S @ A*^T`` for a sparse ``S`` with ``h`` columns."""
        return _times(S, self.At)


@dataclass(frozen=True, eq=False)
class Sums:
    r"""Sufficient sums of a set of samples for one :math:`W`.

    The matrix :math:`\sum_s r_s r_s^\top` is kept as ``C`` for the samples with few active units
    and in factored form :math:`RR^\top` for the others (``R`` holds their hidden codes as
    columns): with :math:`a` active units a sample adds :math:`a^2` entries to ``C`` but only
    :math:`a` to ``R``, and :math:`R(R^\top W)` costs :math:`2an` per sample.

    Attributes
    ----------
    N : int
        Number of samples.
    C : scipy.sparse.csr_matrix
        :math:`\sum_s r_s r_s^\top` over the samples with few active units, ``(h, h)``.
    R : scipy.sparse.csc_matrix
        Hidden codes :math:`r_s` of the other samples, one column each, ``(h, N_R)``.
    T : scipy.sparse.csr_matrix
        :math:`\sum_s t_s x_s^\top`, ``(h, h)``.
    fit : float
        :math:`\sum_s \big(\tfrac12 r_s^\top G r_s - r_s^\top W y_s\big)`: the loss
        :math:`\sum_s\tfrac12\|W^\top r_s - y_s\|^2` minus the signal energy
        :math:`\sum_s\tfrac12\|y_s\|^2`, which does not depend on :math:`W` (:func:`signal_energy`).
    active : int
        Total number of active (sample, unit) pairs, :math:`\sum_s |P_s|`.
    recovered : int
        Number of samples whose active set equals their support (exact support recovery).
    """

    N: int
    C: sparse.csr_matrix
    R: sparse.csc_matrix
    T: sparse.csr_matrix
    fit: float
    active: int
    recovered: int

    def __add__(self, other: "Sums") -> "Sums":
        return Sums(self.N + other.N, self.C + other.C, sparse.hstack([self.R, other.R], format="csc"),
                    self.T + other.T, self.fit + other.fit, self.active + other.active, self.recovered + other.recovered)

    def gradient(self, structure: _Structure, rows: slice = slice(None)) -> np.ndarray:
        r"""The mean gradient :math:`\frac1N\big((C + RR^\top)W + TA^{*\top}\big)`, shape ``(h, n)``, or its ``rows``.

        ``structure`` is the one the sums were accumulated with (same :math:`h`); ``rows`` a slice of units.
        """
        structure = _checked_structure(structure)
        if structure.h != self.C.shape[0]:
            raise ValueError(f"structure must have h = {self.C.shape[0]} units like these sums, got h = {structure.h}")
        if not isinstance(rows, slice):
            raise TypeError(f"rows must be a slice of units, got {type(rows).__name__}")
        whole = rows == slice(None)
        gradient = structure._times_At(self.T if whole else self.T[rows])
        if self.C.nnz:
            gradient += structure._times_W(self.C if whole else self.C[rows])
        if self.R.nnz:
            gradient += (self.R if whole else self.R.tocsr()[rows]) @ (self.R.T @ structure.W)
        gradient /= self.N
        return gradient


def _codes(support: object, values: object, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Sparse codes (:func:`lib._validate.codes`) with nonnegative ``values``, the support as ``intp``."""
    support, values = check.codes(support, values, h)
    if values.min() < 0:
        raise ValueError(f"values must be >= 0 (nonnegative codes), got minimum {values.min()}")
    return support.astype(np.intp), values


def _segments(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For segments of the given lengths: the segment of every element and its offset inside it."""
    owner = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    return owner, np.arange(owner.size) - starts[owner]


def _pairs(s: _Structure, lists: tuple[np.ndarray, ...], support: np.ndarray,
           values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Active (sample, unit) pairs of a chunk and their :math:`u > 0`, from the candidate lists (``_candidate_lists``).

    The entry :math:`M_{ij}` of the column :math:`j` that lists a unit comes with the list; the
    others of the support are computed.
    """
    pointer, units, theta, listed = lists
    k = support.shape[1]
    cols = support.ravel()
    entry, offset = _segments(pointer[cols + 1] - pointer[cols])
    where = pointer[cols[entry]] + offset
    unit, own = units[where], listed[where]
    sample, position = np.divmod(entry, k)
    keep = np.ones(unit.size, dtype=bool)  # a unit listed by two columns of a support is kept once
    u = -s.eps[unit]
    for t in range(k):
        m = own.copy()
        other = position != t
        m[other] = s._m_entries(unit[other], support[sample[other], t])
        u += m * values[sample, t]
        keep &= ~((position > t) & (m > theta[unit]))
    active = keep & (u > 0)
    return sample[active], unit[active], u[active]


def _support_pairs(s: _Structure, support: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The (sample, unit) pairs of the supports and :math:`u` on them, of any sign (the proxy's active set)."""
    c, k = support.shape
    sample, unit = np.repeat(np.arange(c), k), support.ravel()
    u = -s.eps[unit]
    for t in range(k):
        u += s._m_entries(unit, support[sample, t]) * values[sample, t]
    return sample, unit, u


def _chunk_sums(s: _Structure, lists: tuple[np.ndarray, ...], support: np.ndarray, values: np.ndarray,
                proxy: bool) -> Sums:
    """The :class:`Sums` of one chunk of samples (vectorised over samples and pairs)."""
    c, k = support.shape
    h = s.h
    if proxy:
        sample, unit, r = _support_pairs(s, support, values)
        true_sample, true_unit, _ = _pairs(s, lists, support, values)
    else:
        sample, unit, r = true_sample, true_unit, _ = _pairs(s, lists, support, values)
    # pairs of active units within a sample: C and (G r)
    per_sample = np.bincount(sample, minlength=c)
    a, offset = _segments(per_sample[sample])
    b = (np.cumsum(per_sample) - per_sample)[sample[a]] + offset
    if a.size <= FACTOR_ABOVE * r.size:  # few active units per sample: C itself is small
        C = sparse.coo_matrix((r[a] * r[b], (unit[a], unit[b])), shape=(h, h)).tocsr()
        R = sparse.csc_matrix((h, 0))
    else:
        C = sparse.csr_matrix((h, h))
        R = sparse.csc_matrix((r, unit, np.concatenate([[0], np.cumsum(per_sample)])), shape=(h, c))  # grouped by sample
    Gr = np.bincount(a, weights=s._g_entries(unit[a], unit[b]) * r[b], minlength=r.size)
    t_value = Gr - 2.0 * r - s.eps[unit]
    T = sparse.coo_matrix(((t_value[:, None] * values[sample]).ravel(),
                           (np.repeat(unit, k), support[sample].ravel())), shape=(h, h)).tocsr()
    fit = 0.5 * float(r @ Gr) - float(r @ (r + s.eps[unit]))  # r'Wy = r'(u + eps) on active units
    hits = np.bincount(true_sample, weights=np.any(support[true_sample] == true_unit[:, None], axis=1), minlength=c)
    recovered = int(np.count_nonzero((np.bincount(true_sample, minlength=c) == k) & (hits == k)))
    return Sums(c, C, R, T, fit, int(r.size), recovered)


def accumulate(structure: _Structure, support: np.ndarray, values: np.ndarray,
               *, xmax: float | None = None, chunk: int | None = None, proxy: bool = False) -> Sums:
    r"""The sufficient sums :math:`C`, :math:`T` (and loss, activity) of the samples ``(support, values)``.

    Parameters
    ----------
    structure : GradientStructure or lib.estimators.implicit.DictionaryStructure
        The encoder, dictionary and bias.
    support : numpy.ndarray
        Integer array ``(N, k)``: the support of each code (from
        :func:`lib.model.sample_sparse_codes`), distinct indices per row.
    values : numpy.ndarray
        The nonzeros ``(N, k)``, nonnegative.
    xmax : float, optional
        An upper bound of ``values`` for the candidate lists (default ``values.max()``); pass the
        same bound for every batch of a data set so that the lists are computed once.
    chunk : int, optional
        Samples per chunk.  By default it is chosen from the candidate lists so that about
        :data:`PAIR_BUDGET` pairs are in memory at once.
    proxy : bool, optional
        Sum the proxy gradient instead: the active set of each sample is its support and
        :math:`r = u` there, of any sign (:func:`lib.autoencoder.proxy_gradient`).  ``recovered``
        still counts exact support recovery by the ReLU layer.

    Returns
    -------
    Sums
    """
    structure = _checked_structure(structure)
    proxy = check.flag(proxy, "proxy")
    support, values = _codes(support, values, structure.h)
    N, k = support.shape
    largest = float(values.max())
    xmax = largest if xmax is None else check.real(xmax, "xmax", minimum=largest)
    if chunk is not None:
        chunk = check.integer(chunk, "chunk", minimum=1)
    lists = structure._candidate_lists(k, xmax)
    if chunk is None:
        per_sample = k * lists[1].size / structure.h + 1.0
        chunk = int(np.clip(PAIR_BUDGET / per_sample**2, 16, 8192))
    total = None
    for start in range(0, N, chunk):
        part = _chunk_sums(structure, lists, support[start:start + chunk], values[start:start + chunk], proxy)
        total = part if total is None else total + part
    return total


def signal_energy(A: np.ndarray, support: np.ndarray, values: np.ndarray, *, chunk: int = 4096) -> float:
    r"""The energy :math:`\sum_s\tfrac12\|y_s\|_2^2` of the signals :math:`y_s = A^*x_s`, from the sparse codes.

    :math:`\|y_s\|^2 = \sum_{t}x_{st}^2\|A^*_{S_t}\|^2 + 2\sum_{t<t'}x_{st}x_{st'}\langle A^*_{S_t},A^*_{S_{t'}}\rangle`.
    It is the part of the summed loss that does not depend on :math:`W`: compute it once per data set.
    """
    A = check.matrix(A, "A")
    support, values = _codes(support, values, A.shape[1])
    chunk = check.integer(chunk, "chunk", minimum=1)
    norms = np.einsum("nj,nj->j", A, A)
    total = float(np.sum(values**2 * norms[support]))
    k = support.shape[1]
    for t in range(k):
        for t2 in range(t + 1, k):
            for start in range(0, support.shape[0], chunk):
                rows = slice(start, start + chunk)
                dots = np.einsum("nc,nc->c", A[:, support[rows, t]], A[:, support[rows, t2]])
                total += 2.0 * float(np.sum(values[rows, t] * values[rows, t2] * dots))
    return 0.5 * total
