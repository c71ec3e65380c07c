"""Getting a send going once the console has committed it, as `briefmail send` does.

With a broker, the workers are told (`worker.tasks.enqueue_work`). Without one (the
embedded default), the web process drains the send itself in a background thread
with the same engine and the same `drain_send` the CLI runs in the foreground, so a
marketer's "Send now" sends on a laptop with no worker running. The ledger makes this
safe beside any worker: batches are claimed in transactions, never twice.
"""

from __future__ import annotations

import logging
import threading

from briefmail.config import Settings
from briefmail.sending import service
from briefmail.sending.runtime import engine_from_settings

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def start(self, send_id: int) -> None:
        """The send `send_id` is committed and due now: have it sent."""
        if self.settings.broker_url:
            from worker.tasks import enqueue_work

            enqueue_work()
            return
        threading.Thread(
            target=self._drain, args=(send_id,), name=f"console-send-{send_id}", daemon=True
        ).start()

    def _drain(self, send_id: int) -> None:
        try:
            engine = engine_from_settings(self.settings)
            try:
                service.drain_send(engine, send_id)
            finally:
                engine.close()
        except Exception:
            # The ledger keeps the state: `briefmail worker` (or `sends run-due`) resumes it.
            log.exception("console: send %s stopped in the web process", send_id)
