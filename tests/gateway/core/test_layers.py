"""gateway/core is the GraphQL-free core: it imports nothing from graphql (or strawberry), so its
use cases and their errors are the same whatever API serves them; gateway/schema maps them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[3] / "gateway" / "core"
GRAPHQL_PACKAGES = ("graphql", "strawberry")


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, at any level (in functions and TYPE_CHECKING blocks too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(CORE.glob("*.py")), ids=lambda p: p.name)
def test_the_core_imports_no_graphql(path: Path) -> None:
    graphql = sorted(name for name in imported(path) if name.split(".")[0] in GRAPHQL_PACKAGES)
    assert graphql == [], f"gateway/core/{path.name} imports {graphql}: map errors in schema"


def test_the_scan_sees_an_import() -> None:
    assert "graphql" in imported(Path(__file__).parents[3] / "gateway" / "schema" / "errors.py")
    assert len(list(CORE.glob("*.py"))) > 10
