"""Time the mean gradient of the autoencoder loss four ways on the same data, in one process.

* ``fast``: :func:`lib.estimators.structured_gradient` (sparse codes, ``M = W A``, candidate units,
  ``(C W + T A^T) / N``), including its ``W A`` and ``W W^T`` products, and again without them
  (they are computed once per point and shared by every batch of samples);
* ``dense``: :func:`lib.autoencoder.gradient`, the vectorised formula on ``Y = A X``;
* ``tf``: :func:`lib.autodiff.tf_gradient`, TensorFlow float64 autodiff of the same loss;
* ``loop``: a per-sample Python loop over the columns of ``Y`` (numpy vectors; timed on a subset).

It also times the five plain matrix products the dense formula needs (``W Y``, ``W^T R``,
``W E``, ``R E^T``, ``(D W E) Y^T``) to show how close the dense formula is to them.

Two regimes of the bias, both from :class:`lib.experiments.simulations.Settings` with
``delta = 0.1``: the book's defaults (prefactor 1/2: about ``k`` active units per sample) and
prefactor 1/8 (many false positives, as in the appendix's illustrative run, §8).

Usage::

    .venv/bin/python benchmarks/bench_gradient.py --h 256 1024 4096 --samples 8192 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from dataclasses import replace

import numpy as np

from lib import autoencoder, estimators, model
from lib.autodiff import tf_gradient
from lib.experiments.simulations import Settings


def timed(function, repeats: int) -> tuple[float, float, object]:
    """Median wall and CPU seconds of ``repeats`` calls, and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def loop_gradient(W: np.ndarray, Y: np.ndarray, eps: float) -> np.ndarray:
    """The per-sample formula, one column of ``Y`` at a time."""
    total = np.zeros_like(W)
    for s in range(Y.shape[1]):
        y = Y[:, s]
        u = W @ y - eps
        active = u > 0
        r = np.where(active, u, 0.0)
        e = W.T @ r - y
        total += np.outer(r, e) + np.outer(np.where(active, W @ e, 0.0), y)
    return total / Y.shape[1]


def plain_products(W: np.ndarray, Y: np.ndarray) -> None:
    """The five matrix products of the dense formula, on arrays of the same shapes, nothing else."""
    U = W @ Y
    E = W.T @ U
    V = W @ E
    _ = U @ E.T
    _ = V @ Y.T


def bench(h: int, N: int, prefactor: float, repeats: int, loop_samples: int, rng: np.random.Generator) -> dict:
    settings = replace(Settings(), prefactor=prefactor)
    n, k = settings.n(h), settings.k(h, 0.01)
    A = model.random_dictionary(n, h, rng)
    W = model.perturb_columns(A, settings.delta, rng)
    eps = settings.bias(h, 0.01, model.coherence(A))
    support, values = model.sample_sparse_codes(h, k, N, rng, settings.low, settings.high)
    X = np.zeros((h, N))
    X[support.T, np.arange(N)] = values.T
    Y = A @ X
    row = {"h": h, "n": n, "N": N, "prefactor": prefactor, "eps": eps, "active": float(np.mean(np.sum(W @ Y - eps > 0, axis=0)))}
    row["dense"] = timed(lambda: autoencoder.gradient(W, Y, eps), repeats)
    row["gemm"] = timed(lambda: plain_products(W, Y), repeats)
    row["fast"] = timed(lambda: estimators.structured_gradient(W, A, support, values, eps), repeats)
    structure = estimators.GradientStructure.of(W, A, eps)  # per point: M = W A and G = W W^T
    row["per_sample"] = timed(lambda: estimators.accumulate(structure, support, values).gradient(structure), repeats)
    tf_gradient(W, Y[:, :8], eps)  # first call builds TensorFlow's kernels: not timed
    row["tf"] = timed(lambda: tf_gradient(W, Y, eps), repeats)
    subset = Y[:, :loop_samples]
    row["loop"] = timed(lambda: loop_gradient(W, subset, eps), 1)
    reference = row["dense"][2]
    scale = np.max(np.abs(reference))
    row["err_fast"] = float(np.max(np.abs(row["fast"][2] - reference)) / scale)
    row["err_tf"] = float(np.max(np.abs(row["tf"][2] - reference)) / scale)
    row["err_loop"] = float(np.max(np.abs(row["loop"][2] - autoencoder.gradient(W, subset, eps))) / scale)
    return row


def report(rows: list[dict], load: tuple[tuple[float, ...], tuple[float, ...]]) -> str:
    lines = [
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"load average (1, 5, 15 min) at start {load[0]}, at end {load[1]}",
        "",
        "| h | n | N | prefactor | active units / sample | fast (samples/s) | fast without W A, W W^T (samples/s) "
        "| dense (samples/s) | TF autodiff (samples/s) | loop (samples/s) | fast / dense speed-up | dense / TF speed-up "
        "| dense / loop speed-up | dense time / its 5 GEMMs | CPU s: fast, dense, TF | max rel. diff fast, TF, loop vs dense |",
        "|" + "---|" * 16,
    ]
    for r in rows:
        rate = {name: (r["N"] if name != "loop" else r["loop_samples"]) / r[name][0]
                for name in ("fast", "per_sample", "dense", "tf", "loop")}
        lines.append(
            f"| {r['h']} | {r['n']} | {r['N']} | {r['prefactor']:g} | {r['active']:.1f} | {rate['fast']:,.0f} "
            f"| {rate['per_sample']:,.0f} | {rate['dense']:,.0f} "
            f"| {rate['tf']:,.0f} | {rate['loop']:,.0f} | {rate['fast'] / rate['dense']:.1f}x | {rate['dense'] / rate['tf']:.2f}x "
            f"| {rate['dense'] / rate['loop']:.0f}x | {r['dense'][0] / r['gemm'][0]:.2f} "
            f"| {r['fast'][1]:.2f}, {r['dense'][1]:.2f}, {r['tf'][1]:.2f} | {r['err_fast']:.0e}, {r['err_tf']:.0e}, {r['err_loop']:.0e} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--h", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--samples", type=int, default=8192, help="N, the samples of the mean gradient")
    parser.add_argument("--prefactors", type=float, nargs="+", default=[0.5, 0.125])
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per method (the median is reported)")
    parser.add_argument("--loop-samples", type=int, default=256, help="samples timed in the per-sample loop")
    parser.add_argument("--seed", type=int, default=2018)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    start = os.getloadavg()
    rows = []
    for h in args.h:
        for prefactor in args.prefactors:
            row = bench(h, args.samples, prefactor, args.repeats, args.loop_samples, rng)
            row["loop_samples"] = args.loop_samples
            rows.append(row)
            print(f"done h={h} prefactor={prefactor}", flush=True)
    print(report(rows, (tuple(round(x, 2) for x in start), tuple(round(x, 2) for x in os.getloadavg()))))


if __name__ == "__main__":
    main()
