"""Briefs in every state the archive must tell apart, made through the real pipeline:
stored, approved, sent to the outbox (or proofed with --test-to) by the send engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from briefmail import clock
from briefmail.briefs.store import approve_brief, import_brief
from briefmail.db.session import session_scope
from briefmail.sending import service
from briefmail.sending.backends.outbox import OutboxBackend
from tests.briefs.variants import edited, example_text
from tests.sending.helpers import add_people, make_engine

T0 = datetime(2024, 1, 15, 14, 0, tzinfo=UTC)
EXAMPLE_TITLE = "Clinician-Educators Want Coaching Programs, Not More Lectures"
EXAMPLE_SLUG = "2024-01-08-clinician-educators-want-coaching-programs-not-more-lectures"


def brief_text(title: str = EXAMPLE_TITLE, start: str = "2024-01-08", text: str = "") -> str:
    """The example brief with another title and coverage start (so another slug)."""
    source = edited(f"title: {EXAMPLE_TITLE}", f"title: {title}", text or example_text())
    end = (datetime.fromisoformat(start) + timedelta(days=6)).date().isoformat()
    source = edited("start: 2024-01-08", f"start: {start}", source)
    return edited("end: 2024-01-14", f"end: {end}", source)


class World:
    """Stores, approves, proofs and sends briefs in `folder`; readers follow learning design."""

    def __init__(self, folder: Path, readers: int = 2) -> None:
        self.folder = folder
        self.outbox = folder / "outbox"
        self.files = 0
        clock.set_now(T0)
        with session_scope() as session:
            self.readers = add_people(session, readers, topics=["learning-design"])

    def store(self, text: str, *, approve: bool = True) -> str:
        self.files += 1
        path = self.folder / f"brief-{self.files}.md"
        path.write_text(text, encoding="utf-8")
        with session_scope() as session:
            slug = import_brief(session, path).slug
            if approve:
                approve_brief(session, slug, "editor@example.org")
        return slug

    def send(self, slug: str, at: datetime = T0) -> int:
        """A real send to the readers, run to its end in this process."""
        clock.set_now(at)
        with session_scope() as session:
            send_id = service.create_send(session, slug, at=at, now=at).id
        return self._drain(send_id)

    def proof(self, slug: str, at: datetime = T0) -> int:
        """`briefmail send SLUG --test-to editor@example.org`."""
        clock.set_now(at)
        with session_scope() as session:
            send_id = service.create_test_send(session, slug, ["editor@example.org"], now=at).id
        return self._drain(send_id)

    def _drain(self, send_id: int) -> int:
        engine = make_engine(OutboxBackend(self.outbox))
        try:
            view = service.drain_send(engine, send_id)
        finally:
            engine.close()
        assert view.status == "sent", view
        return send_id

    def emails(self, send_id: int) -> list[Path]:
        return sorted((self.outbox / f"send-{send_id}").glob("*.eml"))
