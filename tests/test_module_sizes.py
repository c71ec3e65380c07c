"""The sending engine and click tracking stay readable: small modules, short functions.

Read from the source (the AST of every module under `sending/` and `tracking/`); a
module or function past the limit is named with its size.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "briefmail"
PACKAGES = ("sending", "tracking")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def oversized(source: str) -> list[str]:
    """What breaks the limits in one module's source: the module, or its functions."""
    found = []
    lines = len(source.splitlines())
    if lines > MAX_MODULE_LINES:
        found.append(f"module: {lines} lines")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{node.name} (line {node.lineno}): {length} lines")
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_or_function_is_over_the_limits(package: str) -> None:
    modules = sorted((SRC / package).rglob("*.py"))
    assert modules
    over = {
        str(path.relative_to(SRC)): found
        for path in modules
        if (found := oversized(path.read_text(encoding="utf-8")))
    }
    assert over == {}, (
        f"at most {MAX_MODULE_LINES} lines a module and {MAX_FUNCTION_LINES} a function: "
        "split by what the parts hold"
    )


def test_the_check_sees_a_long_function_and_a_long_module() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    assert oversized(f"def f():\n{body}\n") == [f"f (line 1): {MAX_FUNCTION_LINES + 1} lines"]
    assert oversized("pass\n" * (MAX_MODULE_LINES + 1)) == [f"module: {MAX_MODULE_LINES + 1} lines"]
    assert oversized(f"def f():\n{body[: body.rindex(chr(10))]}\n") == []
