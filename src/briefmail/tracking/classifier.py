"""Tell automated clicks from people, and say why.

Security gateways in front of hospital mailboxes open every link of a message within
seconds of delivery; counting those as readers would tell marketing that every source
is a hit. Each rule here names one kind of evidence, and a click keeps the first rule
it met (`Reason`), so the report can show what was filtered and why.

Rules that need only the request are checked by `request_reason`; the two that need
history (the scanner window after the batch was accepted, and a burst over many
links) are checked where the history is, when clicks are stored (`tracking.clickstore`);
`next_links` is the burst rule itself.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from briefmail.tracking import scanners

HONEYPOT_LINK_ID = 0
# One recipient opening this many distinct links within BURST_SECONDS is a program:
# people read between clicks.
BURST_LINKS = 3
BURST_SECONDS = 2.0


class Reason(StrEnum):
    HONEYPOT = "honeypot"  # the hidden link no person can see
    HEAD = "head"  # HEAD request: a link checker, never a browser navigation
    PREFETCH = "prefetch"  # Purpose / Sec-Purpose / X-Moz / X-Purpose: prefetch or preview
    SCANNER_UA = "scanner-ua"  # a known scanner, bot or HTTP library (or no user agent)
    NETWORK = "network"  # from a published scanner network
    WINDOW = "window"  # within the scanner window after the batch was accepted
    BURST = "burst"  # one recipient, many distinct links, a couple of seconds


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the redirect saw; `purpose` joins the prefetch hint headers, lower-cased."""

    method: str
    user_agent: str
    ip: str | None
    purpose: str
    link_id: int


def request_reason(facts: RequestFacts) -> Reason | None:
    """The first rule the request alone breaks, or None if it looks like a person."""
    if facts.link_id == HONEYPOT_LINK_ID:
        return Reason.HONEYPOT
    if facts.method.upper() == "HEAD":
        return Reason.HEAD
    if is_prefetch(facts.purpose):
        return Reason.PREFETCH
    if is_scanner_agent(facts.user_agent):
        return Reason.SCANNER_UA
    if facts.ip and in_scanner_network(facts.ip):
        return Reason.NETWORK
    return None


def is_prefetch(purpose: str) -> bool:
    return "prefetch" in purpose or "preview" in purpose or "prerender" in purpose


@lru_cache(maxsize=4096)  # a few user agents make most clicks
def is_scanner_agent(user_agent: str) -> bool:
    if not user_agent.strip():
        return True  # every browser sends one
    return scanners.agent_regex().search(user_agent) is not None


@lru_cache(maxsize=16384)
def in_scanner_network(ip: str) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in scanners.networks())


def in_window(clicked_at: float, accepted_at: float | None, window_seconds: int) -> bool:
    """True when the click came sooner after acceptance than a person plausibly reads.

    Times are POSIX seconds. A click stamped slightly before `accepted_at` (the provider
    delivered before the ledger committed acceptance) is inside the window too.
    """
    if accepted_at is None or window_seconds <= 0:
        return False
    return clicked_at < accepted_at + window_seconds


# One recipient's latest click on each of the last few distinct links it opened:
# (clicked_at in POSIX seconds, link_id, event key, whether it counts as a person's),
# oldest first.
Seen = tuple[float, int, str, bool]


def next_links(
    latest: tuple[Seen, ...],
    click: Seen,
    *,
    links: int = BURST_LINKS,
    seconds: float = BURST_SECONDS,
) -> tuple[tuple[Seen, ...], bool]:
    """`latest` after `click`, and whether `click` is in a burst.

    A burst is one recipient's clicks on `links` distinct links within `seconds`. Its
    members are the click that completes or continues it and the latest click on each
    of those links: all of them in the returned tuple, and `click`. A link opened again
    and again counts once, so `links` entries are all the history a burst needs, and a
    recipient hammering one link costs the same per click as any other.
    """
    at, link = click[0], click[1]
    merged = []
    newest = click
    for seen in latest:
        if seen[1] != link:
            merged.append(seen)
        elif seen[0] > at:  # a later click on the same link, stored before this one
            newest = seen
    merged.append(newest)
    merged.sort()
    kept = tuple(merged[-links:])
    burst = len(kept) == links and kept[-1][0] - kept[0][0] <= seconds
    return kept, burst and at >= kept[-1][0] - seconds
