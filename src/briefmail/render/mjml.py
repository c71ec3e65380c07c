"""MJML -> HTML through mjml-python, plus the fixes it does not make itself.

mjml-python does not validate: unknown tags pass into the HTML untouched. A
surviving `<mj-` tag means a template bug, so it fails the render rather than
reaching an inbox. Layout tables it leaves without a role get `role="presentation"`
so screen readers do not announce them as data tables.
"""

from __future__ import annotations

import re

import mjml

_TABLE_WITHOUT_ROLE = re.compile(r"<table(?![^>]*\brole=)", re.IGNORECASE)
_MJ_TAG = re.compile(r"</?mj-[a-z-]*", re.IGNORECASE)


class MjmlError(RuntimeError):
    """The template produced MJML that mjml-python refused or left partly unconverted."""


def to_html(source: str) -> str:
    try:
        html = str(mjml.mjml2html(source, disable_comments=True, fonts={}))
    except ValueError as exc:
        raise MjmlError(f"mjml-python refused the rendered template: {exc}") from exc
    leftover = _MJ_TAG.search(html)
    if leftover:
        raise MjmlError(f"unconverted MJML tag in output: {leftover.group(0)}>")
    return _TABLE_WITHOUT_ROLE.sub('<table role="presentation"', html)
