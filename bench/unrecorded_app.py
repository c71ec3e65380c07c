"""bench/redirect.py's control: the real app with click storage switched off.

Same app, same fast path and same in-memory buffering; the recorder's sink discards
each batch instead of storing it. Comparing it with the real app shows what storing
clicks costs; comparing it with the bare app shows what the request path costs.

    served by bench/redirect.py with `briefmail web`'s options (`web.serve.server_options`)
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette

from briefmail.tracking.clicks import RawClick
from briefmail.web.app import create_app as create_real_app


class Discard:
    async def write(self, clicks: Sequence[RawClick]) -> None:
        return None


def create_app() -> Starlette:
    app = create_real_app()
    app.state.ctx.recorder.sink = Discard()
    return app
