"""Write a preview to a folder: all three files or, on any failure, none of them."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from briefmail.errors import InvalidInputError
from briefmail.preview.build import Preview

FILES = ("email.html", "email.txt", "email.eml")


def write_preview(preview: Preview, out_dir: Path) -> list[Path]:
    """email.html, email.txt and email.eml in `out_dir` (created if missing)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidInputError(f"{out_dir}: --out must be a folder, and this is a file")
    contents = {
        "email.html": preview.html.encode("utf-8"),
        "email.txt": preview.text.encode("utf-8"),
        "email.eml": preview.message.as_bytes(),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[str, Path]] = []
    try:
        for name in FILES:
            fd, temp = tempfile.mkstemp(prefix=f".{name}.", dir=out_dir)
            staged.append((temp, out_dir / name))
            with os.fdopen(fd, "wb") as handle:
                handle.write(contents[name])
        for temp, final in staged:
            os.replace(temp, final)
    finally:
        for temp, _ in staged:
            if os.path.exists(temp):
                os.unlink(temp)
    return [out_dir / name for name in FILES]
