"""Each rule of the automated-click classifier, with clicks it must and must not flag."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

import pytest

from briefmail.tracking import scanners
from briefmail.tracking.classifier import (
    Reason,
    RequestFacts,
    in_scanner_network,
    in_window,
    next_links,
    request_reason,
)

BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
    "like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Linux; Android 13; Cubot P50 Build/TP1A) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36",
]
SCANNERS = [
    "Mozilla/4.0 (compatible; ms-office; MSOffice 16)",
    "Microsoft Office Existence Discovery",
    "Mozilla/5.0 (compatible; SafeLinks; +https://microsoft.com)",
    "Mozilla/5.0 (Windows NT 10.0) Microsoft Defender for Office 365",
    "Mimecast URL protect",
    "Proofpoint URL Defense/1.0",
    "urldefense.com link checker",
    "Barracuda Sentinel (EE)",
    "Cisco IronPort URL filtering",
    "Symantec MessageLabs link scanner",
    "Trend Micro Email Security",
    "FortiMail/7.2 URL click protection",
    "Sophos Email Time-of-Click",
    "Google-Safety",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0.0.0 Safari",
    "curl/8.4.0",
    "python-requests/2.31.0",
    "Go-http-client/1.1",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "",
]


def facts(**overrides: object) -> RequestFacts:
    base: dict[str, object] = {
        "method": "GET",
        "user_agent": BROWSERS[0],
        "ip": "203.0.113.7",
        "purpose": "",
        "link_id": 2,
    }
    base.update(overrides)
    return RequestFacts(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("user_agent", BROWSERS)
def test_a_person_in_a_browser_is_human(user_agent: str) -> None:
    assert request_reason(facts(user_agent=user_agent)) is None


def test_the_hidden_honeypot_link_is_automated() -> None:
    assert request_reason(facts(link_id=0)) is Reason.HONEYPOT


@pytest.mark.parametrize("method", ["HEAD", "head"])
def test_a_head_request_is_automated(method: str) -> None:
    assert request_reason(facts(method=method)) is Reason.HEAD


@pytest.mark.parametrize("purpose", ["prefetch", "prefetch;prerender", "preview", "prefetch,x"])
def test_prefetch_and_preview_hints_are_automated(purpose: str) -> None:
    assert request_reason(facts(purpose=purpose)) is Reason.PREFETCH


@pytest.mark.parametrize("user_agent", SCANNERS)
def test_scanner_bot_and_library_user_agents_are_automated(user_agent: str) -> None:
    assert request_reason(facts(user_agent=user_agent)) is Reason.SCANNER_UA


@pytest.mark.parametrize("network", scanners.NETWORKS, ids=lambda n: n.cidr)
def test_every_published_network_is_matched(network: scanners.ScannerNetwork) -> None:
    net = ipaddress.ip_network(network.cidr)
    inside = str(net.network_address + net.num_addresses // 2)
    assert network.source
    assert network.operator
    assert request_reason(facts(ip=inside)) is Reason.NETWORK


def test_network_edges_and_odd_addresses() -> None:
    assert in_scanner_network("40.92.0.1")
    assert in_scanner_network("::ffff:40.107.3.4")  # IPv4-mapped IPv6
    assert not in_scanner_network("8.8.8.8")
    assert not in_scanner_network("not-an-ip")
    assert not in_scanner_network("2001:db8::1")


def test_the_first_rule_met_is_the_reason() -> None:
    assert request_reason(facts(method="HEAD", user_agent="curl/8")) is Reason.HEAD
    assert request_reason(facts(link_id=0, method="HEAD")) is Reason.HONEYPOT


T = datetime(2024, 1, 8, 9, 0, tzinfo=UTC).timestamp()  # POSIX seconds, as stored


def test_the_scanner_window_follows_acceptance() -> None:
    assert in_window(T + 5, T, 60)
    assert in_window(T - 2, T, 60)  # provider beat our commit
    assert not in_window(T + 60, T, 60)
    assert not in_window(T + 2 * 3600, T, 60)
    assert not in_window(T + 5, None, 60)
    assert not in_window(T + 5, T, 0)


def at(seconds: float) -> float:
    return T + seconds


def burst_members(clicks: list[tuple[str, str, int, float]]) -> set[str]:
    """Keys of (key, recipient, link_id, clicked_at) clicks in a burst, taken in time
    order through `next_links` as the click store takes them."""
    latest: dict[str, tuple] = {}
    members: set[str] = set()
    for key, recipient, link_id, clicked_at in sorted(clicks, key=lambda c: c[3]):
        kept, burst = next_links(latest.get(recipient, ()), (clicked_at, link_id, key, True))
        latest[recipient] = kept
        if burst:
            members |= {seen[2] for seen in kept} | {key}
    return members


def test_burst_over_many_links_in_two_seconds() -> None:
    clicks = [("a", "r1", 1, at(0)), ("b", "r1", 2, at(0.4)), ("c", "r1", 3, at(1.1))]
    assert burst_members(clicks) == {"a", "b", "c"}


def test_no_burst_for_one_link_repeated_or_clicks_spread_out() -> None:
    same_link = [(str(i), "r1", 1, at(i * 0.1)) for i in range(10)]
    assert burst_members(same_link) == set()
    reading = [("a", "r1", 1, at(0)), ("b", "r1", 2, at(40)), ("c", "r1", 3, at(95))]
    assert burst_members(reading) == set()


def test_burst_is_per_recipient_and_marks_only_the_run() -> None:
    clicks = [
        ("early", "r1", 1, at(-30)),
        ("a", "r1", 1, at(0)),
        ("b", "r1", 2, at(0.5)),
        ("c", "r1", 3, at(1.9)),
        ("other1", "r2", 1, at(0.1)),
        ("other2", "r2", 2, at(0.2)),
    ]
    assert burst_members(clicks) == {"a", "b", "c"}


def test_a_burst_goes_on_while_the_links_keep_coming() -> None:
    cycle = [(f"k{i}", "r1", 1 + i % 3, at(i * 0.5)) for i in range(12)]
    assert burst_members(cycle) == {key for key, *_ in cycle}
    assert burst_members([*cycle, ("later", "r1", 1, at(30))]) == {key for key, *_ in cycle}


def test_a_link_opened_again_and_again_counts_once() -> None:
    """The memory is the latest click per link: a flood of one link keeps one entry,
    and only its latest click joins a burst the other links make."""
    latest: tuple = ()
    for i in range(10_000):
        latest, burst = next_links(latest, (at(i * 0.0001), 1, f"f{i}", True))
        assert not burst
    assert [seen[2] for seen in latest] == ["f9999"]
    flood = [(f"f{i}", "r1", 1, at(i * 0.001)) for i in range(1000)]
    assert burst_members([*flood, ("b", "r1", 2, at(1.2)), ("c", "r1", 3, at(1.5))]) == {
        "f999",
        "b",
        "c",
    }


def test_a_late_click_joins_the_burst_it_falls_in() -> None:
    latest: tuple = ()
    for seen in [(at(0), 1, "a", True), (at(0.5), 2, "b", True), (at(1.0), 3, "c", True)]:
        latest, _ = next_links(latest, seen)
    latest, burst = next_links(latest, (at(0.2), 2, "late", True))  # older than "b"
    assert burst
    assert [seen[2] for seen in latest] == ["a", "b", "c"]
