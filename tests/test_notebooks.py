"""Notebook hygiene: stored without outputs, kernelspec python3, and every chapter in the table of contents."""

import json
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
