"""What stored provider events prove about a batch's attempts.

Every request carries its attempt key in custom_args, and SendGrid puts it on every
event it sends back for that request; the webhook stores each event with that key in
a column (`ProviderEvent.attempt_key`), so nothing here reads a payload. Any event
at all (processed, deferred, delivered, bounce, dropped, ...) means the provider
accepted that request, so an event carrying a key the batch was actually sent with
is proof that attempt went out. A key the batch never used proves nothing: matching
on the keys, not on the batch id alone, keeps a stray event (another deployment
sharing the SendGrid account, a relay's replay) from settling or stopping a batch.

Only reads; the ledger decides what the proof changes, inside its own transaction
(each function here is called from one, under the batch's lock).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ColumnExpressionArgument, Exists, exists, func, select
from sqlalchemy.orm import Session

from briefmail import clock
from briefmail.db.models import AlarmNotice, Batch, ProviderEvent


@dataclass(frozen=True, slots=True)
class Sighting:
    """The first provider event stored for one attempt of a batch."""

    attempt_key: str
    event: str
    at: datetime

    def describe(self) -> str:
        return f"attempt {self.attempt_key} ({self.event} at {self.at.isoformat()})"


def attempt_keys(current: str | None, earlier: Sequence[str] | None) -> list[str]:
    """Every key the batch was sent with, oldest first (the current one last)."""
    keys = [str(k) for k in earlier or () if k]
    if current and current not in keys:
        keys.append(current)
    return keys


def sightings(session: Session, batch_id: int, keys: Collection[str]) -> dict[str, Sighting]:
    """Attempt key -> its first stored event, for those of `keys` the provider reported.

    One query on the (batch_id, attempt_key) index: the first event of each key."""
    if not keys:
        return {}
    at = func.coalesce(ProviderEvent.occurred_at, ProviderEvent.received_at)
    ranked = (
        select(
            ProviderEvent.attempt_key,
            ProviderEvent.event,
            at.label("at"),
            func.row_number()
            .over(partition_by=ProviderEvent.attempt_key, order_by=(at, ProviderEvent.id))
            .label("rank"),
        )
        .where(ProviderEvent.batch_id == batch_id, ProviderEvent.attempt_key.in_(list(keys)))
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.attempt_key, ranked.c.event, ranked.c.at).where(ranked.c.rank == 1)
    )
    return {key: Sighting(key, event, clock.as_utc(when)) for key, event, when in rows}


def earliest(seen: Mapping[str, Sighting]) -> Sighting | None:
    """The first of several attempts' sightings (when the batch first went out)."""
    return min(seen.values(), key=lambda s: s.at, default=None)


def first_sighting(session: Session, batch_id: int, keys: Collection[str]) -> Sighting | None:
    """When the first of these attempts of the batch was reported, if any was."""
    return earliest(sightings(session, batch_id, keys))


def earlier_attempt_went_out(session: Session, batch_id: int) -> Sighting | None:
    """Events of one of the batch's attempts before its current one, if any came."""
    earlier = session.scalar(select(Batch.earlier_attempt_keys).where(Batch.id == batch_id))
    return first_sighting(session, batch_id, attempt_keys(None, earlier))


def batch_went_out(session: Session, batch: Batch) -> tuple[Sighting | None, str | None]:
    """When events first showed one of the batch's attempts arrived, and a note for the
    operator when that was not (only) its current attempt: whoever was in both
    requests may have had the brief twice, which nobody can undo but people should know."""
    seen = sightings(session, batch.id, attempt_keys(batch.attempt_key, batch.earlier_attempt_keys))
    first = earliest(seen)
    earlier = earliest({k: s for k, s in seen.items() if k != batch.attempt_key})
    if first is None or earlier is None:
        return first, None
    if batch.attempt_key in seen:
        note = (
            f"provider events show both earlier {earlier.describe()} and attempt "
            f"{batch.attempt_key} went out: its recipients may have the brief twice"
        )
    else:
        note = (
            f"provider events show earlier {earlier.describe()} went out; whether attempt "
            f"{batch.attempt_key} did too is unknown (if so its recipients have it twice)"
        )
    return first, note


@dataclass(frozen=True, slots=True)
class LaterRequest:
    """A request made after some moment, whose provider events have been stored."""

    what: str  # "batch 12", "an alarm mail"
    made_at: datetime

    def describe(self) -> str:
        return f"{self.what}, sent at {self.made_at.isoformat(timespec='seconds')}"


def later_request_seen(session: Session, batch_id: int, after: datetime) -> LaterRequest | None:
    """Events of a request made after `after` (another batch's current attempt, or an
    alarm mail of ours): the event webhook was alive and had caught up past `after`.

    Each request made since is looked up on the (batch_id, attempt_key) index, the
    newest first."""
    later = session.execute(
        select(Batch.id, Batch.claimed_at)
        .where(
            Batch.id != batch_id,
            Batch.claimed_at > after,
            _reported(ProviderEvent.batch_id == Batch.id, Batch.attempt_key),
        )
        .order_by(Batch.claimed_at.desc(), Batch.id.desc())
        .limit(1)
    ).first()
    if later is not None:
        return LaterRequest(f"batch {later.id}", clock.as_utc(later.claimed_at))
    # Alarm mails belong to no batch: their events carry batch id 0.
    mailed: datetime | None = session.scalar(
        select(AlarmNotice.claimed_at)
        .where(
            AlarmNotice.claimed_at > after,
            AlarmNotice.mailed_at.is_not(None),
            _reported(ProviderEvent.batch_id == 0, AlarmNotice.attempt_key),
        )
        .order_by(AlarmNotice.claimed_at.desc())
        .limit(1)
    )
    return None if mailed is None else LaterRequest("an alarm mail", clock.as_utc(mailed))


def _reported(batch: ColumnElement[bool], key: ColumnExpressionArgument[Any]) -> Exists:
    """Whether an event of the request sent with `key` has been stored."""
    return exists().where(batch, ProviderEvent.attempt_key == key)
