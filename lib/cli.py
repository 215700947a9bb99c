"""Command line: regenerate the data of the simulation and training chapters without building the book.

Examples
--------
``python -m lib table1 --scale paper --out table1.csv``
    Table 1 (every cell, ours beside the paper's) at the sizes of ``BOOK_SCALE=paper``.
``python -m lib table1 --scale large --workers 2 --checkpoint ckpt --out table1.parquet``
    The same at ``large`` on a local Dask cluster of two worker processes; rerunning after an
    interruption resumes from the finished cells in ``ckpt/``.
``python -m lib fixed-coherence --scale paper --out fixed.csv``
    Table 1 on Kerdock frames at a fixed coherence (mu = 1, h = 4n), the data of chapter 4b.
``python -m lib landscape --h 1024 --p 0.01 --out landscape.csv``
    Loss, average gradient norm and active units along ``t -> A* + t Delta`` (Figures 1-6).
``python -m lib training --scale paper --workers 2 --out training.parquet``
    The training comparison of chapter 6 (the tied autoencoder and three dictionary learners from
    every start, every tier and seed), one row per run.
``python -m lib sample-complexity --scale large --h 128 256 512 --seeds 2 --methods ae topk --out sc.csv``
    The sample-complexity sweep of chapter 6c: the smallest training set :math:`N^*` at which each
    method recovers 99 % of the atoms, one row per method, ``h`` and seed.

Every command accepts ``--workers N`` (a local Dask cluster) or ``--scheduler ADDRESS`` (an
existing one; default: ``BOOK_WORKERS`` / ``DASK_SCHEDULER_ADDRESS``, else serial), and
``--checkpoint DIR``.  ``--out`` ends in ``.csv`` (provenance in ``#`` comment lines: read it with
``pandas.read_csv(path, comment="#")``) or ``.parquet`` (provenance in the schema metadata under
``lib.provenance``).  ``--scale`` defaults to ``BOOK_SCALE`` when it is set.

Everything is checked before any computing, ``--out`` included (a temporary file is created in its
folder); the result is written atomically (a temporary file, then a rename), so an existing file is
never left half-written.  A bad argument, an impossible size (a memory estimate above what a
worker has) or an unreachable scheduler prints one line, ``python -m lib: error: ...``, on stderr and
exits with status 2; Ctrl-C prints one line and exits with status 130.  A progress bar runs on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from importlib import resources

import numpy as np
import pandas as pd

import lib
from lib import _validate as check
from lib import execution
from lib import scale as scales
from lib.experiments import coherence, simulations

__all__ = ["UsageError", "build_parser", "main"]

PROG = "python -m lib"
DEFAULTS = simulations.Settings()
FORMATS = (".csv", ".parquet")


class UsageError(Exception):
    """A bad command line (reported in one line, exit status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print the usage and a second line
        raise UsageError(message)


def _out(path: str) -> str:
    """``--out``: a new or regular file ending in .csv/.parquet, in a folder where a file can be written."""
    if not path:
        raise argparse.ArgumentTypeError("must name a file, got ''")
    if os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{path!r} is a folder, not a file")
    if os.path.exists(path) and not os.path.isfile(path):
        raise argparse.ArgumentTypeError(f"{path!r} is not a regular file")
    if os.path.splitext(path)[1].lower() not in FORMATS:
        raise argparse.ArgumentTypeError(f"{path!r} must end in {' or '.join(FORMATS)}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"folder {folder!r} does not exist")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".lib-cli-", suffix=".tmp") as probe:
            probe.write(b"0")
            probe.flush()
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot write in {folder!r}: {error.strerror or error}") from None
    return path


def _checkpoint(path: str) -> str:
    """``--checkpoint``: a folder (created if missing) where files can be written."""
    if not path:
        raise argparse.ArgumentTypeError("must name a folder, got ''")
    if os.path.exists(path) and not os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{path!r} exists and is not a folder")
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".lib-cli-", suffix=".tmp"):
            pass
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot write in {path!r}: {error.strerror or error}") from None
    return path


def _number(kind: type, *, minimum: float | None = None, strict: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite ``int``/``float`` above ``minimum`` (argparse prefixes the flag to errors)."""
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {'an integer' if kind is int else 'a number'}, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be finite, got {text}")
        if minimum is not None and (value <= minimum if strict else value < minimum):
            raise argparse.ArgumentTypeError(f"must be {'>' if strict else '>='} {minimum:g}, got {text}")
        return value
    return parse


def _common(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("unrecovered settings of Sec. 6 (defaults: the book's)")
    group.add_argument("--n-fraction", type=_number(float), default=DEFAULTS.n_fraction,
                       help="n = round(n_fraction * h)")
    group.add_argument("--delta", type=_number(float), default=DEFAULTS.delta,
                       help="column-wise distance of the random points")
    group.add_argument("--prefactor", type=_number(float), default=DEFAULTS.prefactor,
                       help="c in eps = c * 2 m1 h^p (delta + coherence)")
    group.add_argument("--low", type=_number(float), default=DEFAULTS.low, help="smallest nonzero value")
    group.add_argument("--high", type=_number(float), default=DEFAULTS.high, help="largest nonzero value")
    group.add_argument("--rounding", choices=("round", "floor", "ceil", "smooth"), default=DEFAULTS.rounding,
                       help="how h^p becomes the support size")
    _where(parser)


def _where(parser: argparse.ArgumentParser) -> None:
    """The arguments every command shares: the seed, the output file, where the tasks run."""
    parser.add_argument("--seed", type=_number(int, minimum=0), default=2018,
                        help="seed of numpy.random.default_rng (>= 0)")
    parser.add_argument("--out", type=_out, required=True, help="file to write: .csv or .parquet")
    run = parser.add_argument_group("where the tasks run")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_number(int, minimum=1), default=None,
                       help="a local Dask cluster of this many worker processes (default: BOOK_WORKERS, else serial)")
    where.add_argument("--scheduler", default=None,
                       help="address of an existing Dask scheduler, e.g. tcp://host:8786 (default: DASK_SCHEDULER_ADDRESS)")
    run.add_argument("--checkpoint", type=_checkpoint, default=None,
                     help="folder of finished tasks: a rerun resumes from them")


def _settings(args: argparse.Namespace) -> simulations.Settings:
    return simulations.Settings(n_fraction=args.n_fraction, delta=args.delta, prefactor=args.prefactor,
                                low=args.low, high=args.high, rounding=args.rounding)


def _default_scale() -> str:
    """``BOOK_SCALE`` when set (a bad value is a usage error naming it), else the book's default."""
    return str(scales.current()) if os.environ.get(scales.ENV_VAR, "").strip() else scales.DEFAULT_SCALE


def _table1(args: argparse.Namespace) -> tuple[pd.DataFrame, dict]:
    sizes = scales.sizes("simulations", args.scale)
    points = sizes["points"] if args.points is None else args.points
    cells = simulations.table1(
        sizes["h_values"], sizes["p_values"], np.random.default_rng(args.seed), _settings(args),
        points=points, batches=sizes["batches"], pilot_per_unit=sizes["pilot_per_unit"], max_samples=sizes["max_samples"])
    frame = simulations.table1_frame(cells)
    frame["point_values"] = frame["point_values"].map(lambda values: " ".join(f"{v:.6g}" for v in values))
    return frame, {"scale": args.scale, "points": points, **asdict(_settings(args))}


def _fixed_coherence(args: argparse.Namespace) -> tuple[pd.DataFrame, dict]:
    sizes = scales.sizes("coherence", args.scale)
    draws = sizes["draws"] if args.draws is None else args.draws
    h_values = sizes["h_values"] if args.family != "gaussian" else sizes["gaussian_h"]
    frame = coherence.table(_settings(args), args.family, h_values, p_values=sizes["p_values"], draws=draws,
                            points=sizes["points"], batches=sizes["batches"], pilot_per_unit=sizes["pilot_per_unit"],
                            max_samples=sizes["max_samples"], seed=args.seed)
    frame["point_values"] = frame["point_values"].map(lambda values: " ".join(f"{v:.6g}" for v in values))
    return frame, {"scale": args.scale, "family": args.family, "draws": draws, **asdict(_settings(args))}


def _training(args: argparse.Namespace) -> tuple[pd.DataFrame, dict]:
    from lib.experiments import training  # scikit-learn and the baselines: only for this command

    sizes = scales.sizes("training", args.scale)
    seeds = sizes["seeds"] if args.seeds is None else args.seeds
    rng = np.random.default_rng(args.seed)
    tiers = [training.Tier.of(spec) for spec in sizes["tiers"]]
    frames = [training.compare(tier, rng, seeds=seeds, deltas=sizes["deltas"], steps_near=sizes["steps_near"],
                               steps_random=sizes["steps_random"], batch_size=sizes["batch_size"],
                               sklearn_samples=sizes["sklearn_samples"], sklearn_epochs=sizes["sklearn_epochs"],
                               eval_size=sizes["eval_size"]).frame() for tier in tiers]
    names = ("steps_near", "steps_random", "batch_size", "sklearn_samples", "sklearn_epochs", "eval_size")
    return pd.concat(frames, ignore_index=True), {"scale": args.scale, "seeds": seeds,
                                                   "tiers": " ".join(tier.name.replace(" ", "") for tier in tiers),
                                                   **{name: sizes[name] for name in names}}


SAMPLE_METHODS = {"ae": "tied ReLU AE", "arora": "Arora et al. 2015", "topk": "TopK + revival", "sklearn": "sklearn MBDL"}


def _sample_complexity(args: argparse.Namespace) -> tuple[pd.DataFrame, dict]:
    from lib.experiments import random_starts as rs  # scikit-learn and the baselines: only for this command

    sizes = scales.sizes("random_starts", args.scale)
    h_values = sizes["sc_h"] if args.h is None else args.h
    seeds = sizes["sc_seeds"] if args.seeds is None else args.seeds
    methods = sizes["sc_methods"] if args.methods is None else [SAMPLE_METHODS[m] for m in dict.fromkeys(args.methods)]
    max_factor = sizes["sc_max_factor"] if args.max_factor is None else args.max_factor
    if max_factor < sizes["sc_start_factor"]:
        raise UsageError(f"--max-factor must be >= the search's start factor {sizes['sc_start_factor']:g}, got {max_factor:g}")
    params = {"ratio": sizes["sc_ratio"], "k": sizes["sc_k"], "eps": sizes["sc_eps"], "delta": sizes["sc_delta"],
              "steps": sizes["sc_steps"], "batch_size": sizes["sc_batch_size"], "start_factor": sizes["sc_start_factor"],
              "max_factor": max_factor}
    for h in h_values:  # the largest training set of every h, refused before anything runs
        check.allocation("--h, --max-factor", rs.sample_memory(h, params["ratio"], params["k"], max_factor))
    tasks = rs.min_samples_tasks(h_values, seeds, methods, first_seed=args.seed, **params)
    frame = pd.DataFrame(rs.run_tasks(rs.min_samples_task, tasks, desc="sample complexity"))
    frame["attempts"] = frame["attempts"].map(json.dumps)  # every N tried: [{"N", "fraction", "median_cos"}, ...]
    return frame, {"scale": args.scale, "h": " ".join(str(h) for h in h_values), "seeds": seeds,
                   "methods": "; ".join(methods), **params}


def _landscape_memory(h: int, n: int, k: int, samples: int, steps: int) -> float:
    """Bytes: the dictionary, the direction and one structure (``W``, ``WA*``, ``WW^T``), the codes, the columns."""
    return 8.0 * (6 * h * n + 2 * h * h + 2 * samples * k + 12 * steps)


def _landscape(args: argparse.Namespace) -> tuple[pd.DataFrame, dict]:
    check.integer(args.h, "--h", minimum=2)
    check.exponent(args.p, "--p")
    settings = _settings(args)
    need = _landscape_memory(args.h, settings.n(args.h), settings.k(args.h, args.p), args.samples, args.steps)
    limit = execution.Backend().worker_memory()  # the landscape runs in this process
    if need > limit:
        raise UsageError(f"--h/--samples/--steps need about {need / 2**30:.3g} GiB but this machine has "
                         f"{limit / 2**30:.3g} GiB")
    if args.batches > args.samples:
        raise UsageError(f"--batches must be <= --samples, got {args.batches} > {args.samples}")
    result = simulations.landscape(
        args.h, args.p, np.random.default_rng(args.seed), settings,
        t_values=np.linspace(-args.t_max, args.t_max, args.steps), samples=args.samples, batches=args.batches,
        delta=args.bias_delta)
    sizes = {name: getattr(args, name) for name in ("h", "p", "t_max", "steps", "samples", "batches", "bias_delta")}
    return result.frame(), {**sizes, **asdict(settings)}


def _code_version() -> str:
    """``lib.__version__`` and a hash of every source file of ``lib``."""
    digest = hashlib.sha256()
    root = resources.files(lib)
    for path in sorted(str(p) for p in _sources(root)):
        digest.update(path.encode())
        digest.update(open(path, "rb").read())
    return f"{lib.__version__}+{digest.hexdigest()[:12]}"


def _sources(folder):
    for entry in folder.iterdir():
        if entry.is_dir() and entry.name != "__pycache__":
            yield from _sources(entry)
        elif entry.name.endswith(".py"):
            yield entry


def _write(frame: pd.DataFrame, path: str, provenance: dict) -> None:
    """Write ``frame`` with its provenance to ``path`` atomically (temporary file, then rename)."""
    folder = os.path.dirname(os.path.abspath(path))
    handle = tempfile.NamedTemporaryFile("w", dir=folder, prefix=".lib-cli-", suffix=".tmp", delete=False,
                                         newline="", encoding="utf-8")
    try:
        with handle:
            if path.lower().endswith(".parquet"):
                import pyarrow as pa
                import pyarrow.parquet as pq

                table = pa.Table.from_pandas(frame, preserve_index=False)
                metadata = {**(table.schema.metadata or {}), b"lib.provenance": json.dumps(provenance).encode()}
                pq.write_table(table.replace_schema_metadata(metadata), handle.name)
            else:
                handle.writelines(f"# {key}={value}\n" for key, value in provenance.items())
                frame.to_csv(handle, index=False)
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(handle.name)
        raise


def _scale(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scale", choices=scales.SCALES, default=None,
                        help=f"sizes to use (default: {scales.ENV_VAR} if set, else {scales.DEFAULT_SCALE})")


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m lib`` parser with the subcommands ``table1``, ``fixed-coherence``, ``landscape``, ``training`` and ``sample-complexity``."""
    parser = _Parser(prog=PROG, description="Regenerate the data of the book's simulation chapter (paper Sec. 6) "
                                            "and of its training comparison.")
    commands = parser.add_subparsers(dest="command", required=True,
                                     metavar="{table1,fixed-coherence,landscape,training,sample-complexity}")
    table = commands.add_parser("table1", help="Table 1: average gradient norm near A* for every (h, p)")
    _scale(table)
    table.add_argument("--points", type=_number(int, minimum=1), default=None,
                       help="random points per cell (default: the scale's)")
    _common(table)
    table.set_defaults(run=_table1)
    fixed = commands.add_parser("fixed-coherence",
                                help="Table 1 on dictionaries at a fixed coherence (mu = 1, h = 4n), chapter 4b")
    _scale(fixed)
    fixed.add_argument("--family", choices=coherence.FAMILIES, default="kerdock",
                       help="dictionary family (kerdock: real mutually unbiased bases, coherence exactly 1/sqrt(n))")
    fixed.add_argument("--draws", type=_number(int, minimum=1), default=None,
                       help="independent dictionaries per h (default: the scale's)")
    _common(fixed)
    fixed.set_defaults(run=_fixed_coherence)
    line = commands.add_parser("landscape", help="loss and gradient norm along t -> A* + t Delta (Figures 1-6)")
    line.add_argument("--h", type=_number(int, minimum=2), required=True, help="hidden units (and atoms)")
    line.add_argument("--p", type=_number(float, minimum=0, strict=True), required=True,
                      help="sparsity exponent, 0 < p < 1")
    line.add_argument("--t-max", type=_number(float, minimum=0, strict=True), default=1.5,
                      help="t runs over [-t_max, t_max]")
    line.add_argument("--steps", type=_number(int, minimum=2), default=41, help="number of t values")
    line.add_argument("--samples", type=_number(int, minimum=2), default=16384, help="size of the data set")
    line.add_argument("--batches", type=_number(int, minimum=2), default=8, help="batches of the jackknife")
    line.add_argument("--bias-delta", type=_number(float, minimum=0), default=None,
                      help="radius that sets the bias (default: --delta; large values give Figures 5-6)")
    _common(line)
    line.set_defaults(run=_landscape, scale=None)
    train = commands.add_parser("training", help="the training comparison of chapter 6: every method, start, tier "
                                                 "and seed, one row per run")
    _scale(train)
    train.add_argument("--seeds", type=_number(int, minimum=1), default=None,
                       help="independent dictionaries per tier (default: the scale's)")
    _where(train)
    train.set_defaults(run=_training)
    samples = commands.add_parser("sample-complexity",
                                  help="the sample-complexity sweep of chapter 6c: the smallest training set at which "
                                       "each method recovers 99 %% of the atoms, one row per method, h and seed")
    _scale(samples)
    samples.add_argument("--h", type=_number(int, minimum=4), nargs="+", default=None,
                         help="hidden units (atoms), n = h/2 (default: the scale's)")
    samples.add_argument("--seeds", type=_number(int, minimum=1), default=None,
                         help="independent instances per h: seeds --seed, --seed + 1, ... (default: the scale's)")
    samples.add_argument("--methods", nargs="+", choices=tuple(SAMPLE_METHODS), default=None,
                         help="ae: tied ReLU autoencoder, arora: Arora et al. 2015, topk: TopK + revival, "
                              "sklearn: scikit-learn's dictionary learning (default: the scale's)")
    samples.add_argument("--max-factor", type=_number(float, minimum=1), default=None,
                         help="largest training set tried, in multiples of h (default: the scale's)")
    _where(samples)
    samples.set_defaults(run=_sample_complexity, seed=0)
    return parser


def _run(args: argparse.Namespace) -> None:
    """Validate what argparse cannot, choose the backend, compute, and write the result atomically."""
    if args.command in ("table1", "fixed-coherence", "training", "sample-complexity") and args.scale is None:
        args.scale = _default_scale()
    if hasattr(args, "n_fraction"):
        _settings(args)  # the settings' ranges and consistency (high > low), before anything runs
    if args.scheduler is not None and not args.scheduler.strip():
        raise UsageError("--scheduler must be an address such as tcp://host:8786, got ''")
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")  # errors are ours to report, in one line
    with execution.backend(workers=args.workers, scheduler=args.scheduler, checkpoint=args.checkpoint) as chosen:
        frame, extra = args.run(args)
    provenance = {"command": args.command, **extra, "seed": args.seed, "code_version": _code_version(),
                  "backend": chosen.describe(), "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    _write(frame, args.out, provenance)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 success, 2 user error, 130 interrupted)."""
    try:
        _run(build_parser().parse_args(argv))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except (UsageError, ValueError, TypeError, OSError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    return 0
