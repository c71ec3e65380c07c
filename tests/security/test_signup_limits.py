"""The sign-up form as a mail cannon: limits that every web process shares, that an
IPv6 client cannot dodge by changing the last 64 bits, and a cap for everyone."""

from __future__ import annotations

import httpx


def sign_up(base: str, address: str, client: str) -> int:
    """POST /subscribe as `client` (the server trusts X-Forwarded-For from loopback, as
    `briefmail web` trusts its proxy)."""
    answer = httpx.post(
        f"{base}/subscribe", data={"email": address}, headers={"x-forwarded-for": client}
    )
    return answer.status_code


def test_the_limit_is_shared_by_every_web_process(db_url, redis_url, start_server) -> None:
    first, second = start_server(redis_url=redis_url), start_server(redis_url=redis_url)
    codes = [
        sign_up((first, second)[i % 2].url, f"r{i}@example.org", "198.51.100.7") for i in range(14)
    ]
    assert codes[:10] == [200] * 10
    assert codes[10:] == [429] * 4


def test_an_ipv6_client_is_limited_by_its_64(db_url, start_server) -> None:
    server = start_server()
    codes = [
        sign_up(server.url, f"v{i}@example.org", f"2001:db8:1:2:{i:x}::{i + 1:x}")
        for i in range(12)
    ]
    assert codes[:10] == [200] * 10
    assert codes[10:] == [429, 429]
    assert sign_up(server.url, "other@example.org", "2001:db8:1:3::1") == 200  # another /64


def test_many_clients_together_meet_a_global_cap(db_url, start_server) -> None:
    server = start_server(signup_limit_global=5)
    codes = [sign_up(server.url, f"g{i}@example.org", f"203.0.113.{i + 1}") for i in range(8)]
    assert codes == [200] * 5 + [429] * 3
