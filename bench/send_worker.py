"""A Celery worker for bench/send.py, sending through the path the benchmark names.

    python bench/send_worker.py library|httpx [celery worker options...]

`library` is briefmail as it is (the `sendgrid` library). `httpx` puts back the
posting path that came before it, kept here only as the benchmark's baseline: the
same body from `build_body`, serialised by orjson and posted by a keep-alive httpx
client (one TLS context and connection reused across requests).
"""

from __future__ import annotations

import ssl
import sys

import httpx
import orjson

from briefmail.config import Settings
from briefmail.sending import backends
from briefmail.sending.backends.base import BatchResult, EmailBackend, OutgoingBatch
from briefmail.sending.backends.sendgrid import build_body


class HttpxSendGrid(EmailBackend):
    """The pre-library path: the stand-in answers 202 in the benchmark, so a
    non-2xx only needs to fail loudly."""

    name = "sendgrid"

    def __init__(self, *, api_key: str, host: str, timeout: float) -> None:
        self.client = httpx.Client(
            base_url=host,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=4, keepalive_expiry=5.0),
            verify=ssl.create_default_context(),  # honours SSL_CERT_FILE, as urllib does
        )

    def send_batch(self, batch: OutgoingBatch) -> BatchResult:
        response = self.client.post(
            "/v3/mail/send",
            content=orjson.dumps(build_body(batch)),
            headers={"Content-Type": "application/json"},
        )
        response.raise_for_status()
        return BatchResult(provider_message_id=response.headers.get("X-Message-Id"))

    def close(self) -> None:
        self.client.close()


def httpx_sendgrid(settings: Settings) -> EmailBackend:
    assert settings.sendgrid_api_key is not None
    return HttpxSendGrid(
        api_key=settings.sendgrid_api_key.get_secret_value(),
        host=settings.sendgrid_host,
        timeout=settings.http_timeout_seconds,
    )


PATHS = ("library", "httpx")


def main() -> None:
    path, *argv = sys.argv[1:]
    if path not in PATHS:
        raise SystemExit(f"send_worker: path must be one of {PATHS}, not {path!r}")
    if path == "httpx":
        backends.BACKENDS["sendgrid"] = httpx_sendgrid
    from worker.app import app

    app.worker_main(argv=["worker", *argv])


if __name__ == "__main__":
    main()
