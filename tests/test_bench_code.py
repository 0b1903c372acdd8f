"""The benchmarks still call what bantin has: `make test` never runs them, so a rename would rot them unseen.

Each bench module and every Python snippet it hands to a child process (string
constants that parse as code and import bantin) is read as a syntax tree; every
`from bantin… import name` and every `module.attribute` on an imported bantin
module must exist. Nothing is run: the benchmarks themselves take minutes.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _trees(path: Path) -> list[ast.AST]:
    module = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    trees = [module]
    for node in ast.walk(module):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "bantin" in node.value:
            try:
                trees.append(ast.parse(node.value))
            except SyntaxError:
                pass  # a message or a path, not a snippet
    return trees


def _references(tree: ast.AST) -> set[tuple[str, str]]:
    """(module, name) pairs the code needs from bantin."""
    modules: dict[str, str] = {}  # local name -> bantin module
    needed = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "bantin":
            for alias in node.names:
                try:
                    importlib.import_module(f"{node.module}.{alias.name}")
                    modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                except ModuleNotFoundError:
                    needed.add((node.module, alias.name))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            needed.add((modules[node.value.id], node.attr))
    return needed


@pytest.mark.parametrize("path", sorted(BENCH.glob("bench_*.py")), ids=lambda p: p.name)
def test_every_bantin_name_a_benchmark_uses_exists(path):
    needed = set().union(*(_references(tree) for tree in _trees(path)))
    missing = sorted(f"{module}.{name}" for module, name in needed
                     if not hasattr(importlib.import_module(module), name))
    assert missing == [], f"{path.name} calls what bantin no longer has"


def test_the_check_reads_the_snippets_given_to_child_processes():
    needed = set().union(*(_references(tree) for tree in _trees(BENCH / "bench_intake.py")))
    assert {("bantin.intake", "read_submission"), ("bantin.validation", "validate_files"),
            ("bantin.pipeline", "collect")} <= needed


def test_the_check_sees_a_renamed_function():
    tree = ast.parse("from bantin import validation\nvalidation.validate_rows(rows)\n")
    assert ("bantin.validation", "validate_rows") in _references(tree)
    assert not hasattr(importlib.import_module("bantin.validation"), "validate_rows")
