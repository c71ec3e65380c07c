"""The token format: what verifies, what does not, and that it is plain HMAC-SHA256."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random

import pytest

from briefmail.tracking.tokens import (
    BadToken,
    Purpose,
    click_token,
    sign,
    subscriber_token,
    unverified,
    verify,
)

KEYS = [b"first-key-0123456789abcdef", b"older-key-0123456789abcdef"]


def _reference(key: bytes, purpose: str, ints: tuple[int, ...], extra: bytes = b"") -> str:
    """The documented format, built with nothing but the standard library."""
    payload = bytearray(purpose.encode())
    for value in ints:
        while True:
            byte, value = value & 0x7F, value >> 7
            payload.append(byte | 0x80 if value else byte)
            if not value:
                break
    mac = hmac.new(key, bytes(payload) + b"\x00" + extra, hashlib.sha256).digest()[:12]

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return b64(bytes(payload)) + "." + b64(mac)


@pytest.mark.parametrize("key", [b"k", b"short-key", bytes(range(64)), bytes(range(200))])
def test_tokens_are_the_documented_hmac_sha256(key: bytes) -> None:
    rng = random.Random(5)
    for _ in range(200):
        ints = (rng.randrange(1 << 40), rng.randrange(300), rng.randrange(1 << 20))
        assert click_token([key], *ints) == _reference(key, "c", ints)
        assert verify([key], _reference(key, "c", ints), Purpose.CLICK, arity=3) == ints
    extra = b"subscriber-secret"
    token = subscriber_token([key], Purpose.UNSUBSCRIBE, 42, extra.decode(), 7)
    assert token == _reference(key, "u", (42, 7), extra)


def test_any_listed_key_verifies_and_the_first_signs() -> None:
    old = click_token(KEYS[1:], 1, 2, 3)
    assert verify(KEYS, old, Purpose.CLICK, arity=3) == (1, 2, 3)
    assert click_token(KEYS, 1, 2, 3) == click_token(KEYS[:1], 1, 2, 3)
    with pytest.raises(BadToken):
        verify(KEYS[:1], old, Purpose.CLICK, arity=3)


def test_every_changed_character_is_refused() -> None:
    """A token has one spelling: no changed character verifies, not even one that
    decodes to the same bytes (a stray low bit, padding, a character base64url lacks)."""
    token = click_token(KEYS, 12, 3, 4567)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for i, char in enumerate(token):
        if char == ".":
            continue
        for other in (alphabet[(alphabet.index(char) + 1) % 64], "=", "é", "/", "+", "!"):
            changed = token[:i] + other + token[i + 1 :]
            with pytest.raises(BadToken):
                verify(KEYS, changed, Purpose.CLICK, arity=3)


def test_only_the_canonical_spelling_of_the_payload_parses() -> None:
    token = subscriber_token(KEYS, Purpose.PREFERENCES, 5, "s", 300)
    head, mac = token.split(".")
    assert unverified(token).ints == (5, 300)
    assert len(head) % 4 == 2  # its last character carries 4 unused bits
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    stray = alphabet[alphabet.index(head[-1]) | 1]
    spellings = [
        "!".join(head),  # characters a lenient decoder skips
        head + "=",  # padding
        head + "==",
        head.replace("A", "+"),
        head[:-1] + stray,  # the same bytes with a stray low bit
    ]
    for spelling in spellings:
        with pytest.raises(BadToken):
            unverified(f"{spelling}.{mac}")
        with pytest.raises(BadToken):
            verify(KEYS, f"{spelling}.{mac}", Purpose.PREFERENCES, arity=2, extra=b"s")


@pytest.mark.parametrize(
    "token",
    [
        "",
        ".",
        "abc",
        "Yw.",
        "." + "A" * 16,
        "Yw." + "A" * 15,
        "Yw." + "A" * 17,
        "Yw." + "A" * 14 + "==",
        "Yw." + "é" * 16,
        "x" * 201 + "." + "A" * 16,
    ],
)
def test_malformed_tokens_are_bad_tokens_not_errors(token: str) -> None:
    with pytest.raises(BadToken):
        verify(KEYS, token, Purpose.CLICK, arity=3)


def test_purpose_arity_and_secret_are_checked() -> None:
    token = click_token(KEYS, 1, 2, 3)
    with pytest.raises(BadToken):
        verify(KEYS, token, Purpose.UNSUBSCRIBE, arity=3)
    with pytest.raises(BadToken):
        verify(KEYS, token, Purpose.CLICK, arity=2)
    with pytest.raises(BadToken):
        verify(KEYS, sign(KEYS, Purpose.CLICK, 1, 2), Purpose.CLICK, arity=3)
    unsub = subscriber_token(KEYS, Purpose.UNSUBSCRIBE, 9, "secret-a", 1)
    assert verify(KEYS, unsub, Purpose.UNSUBSCRIBE, arity=2, extra=b"secret-a") == (9, 1)
    with pytest.raises(BadToken):
        verify(KEYS, unsub, Purpose.UNSUBSCRIBE, arity=2, extra=b"secret-b")
    assert unverified(unsub).ints == (9, 1)
