"""`briefmail web`: serve the public web app (redirects, subscriber pages, webhooks)."""

from __future__ import annotations

import typer
import uvicorn

from briefmail.cli import app
from briefmail.config import get_settings
from briefmail.errors import InvalidInputError
from briefmail.web.serve import server_options


@app.command()
def web(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    workers: int = typer.Option(
        1, "--workers", min=1, help="Worker processes (each flushes its own clicks on exit)."
    ),
    forwarded_allow_ips: str = typer.Option(
        "127.0.0.1",
        "--forwarded-allow-ips",
        help="Proxies trusted for X-Forwarded-For (the client address the classifier sees).",
    ),
) -> None:
    """Serve the web app with uvicorn (uvloop + httptools, no access log; cached click
    redirects are answered by the HTTP protocol itself, see briefmail.web.protocol).

    SIGTERM or Ctrl-C stops it gracefully: in-flight requests finish and every
    buffered click is written before the process exits.
    """
    settings = get_settings()
    settings.signing_keys()  # a missing or guessable key stops here, in one line
    if workers > 1 and not settings.click_redis_url:
        raise InvalidInputError(
            "--workers > 1 needs BRIEFMAIL_REDIS_URL: clicks from every worker go through "
            "the Redis stream so one drainer sees them all (burst detection needs that)"
        )
    from briefmail.db.readiness import check_ready  # alembic: only for the commands using it

    check_ready(get_settings().database_url)  # one line now, not a failure per request
    uvicorn.run(
        "briefmail.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **server_options(forwarded_allow_ips=forwarded_allow_ips),
    )
