"""`briefmail archive build DIR`: the public archive as static files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from briefmail import clock
from briefmail.archive.pages import Pages, SiteOptions
from briefmail.archive.site import read_site
from briefmail.archive.static import write_static
from briefmail.archive.urls import Urls
from briefmail.cli import app
from briefmail.config import get_settings
from briefmail.db import session_scope
from briefmail.errors import InvalidInputError
from briefmail.render.webcopy import ARCHIVE_PATH

archive_app = typer.Typer(help="The public archive of briefs that went out.", no_args_is_help=True)
app.add_typer(archive_app, name="archive")


@archive_app.command("build")
def build(
    directory: Annotated[
        Path, typer.Argument(help="Folder to write (new, empty or an earlier build).")
    ],
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="Where the folder will be served; default: BRIEFMAIL_PUBLIC_URL/archive.",
        ),
    ] = None,
) -> None:
    """Write the archive (index, one page per brief, Atom feed) as static files.

    Only briefs that went out are in it, as they went out; sign-up forms post to
    the web app's /subscribe.
    """
    settings = get_settings()
    base = (base_url or settings.public_url + ARCHIVE_PATH).rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise InvalidInputError(
            f"--base-url: {base!r} is not an http(s) URL such as https://example.org/archive"
        )
    pages = Pages(SiteOptions.from_settings(settings), Urls.for_static(base, settings.public_url))
    with session_scope() as session:
        site = read_site(session, pages, now=clock.now())
    done = write_static(site, directory)
    typer.echo(f"{done.briefs} briefs, {done.files} files written to {done.directory}")
    typer.echo(f"serve that folder at {base}/")
