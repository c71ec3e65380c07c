"""What the archive publishes: briefs that went out, as they went out; nothing else."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from briefmail import clock
from briefmail.archive.pages import Pages, SiteOptions
from briefmail.archive.published import published_briefs, went_out_count
from briefmail.archive.site import Site, read_site
from briefmail.archive.urls import Urls
from briefmail.briefs.store import import_brief
from briefmail.config import get_settings
from briefmail.db.session import session_scope
from briefmail.sending import service
from briefmail.sending.backends.base import OutgoingBatch, PermanentError
from briefmail.sending.backends.outbox import OutboxBackend
from tests.archive.world import EXAMPLE_SLUG, T0, World, brief_text
from tests.sending.helpers import make_engine


def site() -> Site:
    settings = get_settings()
    pages = Pages(SiteOptions.from_settings(settings), Urls.for_app(settings.public_url))
    with session_scope() as session:
        return read_site(session, pages, now=clock.now())


def everything(read: Site) -> str:
    parts = [*read.briefs.values(), *read.indexes.values(), read.feed]
    return "\n".join(doc.body.decode() for doc in parts)


def test_only_briefs_that_went_out_are_published(db_url: str, tmp_path: Path) -> None:
    world = World(tmp_path)
    sent = world.store(brief_text())
    proofed = world.store(brief_text("Proofed But Never Sent", "2024-01-22"), approve=False)
    world.proof(proofed)
    approved_proofed = world.store(brief_text("Approved And Proofed", "2024-01-29"))
    world.proof(approved_proofed)
    world.store(brief_text("Still A Draft", "2024-02-05"), approve=False)
    later = world.store(brief_text("Scheduled For Next Week", "2024-02-12"))
    with session_scope() as session:
        service.create_send(session, later, at=T0 + timedelta(days=7), now=T0)
    world.send(sent)

    with session_scope() as session:
        assert went_out_count(session) == 1
        assert [p.slug for p in published_briefs(session)] == [EXAMPLE_SLUG]
    read = site()
    assert set(read.briefs) == {sent}
    assert [e.slug for e in read.entries] == [sent]
    text = everything(read)
    assert "Clinician-Educators Want Coaching Programs" in text
    for title in ("Proofed But Never Sent", "Approved And Proofed", "Still A Draft", "Scheduled"):
        assert title not in text
    for slug in (proofed, approved_proofed, later):
        assert read.brief(slug).status == 404


def test_a_brief_edited_after_it_went_out_shows_what_went_out(db_url: str, tmp_path: Path) -> None:
    world = World(tmp_path)
    slug = world.store(brief_text())
    world.send(slug)
    changed = tmp_path / "changed.md"
    changed.write_text(
        brief_text().replace("Clinician-educator support is moving", "UNAPPROVED NEW WORDING"),
        encoding="utf-8",
    )
    with session_scope() as session:
        row = import_brief(session, changed)
        assert (row.slug, row.status) == (slug, "draft")
    page = site().brief(slug).body.decode()
    assert "Clinician-educator support is moving" in page
    assert "UNAPPROVED NEW WORDING" not in page


class FailsAfterFirstBatch(OutboxBackend):
    """The provider takes the first batch and refuses every later one for good."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.batches = 0

    def send_batch(self, batch: OutgoingBatch):  # type: ignore[no-untyped-def]
        self.batches += 1
        if self.batches > 1:
            raise PermanentError("refused", status=400)
        return super().send_batch(batch)


def test_a_brief_is_published_once_any_reader_got_it(db_url: str, tmp_path: Path) -> None:
    # Its readers hold "View in browser" links from then on, even if the send fails later.
    world = World(tmp_path, readers=3)
    slug = world.store(brief_text())
    with session_scope() as session:
        send_id = service.create_send(session, slug, at=T0, now=T0).id
    engine = make_engine(FailsAfterFirstBatch(tmp_path / "outbox"), batch_size=1)
    view = service.drain_send(engine, send_id)
    engine.close()
    assert (view.status, view.accepted, view.failed) == ("failed", 1, 2)
    assert set(site().briefs) == {slug}


def test_newest_first_by_when_they_went_out(db_url: str, tmp_path: Path) -> None:
    world = World(tmp_path)
    first = world.store(brief_text("Went Out First", "2024-01-22"))
    second = world.store(brief_text("Went Out Second", "2024-01-08"))
    world.send(first, at=T0)
    world.send(second, at=T0 + timedelta(days=7))
    read = site()
    assert [e.slug for e in read.entries] == [second, first]
    assert read.entries[0].published == T0 + timedelta(days=7)
    index = read.index().body.decode()
    assert index.index("Went Out Second") < index.index("Went Out First")
