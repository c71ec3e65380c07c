"""Each alarm incident mailed once to BRIEFMAIL_ALERT_TO, through the configured backend.

The incidents new at a tick are claimed first (a row per incident key in
`alarm_notices`), then mailed together in one message, then marked mailed: two
workers ticking at once never both mail one; a mail the backend refuses is released
for the next tick; a claim whose worker died before mailing is taken again after the
lease. A crash between the mail and its mark can mail an incident twice; nothing
makes one go unmailed.

The message carries its own attempt key, and its provider events, like any later
request's, show the event webhook alive (`evidence.later_request_seen`): a batch in
doubt with no other request after it still gets the evidence it needs to settle.
"""

from __future__ import annotations

import html
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.utils import parseaddr

from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker

from briefmail.db.dialect import begin_write, insert_new, rowcount
from briefmail.db.models import AlarmNotice
from briefmail.sending.alarms import Alarm
from briefmail.sending.backends.base import (
    EmailBackend,
    OutgoingBatch,
    OutgoingContent,
    OutgoingRecipient,
)
from briefmail.sending.failures import first_line

log = logging.getLogger(__name__)


def notify(
    sessions: sessionmaker[Session],
    backend: EmailBackend,
    alarms: Sequence[Alarm],
    *,
    to: Sequence[str],
    from_address: str,
    now: datetime,
    lease_seconds: float,
) -> list[str]:
    """Mail the incidents among `alarms` not mailed yet; returns their keys."""
    if not to or not alarms:
        return []
    key = uuid.uuid4().hex
    with sessions() as session:
        claimed = claim(session, alarms, attempt_key=key, now=now, lease_seconds=lease_seconds)
    if not claimed:
        return []
    keys = [alarm.key for alarm in claimed]
    try:
        backend.send_batch(alarm_batch(claimed, to=to, from_address=from_address, key=key))
    except Exception as exc:  # the next tick tries again
        log.warning("alarm mail not sent (%s): %s", ", ".join(keys), first_line(exc))
        with sessions() as session:
            begin_write(session)
            session.execute(
                delete(AlarmNotice).where(AlarmNotice.key.in_(keys), AlarmNotice.attempt_key == key)
            )
            session.commit()
        return []
    with sessions() as session:
        begin_write(session)
        session.execute(
            update(AlarmNotice)
            .where(AlarmNotice.key.in_(keys), AlarmNotice.attempt_key == key)
            .values(mailed_at=now)
        )
        session.commit()
    return keys


def claim(
    session: Session,
    alarms: Sequence[Alarm],
    *,
    attempt_key: str,
    now: datetime,
    lease_seconds: float,
) -> list[Alarm]:
    """The alarms this caller is to mail: new incidents, and incidents claimed by a
    worker that died before mailing them. One transaction; commits."""
    begin_write(session)
    rows = [
        {
            "key": alarm.key,
            "kind": alarm.kind,
            "send_id": alarm.send_id,
            "message": alarm.message,
            "attempt_key": attempt_key,
            "raised_at": alarm.since,
            "claimed_at": now,
        }
        for alarm in alarms
    ]
    mine = set(insert_new(session, AlarmNotice, rows, key="key", returning=AlarmNotice.key))
    stale = now - timedelta(seconds=lease_seconds)
    for alarm in alarms:
        if alarm.key in mine:
            continue
        taken = session.execute(
            update(AlarmNotice)
            .where(
                AlarmNotice.key == alarm.key,
                AlarmNotice.mailed_at.is_(None),
                AlarmNotice.claimed_at < stale,
            )
            .values(attempt_key=attempt_key, claimed_at=now)
        )
        if rowcount(taken) == 1:
            mine.add(alarm.key)
    session.commit()
    return [alarm for alarm in alarms if alarm.key in mine]


def alarm_batch(
    alarms: Sequence[Alarm], *, to: Sequence[str], from_address: str, key: str
) -> OutgoingBatch:
    """One message to every alert address, listing the alarms.

    It belongs to no send and no subscriber: send and batch 0 (as the confirmation
    mail), so its provider events change no delivery; negative delivery ids derived
    from its key keep each message's outbox files apart from every other's."""
    subject = (
        f"[briefmail] {alarms[0].message}"[:200]
        if len(alarms) == 1
        else f"[briefmail] {len(alarms)} alarms"
    )
    lines = [f"- {alarm.message}" for alarm in alarms]
    text = (
        "briefmail raised these alarms:\n\n"
        + "\n".join(lines)
        + "\n\n`briefmail sends list` shows what stands now; each alarm is mailed once.\n"
    )
    items = "".join(f"<li>{html.escape(alarm.message)}</li>" for alarm in alarms)
    page = (
        f"<p>briefmail raised these alarms:</p><ul>{items}</ul>"
        "<p><code>briefmail sends list</code> shows what stands now; each alarm is mailed "
        "once.</p>"
    )
    base = int(key[:12], 16) * 100
    recipients = [
        OutgoingRecipient(
            delivery_id=-(base + index),
            subscriber_id=None,
            email=email,
            name=name,
            values={},
            headers={},
        )
        for index, (name, email) in enumerate(map(parseaddr, to), start=1)
    ]
    content = OutgoingContent(subject=subject, html=page, text=text, from_address=from_address)
    return OutgoingBatch(
        send_id=0, batch_id=0, attempt_key=key, content=content, recipients=recipients
    )
