"""Benchmark of :mod:`lib.execution`: a sweep serial vs on 1 and 2 local Dask workers, and the per-task overhead.

Two sweeps (``--sweep``): ``table1``, the simulations chapter's Table 1 (one task per cell; the
serial path lets OpenBLAS use every core for the cells' large products), and ``training``, the
training chapter's comparison (one task per seed x start x method, each in one BLAS thread on every
backend, as the training chapters run).  Run from the repository root::

    python benchmarks/bench_execution.py --sweep table1 --h 256 512 1024 2048 --points 2 --max-samples 131072
    python benchmarks/bench_execution.py --sweep training --scale paper --seeds 2

It prints one Markdown table (wall time, CPU time of every process involved, speed-up against the
serial path of the same run, bit-identity of the cells) and the machine's load during each run
(busy fraction of all cores from ``/proc/stat``, load average), since wall times on a shared
machine mean little without it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pickle
import time

import numpy as np

from lib import execution
from lib import scale as scales
from lib.experiments import simulations


def busy_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot."""
    fields = [int(v) for v in open("/proc/stat").readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def measure(run, cpu_seconds) -> dict:
    """Wall time, CPU time (``cpu_seconds()`` before/after) and machine load of ``run()``."""
    busy0, total0 = busy_jiffies()
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    result = run()
    wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
    busy1, total1 = busy_jiffies()
    return {"result": result, "wall": wall, "cpu": cpu, "busy": (busy1 - busy0) / max(total1 - total0, 1),
            "load": os.getloadavg()[0]}


def own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def workers_cpu() -> float:
    """CPU seconds of this process plus every worker process of the current Dask client."""
    client = execution._client(execution.current())
    return own_cpu() + sum(client.run(own_cpu).values())


def tiny(rng: np.random.Generator, i: int) -> float:
    """A task that does nothing (the per-task overhead)."""
    return float(rng.random())


MODULES = {"table1": "simulations", "training": "training"}  # the experiment module of each sweep


def table1_sweep(args: argparse.Namespace):
    """The Table 1 sweep of ``args``, as a function of no arguments, and a line describing it."""
    def sweep():
        return simulations.table1(args.h, args.p, np.random.default_rng(2018), points=args.points, batches=16,
                                  pilot_per_unit=8, max_samples=args.max_samples)

    return sweep, (f"Table 1 sweep: h = {args.h}, p = {args.p}, {args.points} points, max_samples = {args.max_samples}, "
                   f"{len(args.h) * len(args.p)} tasks")


def training_sweep(args: argparse.Namespace):
    """The training comparison of the first tier of ``args.scale``, ``args.seeds`` seeds, and a line describing it."""
    from lib.experiments import training  # scikit-learn and the baselines: only for this sweep

    sizes = scales.sizes("training", args.scale)
    tier = training.Tier.of(sizes["tiers"][0])
    options = {name: sizes[name] for name in ("deltas", "steps_near", "steps_random", "batch_size", "sklearn_samples",
                                              "sklearn_epochs", "eval_size")}

    def sweep():
        frame = training.compare(tier, np.random.default_rng(2018), seeds=args.seeds, progress=False, **options).frame()
        return frame.drop(columns=["seconds", "cpu_seconds"])  # the timings differ between runs; the numbers must not

    tasks = args.seeds * (3 * len(set(options["deltas"])) + len(training.METHODS))
    return sweep, f"training comparison ({args.scale} scale): tier {tier.name}, {args.seeds} seeds, {tasks} tasks"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", choices=("table1", "training"), default="table1")
    parser.add_argument("--scale", choices=scales.SCALES, default="paper", help="sizes of the training sweep")
    parser.add_argument("--seeds", type=int, default=2, help="seeds of the training sweep")
    parser.add_argument("--h", type=int, nargs="+", default=[256, 512, 1024, 2048])
    parser.add_argument("--p", type=float, nargs="+", default=list(simulations.PAPER_P))
    parser.add_argument("--points", type=int, default=2)
    parser.add_argument("--max-samples", type=int, default=2**17)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--tiny-tasks", type=int, default=400)
    args = parser.parse_args()
    if args.tiny_tasks < 1:
        parser.error(f"--tiny-tasks must be >= 1, got {args.tiny_tasks}")

    sweep, description = (table1_sweep if args.sweep == "table1" else training_sweep)(args)

    def overhead():
        return execution.map_tasks(tiny, [{"i": i} for i in range(args.tiny_tasks)], seed=0, name="tiny")

    rows = []
    with execution.backend():
        serial = measure(sweep, own_cpu)
        serial_tiny = measure(overhead, own_cpu)
    rows.append(("serial (in-process)", 0.0, serial, serial_tiny))
    for workers in args.workers:
        with execution.backend(workers=workers):
            start = time.perf_counter()
            execution.map_tasks(tiny, [{"i": -1}], seed=0, name="start")  # start the cluster
            # import the sweep's modules on every worker first, as the serial run has them already
            execution._client(execution.current()).run(importlib.import_module, f"lib.experiments.{MODULES[args.sweep]}")
            startup = time.perf_counter() - start
            run = measure(sweep, workers_cpu)
            run_tiny = measure(overhead, workers_cpu)
        rows.append((f"LocalCluster, {workers} worker{'s' * (workers > 1)}", startup, run, run_tiny))

    print(f"{description}; tiny tasks: {args.tiny_tasks}; {os.cpu_count()} cores\n")
    print("| backend | cluster start (s) | sweep wall (s) | sweep CPU (s) | speed-up vs serial | cells identical "
          "| busy cores during sweep | load avg | tiny: ms / task |")
    print("|---|---|---|---|---|---|---|---|---|")
    reference = pickle.dumps(serial["result"])  # bit-identity: every float of every result, not a printed summary
    for label, startup, run, run_tiny in rows:
        print(f"| {label} | {startup:.1f} | {run['wall']:.1f} | {run['cpu']:.1f} | {serial['wall'] / run['wall']:.2f}x "
              f"| {'yes' if pickle.dumps(run['result']) == reference else 'NO'} | {run['busy'] * os.cpu_count():.2f} "
              f"| {run['load']:.1f} | {1000 * run_tiny['wall'] / args.tiny_tasks:.2f} |")


if __name__ == "__main__":
    main()
