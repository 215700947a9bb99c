"""Command line: regenerate the data of the simulation chapter without building the book.

Examples
--------
``python -m lib table1 --scale paper --out table1.csv``
    Table 1 (every cell, ours beside the paper's) at the sizes of ``BOOK_SCALE=paper``.
``python -m lib landscape --h 1024 --p 0.01 --out landscape.csv``
    Loss, average gradient norm and active units along ``t -> A* + t Delta`` (Figures 1-6).

Both show a progress bar on stderr.  A bad argument prints one line, ``python -m lib: error: ...``,
on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import numpy as np

from lib import scale as scales
from lib.experiments import simulations

PROG = "python -m lib"
DEFAULTS = simulations.Settings()


class UsageError(Exception):
    """A bad command line (reported in one line, exit status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print the usage and a second line
        raise UsageError(message)


def _settings_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("unrecovered settings of Sec. 6 (defaults: the book's)")
    group.add_argument("--n-fraction", type=float, default=DEFAULTS.n_fraction, help="n = round(n_fraction * h)")
    group.add_argument("--delta", type=float, default=DEFAULTS.delta, help="column-wise distance of the random points")
    group.add_argument("--prefactor", type=float, default=DEFAULTS.prefactor,
                       help="c in eps = c * 2 m1 h^p (delta + coherence)")
    group.add_argument("--low", type=float, default=DEFAULTS.low, help="smallest nonzero value")
    group.add_argument("--high", type=float, default=DEFAULTS.high, help="largest nonzero value")
    group.add_argument("--rounding", choices=("round", "floor", "ceil"), default=DEFAULTS.rounding,
                       help="how h^p becomes the support size")
    parser.add_argument("--seed", type=int, default=2018, help="seed of numpy.random.default_rng")
    parser.add_argument("--out", type=_writable, required=True, help="CSV file to write")


def _writable(path: str) -> str:
    """``--out``: a file in an existing folder (checked before hours of computing, not after)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"folder {folder!r} does not exist")
    if os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{path!r} is a folder, not a file")
    return path


def _settings(args: argparse.Namespace) -> simulations.Settings:
    return simulations.Settings(n_fraction=args.n_fraction, delta=args.delta, prefactor=args.prefactor,
                                low=args.low, high=args.high, rounding=args.rounding)


def _table1(args: argparse.Namespace) -> None:
    sizes = scales.sizes("simulations", args.scale)
    cells = simulations.table1(
        sizes["h_values"], sizes["p_values"], np.random.default_rng(args.seed), _settings(args),
        points=sizes["points"] if args.points is None else args.points, batches=sizes["batches"], pilot_per_unit=sizes["pilot_per_unit"],
        max_samples=sizes["max_samples"])
    frame = simulations.table1_frame(cells)
    frame["point_values"] = frame["point_values"].map(lambda values: " ".join(f"{v:.6g}" for v in values))
    frame.to_csv(args.out, index=False)


def _landscape(args: argparse.Namespace) -> None:
    if args.steps < 2:
        raise UsageError(f"--steps must be >= 2, got {args.steps}")
    if not args.t_max > 0:
        raise UsageError(f"--t-max must be > 0, got {args.t_max}")
    result = simulations.landscape(
        args.h, args.p, np.random.default_rng(args.seed), _settings(args),
        t_values=np.linspace(-args.t_max, args.t_max, args.steps), samples=args.samples, batches=args.batches,
        delta=args.bias_delta)
    result.frame().to_csv(args.out, index=False)


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m lib`` parser with the subcommands ``table1`` and ``landscape``."""
    parser = _Parser(prog=PROG, description="Regenerate the data of the book's simulation chapter (paper Sec. 6).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{table1,landscape}")
    table = commands.add_parser("table1", help="Table 1: average gradient norm near A* for every (h, p)")
    table.add_argument("--scale", choices=scales.SCALES, default=scales.DEFAULT_SCALE, help="sizes to use")
    table.add_argument("--points", type=int, default=None, help="random points per cell (default: the scale's)")
    _settings_arguments(table)
    table.set_defaults(run=_table1)
    line = commands.add_parser("landscape", help="loss and gradient norm along t -> A* + t Delta (Figures 1-6)")
    line.add_argument("--h", type=int, required=True, help="hidden units (and atoms)")
    line.add_argument("--p", type=float, required=True, help="sparsity exponent, 0 < p < 1")
    line.add_argument("--t-max", type=float, default=1.5, help="t runs over [-t_max, t_max]")
    line.add_argument("--steps", type=int, default=41, help="number of t values")
    line.add_argument("--samples", type=int, default=16384, help="size of the data set")
    line.add_argument("--batches", type=int, default=8, help="batches of the jackknife")
    line.add_argument("--bias-delta", type=float, default=None,
                      help="radius that sets the bias (default: --delta; large values give Figures 5-6)")
    _settings_arguments(line)
    line.set_defaults(run=_landscape)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 on success, 2 on a bad argument)."""
    try:
        args = build_parser().parse_args(argv)
        args.run(args)
    except (UsageError, ValueError, TypeError, OSError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    return 0
