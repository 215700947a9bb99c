"""Execute the book's chapters once, in parallel, into the Jupyter cache that ``jupyter-book build`` reads.

``make book`` runs this before the build so that the build only renders:

* each chapter runs in its own kernel, ``--jobs`` at a time (one per core), longest first; the chapters
  named by ``--after`` (the claims ledger, which reads what the others recorded) run once all the others
  have succeeded;
* cells tagged ``skip-execution`` (the live cells with sliders) are not run: executing ipywidgets at build
  time only exposes the build to jupyter/nbclient#312, and the HTML cannot use a live widget;
* every cell has the per-cell time-out of the scale (:func:`lib.scale.cell_timeout`), so a stuck cell
  fails in minutes, and the failure names the chapter, the cell and the first lines of its code;
* a failure stops the run (exit status 1) before the build, which therefore never starts a second
  attempt; the time of every cell goes to ``--times`` (JSON), the slowest printed, so the time-outs can
  be sized from a measurement.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import nbformat

LIVE_TAG = "skip-execution"


@dataclass
class Outcome:
    """What executing one chapter gave: ``error`` is empty on success; ``cells`` maps cell index to seconds."""

    chapter: str
    seconds: float
    error: str = ""
    cells: dict[int, float] = field(default_factory=dict)


def _cell_seconds(cell: nbformat.NotebookNode) -> float | None:
    timing = cell.metadata.get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _describe(nb: nbformat.NotebookNode, index: int | None) -> str:
    if index is None:
        return "a cell"
    code = nb.cells[index].source.strip().splitlines()
    preview = "\n".join(f"    | {line}" for line in code[:6]) + ("\n    | ..." if len(code) > 6 else "")
    return f"cell {index} (the notebook's cell number, from 0):\n{preview}"


def execute(path: Path, timeout: int, cache_path: Path | None) -> Outcome:
    """Execute the notebook at ``path`` (cells tagged ``skip-execution`` skipped) and cache it on success."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=False, record_timing=True,
                            skip_cells_with_tag=LIVE_TAG, resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    current: list[int] = []
    client.on_cell_start = lambda cell, cell_index: current.append(cell_index)
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError, TimeoutError, RuntimeError) as error:
        where = _describe(nb, current[-1] if current else None)
        kind = "timed out" if isinstance(error, (CellTimeoutError, TimeoutError)) else "failed"
        head = str(error).strip().splitlines()
        message = f"{path.stem}: {where}\n  {kind} after {time.perf_counter() - start:.0f} s (per-cell limit {timeout} s): "
        return Outcome(path.stem, time.perf_counter() - start, message + (head[-1] if head else type(error).__name__))
    seconds = time.perf_counter() - start
    cells = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            spent = _cell_seconds(cell)
            if spent is not None:
                cells[index] = round(spent, 2)
            cell.metadata.pop("execution", None)  # the cache matches the stored notebook's metadata exactly
    if cache_path is not None:
        from jupyter_cache import get_cache
        from jupyter_cache.base import CacheBundleIn

        get_cache(str(cache_path)).cache_notebook_bundle(
            CacheBundleIn(nb, str(path.resolve()), data={"execution_seconds": seconds}), check_validity=False, overwrite=True)
    return Outcome(path.stem, seconds, "", cells)


def run(paths: list[Path], after: list[Path], timeout: int, jobs: int, cache_path: Path | None) -> list[Outcome]:
    """Execute ``paths`` on ``jobs`` processes, then ``after`` (only if all of ``paths`` succeeded)."""
    outcomes: list[Outcome] = []
    for stage in (paths, after):
        if not stage or any(o.error for o in outcomes):
            continue
        with ProcessPoolExecutor(max_workers=max(1, min(jobs, len(stage)))) as pool:
            for outcome in pool.map(execute, stage, [timeout] * len(stage), [cache_path] * len(stage)):
                status = "FAILED" if outcome.error else "ok"
                print(f"execute: {outcome.chapter}: {status} in {outcome.seconds:.0f} s", flush=True)
                outcomes.append(outcome)
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.execute_chapters", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path, help="chapters, longest first")
    parser.add_argument("--after", nargs="*", type=Path, default=[], help="chapters run once all the others succeeded")
    parser.add_argument("--scale", default=None, help="BOOK_SCALE whose per-cell time-out applies (default: $BOOK_SCALE)")
    parser.add_argument("--jobs", type=int, default=2, help="chapters executed at once (default 2)")
    parser.add_argument("--cache", type=Path, default=None, help="the Jupyter cache to store the executed chapters in")
    parser.add_argument("--times", type=Path, default=None, help="write every cell's seconds here (JSON)")
    args = parser.parse_args(argv)
    import lib.scale

    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    missing = [str(p) for p in [*args.notebooks, *args.after] if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    timeout = lib.scale.cell_timeout(args.scale)
    print(f"execute: {len(args.notebooks) + len(args.after)} chapters, {args.jobs} at a time, per-cell limit {timeout} s", flush=True)
    outcomes = run(args.notebooks, args.after, timeout, args.jobs, args.cache)
    if args.times is not None:
        args.times.parent.mkdir(parents=True, exist_ok=True)
        args.times.write_text(json.dumps([asdict(o) for o in outcomes], indent=1))
    slowest = sorted(((s, o.chapter, i) for o in outcomes for i, s in o.cells.items()), reverse=True)[:5]
    if slowest:
        print("execute: slowest cells: " + ", ".join(f"{c} cell {i} {s:.0f} s" for s, c, i in slowest), flush=True)
    failed = [o for o in outcomes if o.error]
    for outcome in failed:
        print(f"execute: FAILED {outcome.error}", file=sys.stderr, flush=True)
    not_run = len(args.notebooks) + len(args.after) - len(outcomes)
    if failed or not_run:
        print(f"execute: {len(failed)} chapter(s) failed" + (f", {not_run} not run" if not_run else "")
              + "; the book is not built", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
