"""CSV import and export: line-numbered problems, updates not duplicates, no re-activation."""

from __future__ import annotations

import csv
import io
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from briefmail.audience import _writer
from briefmail.audience.csv_import import ImportResult, _read_ahead, import_csv, write_csv
from briefmail.audience.subscribers import add_subscriber, iter_subscribers
from briefmail.audience.suppression import suppress
from briefmail.db.models import Subscriber, Topic
from briefmail.db.session import session_scope
from briefmail.errors import InvalidInputError


def write(tmp_path: Path, text: str, name: str = "subs.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def people(session: Session) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """email -> (name, status, topics) for everyone stored."""
    return {v.email: (v.name, v.status, v.topics) for v in iter_subscribers(session)}


def problems(result: ImportResult) -> list[tuple[int, str]]:
    return [(p.line, p.field) for p in result.problems]


def test_valid_rows_are_imported_and_bad_ones_reported_by_line(
    session: Session, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "email,name,topics\n"
        "Ann@Example.ORG,Ann,Learning design;accreditation-operations\n"  # 2
        "bob@example.org,Bob,\n"  # 3
        "not-an-address,X,\n"  # 4
        '"carol@example.org","Carol, MD","Learning Design"\n'  # 5
        "\n"  # 6: blank lines are ignored
        "dave@example.org,Dave\n"  # 7: too few fields
        "eve@example.org,Eve,,extra\n"  # 8: too many
        "ann@example.org,Ann again,\n"  # 9: repeats line 2
        'fay@example.org,"Fay\nSmith",\n'  # 10-11: a quoted line break in the name
        "gus@exa mple.org,Gus,\n"  # 12
        "hal@example.org,Hal,!!!\n"  # 13: topic without letters
        "ivy@example.org,Ivy, ; Simulation ;\n",  # 14
    )
    result = import_csv(session, path)
    session.commit()
    assert (result.added, result.updated, result.unchanged, result.skipped) == (4, 0, 0, 7)
    assert problems(result) == [
        (4, "email"),
        (7, "row"),
        (8, "row"),
        (9, "email"),
        (10, "name"),
        (12, "email"),
        (13, "topics"),
    ]
    described = [result.describe(p) for p in result.problems]
    assert described[0] == f"{path}:4: email: no @ ('not-an-address')"
    assert described[1].endswith("2 fields, expected 3 (email,name,topics)")
    assert "same address as line 2" in described[3]
    assert described[5] == f"{path}:12: email: contains spaces ('gus@exa mple.org')"
    assert people(session) == {
        "Ann@example.org": ("Ann", "active", ("accreditation-operations", "learning-design")),
        "bob@example.org": ("Bob", "active", ()),
        "carol@example.org": ("Carol, MD", "active", ("learning-design",)),
        "ivy@example.org": ("Ivy", "active", ("simulation",)),
    }
    names = dict(session.execute(select(Topic.slug, Topic.name)).all())
    assert names == {
        "learning-design": "Learning design",
        "accreditation-operations": "accreditation-operations",
        "simulation": "Simulation",
    }


def test_reimport_updates_instead_of_duplicating(session: Session, tmp_path: Path) -> None:
    first = write(
        tmp_path,
        "email,name,topics\nann@example.org,Ann,Alpha\nbob@example.org,Bob,Beta\n"
        "cat@example.org,Cat,\n",
    )
    import_csv(session, first)
    session.commit()
    second = write(
        tmp_path,
        "topics,email,name\n"  # columns in any order
        "Beta;Alpha,ANN@EXAMPLE.ORG,Ann Lee\n"  # new name and topics, other case
        "Beta,bob@example.org,Bob\n"  # unchanged
        ",cat@example.org,Cat\n"  # unchanged (all topics)
        ",dan@example.org,Dan\n",
        "again.csv",
    )
    result = import_csv(session, second)
    session.commit()
    assert (result.added, result.updated, result.unchanged, result.skipped) == (1, 1, 2, 0)
    assert session.scalar(select(func.count()).select_from(Subscriber)) == 4
    assert people(session)["ann@example.org"] == ("Ann Lee", "active", ("alpha", "beta"))
    third = write(tmp_path, "email,name,topics\nann@example.org,Ann Lee,\n", "third.csv")
    result = import_csv(session, third)
    session.commit()
    assert result.updated == 1
    assert people(session)["ann@example.org"] == ("Ann Lee", "active", ())


def test_an_import_never_reactivates_anyone(session: Session, tmp_path: Path) -> None:
    for email, status in [
        ("uns@example.org", "unsubscribed"),
        ("bou@example.org", "bounced"),
        ("com@example.org", "complained"),
        ("pen@example.org", "pending"),
        ("sup@example.org", "active"),
    ]:
        add_subscriber(session, email, status=status)
    suppress(session, "SUP@example.org", "hard bounce")
    suppress(session, "Blocked@Example.org", "spam report")
    session.commit()
    path = write(
        tmp_path,
        "email,name,topics,status\n"
        "uns@example.org,Uns,Alpha,active\n"
        "bou@example.org,Bou,,active\n"
        "com@example.org,Com,,\n"
        "pen@example.org,Pen,,active\n"
        "sup@example.org,Sup,,active\n"
        "blocked@example.org,Blocked,,active\n"
        "new@example.org,New,,unsubscribed\n"
        "bad@example.org,Bad,,sleeping\n",
    )
    result = import_csv(session, path)
    session.commit()
    assert (result.added, result.updated, result.skipped) == (1, 5, 2)
    assert [result.describe(p) for p in result.problems] == [
        f"{path}:7: email: address is suppressed (spam report); not added",
        f"{path}:9: status: 'sleeping' is not one of pending, active, unsubscribed, bounced, "
        "complained",
    ]
    statuses = {email: status for email, (_, status, _) in people(session).items()}
    assert statuses == {
        "uns@example.org": "unsubscribed",
        "bou@example.org": "bounced",
        "com@example.org": "complained",
        "pen@example.org": "pending",  # only the confirmation flow activates
        "sup@example.org": "active",  # still suppressed: segments exclude it
        "new@example.org": "unsubscribed",  # a status column can stop, never start
    }
    assert people(session)["uns@example.org"][2] == ("alpha",)  # choices still update


def test_a_status_column_may_stop_an_active_subscriber(session: Session, tmp_path: Path) -> None:
    add_subscriber(session, "ann@example.org", name="Ann")
    session.commit()
    path = write(tmp_path, "email,name,topics,status\nann@example.org,Ann,,complained\n")
    assert import_csv(session, path).updated == 1
    session.commit()
    assert people(session)["ann@example.org"][1] == "complained"


def test_chunks_and_repeats_across_chunks(session: Session, tmp_path: Path) -> None:
    rows = [f"r{i}@example.org,R{i},{'Alpha' if i % 3 else ''}" for i in range(11)]
    rows.insert(8, "R1@EXAMPLE.org,Again,")  # line 10, repeating line 3 two chunks later
    path = write(tmp_path, "email,name,topics\n" + "\n".join(rows) + "\n")
    result = import_csv(session, path, chunk_size=3)
    session.commit()
    assert (result.added, result.skipped) == (11, 1)
    assert problems(result) == [(10, "email")]
    assert len(people(session)) == 11


def test_a_row_added_concurrently_is_updated_not_duplicated(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_subscriber(session, "ann@example.org", name="Old")
    session.commit()
    calls = []

    def blind_first_look(real):  # type: ignore[no-untyped-def]
        def existing(self: object, keys: list[str]) -> object:
            calls.append(keys)
            return {} if len(calls) == 1 else real(self, keys)

        return existing

    # The first lookup misses Ann, as if another import added her a moment later.
    for cls in (_writer.SqliteBulkWriter, _writer.PostgresBulkWriter):
        monkeypatch.setattr(cls, "existing", blind_first_look(cls.existing))
    path = write(tmp_path, "email,name,topics\nann@example.org,New,\nbob@example.org,Bob,\n")
    result = import_csv(session, path)
    session.commit()
    assert (result.added, result.updated) == (1, 1)
    assert calls[1] == ["ann@example.org"]
    assert people(session)["ann@example.org"][0] == "New"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty; expected a header email,name,topics"),
        ("email,name\nann@example.org,Ann\n", ":1: header: expected columns email,name,topics"),
        ("ann@example.org,Ann,\n", ":1: header: expected columns"),
        ("email,name,topics,notes\n", "found 'email,name,topics,notes'"),
        ("email,email,name,topics\n", ":1: header"),
    ],
)
def test_a_bad_header_is_an_error_naming_the_file(
    session: Session, tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InvalidInputError) as caught:
        import_csv(session, path)
    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)


def test_a_missing_file_is_an_error(session: Session, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"nope\.csv: cannot read"):
        import_csv(session, tmp_path / "nope.csv")


def test_a_file_that_is_not_utf8_writes_nothing(db_url: str, tmp_path: Path) -> None:
    good = "".join(f"r{i}@example.org,R{i},\n" for i in range(10))
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        b"email,name,topics\n" + good.encode() + "zoë@example.org,Zoë,\n".encode("latin-1")
    )
    with pytest.raises(InvalidInputError) as caught, session_scope(db_url) as session:
        import_csv(session, path, chunk_size=3)  # three chunks written before the bad byte
    assert str(caught.value) == (
        f"{path}:12: file is not UTF-8 text (byte 0xeb); save it as CSV UTF-8 and import again"
    )
    with session_scope(db_url) as session:
        assert session.scalar(select(func.count()).select_from(Subscriber)) == 0


def test_a_utf8_bom_is_accepted(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffemail,name,topics\nzoë@example.org,Zoë,\n".encode())
    assert import_csv(session, path).skipped == 1  # the local part is not ASCII: reported
    path.write_bytes("\ufeffemail,name,topics\nzoe@example.org,Zoë,\n".encode())
    assert import_csv(session, path).added == 1


def test_export_round_trips(session: Session, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'email,name,topics\nAnn@Example.org,"Lee, Ann",Beta;Alpha\nbob@example.org,Bob,\n'
        'cat@example.org,"Cat ""the"" Third",Alpha\n',
    )
    import_csv(session, path)
    add_subscriber(session, "dan@example.org", status="unsubscribed")
    session.commit()
    out = io.StringIO()
    assert write_csv(session, out) == 4
    exported = out.getvalue()
    assert list(csv.reader(io.StringIO(exported))) == [
        ["email", "name", "topics", "status"],
        ["Ann@example.org", "Lee, Ann", "alpha;beta", "active"],
        ["bob@example.org", "Bob", "", "active"],
        ["cat@example.org", 'Cat "the" Third', "alpha", "active"],
        ["dan@example.org", "", "", "unsubscribed"],
    ]
    again = write(tmp_path, exported, "export.csv")
    result = import_csv(session, again)
    assert (result.added, result.updated, result.unchanged, result.skipped) == (0, 0, 4, 0)


def test_export_into_a_fresh_database_keeps_statuses(session: Session, tmp_path: Path) -> None:
    add_subscriber(session, "ann@example.org", name="Ann", topics=["Alpha"])
    add_subscriber(session, "bob@example.org", status="bounced")
    session.commit()
    out = io.StringIO()
    write_csv(session, out)
    path = write(tmp_path, out.getvalue(), "export.csv")
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    with session_scope(fresh) as other:
        import_csv(other, path)
    with session_scope(fresh) as other:
        assert people(other) == {
            "ann@example.org": ("Ann", "active", ("alpha",)),
            "bob@example.org": ("", "bounced", ()),
        }


def test_a_database_error_mid_import_stops_the_reader(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = "".join(f"r{i}@example.org,R{i},\n" for i in range(40))
    path = write(tmp_path, "email,name,topics\n" + rows)
    calls = []

    def failing_insert(self: object, new: list[object]) -> object:
        calls.append(len(new))
        raise RuntimeError("database went away")

    for cls in (_writer.SqliteBulkWriter, _writer.PostgresBulkWriter):
        monkeypatch.setattr(cls, "insert", failing_insert)
    with pytest.raises(RuntimeError, match="went away"):
        import_csv(session, path, chunk_size=2)
    assert calls == [2]
    assert not [t for t in threading.enumerate() if t.name == "csv-read-ahead"]


def test_read_ahead_hands_over_items_and_errors() -> None:
    assert list(_read_ahead(iter(range(5)))) == [0, 1, 2, 3, 4]

    def broken() -> Iterator[int]:
        yield 1
        raise ValueError("bad byte")

    reader = _read_ahead(broken())
    assert next(reader) == 1
    with pytest.raises(ValueError, match="bad byte"):
        next(reader)
    endless = _read_ahead(itertools.count())
    assert next(endless) == 0
    endless.close()  # the caller stops early: the producer thread is joined
    assert not [t for t in threading.enumerate() if t.name == "csv-read-ahead"]
