"""The batch state machine: its table, and the one function that moves a batch.

`sending` is committed *before* the provider request, with a fresh attempt key and
the claiming worker's identity, and the answer is committed *after* it. So a crash
can only ever leave a batch in `sending`, and such a batch is never resent blindly:
its outcome is settled from evidence (provider events carrying its attempt key, or
what the backend can see), else it waits, `unknown`, for evidence or an operator. An
operator's "it did not go out" can be wrong, and provider events can be late: so a
batch that was sent before is checked for events of its earlier attempts in the very
transaction that claims it again, and evidence that one went out wins over sending it
a second time. Progress is the set of per-recipient rows, never a cursor moved ahead
of the work (listmonk's mistake).

Every status write is `move_batches`: one conditional UPDATE whose `status IN (...)`
comes from `BATCH`, so a write the table does not list cannot be made, and one that
finds the batch moved meanwhile changes nothing (it returns 0). The diagram in
`docs/states.md` is rendered from `BATCH` (`state_docs`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from briefmail.db.dialect import rowcount
from briefmail.db.models import Batch, BatchStatus
from briefmail.sending.state_machine import Machine, edges

__all__ = ["BATCH", "BatchEvent", "BatchStatus", "move_batches"]


class BatchEvent(StrEnum):
    CLAIM = "claim"
    EARLIER_ATTEMPT_SEEN = "earlier-attempt-seen"
    PROVIDER_ACCEPTED = "provider-accepted"
    RETRY = "retry"
    GIVE_UP = "give-up"
    REFUSED_AFTER_CANCEL = "refused-after-cancel"
    REFUSED_BUT_EARLIER_WENT_OUT = "refused-but-earlier-went-out"
    NO_ANSWER = "no-answer"
    OWNER_GONE = "owner-gone"
    EVENTS_ARRIVE = "events-arrive"
    SILENCE_IS_EVIDENCE = "silence-is-evidence"
    OPERATOR_RESOLVE = "operator-resolve"
    CANCEL = "cancel"
    SEND_FAILED = "send-failed"


P, S, A, F, U, C = (
    BatchStatus.PENDING,
    BatchStatus.SENDING,
    BatchStatus.ACCEPTED,
    BatchStatus.FAILED,
    BatchStatus.UNKNOWN,
    BatchStatus.CANCELLED,
)
Ev = BatchEvent

BATCH: Machine[BatchStatus, BatchEvent] = Machine(
    name="batch",
    initial=P,
    edges=edges(
        (P, Ev.CLAIM, S),
        (P, Ev.EARLIER_ATTEMPT_SEEN, A),
        (S, Ev.PROVIDER_ACCEPTED, A),
        # A live but slow owner's answer: it knows better than the guess that moved
        # the batch meanwhile (and stops a resend not yet claimed).
        (U, Ev.PROVIDER_ACCEPTED, A),
        (P, Ev.PROVIDER_ACCEPTED, A),
        (S, Ev.RETRY, P),
        (U, Ev.RETRY, P),
        (S, Ev.GIVE_UP, F),
        (U, Ev.GIVE_UP, F),
        (S, Ev.REFUSED_AFTER_CANCEL, C),
        (U, Ev.REFUSED_AFTER_CANCEL, C),
        (S, Ev.REFUSED_BUT_EARLIER_WENT_OUT, A),
        (U, Ev.REFUSED_BUT_EARLIER_WENT_OUT, A),
        (S, Ev.NO_ANSWER, U),
        (S, Ev.OWNER_GONE, A),
        (S, Ev.OWNER_GONE, P),
        (S, Ev.OWNER_GONE, C),
        (S, Ev.OWNER_GONE, U),
        (U, Ev.EVENTS_ARRIVE, A),
        (U, Ev.SILENCE_IS_EVIDENCE, P),
        (U, Ev.SILENCE_IS_EVIDENCE, C),
        (U, Ev.OPERATOR_RESOLVE, A),
        (U, Ev.OPERATOR_RESOLVE, P),
        (U, Ev.OPERATOR_RESOLVE, C),
        (P, Ev.CANCEL, C),
        (P, Ev.SEND_FAILED, C),
    ),
    causes={
        Ev.CLAIM: "a worker takes the due batch; committed before its request, with a "
        "fresh attempt key",
        Ev.EARLIER_ATTEMPT_SEEN: "the claim finds provider events of an earlier attempt: "
        "it went out, so the batch is not sent twice",
        Ev.PROVIDER_ACCEPTED: "the provider took the request (from `unknown` or "
        "`pending`: the owner outlived its lease, and its answer beats the guess)",
        Ev.RETRY: "the request was refused or failed and may be tried again later",
        Ev.GIVE_UP: "refused for good, or out of attempts",
        Ev.REFUSED_AFTER_CANCEL: "refused while its send was cancelled: a retry could "
        "never be claimed",
        Ev.REFUSED_BUT_EARLIER_WENT_OUT: "this attempt failed for good, but provider "
        "events show an earlier one went out",
        Ev.NO_ANSWER: "the request may have left and no answer came",
        Ev.OWNER_GONE: "the claiming worker's heartbeat stopped: accepted on evidence, "
        "pending (or cancelled with its send) when the backend shows it was not sent, "
        "unknown otherwise",
        Ev.EVENTS_ARRIVE: "provider events of one of its attempts arrive",
        Ev.SILENCE_IS_EVIDENCE: "no events for it past the grace while a later request's "
        "arrived: resent, or cancelled when its send no longer runs (`doubt`)",
        Ev.OPERATOR_RESOLVE: "`briefmail sends resolve`: `--accepted`, or `--resend` "
        "(cancelled when its send was cancelled)",
        Ev.CANCEL: "its send is cancelled before the batch is claimed",
        Ev.SEND_FAILED: "its send fails (could not start or write its ledger)",
    },
)


def move_batches(
    session: Session,
    where: ColumnElement[bool],
    *,
    by: BatchEvent,
    to: BatchStatus,
    **values: Any,
) -> int:
    """Move the batches matching `where` to `to` by the edge `by`: only those in a
    status the table moves to `to` by `by`. Returns how many moved; raises
    `TransitionError` (and writes nothing) for an edge the table does not have.
    In the caller's transaction."""
    if "status" in values:
        raise TypeError("the status is `to`, not a value")
    sources = BATCH.sources(by, to)
    moved = session.execute(
        update(Batch).where(where, Batch.status.in_(sources)).values(status=to, **values)
    )
    return rowcount(moved)
