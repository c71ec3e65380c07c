"""SendGrid v3 Mail Send: only the request body and the settings SendGrid needs.

The body is built directly, one personalization per recipient, because the
library's `Mail` helper copies personalization 0's substitutions onto everyone and
reorders personalizations. Per-recipient values travel as `substitutions` keyed by
our placeholder strings, so SendGrid fills the one rendered email per recipient;
`custom_args` carry our ids (echoed back in every event, the join between what we
sent and what SendGrid reports); SendGrid's own click/open/subscription tracking is
off because we track clicks ourselves and put our own List-Unsubscribe headers in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from itertools import chain
from typing import Any

import orjson

from briefmail.render.addresses import display_name
from briefmail.render.personalise import placeholder
from briefmail.sending.backends.base import (
    BatchResult,
    EmailBackend,
    OutgoingBatch,
    OutgoingContent,
    OutgoingRecipient,
    PermanentError,
)
from briefmail.sending.backends.http import JsonApi

MAIL_SEND_PATH = "/v3/mail/send"
MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
MAX_SUBSTITUTIONS = 100
# substitutions + custom_args of one personalization, keys and values, UTF-8 bytes.
MAX_PERSONALIZATION_BYTES = 10_000
# SendGrid refuses these in `headers`; it sets them itself.
RESERVED_HEADERS = frozenset(
    h.lower()
    for h in (
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "Content-Type",
        "Content-Transfer-Encoding",
        "To",
        "From",
        "Subject",
        "Reply-To",
        "CC",
        "BCC",
    )
)
TRACKING_OFF = {
    "click_tracking": {"enable": False, "enable_text": False},
    "open_tracking": {"enable": False},
    "subscription_tracking": {"enable": False},
}


class SendGridBackend(EmailBackend):
    name = "sendgrid"

    def __init__(self, *, api_key: str, host: str, timeout: float) -> None:
        self._api = JsonApi(
            host,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=timeout,
            name="SendGrid",
        )

    def send_batch(self, batch: OutgoingBatch) -> BatchResult:
        response = self._api.post(MAIL_SEND_PATH, orjson.dumps(build_body(batch)))
        return BatchResult(provider_message_id=response.headers.get("X-Message-Id"))

    def close(self) -> None:
        self._api.close()


def _address(raw: str) -> dict[str, str]:
    name, addr = parseaddr(raw)
    return {"email": addr, "name": name} if name else {"email": addr}


def build_body(batch: OutgoingBatch) -> dict[str, Any]:
    """The v3 Mail Send body for `batch`; PermanentError if it breaks a SendGrid limit."""
    recipients = batch.recipients
    if not recipients:
        raise PermanentError("a SendGrid request needs at least one recipient")
    if len(recipients) > min(MAX_PERSONALIZATIONS, MAX_RECIPIENTS):
        raise PermanentError(
            f"batch has {len(recipients)} recipients; SendGrid takes at most {MAX_RECIPIENTS}"
        )
    content = batch.content
    pairs = _pairs(content)
    if len(pairs) > MAX_SUBSTITUTIONS:
        raise PermanentError(
            f"the email needs {len(pairs)} substitutions per recipient; SendGrid allows "
            f"{MAX_SUBSTITUTIONS} (too many tracked links)"
        )
    personalizations: list[dict[str, Any]] = []
    for r in recipients:
        one = _personalization(batch, r, pairs)
        _check_size(r.email, one["substitutions"], one["custom_args"])
        _check_headers(r.headers)
        personalizations.append(one)
    body: dict[str, Any] = {
        "personalizations": personalizations,
        "from": _address(content.from_address),
        "subject": content.subject,
        # SendGrid wants text/plain before text/html.
        "content": [
            {"type": "text/plain", "value": content.text},
            {"type": "text/html", "value": content.html},
        ],
        "tracking_settings": TRACKING_OFF,
    }
    if content.reply_to:
        body["reply_to"] = _address(content.reply_to)
    return body


def personalization(batch: OutgoingBatch, recipient: OutgoingRecipient) -> dict[str, Any]:
    """`recipient`'s personalization exactly as `build_body` writes it, limits unchecked.

    For measuring ahead of a send (`briefmail.sending.fit`): the size a probe
    recipient takes here is the size SendGrid will judge.
    """
    return _personalization(batch, recipient, _pairs(batch.content))


@dataclass(frozen=True, slots=True)
class PersonalizationSize:
    """One personalization against SendGrid's per-personalization limits."""

    substitutions: int
    bytes: int  # substitutions + custom_args, keys and values, UTF-8

    @classmethod
    def of(cls, personalization: Mapping[str, Any]) -> PersonalizationSize:
        substitutions = personalization["substitutions"]
        return cls(len(substitutions), _size(substitutions, personalization["custom_args"]))

    def breaches(self) -> list[str]:
        """What SendGrid would refuse, one phrase per limit broken (empty: it fits)."""
        found = []
        if self.substitutions > MAX_SUBSTITUTIONS:
            found.append(
                f"{self.substitutions} substitutions (SendGrid allows {MAX_SUBSTITUTIONS})"
            )
        if self.bytes > MAX_PERSONALIZATION_BYTES:
            found.append(
                f"{self.bytes:,} bytes of substitutions and custom_args (SendGrid allows "
                f"{MAX_PERSONALIZATION_BYTES:,})"
            )
        return found


def _pairs(content: OutgoingContent) -> list[tuple[str, str]]:
    """(placeholder key, substitution tag) for every key the email needs, sorted."""
    return [(key, placeholder(key)) for key in sorted(content.placeholders)]


def _personalization(
    batch: OutgoingBatch, r: OutgoingRecipient, pairs: list[tuple[str, str]]
) -> dict[str, Any]:
    values = r.values
    try:
        substitutions = {tag: values[key] for key, tag in pairs}
    except KeyError as exc:
        raise PermanentError(f"no value for placeholder {exc.args[0]!r}") from None
    custom_args = {
        "send_id": str(batch.send_id),
        "batch_id": str(batch.batch_id),
        "delivery_id": str(r.delivery_id),
        "subscriber_id": str(r.subscriber_id or 0),
        "attempt_key": batch.attempt_key,
    }
    to = {"email": r.email, "name": display_name(r.name)} if r.name else {"email": r.email}
    return {
        "to": [to],
        "substitutions": substitutions,
        "custom_args": custom_args,
        "headers": r.headers,
    }


def _size(*maps: Mapping[str, str]) -> int:
    blob = "".join(chain.from_iterable(chain.from_iterable(m.items() for m in maps)))
    return len(blob) if blob.isascii() else len(blob.encode())


def _check_size(email: str, *maps: Mapping[str, str]) -> None:
    size = _size(*maps)
    if size > MAX_PERSONALIZATION_BYTES:
        raise PermanentError(
            f"{email}: substitutions and custom_args take {size} bytes; SendGrid allows "
            f"{MAX_PERSONALIZATION_BYTES} per recipient"
        )


def _check_headers(headers: Mapping[str, str]) -> None:
    for name in headers:
        if name.lower() in RESERVED_HEADERS:
            raise PermanentError(f"header {name!r} is reserved by SendGrid")
