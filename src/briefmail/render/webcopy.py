"""The brief's web copy: the one address of a brief on the public archive.

The email's "View in browser" link and the archive's own pages, canonical links and
feed all name a brief by this URL, so a link in any inbox keeps working for as long
as the archive serves the brief. It holds nothing about the reader: every recipient
gets the same URL, rendered once with the rest of the email.
"""

from __future__ import annotations

from urllib.parse import quote

ARCHIVE_PATH = "/archive"


def archive_url(public_url: str, slug: str) -> str:
    """`PUBLIC_URL/archive/SLUG` (a slug is URL-safe already; quoted all the same)."""
    return f"{public_url.rstrip('/')}{ARCHIVE_PATH}/{quote(slug, safe='')}"
