"""Time the exact Hessian-vector product against one exact gradient on the same data, in one process.

* ``gradient``: :func:`lib.autoencoder.gradient` (five matrix products of size ``h x n x N``);
* ``hvp (fresh)``: :func:`lib.hessian.hvp`, building the operator's cached state (``W Y``, ``R``, ``E``)
  and applying it once: what a single product costs from scratch;
* ``hvp (cached)``: :meth:`lib.hessian.HessianOperator.apply` on a built operator: what every Lanczos
  or Newton–CG iteration after the first costs;
* ``TF fwd-over-bwd``: TensorFlow float64 ``ForwardAccumulator`` over a ``GradientTape``, for reference.

Two regimes of the bias at an encoder ``1.15 A*^T`` (the stationary point's scale): many units firing
(``eps = 0.3``: the dense formula) and few (``eps = 1.0``: the active-pairs formula).  The target of
issue 15 is ``hvp (fresh) <= 2.5 x gradient``.  One BLAS thread, as in the chapter's experiments.

Usage::

    .venv/bin/python benchmarks/bench_hessian.py --h 64 128 256 512 --samples 8192 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits

from lib import autoencoder, hessian, model
from lib.autodiff import tf_hvp


def timed(function, repeats: int) -> tuple[float, object]:
    """Median CPU seconds of ``repeats`` calls, and the last result."""
    cpus, result = [], None
    for _ in range(repeats):
        cpu = time.process_time()
        result = function()
        cpus.append(time.process_time() - cpu)
    return statistics.median(cpus), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--h", type=int, nargs="+", default=[64, 128, 256, 512])
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print("| h | n | N | eps | active units / sample | formula | gradient (ms) | hvp fresh (ms) | hvp cached (ms) "
          "| TF fwd-over-bwd (ms) | fresh / gradient | cached / gradient | max rel. diff vs TF |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for h in args.h:
        n = h // 2
        m = model.SparseCodingModel.gaussian(n, h, np.log(4) / np.log(h), rng)
        Y = m.sample(args.samples, rng)[1]
        W = 1.15 * m.A.T
        V = rng.standard_normal(W.shape)
        for eps in (0.3, 1.0):
            with threadpool_limits(limits=1, user_api="blas"):
                grad, _ = timed(lambda: autoencoder.gradient(W, Y, eps), args.repeats)
                fresh, HV = timed(lambda: hessian.hvp(W, Y, eps, V), args.repeats)
                op = hessian.HessianOperator(W, Y, eps)
                cached, _ = timed(lambda: op.apply(V), args.repeats)
                tf, HV_tf = timed(lambda: tf_hvp(W, Y, eps, V), max(args.repeats // 2, 1))
            active = float(np.mean(W @ Y - eps > 0)) * h
            diff = float(np.max(np.abs(HV - HV_tf)) / np.max(np.abs(HV_tf)))
            print(f"| {h} | {n} | {args.samples} | {eps:g} | {active:.1f} | {'active pairs' if op.sparse else 'dense'} "
                  f"| {1e3 * grad:.1f} | {1e3 * fresh:.1f} | {1e3 * cached:.1f} | {1e3 * tf:.1f} | {fresh / grad:.2f}x "
                  f"| {cached / grad:.2f}x | {diff:.0e} |", flush=True)


if __name__ == "__main__":
    main()
