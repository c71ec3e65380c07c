"""SendGrid v3 Mail Send through the official `sendgrid` library.

The body is built directly as a plain dict, one personalization per recipient,
because the library's `Mail` helper copies personalization 0's substitutions onto
everyone and reorders personalizations. Per-recipient values travel as
`substitutions` keyed by our placeholder strings, so SendGrid fills the one rendered
email per recipient; `custom_args` carry our ids (echoed back in every event, the
join between what we sent and what SendGrid reports); SendGrid's own
click/open/subscription tracking is off because we track clicks ourselves and put
our own List-Unsubscribe headers in.

The request goes through `SendGridAPIClient` (python_http_client on urllib). What
matters for exactly-once is *where* a request failed, and urllib tells it apart:

- `URLError`: raised while connecting or while the request was still being written
  (refused, unreachable, TLS failure, timeout or reset mid-body). SendGrid answers
  only after the whole body, so it cannot have accepted it: safe to retry.
- no answer after the whole body was written (read timeout, reset, closed without a
  status line): SendGrid may have accepted it. The outcome is unknown, settled from
  evidence, never retried blindly.
- an answer: python_http_client's `HTTPError` subclasses carry its status. 429 and
  5xx ask for a retry (with `Retry-After`), any other refusal is permanent.

Each request opens its own connection (urllib sends `Connection: close`), so a pooled
connection closed by the server just as it is reused can never turn a safe retry
into an unknown outcome. The costs of the library's way of posting are measured in
BENCHMARKS.md (send benchmark).
"""

from __future__ import annotations

import email.utils
import http.client
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parseaddr
from itertools import chain
from typing import Any
from urllib.error import URLError
from urllib.parse import urlsplit

import orjson
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from briefmail import clock
from briefmail.errors import ConfigError
from briefmail.render.addresses import display_name
from briefmail.render.personalise import placeholder
from briefmail.sending.backends.base import (
    BatchResult,
    EmailBackend,
    OutgoingBatch,
    OutgoingContent,
    OutgoingRecipient,
    PermanentError,
    ProviderError,
    TransientError,
    UnknownOutcomeError,
)

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


# python_http_client runs json.dumps on the body unless the Content-Type is something
# other than plain "application/json" (python-http-client 2.2.1: "When Content-Type is
# not application/json, do not JSON encode the request body"); then it sends the body
# string as given. So the body is serialised once, by orjson, and labelled with the
# same media type and its charset.
SERIALISED_JSON = {"Content-Type": "application/json; charset=utf-8"}

# python_http_client logs each request's headers (the API key) and body (every
# recipient's signed links) at DEBUG: keep them out of the logs whatever the root level.
logging.getLogger("python_http_client.client").setLevel(logging.INFO)


class SendGridBackend(EmailBackend):
    name = "sendgrid"

    def __init__(self, *, api_key: str, host: str, timeout: float) -> None:
        _check_host(host)
        _check_api_key(api_key)
        # urllib's socket timeout: connecting, writing the request, each wait for the answer.
        self.timeout = timeout
        # The Mail Send endpoint's client, made once; each post is its own request.
        self._mail_send: Any = SendGridAPIClient(api_key=api_key, host=host).client.mail.send

    def send_batch(self, batch: OutgoingBatch) -> BatchResult:
        body = orjson.dumps(build_body(batch)).decode()
        try:
            response = self._mail_send.post(
                request_body=body, request_headers=SERIALISED_JSON, timeout=self.timeout
            )
        except HTTPError as exc:
            raise _answered(exc) from exc
        except URLError as exc:
            raise TransientError(f"SendGrid: request not delivered ({_what(exc.reason)})") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise UnknownOutcomeError(
                f"SendGrid: no answer after the request was sent ({_what(exc)})"
            ) from exc
        return BatchResult(provider_message_id=response.headers.get("X-Message-Id"))


def _answered(exc: HTTPError) -> ProviderError:
    """SendGrid's refusal as the error that tells the ledger what to do."""
    status: int = exc.status_code
    raw = exc.body
    body = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")
    if status == 429 or status >= 500:
        headers = exc.headers
        return TransientError(
            "SendGrid asked to retry",
            status=status,
            body=body,
            retry_after=retry_after_seconds(headers.get("Retry-After") if headers else None),
        )
    return PermanentError("SendGrid refused the request", status=status, body=body)


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds: a number of seconds or an HTTP date; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - clock.now()).total_seconds())


def _what(reason: object) -> str:
    text = str(reason)
    if isinstance(reason, BaseException):
        return f"{type(reason).__name__}: {text}" if text else type(reason).__name__
    return text


def _check_host(host: str) -> None:
    """A host urllib cannot use would fail every batch; say so before any is claimed."""
    problem = ""
    try:
        parts = urlsplit(host)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        problem = str(exc)
    else:
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problem = "not an http(s)://host[:port] URL"
    if problem:
        raise ConfigError(f"BRIEFMAIL_SENDGRID_HOST: {host!r}: {problem}")


def _check_api_key(api_key: str) -> None:
    """urllib refuses a header value with whitespace or control characters (a key read
    from a file often ends in a newline), and only once a batch is in flight."""
    if not api_key or any(c.isspace() or not c.isprintable() for c in api_key):
        raise ConfigError(
            "BRIEFMAIL_SENDGRID_API_KEY: must be one word of printable characters "
            "(no spaces or line breaks)"
        )


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

    For measuring ahead of a send (`briefmail.sending.sendgrid_limits`): the size a probe
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
