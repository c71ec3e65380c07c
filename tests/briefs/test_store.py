"""Stored briefs: approval belongs to the exact text; a changed file is a draft again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from briefmail import clock
from briefmail.briefs.errors import BriefValidationError
from briefmail.briefs.parse import load_brief
from briefmail.briefs.store import (
    approve_brief,
    get_brief,
    import_brief,
    list_briefs,
    parsed,
    store_brief,
    topic_slugs,
)
from briefmail.briefs.views import BriefOut
from briefmail.db.models import Brief, Topic
from briefmail.db.session import session_factory
from briefmail.errors import InvalidInputError, NotFoundError, StateError
from tests.conftest import EXAMPLE_BRIEF

SLUG = "2024-01-08-clinician-educators-want-coaching-programs-not-more-lectures"
TOPICS = ["learning-design", "workflow-based-education", "accreditation-operations"]


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    with session_factory(db_url)() as session:
        yield session


def edited(tmp_path: Path, old: str, new: str, name: str = "brief.md") -> Path:
    text = EXAMPLE_BRIEF.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_import_stores_the_exact_text_as_a_draft(session: Session) -> None:
    row = import_brief(session, EXAMPLE_BRIEF)
    session.commit()
    text = EXAMPLE_BRIEF.read_text(encoding="utf-8")
    assert (row.slug, row.status, row.approved_by, row.approved_at) == (SLUG, "draft", None, None)
    assert row.source == text
    assert row.content_hash == load_brief(EXAMPLE_BRIEF).content_hash
    assert len(row.content_hash) == 64
    assert row.source_path == str(EXAMPLE_BRIEF)
    assert row.coverage_start == date(2024, 1, 8)
    assert row.title == "Clinician-Educators Want Coaching Programs, Not More Lectures"
    assert sorted(t.slug for t in row.topics) == sorted(TOPICS)
    names = dict(session.execute(select(Topic.slug, Topic.name)).all())
    assert names["learning-design"] == "Learning design"


def test_the_same_file_again_keeps_the_approval(session: Session) -> None:
    import_brief(session, EXAMPLE_BRIEF)
    clock.set_now(datetime(2024, 1, 12, 9, 30, tzinfo=UTC))
    approve_brief(session, SLUG, "  Dana Editor ")
    session.commit()
    result = store_brief(session, load_brief(EXAMPLE_BRIEF))
    session.commit()
    assert result.outcome == "unchanged"
    row = get_brief(session, SLUG)
    assert (row.status, row.approved_by) == ("approved", "Dana Editor")
    assert clock.as_utc(row.approved_at) == datetime(2024, 1, 12, 9, 30, tzinfo=UTC)  # type: ignore[arg-type]
    assert session.scalar(select(func.count()).select_from(Brief)) == 1


def test_a_changed_file_goes_back_to_draft(session: Session, tmp_path: Path) -> None:
    import_brief(session, EXAMPLE_BRIEF)
    approve_brief(session, SLUG, "Dana")
    session.commit()
    path = edited(
        tmp_path, "  - Accreditation operations\n", "  - Accreditation operations\n  - Simulation\n"
    )
    result = store_brief(session, load_brief(path))
    session.commit()
    row = result.brief
    assert result.outcome == "updated"
    assert (row.status, row.approved_by, row.approved_at) == ("draft", None, None)
    assert row.source == path.read_text(encoding="utf-8")
    assert row.source_path == str(path)
    assert sorted(t.slug for t in row.topics) == sorted([*TOPICS, "simulation"])
    assert topic_slugs(row) == [*TOPICS, "simulation"]  # the brief's own order


def test_approve_refuses_nobody_and_unknown_briefs(session: Session) -> None:
    import_brief(session, EXAMPLE_BRIEF)
    with pytest.raises(InvalidInputError, match="--by"):
        approve_brief(session, SLUG, "  ")
    with pytest.raises(NotFoundError, match=f"no brief 'nope' \\(stored briefs include: {SLUG}\\)"):
        approve_brief(session, "nope", "Dana")
    session.commit()
    approve_brief(session, SLUG, "Dana")
    with pytest.raises(StateError, match="not a draft: already approved \\(by Dana at "):
        approve_brief(session, SLUG, "Someone Else")
    assert get_brief(session, SLUG).approved_by == "Dana"  # the first approval stands


def test_get_brief_on_an_empty_store(session: Session) -> None:
    with pytest.raises(NotFoundError, match=r"no brief 'x' \(none stored yet\)"):
        get_brief(session, "x")


def test_an_invalid_file_stores_nothing(session: Session, tmp_path: Path) -> None:
    path = edited(tmp_path, "coverage:\n  start: 2024-01-08", "coverage:\n  start: someday")
    with pytest.raises(BriefValidationError) as caught:
        import_brief(session, path)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, InvalidInputError)
    assert session.scalar(select(func.count()).select_from(Brief)) == 0


def test_parsed_comes_from_the_stored_text_not_the_file(session: Session, tmp_path: Path) -> None:
    path = edited(tmp_path, "Not More Lectures", "Not More Lectures", "copy.md")
    row = import_brief(session, path)
    session.commit()
    path.write_text("the file changed on disk after import", encoding="utf-8")
    brief = parsed(row)
    assert brief.title == row.title
    assert brief.content_hash == row.content_hash
    assert [t.slug for t in brief.topics] == TOPICS


def test_list_and_summaries(session: Session, tmp_path: Path) -> None:
    import_brief(session, EXAMPLE_BRIEF)
    later = edited(
        tmp_path, "start: 2024-01-08\n  end: 2024-01-14", "start: 2024-01-15\n  end: 2024-01-21"
    )
    other = import_brief(session, later)
    approve_brief(session, other.slug, "Dana")
    session.commit()
    rows = list_briefs(session)
    assert [r.slug for r in rows] == [other.slug, SLUG]  # newest coverage first
    summary = BriefOut.of(rows[0]).model_dump(mode="json")
    assert summary["status"] == "approved"
    assert summary["approved_by"] == "Dana"
    assert summary["coverage"] == {"start": "2024-01-15", "end": "2024-01-21"}
    assert summary["topics"] == TOPICS
    assert set(summary) >= {"slug", "title", "status", "approved_at", "content_hash"}
