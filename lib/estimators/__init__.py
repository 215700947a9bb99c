r"""Fast exact estimators of the mean gradient of the autoencoder loss (paper Sec. 6), by concern.

Table 1 of the paper reports the average row norm of the empirical mean gradient
:math:`\hat g = \frac1N\sum_s \nabla_W L(y_s)` at points :math:`W` near :math:`A^{*\top}`.  The
dense formula (:func:`lib.autoencoder.gradient`) costs :math:`O(hnN)` per point; this package
computes the *same* number from the structure of the generative model:

* :mod:`lib.estimators.structure`: :math:`M = WA^*`, :math:`G = WW^\top`, the candidate units of
  each dictionary column, and the sparse sums :math:`C = \sum rr^\top`, :math:`T = \sum t x^\top`
  with :math:`\hat g = (CW + TA^{*\top})/N` (true or proxy gradient);
* :mod:`lib.estimators.gradient`: :func:`structured_gradient`, the one entry point for a single
  batch, which picks the cheaper of the sums and a direct path without :math:`G` (small batches,
  training steps);
* :mod:`lib.estimators.statistics`: batches of samples, Table 1's statistic with its jackknife
  correction, standard error and noise floor, the bias-corrected RMS norm, and the sample size a
  target precision needs;
* :mod:`lib.estimators.sampled`: Monte Carlo estimates of the expected true gradient, proxy
  gradient and their gap (Sec. 5), with failure rate and second moment;
* :mod:`lib.estimators.exact_k1`: the exact expectation over the data for :math:`k = 1`;
* :mod:`lib.estimators.implicit`: the same sums on a dictionary of :mod:`lib.dictionaries` with
  fast transforms, never forming :math:`M`, :math:`G` or :math:`A^*` (:class:`DictionaryStructure`).
"""

from lib.estimators.exact_k1 import ExpectedK1, expected_gradient_k1
from lib.estimators.gradient import structured_gradient
from lib.estimators.implicit import DictionaryStructure
from lib.estimators.sampled import KINDS, GradientEstimate, sampled_gradient
from lib.estimators.statistics import (
    BatchedGradient,
    CellStatistics,
    NormStatistic,
    batched_gradient,
    mean_row_norm,
    required_samples,
    row_norm_statistics,
)
from lib.estimators.structure import GradientStructure, Sums, accumulate, signal_energy

__all__ = [
    "GradientStructure",
    "DictionaryStructure",
    "Sums",
    "BatchedGradient",
    "NormStatistic",
    "CellStatistics",
    "ExpectedK1",
    "GradientEstimate",
    "KINDS",
    "mean_row_norm",
    "accumulate",
    "structured_gradient",
    "signal_energy",
    "batched_gradient",
    "row_norm_statistics",
    "required_samples",
    "expected_gradient_k1",
    "sampled_gradient",
]
