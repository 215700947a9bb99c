"""Notebook hygiene: stored without outputs, kernelspec python3, and every chapter in the table of contents."""

import ast
import json
import re
from pathlib import Path

import pytest
import yaml

import lib.chapters
import lib.scale

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
    source = "".join(last["source"])
    assert "lib.claims.check(" in source or "assert" in source, f"{path.name}: the check cell checks nothing"
    assert "def record" not in source and "claims.record(" not in source, (
        f"{path.name}: claims go through lib.claims.check (one call, keyword-only), not a local wrapper or record")


def test_toc_lists_existing_files_and_every_page():
    listed = _toc_files()
    for name in listed:
        assert any((ROOT / f"{name}{ext}").exists() for ext in (".md", ".ipynb")), name
    pages = {p.with_suffix("").relative_to(ROOT).as_posix() for p in (ROOT / "book").glob("*") if p.suffix in (".md", ".ipynb")}
    assert pages == set(listed), f"pages not in _toc.yml: {pages - set(listed)}"


def test_the_toc_is_the_chapter_registry_in_order():
    """``_toc.yml`` lists exactly the registry's documents (lib.chapters), in its order."""
    assert _toc_files() == [c.doc for c in lib.chapters.CHAPTERS]


def test_every_registered_chapter_has_its_notebook_sizes_and_module():
    """An executed chapter is a notebook with sizes in lib.scale and a module of lib.experiments; every notebook is executed."""
    notebooks = {p.with_suffix("").relative_to(ROOT).as_posix() for p in NOTEBOOKS}
    executed = {c.doc for c in lib.chapters.executed()}
    assert executed | {lib.chapters.LEDGER} == notebooks, "every notebook is executed (the ledger after the others), and only notebooks"
    for chapter in lib.chapters.CHAPTERS:
        if chapter.sizes:
            assert chapter.sizes in lib.scale.SIZES, f"{chapter.doc}: no sizes {chapter.sizes!r} in lib.scale.SIZES"
            assert (ROOT / "lib" / "experiments" / f"{chapter.sizes}.py").exists(), f"{chapter.doc}: no lib/experiments/{chapter.sizes}.py"
        if chapter.claims:
            assert chapter.doc in executed, f"{chapter.doc} must record its claims ({chapter.claims}) when executed"
    assert sorted(c.sizes for c in lib.chapters.CHAPTERS if c.sizes) == sorted(lib.scale.SIZES), "sizes without a chapter"


def test_the_makefile_takes_its_chapters_from_the_registry():
    text = (ROOT / "Makefile").read_text()
    assert "python -m lib.chapters execute" in text and "python -m lib.chapters ledger" in text
    assert not any(c.name in text for c in lib.chapters.CHAPTERS), "a chapter named in the Makefile: take it from lib.chapters"


def test_the_intro_map_is_generated_from_the_registry():
    intro = (ROOT / "book" / "00_intro.md").read_text()
    assert "```{chapter-map}" in intro and "| chapter | what it reproduces |" not in intro
    assert all(what and paper for _, what, paper in lib.chapters.map_rows())


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


_PRIVATE_NOTES = re.compile(r"\b(MATH|DESIGN|DICTIONARIES|ESTIMATORS|BASELINES)\.md\b")


def test_references_resolve():
    """What the book and the code cite is in the book: no developers' notes, and every "appendix §N" is a
    section ``app-math-N`` of the appendix (book/90_reconstruction.md)."""
    appendix = (ROOT / "book" / "90_reconstruction.md").read_text()
    files = [p for folder in ("lib", "tests", "benchmarks", "tools", "_ext", "book") for p in (ROOT / folder).rglob("*")
             if p.suffix in (".py", ".md", ".ipynb") and p.name != "test_notebooks.py"]
    for path in files:
        text = path.read_text()
        assert not _PRIVATE_NOTES.search(text), f"{path.relative_to(ROOT)} cites {_PRIVATE_NOTES.search(text).group(0)}, which readers do not have"
        for section in re.findall(r"appendix §(\d+(?:\.\d+)?)", text):
            label = "app-math-" + section.replace(".", "-")
            assert f"({label})=" in appendix, f"{path.relative_to(ROOT)} cites appendix §{section}, which has no label {label}"


def test_the_browser_check_catches_leaked_templates_and_numbers_run_together():
    """The rendered-text check of tests/test_browser.py (run on every page) against counterexamples."""
    import test_browser

    caught = {m.group(0) for m in test_browser.PLACEHOLDERS.finditer(
        "built at {{ book_scale }}; λ 0.70000.0938 0.0214; ratio 0.25, version 8.1.5, seed 6.170.15")}
    assert caught == {"{{", "}}", "0.70000.0"}
