"""Where a click listener listens (`ClickPort`), and running one for a while.

The socket is bound when the command starts, before the app or its click writer, so
a port in use or a malformed proxy list is a clear error and not a failed start-up.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

from briefmail.errors import InvalidInputError
from briefmail.web.clicklistener import ClickListener
from briefmail.web.forwarded import TrustedProxies
from briefmail.web.redirect import ClickAnswers


@dataclass(frozen=True)
class ClickPort:
    """A listening socket for a click listener, and how the listener serves it."""

    sock: socket.socket
    forwarded_allow_ips: str = "127.0.0.1"
    keep_alive: float = 5.0

    @classmethod
    def bind(
        cls,
        host: str,
        port: int,
        *,
        forwarded_allow_ips: str = "127.0.0.1",
        keep_alive: float = 5.0,
    ) -> ClickPort:
        """Listen on (host, port) now, so a port in use is a clear error before anything
        starts; several processes may share the port (SO_REUSEPORT)."""
        TrustedProxies(forwarded_allow_ips)  # a malformed list is an error now too
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            sock = socket.create_server((host, port), family=family, backlog=2048, reuse_port=True)
        except OSError as exc:
            raise InvalidInputError(
                f"the click listener cannot listen on {host}:{port}: {exc.strerror or exc}"
            ) from None
        return cls(sock, forwarded_allow_ips, keep_alive)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])


@contextlib.asynccontextmanager
async def listening(answers: ClickAnswers, where: ClickPort) -> AsyncIterator[ClickListener]:
    """A click listener on `where` for the duration; stopped gracefully on the way out
    (before the recorder, so every click it answered is buffered by then)."""
    listener = ClickListener(
        answers, trusted=TrustedProxies(where.forwarded_allow_ips), keep_alive=where.keep_alive
    )
    await listener.start(where.sock)
    try:
        yield listener
    finally:
        await listener.close()
