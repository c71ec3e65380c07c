"""Simulated readers for the demo: a mail-gateway scanner, people, one unsubscribe.

It drives the real web app over HTTP with the links found in the outbox's `.eml`
files, so the demo's report shows what the product does with real traffic: scanner
clicks filtered with their reasons, people counted.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx

from briefmail.tracking.tokens import BadToken, unverified

BROWSER_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
SCANNER_UA = "Mozilla/5.0 (compatible; Mimecast URL Protect)"
_CLICK_HREF = re.compile(r'href="([^"]+/c/[A-Za-z0-9_.-]+)"')
_UNSUBSCRIBE = re.compile(r"<(https?://[^>]+/u/[^>]+)>")


@dataclass(frozen=True)
class Message:
    path: Path
    links: tuple[str, ...]  # visible tracked links, in order
    honeypot: str | None
    unsubscribe_url: str | None


@dataclass
class Traffic:
    scanner_requests: int = 0
    human_clicks: int = 0
    unsubscribed: int = 0
    redirects_ok: int = 0


def read_outbox(outbox: Path, limit: int | None = None) -> list[Message]:
    """Parse up to `limit` personalised messages from the outbox, in a stable order."""
    messages = []
    for path in sorted(outbox.rglob("*.eml"))[:limit]:
        parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        body = parsed.get_body(("html",))
        html = body.get_content() if body is not None else ""
        visible: list[str] = []
        honeypot = None
        for url in dict.fromkeys(_CLICK_HREF.findall(html)):
            if _link_id(url) == 0:
                honeypot = url
            else:
                visible.append(url)
        header = _UNSUBSCRIBE.search(str(parsed.get("List-Unsubscribe", "")))
        messages.append(
            Message(path, tuple(visible), honeypot, header.group(1) if header else None)
        )
    return messages


def _link_id(url: str) -> int | None:
    try:
        return unverified(url.rsplit("/", 1)[1]).ints[1]
    except (BadToken, IndexError):
        return None


def scan_like_a_gateway(client: httpx.Client, messages: Sequence[Message], stats: Traffic) -> None:
    """What a hospital mail gateway does on delivery: HEAD and GET every link, at once."""
    for message in messages:
        for url in (*message.links, *([message.honeypot] if message.honeypot else [])):
            client.head(url, headers={"user-agent": SCANNER_UA})
            response = client.get(url, headers={"user-agent": SCANNER_UA})
            stats.scanner_requests += 2
            stats.redirects_ok += response.status_code == 302


def read_like_people(
    client: httpx.Client,
    messages: Sequence[Message],
    stats: Traffic,
    *,
    rate: float,
    seed: int,
    pause: Callable[[], None],
) -> None:
    """Some readers follow one link each, later, from a phone browser."""
    rng = random.Random(seed)
    for message in messages:
        if not message.links or rng.random() >= rate:
            continue
        # Sources are read more than the CTA; the CTA is the last link.
        weights = [3.0] * (len(message.links) - 1) + [1.0]
        url = rng.choices(message.links, weights=weights[: len(message.links)])[0]
        response = client.get(url, headers={"user-agent": BROWSER_UA})
        stats.human_clicks += 1
        stats.redirects_ok += response.status_code == 302
        pause()


def one_click_unsubscribe(client: httpx.Client, message: Message, stats: Traffic) -> None:
    """What Gmail's "Unsubscribe" button sends (RFC 8058)."""
    if message.unsubscribe_url is None:
        return
    response = client.post(
        message.unsubscribe_url,
        content="List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    if response.status_code == 200:
        stats.unsubscribed += 1
