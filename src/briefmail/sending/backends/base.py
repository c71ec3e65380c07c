"""The one interface every way of sending mail implements.

The pipeline around it is fixed (claim a batch, build it, hand it over, record the
answer) and lives in `briefmail.sending.engine`; a backend only turns an
`OutgoingBatch` into a provider request and the provider's answer into a
`BatchResult` or one of three errors. Which error decides what the ledger does:

- `TransientError` (429, 5xx, a connection that never carried the request): the
  batch goes back to `pending` with a later `due_at`.
- `PermanentError` (400 and other refusals): the batch fails, nobody was mailed.
- `UnknownOutcomeError` (the request left but no answer came): the batch may have
  gone out; it is settled from evidence, never resent blindly.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

from briefmail.errors import BriefmailError
from briefmail.render.personalise import Template


@dataclass(frozen=True, slots=True)
class OutgoingRecipient:
    delivery_id: int
    subscriber_id: int | None  # None for a proof (--test-to)
    email: str
    name: str
    # Placeholder key (as in `briefmail.render.personalise`) -> this recipient's value.
    values: Mapping[str, str]
    # List-Unsubscribe / List-Unsubscribe-Post for this recipient.
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class OutgoingContent:
    """The send's rendered email, shared by every batch of the send."""

    subject: str
    html: str
    text: str
    from_address: str
    reply_to: str = ""
    html_template: Template = field(init=False)
    text_template: Template = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "html_template", Template.compile(self.html))
        object.__setattr__(self, "text_template", Template.compile(self.text))

    @property
    def placeholders(self) -> frozenset[str]:
        """Every key the html or text part needs a value for."""
        return self.html_template.placeholders | self.text_template.placeholders


@dataclass(frozen=True, slots=True)
class OutgoingBatch:
    send_id: int
    batch_id: int
    attempt_key: str  # unique per attempt; custom_args "attempt_key" (SendGrid uses "attempt")
    content: OutgoingContent
    recipients: Sequence[OutgoingRecipient]
    # For backends that hand messages over one at a time (SMTP): called with each group
    # of delivery ids handed over, so a crash mid-batch leaves one group in doubt at most.
    progress: Callable[[frozenset[int]], None] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class BatchResult:
    provider_message_id: str | None = None
    # Recipients the provider refused one by one (delivery id -> reason); the rest
    # were accepted.
    refused: Mapping[int, str] = field(default_factory=dict)


class OrphanOutcome(StrEnum):
    """What a backend can tell about a batch whose worker died during the request."""

    SENT = "sent"  # evidence that every recipient got it
    NOT_SENT = "not_sent"  # resending cannot duplicate anything
    UNKNOWN = "unknown"  # no way to tell: an operator decides


class ProviderError(BriefmailError):
    """A provider did not accept a batch; carries what it answered."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body: str = "",
        retry_after: float | None = None,
        accepted: frozenset[int] = frozenset(),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        self.retry_after = retry_after
        # Deliveries already handed over before the failure (SMTP sends one by one).
        self.accepted = accepted

    def describe(self) -> str:
        """One line for the batch's error column: message, status and response body."""
        parts = [str(self)]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.body:
            parts.append(self.body[:500].replace("\n", " "))
        return ": ".join(parts)


class TransientError(ProviderError):
    """Try again later (429, 5xx, connection refused or reset before the request left)."""


class PermanentError(ProviderError, ValueError):
    """The provider refused the request; sending it again would be refused again."""


class UnknownOutcomeError(ProviderError):
    """The request left and no answer came: it may or may not have been accepted."""


class EmailBackend(ABC):
    """Sends one batch per call; one provider request per batch where the provider allows."""

    name: ClassVar[str]

    @abstractmethod
    def send_batch(self, batch: OutgoingBatch) -> BatchResult:
        """Hand the batch over, or raise Transient/Permanent/UnknownOutcomeError."""

    def orphan_outcome(self, send_id: int, delivery_ids: Sequence[int]) -> OrphanOutcome:
        """What the backend itself knows about a batch whose worker died mid-request."""
        return OrphanOutcome.UNKNOWN

    def close(self) -> None:  # noqa: B027 - most backends hold nothing
        """Release connections; the backend may be used again afterwards."""
