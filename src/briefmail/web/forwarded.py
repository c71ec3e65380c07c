"""Which peers may name the client in X-Forwarded-For.

The classifier judges a click partly by its address, so behind a proxy the address
must be the one the proxy saw, and only a proxy we trust may say so. `briefmail web`
gives the same list to uvicorn (`--forwarded-allow-ips`, for the app's pages) and to
the click listener, which reads the header here the way uvicorn does: from the right,
the first address that is not a trusted proxy is the client.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from briefmail.errors import InvalidInputError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """A comma-separated list of addresses and networks, or "*" for every peer."""

    def __init__(self, allow: str) -> None:
        entries = [entry.strip() for entry in allow.split(",") if entry.strip()]
        self.everyone = "*" in entries
        self.networks: list[Network] = []
        for entry in entries:
            if entry == "*":
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry))
            except ValueError:
                raise InvalidInputError(
                    f"--forwarded-allow-ips: {entry!r} is not an IP address, a network or *"
                ) from None
        self.trusts = lru_cache(maxsize=4096)(self._trusts)

    def _trusts(self, host: str) -> bool:
        if self.everyone:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def client(self, forwarded_for: list[bytes]) -> str:
        """The client that X-Forwarded-For values (sent by a trusted peer) name; '' if
        they name none."""
        hosts = [h.strip() for h in b", ".join(forwarded_for).decode("latin-1").split(",")]
        if self.everyone:
            return _host(hosts[0])
        for value in reversed(hosts):
            host = _host(value)
            if not self.trusts(host):
                return host
        return _host(hosts[0])  # every hop trusted: the client is a proxy of ours too


def _host(value: str) -> str:
    """The address of "host", "host:port" or "[v6]:port"."""
    if value.startswith("["):
        end = value.find("]")
        rest = value[end + 1 :]
        if end == -1 or (rest and not rest.startswith(":")):
            return value
        return value[1:end]
    if value.count(":") == 1:
        host, port = value.split(":")
        return host if port.isdigit() else value
    return value
