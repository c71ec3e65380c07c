"""bench/redirect.py's control: the real app and its click listener with click storage
switched off.

Same app, same click listener and same in-memory buffering; the recorder's sink
discards each batch instead of storing it. Comparing it with the real app shows what
storing clicks costs; comparing it with the bare app shows what the request path costs.

    .venv/bin/python bench/unrecorded_app.py PORT CLICK_PORT   (as `briefmail web
    --port PORT --click-port CLICK_PORT` serves the real app)
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import uvicorn

from briefmail.tracking.clicks import RawClick
from briefmail.web.app import create_app
from briefmail.web.clickport import ClickPort
from briefmail.web.serve import server_options


class Discard:
    async def write(self, clicks: Sequence[RawClick]) -> None:
        return None


def main(port: int, click_port: int) -> None:
    app = create_app(click_port=ClickPort.bind("127.0.0.1", click_port))
    app.state.ctx.recorder.sink = Discard()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", **server_options())


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
