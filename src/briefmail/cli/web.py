"""`briefmail web` and `briefmail clicks`: serve the public web app, and the click
listener beside it or alone."""

from __future__ import annotations

import typer
import uvicorn

from briefmail.cli import app
from briefmail.config import get_settings
from briefmail.errors import InvalidInputError
from briefmail.web.app import create_app
from briefmail.web.clickport import ClickPort
from briefmail.web.forwarded import TrustedProxies
from briefmail.web.serve import run_click_listener, server_options

_TRUSTED_HELP = "Proxies trusted for X-Forwarded-For (the client address the classifier sees)."


@app.command()
def web(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(
        8000, "--port", min=0, max=65535, help="Port to listen on (0: any free port)."
    ),
    click_port: int = typer.Option(
        0,
        "--click-port",
        min=0,
        help="Also run the click listener on this port (0: none; /c/ is answered on --port "
        "either way).",
    ),
    workers: int = typer.Option(
        1, "--workers", min=1, help="Worker processes (each flushes its own clicks on exit)."
    ),
    forwarded_allow_ips: str = typer.Option(
        "127.0.0.1", "--forwarded-allow-ips", help=_TRUSTED_HELP
    ),
) -> None:
    """Serve the public web app on uvicorn; with --click-port, the click listener beside it.

    uvloop and httptools, no access log. SIGTERM or Ctrl-C stops it gracefully:
    requests under way finish and every buffered click is written before the
    process exits.
    """
    settings = get_settings()
    settings.signing_keys()  # a missing or guessable key stops here, in one line
    TrustedProxies(forwarded_allow_ips)  # a clear error for a malformed list
    if workers > 1 and not settings.click_redis_url:
        raise InvalidInputError(
            "--workers > 1 needs BRIEFMAIL_REDIS_URL: clicks from every worker go through "
            "the Redis stream so one drainer sees them all (burst detection needs that)"
        )
    from briefmail.db.readiness import check_ready  # alembic: only for the commands using it

    check_ready(settings.database_url)  # one line now, not a failure per request
    options = server_options(forwarded_allow_ips=forwarded_allow_ips)
    if click_port:
        if workers > 1:
            raise InvalidInputError(
                "--click-port runs in one process: with --workers > 1, run `briefmail clicks` "
                "beside `briefmail web` instead"
            )
        where = ClickPort.bind(host, click_port, forwarded_allow_ips=forwarded_allow_ips)
        uvicorn.run(create_app(click_port=where), host=host, port=port, **options)
        return
    uvicorn.run(
        "briefmail.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **options,
    )


@app.command()
def clicks(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(
        8001, "--port", min=0, max=65535, help="Port to listen on (0: any free port)."
    ),
    forwarded_allow_ips: str = typer.Option(
        "127.0.0.1", "--forwarded-allow-ips", help=_TRUSTED_HELP
    ),
) -> None:
    """Run the click listener alone: /c/ redirects and click recording, nothing else.

    For deployments that give tracking links a host (or processes) of their own;
    several processes answering clicks need BRIEFMAIL_REDIS_URL, as
    `briefmail web --workers` does. SIGTERM or Ctrl-C stops it gracefully, every
    buffered click written.
    """
    settings = get_settings()
    settings.signing_keys()  # a missing or guessable key stops here, in one line
    from briefmail.db.readiness import check_ready  # alembic: only for the commands using it

    check_ready(settings.database_url)  # one line now, not a failure per click
    where = ClickPort.bind(host, port, forwarded_allow_ips=forwarded_allow_ips)
    typer.echo(f"briefmail: answering clicks on http://{host}:{where.port}/c/", err=True)
    run_click_listener(settings, where)
