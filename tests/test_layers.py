"""Imports point down the flow: the lower packages never import the ones after them.

Read from the source (not by importing), so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "briefmail"
# package -> the briefmail modules and packages it may import (besides itself)
ALLOWED = {
    "db": {"clock", "config", "errors"},
    "briefs": {"characters", "clock", "config", "errors", "db"},
    "accounts": {"clock", "config", "errors", "db"},
}


def briefmail_imports(package: str, root: Path = SRC) -> dict[str, set[str]]:
    """Each module of `package` -> the top-level briefmail names it imports."""
    found: dict[str, set[str]] = {}
    for path in sorted((root / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
                if node.module == "briefmail":
                    modules = [f"briefmail.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            names |= {m.split(".")[1] for m in modules if m.startswith("briefmail.")}
        found[str(path.relative_to(root))] = names
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_nothing_later_in_the_flow(package: str) -> None:
    modules = briefmail_imports(package)
    assert modules  # the package was found and read
    upward = {
        module: sorted(names - ALLOWED[package] - {package})
        for module, names in modules.items()
        if names - ALLOWED[package] - {package}
    }
    assert upward == {}


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    # Guards the test above: a briefs module importing the audience is reported.
    (tmp_path / "briefs").mkdir()
    (tmp_path / "briefs" / "bad.py").write_text(
        "from briefmail import clock\n"
        "def f():\n    from briefmail.audience.topics import ensure_topics\n"
    )
    assert briefmail_imports("briefs", tmp_path) == {"briefs/bad.py": {"clock", "audience"}}
