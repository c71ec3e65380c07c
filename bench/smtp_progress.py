"""What recording SMTP progress as it goes costs: one send, with and without it.

    .venv/bin/python bench/smtp_progress.py [--recipients 1000] [--rounds 3] [--postgres]

One send of the example brief to `--recipients` subscribers in batches of 1000,
through the SMTP backend to a local SMTP server (aiosmtpd's own `Sink` handler, in its
own process), drained in-process by the engine. With progress, the engine commits who
was handed over every `PROGRESS_GROUP` messages; the baseline, in the same run, is the
same send with the backend told nothing of progress (the whole batch recorded at its
end, as before issue 12). Rounds alternate the two. SQLite in a temporary folder by
default; `--postgres` uses a throwaway database on 127.0.0.1:5432 instead.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_ADMIN = os.environ.get(
    "BRIEFMAIL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the SMTP server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-smtp-"))
    os.environ.update(
        BRIEFMAIL_SECRET_KEY="bench-secret-key-0123456789abcdef",
        BRIEFMAIL_PUBLIC_URL="https://brief.example.org",
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    sink = ["-c", "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{port}"]
    server = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", *sink])
    _wait_for(port)
    rows = []
    try:
        for index in range(args.rounds * 2):
            progress = index % 2 == 0
            url, drop = _database(folder, index, args.postgres)
            try:
                seconds = _one_send(url, port, args.recipients, progress)
            finally:
                drop()
            rows.append((progress, seconds))
            label = "with progress" if progress else "baseline"
            print(f"round {index // 2 + 1} {label}: {seconds:.2f} s", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    _report(rows, args.recipients)


def _database(folder: Path, index: int, postgres: bool) -> tuple[str, Any]:
    if not postgres:
        return f"sqlite:///{folder / f'round{index}.db'}", lambda: None
    name = f"briefmail_bench_smtp_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"

    def drop() -> None:
        from briefmail.db.session import dispose_engines

        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    from briefmail.db.session import upgrade

    upgrade(url)
    return url, drop


def _one_send(url: str, port: int, recipients: int, progress: bool) -> float:
    from tests.sending.helpers import add_people, store_brief

    from briefmail import clock
    from briefmail.config import get_settings
    from briefmail.db.session import session_factory, session_scope
    from briefmail.sending import service
    from briefmail.sending.backends.base import BatchResult, OutgoingBatch
    from briefmail.sending.backends.smtp import SmtpBackend
    from briefmail.sending.engine import Engine
    from briefmail.sending.options import SendOptions

    class Unreported(SmtpBackend):
        """The baseline: the backend is told nothing of progress."""

        def send_batch(self, batch: OutgoingBatch) -> BatchResult:
            return super().send_batch(replace(batch, progress=None))

    os.environ["BRIEFMAIL_DATABASE_URL"] = url
    get_settings.cache_clear()
    with session_scope() as session:
        slug = store_brief(session)
        add_people(session, recipients, topics=["learning-design"])
        now = clock.now()
        send_id = service.create_send(session, slug, at=now, now=now).id
    kind = SmtpBackend if progress else Unreported
    backend = kind(f"smtp://127.0.0.1:{port}", timeout=30)
    engine = Engine(
        session_factory(url),
        backend,
        SendOptions.from_settings(get_settings()),
        rng=random.Random(7),
    )
    started = time.perf_counter()
    view = service.drain_send(engine, send_id)
    seconds = time.perf_counter() - started
    engine.close()
    assert (view.status, view.accepted) == ("sent", recipients), view
    return seconds


def _report(rows: list[tuple[bool, float]], recipients: int) -> None:
    from briefmail.sending.backends.smtp import PROGRESS_GROUP

    with_progress = sorted(s for p, s in rows if p)
    baseline = sorted(s for p, s in rows if not p)
    best_with, best_base = with_progress[0], baseline[0]
    print()
    print("| run | best of rounds | messages/s |")
    print("| --- | --- | --- |")
    base_rate, with_rate = recipients / best_base, recipients / best_with
    print(f"| baseline (recorded at the batch's end) | {best_base:.2f} s | {base_rate:,.0f} |")
    print(f"| progress every {PROGRESS_GROUP} messages | {best_with:.2f} s | {with_rate:,.0f} |")
    print(f"cost of recording progress: {100 * (best_with / best_base - 1):+.1f}% wall time")


if __name__ == "__main__":
    main()
