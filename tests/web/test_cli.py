"""`briefmail web` and `briefmail clicks` refuse what they cannot do right."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest


def briefmail(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "briefmail", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_several_workers_need_the_redis_stream() -> None:
    result = briefmail("web", "--workers", "2", "--port", "1")
    assert result.returncode == 2
    assert "--workers > 1 needs BRIEFMAIL_REDIS_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_click_port_is_one_process(redis_url, monkeypatch) -> None:
    monkeypatch.setenv("BRIEFMAIL_REDIS_URL", redis_url)
    result = briefmail("web", "--workers", "2", "--port", "1", "--click-port", "2")
    assert result.returncode == 2
    assert "run `briefmail clicks` beside" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["web", "clicks"])
def test_a_malformed_proxy_list_is_named(command: str) -> None:
    result = briefmail(command, "--port", "1", "--forwarded-allow-ips", "127.0.0.1,proxy.lan")
    assert result.returncode == 2
    assert "'proxy.lan' is not an IP address, a network or *" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [["web", "--port", "0", "--click-port"], ["clicks", "--port"]])
def test_a_click_port_in_use_is_named(command: list[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = briefmail(*command, port)
    assert result.returncode == 2
    assert f"the click listener cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
