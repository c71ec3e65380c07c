"""Where the email templates are, and the one Jinja environment that renders them.

An installed wheel carries them as `briefmail/templates/email` (pyproject's
force-include); a checkout has them at the repository's `templates/email`. The
package copy wins so an installed briefmail never reads a stray checkout.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "templates" / "email"
CHECKOUT_DIR = Path(__file__).resolve().parents[3] / "templates" / "email"
MAIN_TEMPLATE = "brief.mjml.j2"


def template_dir() -> Path:
    for candidate in (PACKAGE_DIR, CHECKOUT_DIR):
        if (candidate / MAIN_TEMPLATE).is_file():
            return candidate
    raise FileNotFoundError(
        f"email templates not found: looked for {MAIN_TEMPLATE} in {PACKAGE_DIR} and {CHECKOUT_DIR}"
    )


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir()),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
