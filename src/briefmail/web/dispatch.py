"""Getting a send going once a web face (the API or the console) has committed it.

With a broker, the workers are told (`worker.tasks.enqueue_work`). Without one (the
embedded default), the web process drains the send itself in a background thread
with the same engine and the same `drain_send` the CLI runs in the foreground, so
"send now" sends on a laptop with no worker running. The ledger makes this safe
beside any worker: batches are claimed in transactions, never twice.
"""

from __future__ import annotations

import logging
import threading

from briefmail.config import Settings
from briefmail.sending import service
from briefmail.sending.engine_factory import engine_from_settings

log = logging.getLogger(__name__)


def start_send(settings: Settings, send_id: int) -> None:
    """The send `send_id` is committed and due now: have it sent."""
    if settings.broker_url:
        from worker.tasks import enqueue_work

        enqueue_work()
        return
    threading.Thread(
        target=_drain, args=(settings, send_id), name=f"send-{send_id}", daemon=True
    ).start()


def _drain(settings: Settings, send_id: int) -> None:
    try:
        engine = engine_from_settings(settings)
        try:
            service.drain_send(engine, send_id)
        finally:
            engine.close()
    except Exception:
        # The ledger keeps the state: `briefmail worker` (or `sends run-due`) resumes it.
        log.exception("send %s stopped in the web process", send_id)
