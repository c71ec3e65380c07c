"""Reading a webhook body with limits, and telling which events can be stored.

A signed body is still input: a batch is parsed with orjson, which refuses nesting
past 1024 levels, numbers that only fit as infinity (`1e400`), NaN and lone
surrogates instead of raising something unexpected; then each event is checked for
what the database cannot hold (a NUL character: PostgreSQL's text and JSONB types
refuse it) or should not be asked to (nesting deeper than any provider writes). An
event that fails is refused alone, so the rest of its batch is still applied.
"""

from __future__ import annotations

from typing import Any

import orjson

from briefmail.errors import InvalidInputError

MAX_EVENT_DEPTH = 16  # SendGrid's events nest three levels (custom_args, pool)


def load_array(body: bytes) -> list[Any]:
    """The JSON array `body` holds; InvalidInputError when it is not one."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"body: not JSON within limits ({_short(exc)})") from None
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
            if "\x00" in value:
                return "a NUL character"
        elif isinstance(value, dict | list):
            if depth > MAX_EVENT_DEPTH:
                return f"nested deeper than {MAX_EVENT_DEPTH} levels"
            if isinstance(value, dict):
                stack.extend((key, depth) for key in value)
                stack.extend((child, depth + 1) for child in value.values())
            else:
                stack.extend((child, depth + 1) for child in value)
    return None


def _short(exc: Exception) -> str:
    return str(exc).split(":", 1)[0][:80]
