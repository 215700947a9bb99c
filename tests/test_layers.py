"""The layer rule of ``lib``: chapter modules (``lib.experiments.*``) share code through public names only.

A chapter module may import what another module makes public, never another chapter module's private
names (``_name``): what two chapters share belongs in a shared module (``lib.execution``,
``lib.training``, ...) under a public name, documented and covered by the contract test.
"""

from __future__ import annotations

import ast
from pathlib import Path

LIB = Path(__file__).resolve().parents[1] / "lib"


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def private_imports_across_chapters(root: Path = LIB) -> list[str]:
    """``"importer: module._name"`` for every private name imported from another ``lib.experiments`` module."""
    found = []
    for path in sorted(root.rglob("*.py")):
        importer = _module_name(path, root)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lib.experiments.") and node.module != importer:
                found += [f"{importer}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    return found


def test_chapter_modules_import_no_other_chapter_module_privates():
    assert private_imports_across_chapters() == []


def test_the_rule_catches_a_private_import(tmp_path):
    package = tmp_path / "lib" / "experiments"
    package.mkdir(parents=True)
    (package / "a.py").write_text("def _helper():\n    return 1\n")
    (package / "b.py").write_text("from lib.experiments.a import _helper\n")
    assert private_imports_across_chapters(tmp_path / "lib") == ["lib.experiments.b: lib.experiments.a._helper"]
