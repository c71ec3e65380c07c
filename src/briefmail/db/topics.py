"""Topic rows: the one place they are created.

Briefs (`briefmail.briefs.store`) and subscribers (`briefmail.audience`) both name
topics, and briefs come before the audience in the flow, so creating the rows lives
here, below both, rather than in `briefmail.audience.topics` (which turns names into
slugs, resolves and lists topics, and calls this).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from briefmail import clock
from briefmail.db.dialect import insert_ignoring
from briefmail.db.models import Topic


def ensure_topic_pairs(session: Session, pairs: Sequence[tuple[str, str]]) -> list[Topic]:
    """The topics for (slug, display name) pairs, in order, creating the missing ones.

    The slugs are already resolved (see `briefmail.audience.topics.ensure_topics` for
    names). A real display name replaces a bare slug stored before it.
    """
    if not pairs:
        return []
    slugs = [slug for slug, _ in pairs]
    found = {t.slug: t for t in session.scalars(select(Topic).where(Topic.slug.in_(slugs)))}
    missing = [
        {"slug": slug, "name": name, "created_at": clock.now()}
        for slug, name in pairs
        if slug not in found
    ]
    if missing:
        # ON CONFLICT: a concurrent import may create the same topic first.
        table = cast(Table, Topic.__table__)
        session.execute(insert_ignoring(session, table, ["slug"]), missing)
        created = select(Topic).where(Topic.slug.in_([row["slug"] for row in missing]))
        found.update({t.slug: t for t in session.scalars(created)})
    for slug, name in pairs:
        topic = found[slug]
        if topic.name == topic.slug and name != slug:
            topic.name = name  # a real display name replaces a bare slug
    return [found[slug] for slug in slugs]
