"""The export's rule against spreadsheet formulas, and its inverse on import."""

from __future__ import annotations

import pytest

from briefmail.audience.csv_cells import neutralise, restore


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),  # no service stores a CR, and the CSV writer would not quote it
        ("'=1", "''=1"),
        ("''+1", "'''+1"),
        ("Ann", "Ann"),
        ("'Ann", "'Ann"),
        ("", ""),
        ("a=b", "a=b"),
    ],
)
def test_cells_a_spreadsheet_would_run_get_an_apostrophe_and_get_it_back(
    cell: str, written: str
) -> None:
    assert neutralise(cell) == written
    assert restore(written) == cell


def test_a_hand_written_quoted_formula_imports_as_the_text_it_shows() -> None:
    assert restore("'=1+1") == "=1+1"
    assert restore("'Ann") == "'Ann"
