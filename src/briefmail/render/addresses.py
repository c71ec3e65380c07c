"""A person's name in an address header: the one rule every transport uses.

A display name is whatever a person or an import put in it, and an address header is
parsed by every mail program on the way: a comma, a colon, a quote or a semicolon in
it, once unquoted, adds a recipient or makes a group. Quoting is not enough: Python's
own email package drops the quotes when it folds a long quoted name, and SendGrid
writes the JSON `name` into the header as it is. So a name stands in a header as
plain words only when it is letters, digits, spaces, apostrophes and hyphens (and
short enough to need no folding); anything else becomes RFC 2047 encoded-words, which
hold no character a header parser acts on and which every mail program shows decoded.
"""

from __future__ import annotations

import base64
import re

_PLAIN = re.compile(r"[A-Za-z0-9'-]+(?: [A-Za-z0-9'-]+)*")
_PLAIN_MAX = 60
# 45 bytes are 60 base64 characters: with "=?utf-8?b?" and "?=", 72 of the 75 RFC 2047
# allows one encoded-word.
_WORD_BYTES = 45
# What `audience.subscribers.normalise_email` stores: ASCII, no space, no header syntax.
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")
LINE = 78  # RFC 5322's recommended line length


def display_name(name: str) -> str:
    """`name` as it may stand in a header (or a provider's `name` field): unchanged when
    plain, else encoded-words separated by spaces (which decoders drop between them)."""
    return " ".join(_words(name))


def address_header(header: str, name: str, email: str) -> str:
    """The value of `header` (e.g. "To") naming one recipient, folded at `LINE` columns.

    ValueError if `email` is not a stored address: it is never encoded, so it must
    carry nothing a header parser would act on."""
    if not _ADDRESS.fullmatch(email):
        raise ValueError("not a stored email address")
    tokens = [*_words(name), f"<{email}>"] if name else [email]
    lines: list[str] = []
    line = ""
    width = len(header) + 2  # "To: "
    for token in tokens:
        if line and width + len(line) + 1 + len(token) > LINE:
            lines.append(line)
            line, width = token, 1  # a folded line starts with one space
        else:
            line = f"{line} {token}" if line else token
    lines.append(line)
    return "\n ".join(lines)


def _words(name: str) -> list[str]:
    if not name:
        return []
    if len(name) <= _PLAIN_MAX and _PLAIN.fullmatch(name):
        return name.split(" ")
    data = name.encode("utf-8")
    words = []
    start = 0
    while start < len(data):
        end = min(start + _WORD_BYTES, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:
            end -= 1  # never split a character between two words
        words.append(f"=?utf-8?b?{base64.b64encode(data[start:end]).decode('ascii')}?=")
        start = end
    return words
