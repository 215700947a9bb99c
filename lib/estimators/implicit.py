r"""The sums of :mod:`lib.estimators.structure` on a structured dictionary, without any dense :math:`h\times h` matrix.

:class:`DictionaryStructure` holds the encoder :math:`W` ``(h, n)``, the bias and a dictionary of
:mod:`lib.dictionaries` (products with :math:`A^*` and :math:`A^{*\top}` by fast Walsh–Hadamard
transforms), and gives the sums what they need:

* entries of :math:`M = WA^*` and :math:`G = WW^\top` for lists of pairs only,
  :math:`M_{ij} = \langle W_i, A^*_j\rangle` and :math:`G_{il} = \langle W_i, W_l\rangle`
  (:math:`O(n)` each);
* the candidate pairs :math:`M_{ij} > \theta_i`, from :math:`M` computed block of rows by block
  of rows as :math:`(A^{*\top}W_I^\top)^\top` (:math:`O(|I|\,h\log n)`) and pruned at once, so
  memory stays :math:`O(|I|\,h)` instead of :math:`h^2`;
* :math:`SW` and :math:`SA^{*\top}` for the sparse sums.  :math:`A^{*\top}` ``(h, n)`` is
  generated once by transforms (:math:`O(hn\log n)`); it is the size of :math:`W`, which is held
  anyway, while the :math:`h\times h` matrices :math:`M` and :math:`G` it replaces are :math:`h/n`
  times larger (4 times at :math:`h = 4n`: 2 GB each at :math:`h = 16384`).

With :func:`lib.estimators.statistics.row_norm_statistics` (row blocks) no :math:`h\times n`
gradient is held whole either.  It agrees with :class:`~lib.estimators.structure.GradientStructure`
on the same :math:`W` and :math:`A^*` to rounding (tested to 1e-10).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from lib import _validate as check
from lib.dictionaries import DenseDictionary, StructuredDictionary
from lib.estimators.structure import _Structure, _times

__all__ = ["DictionaryStructure"]

BLOCK_ENTRIES = 1 << 22  # entries of an (rows, h) or (h, rows) work array (32 MB)
PAIR_CHUNK = 8192  # pairs per block of inner products


def _pair_products(left: np.ndarray, right: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Inner products of the rows ``left[a[p]]`` and ``right[b[p]]``, chunk by chunk."""
    out = np.empty(a.size)
    for start in range(0, a.size, PAIR_CHUNK):
        part = slice(start, start + PAIR_CHUNK)
        out[part] = np.einsum("pn,pn->p", left[a[part]], right[b[part]])
    return out


@dataclass(frozen=True, eq=False)
class DictionaryStructure(_Structure):
    r"""An encoder :math:`W` and a bias on a dictionary with fast products; see the module docstring.

    Attributes
    ----------
    W : numpy.ndarray
        Encoder ``(h, n)``.
    dictionary : lib.dictionaries.StructuredDictionary or lib.dictionaries.DenseDictionary
        :math:`A^*`.
    eps : numpy.ndarray
        Bias per unit ``(h,)``.
    """

    W: np.ndarray
    dictionary: StructuredDictionary | DenseDictionary
    eps: np.ndarray
    _candidates: dict = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def of(cls, W: np.ndarray, dictionary: StructuredDictionary | DenseDictionary,
           eps: float | np.ndarray) -> "DictionaryStructure":
        """Validate ``W`` ``(h, n)`` against ``dictionary`` ``(n, h)`` and the bias (scalar or ``(h,)``)."""
        if not isinstance(dictionary, (StructuredDictionary, DenseDictionary)):
            raise TypeError(f"dictionary must be a lib.dictionaries dictionary, got {type(dictionary).__name__}")
        W = np.ascontiguousarray(check.matrix(W, "W", shape=(dictionary.h, dictionary.n), match="dictionary"))
        return cls(W, dictionary, check.bias(eps, W.shape[0])[:, 0])

    def _rows_per_block(self) -> int:
        return max(1, BLOCK_ENTRIES // self.h)

    @property
    def At(self) -> np.ndarray:
        r""":math:`A^{*\top}` ``(h, n)``, generated once per dictionary by transforms (``dictionary.At``)."""
        return self.dictionary.At

    def _m_entries(self, units: np.ndarray, cols: np.ndarray) -> np.ndarray:
        r""":math:`M_{ij} = \langle W_i, A^*_j\rangle` for the pairs ``(units, cols)``."""
        return _pair_products(self.W, self.At, np.asarray(units), np.asarray(cols))

    def _g_entries(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        r""":math:`G_{il} = \langle W_i, W_l\rangle` for the pairs ``(a, b)``."""
        return _pair_products(self.W, self.W, np.asarray(a), np.asarray(b))

    def _candidate_pairs(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r"""All pairs with :math:`M_{ij} > \theta_i`, from blocks of rows of :math:`M` (never the whole of it)."""
        units, cols = [], []
        step = self._rows_per_block()
        for start in range(0, self.h, step):
            block = self.dictionary.rmatvec(self.W[start:start + step].T).T  # (rows, h) = W_I A*
            i, j = np.nonzero(block > theta[start:start + step, None])
            units.append(i + start)
            cols.append(j)
        return np.concatenate(units), np.concatenate(cols)

    def _times_W(self, S: sparse.csr_matrix) -> np.ndarray:
        """``S @ W`` for a sparse ``S`` with ``h`` columns."""
        return _times(S, self.W)

    def _times_At(self, S: sparse.csr_matrix) -> np.ndarray:
        r"""``S @ A*^T`` for a sparse ``S`` with ``h`` columns."""
        return _times(S, self.At)
