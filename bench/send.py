"""Throughput of one send: 100,000 subscribers, two Celery workers, the SendGrid stand-in.

    .venv/bin/python bench/send.py [--subscribers 100000] [--workers 2]

Needs PostgreSQL (127.0.0.1:5432, user postgres; a throwaway database is created and
dropped) and Redis (db 4, flushed). Starts the SendGrid stand-in as its own process
and two `celery -A worker.app worker --pool=solo` processes, then does what
`briefmail send SLUG --now` does: commit the send, queue one `work` task. The clock
runs from there until the last batch is accepted. CPU is read from /proc for the
worker processes only (user + system).

Baseline, in the same run: the per-recipient work alone (signed link values and the
SendGrid JSON for the same recipients) in this process, with no database, broker or
HTTP: the floor the workers' CPU per 1000 recipients is compared against.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson
import redis
from sqlalchemy import create_engine, func, insert, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_ADMIN = os.environ.get(
    "BRIEFMAIL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BROKER = os.environ.get("BRIEFMAIL_BENCH_BROKER_URL", "redis://127.0.0.1:6379/4")
SECRET = "bench-secret-key-0123456789-abcdefghijkl"
TOPICS = ["learning-design", "workflow-based-education", "accreditation-operations", "clinical-ai"]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def postgres_cpu() -> dict[int, float]:
    """CPU of each postgres process on this machine (the database's share of the work)."""
    found: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    found[int(entry.name)] = cpu_seconds(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine, all cores (from /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def start_fake() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.sendgrid_server", "--keep", "ids"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    return process, line.removeprefix("listening on ")


def seed(url: str, count: int, rng: random.Random) -> str:
    from briefmail.audience.topics import ensure_topics
    from briefmail.briefs.store import approve_brief, import_brief
    from briefmail.db.models import Subscriber, subscriber_topics
    from briefmail.db.session import session_scope

    with session_scope(url) as session:
        slug = import_brief(
            session, ROOT / "examples/briefs/2024-01-08-clinician-educators.md"
        ).slug
        approve_brief(session, slug, "bench")
        ensure_topics(session, TOPICS)
    engine = create_engine(url)
    now = "2024-01-01T00:00:00+00:00"
    with engine.begin() as conn:
        rows = [
            {
                "email": f"reader{i}@example.org",
                "email_key": f"reader{i}@example.org",
                "name": f"Reader {i}",
                "status": "active",
                "timezone": None,
                "secret": f"{rng.getrandbits(128):032x}",  # fixed seed
                "created_at": now,
                "updated_at": now,
            }
            for i in range(count)
        ]
        conn.execute(insert(Subscriber.__table__), rows)
        ids = list(conn.scalars(select(Subscriber.id).order_by(Subscriber.id)))
        links = []
        for sid in ids:
            # Every reader holds one of the brief's three topics (and maybe clinical-ai).
            links.append({"subscriber_id": sid, "topic_slug": rng.choice(TOPICS[:3])})
            if rng.random() < 0.3:
                links.append({"subscriber_id": sid, "topic_slug": TOPICS[3]})
        conn.execute(insert(subscriber_topics), links)
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return slug


def baseline(url: str, send_id: int, sample: int) -> float:
    """CPU seconds per 1000 recipients for values + JSON alone (no DB, broker, HTTP)."""
    from briefmail.config import get_settings
    from briefmail.db.session import session_factory
    from briefmail.render import personalise as p
    from briefmail.render.message import list_unsubscribe_headers
    from briefmail.sending.backends.base import OutgoingBatch, OutgoingRecipient
    from briefmail.sending.backends.sendgrid import build_body
    from briefmail.sending.options import SendOptions
    from briefmail.sending.outgoing import ContentCache
    from briefmail.tracking.links import recipient_values

    options = SendOptions.from_settings(get_settings())
    sessions = session_factory(url)
    with sessions() as session:
        shared = ContentCache().get(session, send_id, options)
    start = time.process_time()
    for offset in range(0, sample, 1000):
        recipients = []
        for i in range(offset, offset + 1000):
            values = recipient_values(
                keys=options.keys,
                public_url=options.public_url,
                send_id=send_id,
                link_ids=shared.link_ids,
                subscriber_id=i + 1,
                subscriber_secret="0" * 32,
                name=f"Reader {i}",
                topics_text="Learning design",
            )
            headers = list_unsubscribe_headers(
                values[p.UNSUBSCRIBE_URL], options.unsubscribe_mailto
            )
            recipients.append(
                OutgoingRecipient(
                    i, i + 1, f"reader{i}@example.org", f"Reader {i}", values, headers
                )
            )
        batch = OutgoingBatch(send_id, 1, "k", shared.content, recipients)
        orjson.dumps(build_body(batch))
    return (time.process_time() - start) / sample * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--pool", default="solo", help="celery pool of each worker")
    parser.add_argument("--threads", type=int, default=1, help="concurrency of each worker")
    args = parser.parse_args()
    rng = random.Random(20240108)

    name = f"briefmail_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    fake, fake_url = start_fake()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFMAIL_")}
    env.update(
        BRIEFMAIL_DATABASE_URL=url,
        BRIEFMAIL_BROKER_URL=BROKER,
        BRIEFMAIL_EMAIL_BACKEND="sendgrid",
        BRIEFMAIL_SENDGRID_API_KEY="SG.test-key",
        BRIEFMAIL_SENDGRID_HOST=fake_url,
        BRIEFMAIL_SECRET_KEY=SECRET,
        BRIEFMAIL_PUBLIC_URL="https://brief.example.org",
    )
    os.environ.update(env)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        from briefmail.config import get_settings
        from briefmail.db.session import session_scope, upgrade

        get_settings.cache_clear()
        upgrade(url)
        t = time.perf_counter()
        slug = seed(url, args.subscribers, rng)
        print(f"seeded {args.subscribers} subscribers in {time.perf_counter() - t:.1f}s")
        redis.Redis.from_url(BROKER).flushdb()
        logs = [
            Path(f"/tmp/briefmail-bench-worker{i}-{os.getpid()}.log") for i in range(args.workers)
        ]
        for i, log in enumerate(logs):
            workers.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "worker.app",
                        "worker",
                        f"--pool={args.pool}",
                        f"--concurrency={args.threads}",
                        "--loglevel=INFO",
                        "--without-heartbeat",
                        "--without-mingle",
                        "--without-gossip",
                        f"--hostname=bench{i}@%h",
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=log.open("wb"),
                    stderr=subprocess.STDOUT,
                )
            )
        deadline = time.monotonic() + 120
        while not all(b" ready." in log.read_bytes() for log in logs):  # both consuming
            assert time.monotonic() < deadline, "workers did not start"
            time.sleep(0.1)
        cpu_before = sum(cpu_seconds(w.pid) for w in workers)
        fake_before, pg_before, busy_before = cpu_seconds(fake.pid), postgres_cpu(), machine_busy()

        from worker.tasks import enqueue_work

        from briefmail import clock
        from briefmail.db.models import Batch, Send
        from briefmail.sending import service

        wall_start = clock.now()
        started = time.perf_counter()
        with session_scope(url) as session:
            send_id = service.create_send(session, slug, at=clock.now(), now=clock.now()).id
        enqueue_work()
        while True:
            with session_scope(url) as session:
                status = session.scalar(select(Send.status).where(Send.id == send_id))
            if status in ("sent", "failed"):
                break
            time.sleep(0.05)
        polled = time.perf_counter() - started
        cpu = sum(cpu_seconds(w.pid) for w in workers) - cpu_before
        fake_cpu = cpu_seconds(fake.pid) - fake_before
        pg_cpu = sum(cpu - pg_before.get(pid, 0.0) for pid, cpu in postgres_cpu().items())
        busy = machine_busy() - busy_before
        with session_scope(url) as session:
            send = session.get_one(Send, send_id)
            last = session.scalar(
                select(func.max(Batch.accepted_at)).where(Batch.send_id == send_id)
            )
            batches = session.scalar(select(func.count()).where(Batch.send_id == send_id))
            first_claim = session.scalar(
                select(func.min(Batch.claimed_at)).where(Batch.send_id == send_id)
            )
            recipients = send.recipients
            send_started = (clock.as_utc(send.started_at) - wall_start).total_seconds()
        elapsed = (clock.as_utc(last) - wall_start).total_seconds()
        snapshot = (clock.as_utc(first_claim) - wall_start).total_seconds()
        record = orjson.loads(
            subprocess.run(
                ["curl", "-s", f"{fake_url}/_fake/record"], capture_output=True, check=True
            ).stdout
        )
        accepted = record["accepted"]
        once = len({a["email"] for a in accepted}) == len(accepted) == recipients
        base = baseline(url, send_id, 10_000)
        print(
            f"send {send_id}: {status}, {recipients} recipients in {batches} batches, "
            f"exactly once at the stand-in: {once}"
        )
        print(
            f"send -> last batch accepted: {elapsed:.2f}s "
            f"({recipients / elapsed:,.0f} recipients/s); polled end {polled:.2f}s"
        )
        print(
            f"send claimed and rendered at {send_started:.2f}s; "
            f"first batch claimed at {snapshot:.2f}s"
        )
        others = busy - cpu - fake_cpu - pg_cpu
        print(
            f"CPU during the send: workers {cpu:.2f}s, PostgreSQL {pg_cpu:.2f}s, "
            f"stand-in {fake_cpu:.2f}s, everything else on the machine {others:.2f}s "
            f"(of {2 * polled:.1f} core-seconds)"
        )
        print(f"worker CPU: {cpu:.2f}s total, {cpu / recipients * 1000:.3f}s per 1000 recipients")
        print(f"baseline (values + JSON only, one process): {base:.3f}s CPU per 1000 recipients")
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            try:
                w.wait(timeout=20)
            except subprocess.TimeoutExpired:
                w.kill()
        fake.terminate()
        fake.wait(timeout=10)
        for i in range(args.workers):
            pass
        from briefmail.db.session import dispose_engines

        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
