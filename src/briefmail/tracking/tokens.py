"""The one token format for every public link.

A token is `base64url(payload) "." base64url(mac)`, both unpadded and in their one
canonical spelling (anything else is a bad token): the payload is a purpose letter
and a few unsigned integers as varints, the MAC is HMAC-SHA256 truncated to 96 bits
over the payload (and, for subscriber links, the subscriber's own secret, so rotating
that secret revokes their old links). Several keys verify, the first signs: rotation
is adding a new key in front and dropping the old one a few weeks later.

Tokens never carry a URL: a click token names (send, link, subscriber) and the
destination is looked up in that send's stored links, so there is no open redirect.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

MAC_BYTES = 12
_MAC_CHARS = 16  # base64 of 12 bytes: no padding, so each MAC has exactly one spelling
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
_PADDING = (b"", b"===", b"==", b"=")  # by length % 4 (1 never decodes)


class Purpose(StrEnum):
    CLICK = "c"  # ints: send_id, link_id, subscriber_id
    UNSUBSCRIBE = "u"  # ints: subscriber_id, send_id (0 when not from a send)
    PREFERENCES = "p"  # ints: subscriber_id, send_id
    CONFIRM = "f"  # ints: signup_request_id


class BadToken(ValueError):
    """Tampered, truncated, unknown-purpose or unsigned token. Callers answer 404."""


@dataclass(frozen=True, slots=True)
class Token:
    purpose: Purpose
    ints: tuple[int, ...]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Decode canonical unpadded base64url: binascii.Error or ValueError (non-ASCII) if
    `text` is anything else (padding, `+` `/` or other characters, stray bits), so
    each value has exactly one spelling. Checked by re-encoding, on the standard
    alphabet with padding, which is cheaper than a second urlsafe round trip."""
    raw = text.encode("ascii")
    data = raw.translate(_FROM_URLSAFE, b"+/=")  # base64url has none of these
    if len(data) != len(raw):
        raise binascii.Error("not base64url")
    data += _PADDING[len(data) % 4]
    decoded = binascii.a2b_base64(data)
    if binascii.b2a_base64(decoded, newline=False) != data:
        raise binascii.Error("not the canonical spelling")
    return decoded


def _varints(values: Sequence[int]) -> bytes:
    out = bytearray()
    for value in values:
        if value < 0:
            raise ValueError("token integers must be non-negative")
        while True:
            byte = value & 0x7F
            value >>= 7
            if value:
                out.append(byte | 0x80)
            else:
                out.append(byte)
                break
    return bytes(out)


def _read_varints(data: bytes) -> tuple[int, ...]:
    values: list[int] = []
    value = shift = 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            if shift > 63:
                raise BadToken("integer too long")
        else:
            if value >= 1 << 63:  # no database integer holds it; looked up before the MAC
                raise BadToken("integer too large")
            values.append(value)
            value = shift = 0
    if shift:
        raise BadToken("truncated integer")
    return tuple(values)


@functools.lru_cache(maxsize=32)
def _keyed(key: bytes) -> hmac.HMAC:
    """An HMAC already keyed: copying it skips hashing the key's pads for every token
    (the redirect verifies one per click; the saving is in BENCHMARKS.md)."""
    return hmac.new(key, digestmod=hashlib.sha256)


def _mac(key: bytes, payload: bytes, extra: bytes) -> bytes:
    mac = _keyed(key).copy()
    mac.update(payload + b"\x00" + extra)
    return mac.digest()[:MAC_BYTES]


def sign(keys: Sequence[bytes], purpose: Purpose, *ints: int, extra: bytes = b"") -> str:
    """Token for `purpose` naming `ints`, signed with the first key."""
    payload = purpose.value.encode() + _varints(ints)
    return _b64(payload) + "." + _b64(_mac(keys[0], payload, extra))


def _split(token: str) -> tuple[bytes, str]:
    """The decoded payload (never empty) and the MAC's text, or BadToken.

    Only the canonical spelling of the payload decodes (`_unb64`) and the MAC is
    compared as canonical text (`verify`), so a token has one spelling: an altered one
    is a 404, never a second valid link to the same page."""
    head, sep, mac_text = token.partition(".")
    if not sep or len(token) > 200:
        raise BadToken("malformed token")
    try:
        payload = _unb64(head)
    except (binascii.Error, ValueError):
        raise BadToken("malformed token") from None
    if not payload:
        raise BadToken("empty token")
    return payload, mac_text


def unverified(token: str) -> Token:
    """Parse without checking the MAC: only to find whose secret to verify with."""
    payload, _ = _split(token)
    try:
        purpose = Purpose(chr(payload[0]))
    except ValueError:
        raise BadToken("unknown purpose") from None
    return Token(purpose, _read_varints(payload[1:]))


def verify(
    keys: Sequence[bytes], token: str, purpose: Purpose, *, arity: int, extra: bytes = b""
) -> tuple[int, ...]:
    """The token's integers, if any key signed it for `purpose`; else BadToken.

    The MAC is compared as base64 text (one spelling per MAC, see `_MAC_CHARS`), which
    spares decoding it; this runs once per click redirect."""
    payload, mac_text = _split(token)
    if len(mac_text) != _MAC_CHARS or not mac_text.isascii():
        raise BadToken("malformed token")
    if payload[0] != ord(purpose.value):
        raise BadToken("wrong purpose")
    ints = _read_varints(payload[1:])
    if len(ints) != arity:
        raise BadToken("wrong purpose")
    given = mac_text.encode("ascii")
    for key in keys:
        if hmac.compare_digest(given, _b64(_mac(key, payload, extra)).encode("ascii")):
            return ints
    raise BadToken("bad signature")


def click_token(keys: Sequence[bytes], send_id: int, link_id: int, subscriber_id: int) -> str:
    return sign(keys, Purpose.CLICK, send_id, link_id, subscriber_id)


def subscriber_token(
    keys: Sequence[bytes], purpose: Purpose, subscriber_id: int, secret: str, send_id: int = 0
) -> str:
    """Unsubscribe or preferences token, bound to the subscriber's own secret."""
    return sign(keys, purpose, subscriber_id, send_id, extra=secret.encode())


def signup_token(keys: Sequence[bytes], request_id: int, secret: str) -> str:
    """The confirmation link's token, bound to the sign-up request's own secret."""
    return sign(keys, Purpose.CONFIRM, request_id, extra=secret.encode())
