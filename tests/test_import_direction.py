"""The design card's import direction, read from the source: plumbing <- collector <- aggregator <- exporters <-
cc_analytics, never back. Every import statement counts, also those inside functions."""

from __future__ import annotations

import ast

import pytest

from tests.support.paths import REPO

# Each package, and the packages it must never import.
LAYERS = ("plumbing", "collector", "aggregator", "exporters", "cc_analytics")
FORBIDDEN = {package: set(LAYERS[index + 1:]) for index, package in enumerate(LAYERS)}


def imported_packages(path) -> set[tuple[int, str]]:
    """(line, top-level package) of every absolute import in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {(node.lineno, alias.name.split(".")[0]) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add((node.lineno, node.module.split(".")[0]))
    return found


@pytest.mark.parametrize("package", LAYERS)
def test_a_package_imports_nothing_of_the_layers_above_it(package):
    sources = sorted((REPO / package).rglob("*.py"))
    assert sources, f"{package}/ has no Python files"
    wrong = [f"{path.relative_to(REPO)}:{line} imports {imported}" for path in sources
             for line, imported in sorted(imported_packages(path)) if imported in FORBIDDEN[package]]
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    source = tmp_path / "module.py"
    source.write_text("def later():\n    from exporters import users_csv\n")
    assert imported_packages(source) == {(2, "exporters")}
