"""The benchmarks still call what bantin has: `make test` never runs them, so a rename would rot them unseen.

Each bench module is read as a syntax tree; every `from bantin… import name`
and every `module.attribute` on an imported bantin module must exist. What a
benchmark runs in a child process is a function of its module, started by
`python -m bench.child` (bench.common.child), never Python source in a string.
Nothing is timed here: the benchmarks themselves take minutes.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import subprocess
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _trees(path: Path) -> list[ast.AST]:
    module = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    trees = [module]
    for node in ast.walk(module):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "bantin" in node.value:
            with contextlib.suppress(SyntaxError):  # a message or a path, not a snippet
                snippet = ast.parse(node.value)
                if any(isinstance(n, ast.Import | ast.ImportFrom) for n in ast.walk(snippet)):
                    trees.append(snippet)
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
    missing = sorted(
        f"{module}.{name}" for module, name in needed if not hasattr(importlib.import_module(module), name)
    )
    assert missing == [], f"{path.name} calls what bantin no longer has"


@pytest.mark.parametrize("path", sorted(BENCH.glob("*.py")), ids=lambda p: p.name)
def test_no_benchmark_hands_python_source_in_a_string_to_a_child(path):
    snippets = _trees(path)[1:]
    assert snippets == [], f"{path.name} passes Python source in a string: make it a function, run by child()"


def test_a_child_step_runs_a_bench_function_in_a_fresh_process(tmp_path):
    from bench.common import REPO, child
    from bench.run import machine

    command = child(machine)
    assert command[1:4] == ["-m", "bench.child", "bench.run:machine"]
    assert subprocess.run(command, cwd=REPO, capture_output=True, timeout=120).returncode == 0
    missing = subprocess.run([*command[:3], "bench.run:no_such_step"], cwd=REPO, capture_output=True, timeout=120)
    assert missing.returncode != 0 and b"no_such_step" in missing.stderr


def test_the_check_sees_a_renamed_function():
    tree = ast.parse("from bantin import validation\nvalidation.validate_rows(rows)\n")
    assert ("bantin.validation", "validate_rows") in _references(tree)
    assert not hasattr(importlib.import_module("bantin.validation"), "validate_rows")
