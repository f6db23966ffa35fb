"""The library stays readable: small modules, short functions (the limits of CONVENTIONS.md)."""

import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parent.parent / "lib"
MODULES = sorted(LIB.rglob("*.py"))
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60


def long_functions(source: str, limit: int) -> list[str]:
    """The functions (methods and nested ones too) of ``source`` longer than ``limit`` lines."""
    return [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > limit
    ]


@pytest.mark.parametrize("module", MODULES, ids=lambda path: str(path.relative_to(LIB)))
def test_module_is_short_and_so_are_its_functions(module):
    source = module.read_text(encoding="utf-8")
    assert len(source.splitlines()) <= MAX_MODULE_LINES
    assert long_functions(source, MAX_FUNCTION_LINES) == []


def test_the_check_sees_a_long_function():
    body = "\n".join(f"    x{i} = {i}" for i in range(61))
    assert long_functions(f"def f():\n{body}\n", MAX_FUNCTION_LINES) == ["f (62 lines)"]
    assert long_functions("def g():\n    return 1\n", MAX_FUNCTION_LINES) == []
