"""Imports go one way: bot → handlers → flows → storage (nothing imports bot)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
LAYERS = ["bot", "handlers", "flows", "storage"]


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("layer", LAYERS)
def test_no_layer_imports_a_layer_above_it(layer: str) -> None:
    above = set(LAYERS[: LAYERS.index(layer)])
    offenders = {str(path.relative_to(ROOT)): sorted(imported_packages(path) & above)
                 for path in (ROOT / layer).rglob("*.py")
                 if imported_packages(path) & above}
    assert offenders == {}
