"""Time and memory of the gradient estimator on a structured dictionary (Kerdock frame, h = 4n), two ways.

* ``compare``: one Table-1 point (p = 0.01, the book's settings, ``--samples`` samples in 16
  batches, the jackknifed average row norm) with the dense-dictionary estimator
  (:class:`lib.estimators.GradientStructure`: ``M = W A*`` and ``G = W W^T`` held as ``h x h``
  arrays) and the structured one (:class:`lib.estimators.DictionaryStructure`: transforms, pairs,
  row blocks) on the same ``W``, ``A*`` and data: CPU seconds, peak traced memory (tracemalloc), and
  the difference of the two statistics.
* ``cell``: one whole Table-1 cell with the structured estimator
  (:func:`lib.experiments.simulations.measure_cell`: pilot run, ``N`` for a 1 % standard error and
  a 1 % worst-case bias, final run), one dictionary and one point: CPU seconds, ``N``, relative
  standard error and the peak resident memory of the process.
* ``task``: one dictionary's whole task of chapter 04b (:func:`lib.experiments.coherence.table_task`,
  every ``p``, one candidate scan per point) at the sizes of ``--scale``, with rounded and smooth
  support sizes: CPU seconds of each (what adding an ``h`` to the chapter would cost).

Usage::

    .venv/bin/python benchmarks/bench_dictionaries.py compare --h 1024 4096 --samples 65536
    .venv/bin/python benchmarks/bench_dictionaries.py cell --h 16384 --p 0.01
    .venv/bin/python benchmarks/bench_dictionaries.py cell --h 65536 --p 0.01   # about 9.3 GiB
    .venv/bin/python benchmarks/bench_dictionaries.py task --h 16384 --scale paper
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from dataclasses import asdict, replace

import numpy as np

import lib.scale
from lib import estimators
from lib.experiments import coherence as co
from lib.experiments import simulations as sim

SETTINGS = sim.Settings()


def _point(h: int, rng: np.random.Generator):
    dictionary = co.make_dictionary("kerdock", h, rng)
    (structure,) = co.points_on(dictionary, SETTINGS.delta, 1, rng)
    return dictionary, structure


def _statistic(make_structure, support, values, eps) -> tuple[float, float, int]:
    """CPU seconds, the statistic, and the peak traced bytes of building the structure and measuring one point."""
    tracemalloc.start()
    start = time.process_time()
    structure = make_structure().with_bias(eps)
    point = estimators.batched_gradient(structure, support, values, 16, energy=float("nan"))
    value = estimators.row_norm_statistics([point]).per_point.corrected
    seconds = time.process_time() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, value, peak


def compare(h: int, samples: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    dictionary, structure = _point(h, rng)
    eps = SETTINGS.bias(h, 0.01, dictionary.coherence)
    support, values = SETTINGS.codes(h, 0.01, samples, rng)
    A = np.ascontiguousarray(dictionary.At.T)
    dense = _statistic(lambda: estimators.GradientStructure.of(structure.W, A, eps), support, values, eps)
    fast = _statistic(lambda: estimators.DictionaryStructure.of(structure.W, dictionary, eps), support, values, eps)
    return (f"| {h} | {h // 4} | {samples} | {dense[0]:.2f} | {fast[0]:.2f} | {dense[2] / 2**20:,.0f} | {fast[2] / 2**20:,.0f} "
            f"| {abs(dense[1] - fast[1]) / dense[1]:.0e} |")


def cell(h: int, p: float, seed: int) -> str:
    rng = np.random.default_rng(seed)
    start = time.process_time()
    dictionary, structure = _point(h, rng)
    result = sim.measure_cell([structure], p, dictionary.coherence, SETTINGS, rng, batches=16, pilot_per_unit=8,
                              max_samples=2**19, exact=False)
    seconds = time.process_time() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    return (f"| {h} | {h // 4} | {p:g} | {result.k} | {result.N:,} | {result.corrected:.4e} | {result.standard_error:.2e} "
            f"| {result.standard_error / result.corrected:.2%} | {seconds:.0f} | {peak:.2f} |")


def task(h: int, scale: str, seed: int) -> list[str]:
    """One dictionary's Table-1 task of chapter 04b (every p) at the sizes of ``scale``, rounded and smooth k."""
    sizes = lib.scale.sizes("coherence", scale)
    out = []
    for rounding in ("round", "smooth"):
        start = time.process_time()
        rows = co.table_task(np.random.default_rng(seed), h=h, p_values=sizes["p_values"],
                             settings=asdict(replace(SETTINGS, rounding=rounding)), points=sizes["points"],
                             batches=sizes["batches"], pilot_per_unit=sizes["pilot_per_unit"], max_samples=sizes["max_samples"])
        seconds = time.process_time() - start
        cells = ", ".join(f"p = {r['p']:g}: {r['corrected']:.3e} (N = {r['N']:,}, s.e. {r['standard_error'] / r['corrected']:.2%})"
                          for r in rows)
        out.append(f"| {h} | {scale} | {rounding} | {seconds:.0f} | {cells} |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("compare", "cell", "task"))
    parser.add_argument("--h", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--p", type=float, default=0.01)
    parser.add_argument("--samples", type=int, default=65536)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--scale", choices=lib.scale.SCALES, default="paper")
    args = parser.parse_args()
    if args.mode == "compare":
        print("| h | n | N | CPU s dense | CPU s structured | peak MiB dense | peak MiB structured | relative difference |")
        print("|---|---|---|---|---|---|---|---|")
        for h in args.h:
            print(compare(h, args.samples, args.seed), flush=True)
    elif args.mode == "task":
        print("| h | sizes | k rule | CPU s | cells |")
        print("|---|---|---|---|---|")
        for h in args.h:
            print("\n".join(task(h, args.scale, args.seed)), flush=True)
    else:
        print("| h | n | p | k | N | value | s.e. | s.e. / value | CPU s | peak RSS GiB |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for h in args.h:
            print(cell(h, args.p, args.seed), flush=True)


if __name__ == "__main__":
    main()
