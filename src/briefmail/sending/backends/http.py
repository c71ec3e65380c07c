"""HTTP plumbing for API backends, written once: session, timeouts, status mapping.

The distinction that matters for exactly-once is *where* a request failed. If the
connection could not be made, or broke while the body was still being written, the
provider cannot have accepted it (it answers only after the whole body), so trying
again is safe. If the body was sent and no answer came back (read timeout, the
connection dropped after writing), the provider may have accepted it: that is an
unknown outcome, settled later, never retried blindly.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from datetime import UTC

import httpx

from briefmail import clock
from briefmail.sending.backends.base import (
    PermanentError,
    TransientError,
    UnknownOutcomeError,
)

_SAFE_TO_RETRY = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.WriteError,
    httpx.WriteTimeout,
)
_UNKNOWN = (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError)


class JsonApi:
    """A keep-alive HTTP client for one provider API."""

    def __init__(
        self, base_url: str, *, headers: Mapping[str, str], timeout: float, name: str
    ) -> None:
        self.name = name
        self._client = httpx.Client(
            base_url=base_url,
            headers=dict(headers),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            # Shorter than the idle timeout of any sane server, so a pooled connection
            # is not reused just as the server closes it (that would look "unknown").
            limits=httpx.Limits(max_connections=4, keepalive_expiry=5.0),
        )

    def post(self, path: str, body: bytes) -> httpx.Response:
        """POST a JSON body; return a 2xx response or raise a ProviderError subclass."""
        try:
            response = self._client.post(
                path, content=body, headers={"Content-Type": "application/json"}
            )
        except _SAFE_TO_RETRY as exc:
            raise TransientError(f"{self.name}: request not delivered ({_what(exc)})") from exc
        except _UNKNOWN as exc:
            raise UnknownOutcomeError(
                f"{self.name}: no answer after the request was sent ({_what(exc)})"
            ) from exc
        except httpx.HTTPError as exc:  # anything else: the request may have left
            raise UnknownOutcomeError(f"{self.name}: {_what(exc)}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return response
        text = response.text
        if status == 429 or status >= 500:
            raise TransientError(
                f"{self.name} asked to retry",
                status=status,
                body=text,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        raise PermanentError(f"{self.name} refused the request", status=status, body=text)

    def close(self) -> None:
        self._client.close()


def _what(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds: a number of seconds or an HTTP date; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - clock.now()).total_seconds())
