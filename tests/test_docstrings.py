"""Every public module, class and function of the application says what it is for (STYLE.md:
docstrings on every model and public function). Methods are left out: most implement a
framework's hook (`Meta`, `handle`, `has_add_permission`), which the framework documents."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(
    path
    for package in ("portal", "sessions_app")
    for path in (ROOT / package).rglob("*.py")
    if "migrations" not in path.parts
)


def _undocumented(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    missing = []
    if tree.body and not ast.get_docstring(tree):
        missing.append("the module")
    definitions = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    for node in tree.body:
        public = isinstance(node, definitions) and not node.name.startswith("_")
        if public and not ast.get_docstring(node):
            missing.append(f"{node.name} (line {node.lineno})")
    return missing


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_public_names_have_docstrings(path):
    assert _undocumented(path) == []
