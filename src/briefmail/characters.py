"""Characters no text value may hold, and how to show a value that holds them.

Control characters (tab and line feed aside), lone surrogates and Unicode
noncharacters mean nothing in a title, a paragraph or a setting. They arrive from PDFs,
terminals and YAML escapes, and the XML step of rendering (MJML) refuses them, so a brief
or a setting holding one is refused where it is read, naming the place, rather than
failing a send later. A carriage return is a line ending: brief files have CRLF and CR
turned into LF before any value is cut out of them, so a CR still inside a value (a YAML
`"\\r"`, a `&#13;`) is refused like the other controls.
"""

from __future__ import annotations

import re

ALLOWED_CONTROLS = "\t\n"

_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    f"{chr(plane + 0xFFFE)}{chr(plane + 0xFFFF)}" for plane in range(0, 0x110000, 0x10000)
)
FORBIDDEN = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff{_NONCHARACTERS}]")
_SHOWN_ESCAPED = re.compile(f"[\x00-\x1f\x7f-\x9f\ud800-\udfff{_NONCHARACTERS}]")

_NAMES = {
    0x00: "null",
    0x07: "bell",
    0x08: "backspace",
    0x0B: "vertical tab",
    0x0C: "form feed",
    0x0D: "carriage return",
    0x1B: "escape",
    0x7F: "delete",
    0x85: "next line",
}


def describe(char: str) -> str:
    """`U+000C (form feed), a control character`: what the character is, for a message."""
    code = ord(char)
    name = f" ({_NAMES[code]})" if code in _NAMES else ""
    if 0xD800 <= code <= 0xDFFF:
        kind = "a lone surrogate (half of a pair)"
    elif code >= 0xFDD0 and (code <= 0xFDEF or code & 0xFFFE == 0xFFFE):
        kind = "a Unicode noncharacter"
    else:
        kind = "a control character"
    return f"U+{code:04X}{name}, {kind}"


def problem(text: str) -> str | None:
    """Why `text` cannot be a value (its first forbidden character), or None."""
    found = FORBIDDEN.search(text)
    if found is None:
        return None
    return f"contains {describe(found.group())}; remove it"


def shown(text: str) -> str:
    """`text` safe to print on one terminal line: controls and the like as escapes."""
    return _SHOWN_ESCAPED.sub(lambda m: ascii(m.group())[1:-1], text)
