"""Reading a webhook body with limits, and telling which events can be stored.

A signed body is still input. A batch is parsed so that nothing in it can raise
something unexpected: nesting too deep for the parser is a refusal of the whole body
(nothing in it can be read), and a number the database cannot hold (`1e400`, which
only fits as infinity; NaN; an integer of hundreds of digits) is read as a marker
instead of failing the batch. Then each event is checked on its own for what the
database cannot store (such a number, a NUL character: PostgreSQL's text and JSON
types refuse it) or should not be asked to (nesting deeper than any provider writes).
An event that fails is refused alone, so the rest of its batch is still applied.
"""

from __future__ import annotations

import json
import math
from typing import Any

from briefmail.errors import InvalidInputError

MAX_EVENT_DEPTH = 16  # SendGrid's events nest three levels (custom_args, pool)
_MAX_INT_DIGITS = 30


class _Unstorable:
    """Stands for a number no database column or JSON document here can hold."""


_NUMBER = _Unstorable()


def load_array(body: bytes) -> list[Any]:
    """The JSON array `body` holds; InvalidInputError when it is not one."""
    try:
        data = json.loads(
            body, parse_float=_float, parse_int=_int, parse_constant=lambda _name: _NUMBER
        )
    except RecursionError:
        raise InvalidInputError("body: nested too deep to read") from None
    except (UnicodeDecodeError, ValueError):
        raise InvalidInputError("body: not JSON") from None
    if not isinstance(data, list):
        raise InvalidInputError("body: expected a JSON list of events")
    return data


def unstorable(item: Any) -> str | None:
    """Why `item` cannot be stored as one event, or None when it can."""
    if not isinstance(item, dict):
        return "expected an object"
    stack: list[tuple[Any, int]] = [(item, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value or not (value.isascii() or _encodable(value)):
                return "a NUL character or an unpaired surrogate"
        elif value is _NUMBER:
            return "a number out of range"
        elif isinstance(value, dict | list):
            if depth > MAX_EVENT_DEPTH:
                return f"nested deeper than {MAX_EVENT_DEPTH} levels"
            if isinstance(value, dict):
                stack.extend((key, depth) for key in value)
                stack.extend((child, depth + 1) for child in value.values())
            else:
                stack.extend((child, depth + 1) for child in value)
    return None


def _float(text: str) -> float | _Unstorable:
    value = float(text)
    return value if math.isfinite(value) else _NUMBER


def _int(text: str) -> int | _Unstorable:
    return int(text) if len(text) <= _MAX_INT_DIGITS else _NUMBER


def _encodable(text: str) -> bool:
    """False for a lone surrogate (`"\\ud800"` is valid JSON, not valid UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
