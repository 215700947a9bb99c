"""A pytest plugin: nbval's run of each notebook, kept, so that ``make test`` executes every chapter once.

nbval runs every code cell of a notebook in one kernel (the live cells with sliders included, which the
book build never executes: jupyter/nbclient#312).  With ``--nbval-save DIR`` this plugin writes each
notebook whose cells all passed to ``DIR/<name>.ipynb`` with the outputs nbval received, except those
of the cells tagged ``skip-execution`` (the live cells: the book shows no kernel widget); ``python -m
tools.nbval_outputs cache DIR CACHE`` then stores them in the Jupyter cache that ``jupyter-book build``
reads, so the smoke build renders these runs instead of executing the chapters a second time.

A notebook with a failed cell is not written: the build then finds no cached run for it and fails on it
(``nb_execution_raise_on_error``), naming the chapter.

``python -m tools.nbval_outputs check DIR CACHE`` after the build fails if the build executed anything
itself (the cache then holds records these runs did not put there).

Load it with ``-p tools.nbval_outputs`` and run it with ``-p no:randomly``: a notebook's cells run in
order, and with pytest-xdist, ``--dist loadfile`` keeps a notebook on one worker.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import nbformat
import pytest

from tools.execute_chapters import LIVE_TAG

_RUNS: dict[str, dict] = {}  # notebook path -> {"items": [...], "failed": bool}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--nbval-save", metavar="DIR", default=None,
                     help="write each fully passing notebook, with nbval's outputs, to DIR/<name>.ipynb")


def _is_cell(item: pytest.Item) -> bool:
    return type(item).__name__ == "IPyNbCell" and hasattr(item, "cell")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    if _is_cell(item) and item.config.getoption("nbval_save"):
        run = _RUNS.setdefault(str(item.parent.path), {"items": [], "failed": False})
        report = outcome.get_result()
        if report.when == "call":
            run["items"].append(item)
        if report.failed or (report.when == "call" and report.skipped):
            run["failed"] = True


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    target = item.config.getoption("nbval_save") if _is_cell(item) else None
    if not target or (nextitem is not None and nextitem.parent is item.parent):
        return
    run = _RUNS.pop(str(item.parent.path), None)
    if run is None or run["failed"]:
        return
    write(item.parent.nb, run["items"], Path(target) / Path(item.parent.path).name)


def write(nb: nbformat.NotebookNode, items: list, path: Path) -> None:
    """Write ``nb`` with the outputs each nbval cell item received (none for live cells)."""
    executed = copy.deepcopy(nb)
    code = [cell for cell in executed.cells if cell.cell_type == "code"]
    by_number = {item.cell_num: item for item in items}
    if sorted(by_number) != list(range(len(code))):
        raise RuntimeError(f"{path.name}: nbval ran cells {sorted(by_number)} of {len(code)}")
    for number, cell in enumerate(code):
        live = LIVE_TAG in cell.metadata.get("tags", [])
        outputs = [] if live else [nbformat.from_dict(dict(out)) for out in by_number[number].test_outputs or []]
        for out in outputs:
            if out.output_type == "execute_result":
                out.execution_count = number + 1
        cell.outputs = outputs
        cell.execution_count = number + 1
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(executed, str(path))


def cache(directory: Path, cache_path: Path, book: Path) -> list[str]:
    """Store every notebook of ``directory`` in the Jupyter cache at ``cache_path``; return their names."""
    from jupyter_cache import get_cache

    store = get_cache(str(cache_path))
    names = []
    for path in sorted(directory.glob("*.ipynb")):
        store.cache_notebook_file(str(path), uri=str((book / path.name).resolve()), check_validity=False, overwrite=True)
        names.append(path.stem)
    return names


def check(directory: Path, cache_path: Path) -> list[str]:
    """Problems with the cache at ``cache_path`` after a build that should have executed nothing."""
    from jupyter_cache import get_cache

    store = get_cache(str(cache_path))
    ours = {store.create_hashed_notebook(nbformat.read(str(p), nbformat.NO_CONVERT))[1]: p.stem
            for p in sorted(directory.glob("*.ipynb"))}
    records = {record.hashkey: record.uri for record in store.list_cache_records()}
    problems = [f"the build executed {Path(uri).stem} itself (no matching run of nbval)"
                for key, uri in records.items() if key not in ours]
    problems += [f"the run of {name} is missing from the cache" for key, name in ours.items() if key not in records]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.nbval_outputs", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    store = sub.add_parser("cache", help="store the saved notebooks in a Jupyter cache")
    store.add_argument("directory", type=Path)
    store.add_argument("cache", type=Path)
    store.add_argument("--book", type=Path, default=Path("book"))
    verify = sub.add_parser("check", help="after the build: it executed nothing itself")
    verify.add_argument("directory", type=Path)
    verify.add_argument("cache", type=Path)
    args = parser.parse_args(argv)
    if not args.directory.is_dir():
        parser.error(f"{args.directory} does not exist: run `make notebooks` first")
    if args.command == "cache":
        names = cache(args.directory, args.cache, args.book)
        print(f"nbval_outputs: cached {len(names)} executed notebooks: {' '.join(names)}")
        return 0
    problems = check(args.directory, args.cache)
    for problem in problems:
        print(f"nbval_outputs: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
