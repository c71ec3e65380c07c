"""The archive as static files, for any static host: `briefmail archive build DIR`.

The same `Site` the web app serves, rendered with a static build's URLs (`urls`):
`index.html` and the other index views, `SLUG/index.html` per brief, `feed.xml`,
`archive.css` and a `404.html` (the name static hosts look for).

Nothing is ever half-written: the files go to a new folder beside DIR, which then
takes DIR's place. DIR must be empty, missing, or an earlier build (it carries a
marker file); anything else is refused rather than replaced.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from briefmail.archive.pages import stylesheet
from briefmail.archive.site import Site
from briefmail.archive.urls import FEED, STYLESHEET, brief_file, index_file
from briefmail.errors import InvalidInputError

MARKER = ".briefmail-archive"


@dataclass(frozen=True, slots=True)
class StaticBuild:
    directory: Path
    briefs: int
    files: int


def write_static(site: Site, directory: Path) -> StaticBuild:
    target = directory.resolve()
    _check_target(target, directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        files = {
            FEED: site.feed.body,
            STYLESHEET: stylesheet().encode("utf-8"),
            "404.html": site.not_found.body,
            MARKER: b"Written by `briefmail archive build`; the next build replaces it whole.\n",
        }
        files |= {brief_file(slug): doc.body for slug, doc in site.briefs.items()}
        files |= {index_file(topic, page): doc.body for (topic, page), doc in site.indexes.items()}
        for name, body in files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
        staging.chmod(0o755)  # mkdtemp makes it private; a web server must read it
        _swap(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return StaticBuild(directory, len(site.briefs), len(files))


def _check_target(target: Path, given: Path) -> None:
    if not target.exists():
        return
    if not target.is_dir():
        raise InvalidInputError(f"{given}: exists and is not a folder")
    if any(target.iterdir()) and not (target / MARKER).is_file():
        raise InvalidInputError(
            f"{given}: is not empty and holds no earlier archive build ({MARKER}); "
            "give an empty or new folder"
        )


def _swap(staging: Path, target: Path) -> None:
    """Put `staging` where `target` is; the old build is removed only once it is out of the way."""
    if not target.exists():
        staging.rename(target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
    old.rmdir()
    target.rename(old)
    try:
        staging.rename(target)
    except BaseException:
        old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)
