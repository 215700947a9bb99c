"""The executors behind the two commands: ``tools/execute_chapters.py`` (``make book``) and the nbval plugin
``tools/nbval_outputs.py`` (``make test``), on tiny notebooks in a temporary directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_cache import get_cache

from tools import execute_chapters

ROOT = Path(__file__).resolve().parents[1]


def _notebook(path: Path, *cells: tuple[str, list[str]]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source, metadata={"tags": tags} if tags else {}) for source, tags in cells]
    nbformat.write(nb, str(path))
    return path


def test_a_chapter_runs_once_without_its_live_cells_and_lands_in_the_cache(tmp_path):
    path = _notebook(tmp_path / "ok.ipynb", ("x = 6 * 7\nprint(x)", []),
                     ("raise RuntimeError('a live cell ran at build time')", ["skip-execution"]), ("x + 1", []))
    outcome = execute_chapters.execute(path, timeout=60, cache_path=tmp_path / "cache")
    assert outcome.error == "" and set(outcome.cells) == {0, 2}  # the live cell (1) was skipped
    source = nbformat.read(str(path), as_version=4)
    record = get_cache(str(tmp_path / "cache")).match_cache_notebook(source)  # what jupyter-book will look up
    cached = get_cache(str(tmp_path / "cache")).get_cache_bundle(record.pk).nb
    assert cached.cells[0].outputs[0]["text"] == "42\n" and cached.cells[1].outputs == []
    assert cached.cells[2].outputs[0]["data"]["text/plain"] == "43"


def test_a_failing_cell_is_named_with_its_chapter(tmp_path):
    path = _notebook(tmp_path / "bad.ipynb", ("y = 1", []), ("def f():\n    return 1 / 0\nf()", []))
    outcome = execute_chapters.execute(path, timeout=60, cache_path=tmp_path / "cache")
    assert outcome.error.startswith("bad: cell 1") and "return 1 / 0" in outcome.error and "ZeroDivisionError" in outcome.error
    assert not (tmp_path / "cache").exists() or not get_cache(str(tmp_path / "cache")).list_cache_records()


def test_a_stuck_cell_fails_at_the_per_cell_limit_naming_itself(tmp_path):
    path = _notebook(tmp_path / "stuck.ipynb", ("import threading", []), ("threading.Event().wait()  # never set", []))
    outcome = execute_chapters.execute(path, timeout=3, cache_path=None)
    assert outcome.error.startswith("stuck: cell 1") and "threading.Event().wait()" in outcome.error
    assert "timed out" in outcome.error and "per-cell limit 3 s" in outcome.error


def test_after_runs_only_when_every_chapter_succeeded(tmp_path, capsys):
    bad = _notebook(tmp_path / "bad.ipynb", ("raise ValueError('no')", []))
    ledger = _notebook(tmp_path / "ledger.ipynb", ("1", []))
    outcomes = execute_chapters.run([bad], [ledger], timeout=60, jobs=2, cache_path=None)
    assert [o.chapter for o in outcomes] == ["bad"] and outcomes[0].error
    assert execute_chapters.main([str(bad), "--after", str(ledger), "--scale", "smoke", "--jobs", "1"]) == 1
    assert "1 chapter(s) failed, 1 not run; the book is not built" in capsys.readouterr().err


def test_bad_arguments_are_one_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        execute_chapters.main([str(tmp_path / "missing.ipynb")])
    assert "no such notebook" in capsys.readouterr().err
    path = _notebook(tmp_path / "ok.ipynb", ("1", []))
    with pytest.raises(SystemExit):
        execute_chapters.main([str(path), "--jobs", "0"])
    assert "--jobs must be >= 1" in capsys.readouterr().err


def test_nbval_runs_every_cell_once_and_its_run_is_what_the_build_renders(tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    _notebook(book / "ch.ipynb", ("print('hello')", []), ("z = 5\nz", ["skip-execution"]), ("z * 2", []))
    _notebook(book / "broken.ipynb", ("raise KeyError('x')", []))
    saved, cache = tmp_path / "executed", tmp_path / "cache"
    run = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:randomly",
                          "-p", "tools.nbval_outputs", "--nbval-save", str(saved), "-q", "-p", "no:cacheprovider",
                          str(book)], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 1, run.stdout  # the broken notebook fails ...
    assert sorted(p.name for p in saved.iterdir()) == ["ch.ipynb"]  # ... and is not saved
    executed = nbformat.read(str(saved / "ch.ipynb"), as_version=4)
    assert executed.cells[0].outputs[0]["text"] == "hello\n"
    assert executed.cells[1].outputs == []  # the live cell ran (z is defined below) but shows nothing
    assert executed.cells[2].outputs[0]["data"]["text/plain"] == "10"
    tool = [sys.executable, "-m", "tools.nbval_outputs"]
    assert subprocess.run([*tool, "cache", str(saved), str(cache), "--book", str(book)], cwd=ROOT).returncode == 0
    store = get_cache(str(cache))
    assert store.match_cache_notebook(nbformat.read(str(book / "ch.ipynb"), as_version=4))
    assert subprocess.run([*tool, "check", str(saved), str(cache)], cwd=ROOT).returncode == 0
    other = nbformat.read(str(book / "broken.ipynb"), as_version=4)  # as if the build had executed one itself
    from jupyter_cache.base import CacheBundleIn

    store.cache_notebook_bundle(CacheBundleIn(other, str(book / "broken.ipynb")), check_validity=False)
    check = subprocess.run([*tool, "check", str(saved), str(cache)], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 1 and "the build executed broken itself" in check.stderr
