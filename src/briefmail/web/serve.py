"""How the web app is served: one set of uvicorn options for `briefmail web`, the demo
and the tests, so that what is tested is what runs."""

from __future__ import annotations

from typing import Any

from briefmail.web.protocol import ClickHttpProtocol


def server_options(*, forwarded_allow_ips: str = "127.0.0.1") -> dict[str, Any]:
    """uvicorn options: uvloop, the click-answering protocol, no access log, proxy headers
    from `forwarded_allow_ips` only, and 30 s for in-flight requests on a graceful stop."""
    return {
        "loop": "uvloop",
        "http": ClickHttpProtocol,
        "lifespan": "on",
        "access_log": False,
        "proxy_headers": True,
        "forwarded_allow_ips": forwarded_allow_ips,
        "server_header": False,
        "timeout_graceful_shutdown": 30,
    }
