"""A batch whose recipients cannot be loaded is retried, not stranded.

Nothing has left when loading fails (a database blip, a bug): the batch goes back to
`pending` for a retry instead of waiting out its lease as `sending` for an operator.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from briefmail import clock
from briefmail.db.models import Batch
from briefmail.db.session import session_scope
from briefmail.sending import engine as engine_module
from briefmail.sending import service
from briefmail.sending.backends.sendgrid import SendGridBackend
from tests.fakes.sendgrid_server import API_KEY, FakeSendGrid, exactly_once
from tests.sending.helpers import make_engine, started_send


def test_a_batch_whose_recipients_cannot_be_loaded_is_retried_not_stranded(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing has left when loading fails (e.g. a database blip): the batch goes back
    # to pending for a retry instead of waiting out its lease as `sending` for an operator.
    send_id = started_send(20)  # 2 batches
    clock.set_now(None)
    real_load = engine_module.load_batch
    failures = iter([RuntimeError("database went away")])

    def flaky_load(*args: Any, **kwargs: Any) -> Any:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real_load(*args, **kwargs)

    monkeypatch.setattr(engine_module, "load_batch", flaky_load)
    with FakeSendGrid() as fake:
        engine = make_engine(SendGridBackend(api_key=API_KEY, host=fake.url, timeout=30))
        view = service.drain_send(engine, send_id)
        assert (view.status, view.accepted) == ("sent", 20)
        assert len(fake.accepted) == 20
        assert set(exactly_once(fake.accepted).values()) == {1}
    with session_scope() as session:
        attempts = session.scalars(select(Batch.attempts).where(Batch.send_id == send_id)).all()
    assert sorted(attempts) == [1, 2]
