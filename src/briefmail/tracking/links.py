"""Per-recipient link values: the one place public URLs are built from tokens.

The send pipeline calls `recipient_values` once per recipient and hands the result to
SendGrid as `substitutions` or to `Template.fill` for the outbox and SMTP backends.
Unsubscribe and preference links use subscriber tokens; every tracked link gets a
click token naming (send, link, subscriber).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from briefmail.render import personalise as p
from briefmail.tracking.tokens import Purpose, click_token, subscriber_token


def click_url(public_url: str, token: str) -> str:
    return f"{public_url}/c/{token}"


def unsubscribe_url(public_url: str, token: str) -> str:
    return f"{public_url}/u/{token}"


def preferences_url(public_url: str, token: str) -> str:
    return f"{public_url}/preferences/{token}"


def confirm_url(public_url: str, token: str) -> str:
    return f"{public_url}/confirm/{token}"


def recipient_values(
    *,
    keys: Sequence[bytes],
    public_url: str,
    send_id: int,
    link_ids: Iterable[int],
    subscriber_id: int,
    subscriber_secret: str,
    name: str,
    topics_text: str,
) -> dict[str, str]:
    """Placeholder key -> value for one recipient (keys as in `briefmail.render.personalise`)."""
    unsub = subscriber_token(keys, Purpose.UNSUBSCRIBE, subscriber_id, subscriber_secret, send_id)
    prefs = subscriber_token(keys, Purpose.PREFERENCES, subscriber_id, subscriber_secret, send_id)
    values = {
        p.UNSUBSCRIBE_URL: unsubscribe_url(public_url, unsub),
        p.PREFERENCES_URL: preferences_url(public_url, prefs),
        p.NAME: name,
        p.NAME_HTML: html.escape(name),
        p.TOPICS: topics_text,
        p.TOPICS_HTML: html.escape(topics_text),
    }
    for link_id in link_ids:
        token = click_token(keys, send_id, link_id, subscriber_id)
        values[p.link_key(link_id)] = click_url(public_url, token)
    return values
