"""Turning a claimed batch into what a backend sends: content once, values per recipient.

The rendered email is read from the send row (stored at snapshot time), compiled
once per process and kept: every batch of a send shares it. Per recipient only the
placeholder values are computed (signed link tokens via `tracking.links`), which is
the whole per-recipient cost of a send.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from briefmail.db.models import Delivery, Send, SendLink, Subscriber
from briefmail.render import personalise as p
from briefmail.render.message import list_unsubscribe_headers
from briefmail.render.reason import topics_phrase
from briefmail.sending.backends.base import OutgoingBatch, OutgoingContent, OutgoingRecipient
from briefmail.sending.claims import Claim
from briefmail.sending.options import SendOptions
from briefmail.tracking.links import recipient_values


@dataclass(frozen=True, slots=True)
class SendContent:
    """What every batch of one send shares."""

    content: OutgoingContent
    link_ids: tuple[int, ...]
    topic_names: dict[str, str]  # slug -> display name, for the reason line
    kind: str


class ContentCache:
    """Per-process cache of sends' content (immutable once the send is snapshotted)."""

    def __init__(self, size: int = 8) -> None:
        self._items: OrderedDict[int, SendContent] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()  # worker threads share one engine

    def get(self, session: Session, send_id: int, options: SendOptions) -> SendContent:
        with self._lock:
            item = self._items.get(send_id)
        if item is None:
            item = _load_content(session, send_id, options)
            with self._lock:
                self._items[send_id] = item
                while len(self._items) > self._size:
                    self._items.popitem(last=False)
        return item


def _load_content(session: Session, send_id: int, options: SendOptions) -> SendContent:
    send = session.get_one(Send, send_id)
    if send.subject is None or send.html_template is None or send.text_template is None:
        raise RuntimeError(f"send {send_id} has no rendered email; it was never snapshotted")
    link_ids = tuple(
        session.scalars(
            select(SendLink.link_id).where(SendLink.send_id == send_id).order_by(SendLink.link_id)
        )
    )
    content = OutgoingContent(
        subject=send.subject,
        html=send.html_template,
        text=send.text_template,
        from_address=options.from_address,
        reply_to=options.reply_to,
    )
    names = {topic.slug: topic.name for topic in send.brief.topics}
    return SendContent(content, link_ids, names, send.kind)


def load_batch(
    session: Session, claim: Claim, options: SendOptions, cache: ContentCache
) -> OutgoingBatch:
    """The claimed batch's still-queued recipients with their personal values."""
    shared = cache.get(session, claim.send_id, options)
    rows = session.execute(
        select(
            Delivery.id,
            Delivery.subscriber_id,
            Delivery.email,
            Delivery.name,
            Delivery.topics,
            Subscriber.secret,
        )
        .outerjoin(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.batch_id == claim.batch_id, Delivery.status == "queued")
        .order_by(Delivery.id)
    ).all()
    session.rollback()
    names = shared.topic_names
    all_names = topics_phrase(list(names.values()))
    phrases: dict[str, str] = {}
    recipients = []
    for delivery_id, subscriber_id, email, name, topics, secret in rows:
        phrase = phrases.get(topics)
        if phrase is None:
            if shared.kind == "test":
                phrase = all_names
            else:
                phrase = topics_phrase([names.get(s, s) for s in topics.split(";") if s])
            phrases[topics] = phrase
        values = recipient_values(
            keys=options.keys,
            public_url=options.public_url,
            send_id=claim.send_id,
            link_ids=shared.link_ids,
            subscriber_id=subscriber_id or 0,
            subscriber_secret=secret or "",
            name=name,
            topics_text=phrase,
        )
        headers = list_unsubscribe_headers(values[p.UNSUBSCRIBE_URL], options.unsubscribe_mailto)
        recipients.append(
            OutgoingRecipient(delivery_id, subscriber_id, email, name, values, headers)
        )
    return OutgoingBatch(
        send_id=claim.send_id,
        batch_id=claim.batch_id,
        attempt_key=claim.attempt_key,
        content=shared.content,
        recipients=recipients,
    )
