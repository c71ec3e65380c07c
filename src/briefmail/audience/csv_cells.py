"""Cells a spreadsheet will not run: the export's one rule, and its inverse on import.

Spreadsheets evaluate a cell that starts with `=`, `+`, `-` or `@` (and some also
after a leading tab or carriage return) as a formula, so a subscriber named
`=HYPERLINK(...)` would run in the marketing team's spreadsheet. The export writes
such a cell with a leading apostrophe, which spreadsheets show as text and never
evaluate (OWASP's advice for CSV injection); the import takes exactly that apostrophe
off again, so an export re-imports unchanged. The rule counts apostrophes already
there, so a cell that really starts with `'=` survives the round trip too.
"""

from __future__ import annotations

TRIGGERS = frozenset("=+-@\t\r")


def neutralise(cell: str) -> str:
    """`cell` as the export writes it."""
    return "'" + cell if cell.lstrip("'")[:1] in TRIGGERS else cell


def restore(cell: str) -> str:
    """The value `neutralise` was given, for a cell it wrote; any other cell unchanged."""
    if cell.startswith("'") and cell.lstrip("'")[:1] in TRIGGERS:
        return cell[1:]
    return cell
