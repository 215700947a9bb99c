"""Notebook hygiene: stored without outputs, kernelspec python3, and every chapter in the table of contents."""

import ast
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for entry in toc.get("chapters", []):
        files.append(entry["file"])
    return files


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs", []) == [], f"{path.name}: a code cell keeps outputs"
            assert cell.get("execution_count") is None, f"{path.name}: a code cell keeps an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_ends_with_hidden_checks(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    last = code[-1]
    assert "remove-cell" in last.get("metadata", {}).get("tags", []), f"{path.name}: last code cell is not a remove-cell check"
    assert "assert" in "".join(last["source"]), f"{path.name}: the check cell asserts nothing"


def test_toc_lists_existing_files_and_every_page():
    listed = _toc_files()
    for name in listed:
        assert any((ROOT / f"{name}{ext}").exists() for ext in (".md", ".ipynb")), name
    pages = {p.with_suffix("").relative_to(ROOT).as_posix() for p in (ROOT / "book").glob("*") if p.suffix in (".md", ".ipynb")}
    assert pages == set(listed), f"pages not in _toc.yml: {pages - set(listed)}"


def test_make_book_pre_executes_every_chapter_but_the_ledger():
    """`make book` executes the chapters in parallel before the build; the ledger (07) must come after them."""
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    listed = next(line.split(":=", 1)[1].split() for line in text.splitlines() if line.startswith("CHAPTERS :="))
    chapters = {p.stem for p in NOTEBOOKS} - {"07_claims"}
    assert sorted(listed) == sorted(chapters), "Makefile CHAPTERS must list every notebook except 07_claims, once"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_starts_with_the_colab_cell(path):
    """Colab opens a notebook without `lib`: a hidden first code cell installs it there (only there), at the
    repository URL of `_config.yml`, and selects the smoke sizes."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    nb = json.loads(path.read_text())
    first = next(c for c in nb["cells"] if c["cell_type"] == "code")
    source = "".join(first["source"])
    assert 'if "google.colab" in sys.modules:' in source, f"{path.name}: the first code cell is not the Colab set-up"
    assert "remove-cell" in first.get("metadata", {}).get("tags", []), f"{path.name}: the Colab cell is shown in the HTML"
    assert f'REPOSITORY_URL = "{config["repository"]["url"]}"' in source, f"{path.name}: the Colab cell's URL is not repository.url"
    assert 'os.environ["BOOK_SCALE"] = "smoke"' in source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_live_cells_follow_the_book_pattern(path):
    """A cell that calls `interact(` hides its code and its output and is not executed by the build, under a
    heading "Try it (live in Binder)"."""
    nb = json.loads(path.read_text())
    live = [c for c in nb["cells"] if c["cell_type"] == "code" and "interact(" in "".join(c["source"])]
    for cell in live:
        tags = cell.get("metadata", {}).get("tags", [])
        assert {"hide-input", "remove-output", "skip-execution"} <= set(tags), (
            f"{path.name}: a live cell is not tagged hide-input, remove-output, skip-execution")
    if live:
        text = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
        assert "## Try it (live in Binder)" in text, f"{path.name}: no heading 'Try it (live in Binder)'"


def _widget_calls(source: str, widget_names: set[str], modules: set[str]) -> list[str]:
    """Calls in ``source`` that create ipywidgets: names imported from ipywidgets, or ``module.X(...)``."""
    code = re.sub(r"(?m)^\s*[%!].*$", "", source)  # IPython magics and shell lines are not Python
    found = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in widget_names:
                found.append(func.id)
            elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in modules:
                found.append(f"{func.value.id}.{func.attr}")
    return found


def _widget_imports(sources: list[str]) -> tuple[set[str], set[str]]:
    names, modules = set(), set()
    for source in sources:
        for node in ast.walk(ast.parse(re.sub(r"(?m)^\s*[%!].*$", "", source))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "ipywidgets":
                names |= {alias.asname or alias.name for alias in node.names}
            elif isinstance(node, ast.Import):
                modules |= {alias.asname or alias.name for alias in node.names if alias.name.split(".")[0] == "ipywidgets"}
    return names, modules


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_build_never_executes_widgets(path):
    """A cell that creates a widget (``interact``, a slider, ...) is tagged ``skip-execution``: the book build
    (nbclient) never runs it (jupyter/nbclient#312: a cell with ipywidgets can block the executor for ever);
    nbval, which talks to the kernel itself, and Jupyter/Binder run it."""
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    names, modules = _widget_imports(["".join(c["source"]) for c in code])
    for index, cell in enumerate(code):
        calls = _widget_calls("".join(cell["source"]), names, modules)
        tags = cell.get("metadata", {}).get("tags", [])
        assert not calls or "skip-execution" in tags, (
            f"{path.name}: code cell {index} creates widgets ({', '.join(sorted(set(calls)))}) but is not tagged skip-execution")


def test_the_widget_guard_catches_a_live_cell():
    names, modules = _widget_imports(["from ipywidgets import FloatSlider, interact\nimport ipywidgets as w\n%matplotlib inline"])
    assert _widget_calls("interact(f, x=FloatSlider(value=1.0))", names, modules) == ["interact", "FloatSlider"]
    assert _widget_calls("box = w.VBox([])", names, modules) == ["w.VBox"]
    assert _widget_calls("plot(f(1.0))", names, modules) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_scale_banner(path):
    """The scale is said once, in the introduction; chapters do not print it."""
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        assert 'print(f"BOOK_SCALE' not in "".join(cell["source"]), f"{path.name}: a cell prints the scale"
