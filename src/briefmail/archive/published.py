"""Which briefs went out: the archive's questions to the database.

A brief is public once a real send of it (never a `--test-to` proof) has had a batch
accepted by the provider: from then on some reader holds an email whose "View in
browser" link names its page. Waiting for the whole send to finish would leave that
link dead while the send runs (a day, for a local-time send) and for good when one
batch of an otherwise delivered send failed. Drafts never get a real send (a send
needs an approved brief), so they never appear.

What is shown is the text a send rendered (`Send.brief_source`), from the latest send
of the brief that went out; never the brief's current text, which an editor may have
changed since (which puts it back to draft).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session

from briefmail import clock
from briefmail.db.models import Batch, Brief, Send


@dataclass(frozen=True, slots=True)
class PublishedBrief:
    slug: str
    source: str  # the text the latest send that went out rendered
    first_out: datetime  # when the brief first went out
    last_out: datetime  # when the text shown went out


def _went_out() -> ColumnElement[bool]:
    return exists().where(Batch.send_id == Send.id, Batch.status == "accepted")


def went_out_count(session: Session) -> int:
    """Real sends that have gone out. An accepted batch stays accepted, so the count
    only grows, and it grows whenever a brief (or a new text of one) goes out: the
    archive's cheap signal to rebuild, asked about once a second."""
    query = select(func.count()).select_from(Send).where(Send.kind == "brief", _went_out())
    return int(session.scalar(query) or 0)


def published_briefs(session: Session) -> list[PublishedBrief]:
    """Every brief that went out, with the text of its latest send that did."""
    out_at = (
        select(
            Batch.send_id,
            func.min(func.coalesce(Batch.accepted_at, Batch.updated_at)).label("out_at"),
        )
        .join(Send, Send.id == Batch.send_id)
        .where(Send.kind == "brief", Batch.status == "accepted")
        .group_by(Batch.send_id)
        .subquery()
    )
    rows = session.execute(
        select(Brief.slug, Send.id, Send.brief_source, out_at.c.out_at)
        .join(out_at, out_at.c.send_id == Send.id)
        .join(Brief, Brief.id == Send.brief_id)
        .order_by(Brief.slug, out_at.c.out_at, Send.id)
    ).all()
    found: dict[str, PublishedBrief] = {}
    for slug, _send_id, source, when in rows:
        if source is None:  # started before sends kept their text, and never backfilled
            continue
        at = clock.as_utc(when)
        earlier = found.get(slug)
        # Rows come oldest first per brief: the last one carries the text shown.
        first = earlier.first_out if earlier is not None else at
        found[slug] = PublishedBrief(slug, source, first, at)
    return list(found.values())
