"""Published facts about mail security scanners: their user agents and networks.

Hospital and health-system mail passes through gateways that open every link of a
message within seconds of delivery to check where it leads. This module is data only,
curated by hand, each entry naming where it comes from, so a reviewer can check it and
a maintainer can refresh it; `classifier` decides what a match means.

A match is a strong signal, not proof: a person behind the same gateway can click
from a proxied address. That is why the report shows filtered clicks beside human
ones instead of hiding them.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class ScannerNetwork:
    cidr: str
    operator: str
    source: str


# Where these gateways fetch from. Reviewed 2024-01; refresh from the named pages.
NETWORKS: tuple[ScannerNetwork, ...] = (
    # Microsoft 365: Exchange Online Protection / Defender for Office 365 (Safe Links).
    # Source: "Microsoft 365 URLs and IP address ranges", Exchange Online, endpoint set ID 10.
    ScannerNetwork(
        "40.92.0.0/15", "Microsoft Exchange Online Protection", "Microsoft 365 IP ranges"
    ),
    ScannerNetwork(
        "40.107.0.0/16", "Microsoft Exchange Online Protection", "Microsoft 365 IP ranges"
    ),
    ScannerNetwork(
        "52.100.0.0/14", "Microsoft Exchange Online Protection", "Microsoft 365 IP ranges"
    ),
    ScannerNetwork(
        "104.47.0.0/17", "Microsoft Exchange Online Protection", "Microsoft 365 IP ranges"
    ),
    # Mimecast: "Mimecast Data Centers and URLs" (US and UK grids).
    ScannerNetwork("205.139.110.0/24", "Mimecast (US)", "Mimecast Data Centers and URLs"),
    ScannerNetwork("207.211.30.0/24", "Mimecast (US)", "Mimecast Data Centers and URLs"),
    ScannerNetwork("216.205.24.0/24", "Mimecast (US)", "Mimecast Data Centers and URLs"),
    ScannerNetwork("195.130.217.0/24", "Mimecast (UK)", "Mimecast Data Centers and URLs"),
    ScannerNetwork("91.220.42.0/24", "Mimecast (UK)", "Mimecast Data Centers and URLs"),
    ScannerNetwork("146.101.78.0/24", "Mimecast (UK)", "Mimecast Data Centers and URLs"),
    # Proofpoint: hosted PPS / Essentials, ARIN registrations of Proofpoint, Inc.
    ScannerNetwork("67.231.144.0/20", "Proofpoint", "ARIN whois: Proofpoint, Inc."),
    ScannerNetwork("148.163.128.0/19", "Proofpoint", "ARIN whois: Proofpoint, Inc."),
    # Barracuda: "Barracuda Email Security Service IP Ranges" (Barracuda Campus, US).
    ScannerNetwork("64.235.144.0/20", "Barracuda (US)", "Barracuda Campus: ESS IP ranges"),
    ScannerNetwork("209.222.80.0/21", "Barracuda (US)", "Barracuda Campus: ESS IP ranges"),
)


@dataclass(frozen=True, slots=True)
class ScannerAgent:
    pattern: str  # a regular expression, matched case-insensitively anywhere in the UA
    operator: str


# User agents that identify a scanner or a program rather than a person's browser.
# Sources: the vendors' documentation of their link-checking fetchers where published,
# and user agents seen in click logs of health-system recipients.
AGENTS: tuple[ScannerAgent, ...] = (
    ScannerAgent(r"safelinks|microsoft office|ms-office|msoffice|bingpreview", "Microsoft"),
    ScannerAgent(r"microsoft defender|windows defender|atp-?safelinks", "Microsoft Defender"),
    ScannerAgent(r"mimecast", "Mimecast"),
    ScannerAgent(r"proofpoint|urldefense|ppops", "Proofpoint"),
    ScannerAgent(r"barracuda", "Barracuda"),
    ScannerAgent(r"ironport|cisco[- ]?(esa|secure email)", "Cisco IronPort"),
    ScannerAgent(r"symantec|messagelabs|broadcom", "Symantec / Broadcom"),
    ScannerAgent(r"trend ?micro|trendmicro", "Trend Micro"),
    ScannerAgent(r"fortimail|fortiguard|fortinet", "Fortinet FortiMail"),
    ScannerAgent(r"sophos", "Sophos"),
    ScannerAgent(r"google-?safety|safe ?browsing|googleimageproxy", "Google"),
    ScannerAgent(r"headlesschrome|phantomjs|puppeteer|playwright|selenium", "headless browser"),
    ScannerAgent(
        r"curl/|wget/|python-requests|python-urllib|python-httpx|aiohttp|go-http-client"
        r"|okhttp|java/|libwww-perl|apache-httpclient|axios/|node-fetch|scrapy",
        "HTTP library",
    ),
    # "bot" only as a word or product token: "Googlebot/2.1", "Slackbot-LinkExpanding",
    # not the Cubot phone brand in an Android user agent.
    ScannerAgent(r"bot[/;)\-_]|\bbot\b|crawler|spider|slurp|preview", "generic bot"),
)


@lru_cache(maxsize=1)
def networks() -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(n.cidr) for n in NETWORKS)


@lru_cache(maxsize=1)
def agent_regex() -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{a.pattern})" for a in AGENTS), re.IGNORECASE)
