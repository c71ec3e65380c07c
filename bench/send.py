"""Throughput of one send through the `sendgrid` library, beside the httpx path it
replaced and, with `--before DIR`, beside the whole send of another checkout.

    .venv/bin/python bench/send.py [--subscribers 100000] [--workers 2] [--rounds 1]
        [--paths library,httpx,before] [--before DIR] [--tls [--ca-directory]]

Needs PostgreSQL (127.0.0.1:5432, user postgres; throwaway databases are created and
dropped) and Redis (`BRIEFMAIL_BENCH_BROKER_URL`, default db 4, flushed). Seeds
100,000 subscribers once into a template database per schema; then, for each round
and each path, copies the path's template into a fresh database, starts the SendGrid
stand-in as its own process and two Celery workers (`--pool=solo`), and does what
`briefmail send SLUG --now` does: commit the send, queue one `work` task
(bench/send_checkout.py, under the path's own interpreter, warmed up before the
clock starts). The clock runs from there until the last batch is accepted. CPU is
read from /proc for the worker processes only (user + system), PostgreSQL, the
stand-in and the whole machine. The paths take turns: each round starts one path
later than the one before, so a drift in the machine's load falls on all of them.

Paths: `library` is briefmail's backend (SendGridAPIClient, a body serialised once
by orjson, a new connection per request); `httpx` is the posting path it replaced
(same body, keep-alive httpx client) on today's engine, kept only in
bench/send_worker.py. `before` (with `--before DIR`, another checkout of briefmail
with its own .venv: `make sync` there) is that checkout's whole send: its migrations
build its template database, the same subscribers are inserted (the audience
tables of both schemas must match, which is checked), and its send is created and
worked by its own code (`DIR/.venv/bin/python -m celery -A worker.app worker`, with
DIR as working directory and PYTHONPATH), against the same stand-in and broker.
`--paths` defaults to all three (`before` only with `--before`).

`--tls`: the stand-in serves HTTPS with a throwaway certificate, and every client
trusts the system's CA bundle plus that certificate (`SSL_CERT_FILE`), so each new
connection loads as many CA certificates as it would in production. With
`--ca-directory` they find the same certificates in a hashed directory instead
(`SSL_CERT_FILE=/dev/null`, `SSL_CERT_DIR`), which OpenSSL reads per issuer on demand.

Same-run baselines, in this process: the per-recipient work alone (signed link
values and the SendGrid JSON, no database, broker or HTTP; for today's paths), and
the client CPU of one 1000-recipient request through each way of posting it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import os
import random
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import redis
from sqlalchemy import Engine, MetaData, create_engine, insert, inspect, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_ADMIN = os.environ.get(
    "BRIEFMAIL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BROKER = os.environ.get("BRIEFMAIL_BENCH_BROKER_URL", "redis://127.0.0.1:6379/4")
SECRET = "bench-secret-key-0123456789-abcdefghijkl"
API_KEY = "SG.test-key"
TOPICS = ["learning-design", "workflow-based-education", "accreditation-operations", "clinical-ai"]
EXAMPLE = ROOT / "examples/briefs/2024-01-08-clinician-educators.md"


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


def start_fake(tls: Path | None) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "tests.fakes.sendgrid_server", "--keep", "ids"]
    if tls is not None:
        command += ["--certfile", str(tls / "cert.pem"), "--keyfile", str(tls / "key.pem")]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    return process, line.removeprefix("listening on ")


def stop(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def make_tls(folder: Path) -> Path:
    """A throwaway certificate for 127.0.0.1, and a CA bundle: the system's plus it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench stand-in")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (folder / "cert.pem").write_bytes(pem)
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths = ssl.get_default_verify_paths()
    system = Path(paths.cafile or paths.openssl_cafile).read_bytes()
    (folder / "bundle.pem").write_bytes(system + b"\n" + pem)
    # The same trust as a hashed directory (OpenSSL's CApath): the system's links plus
    # one for the throwaway certificate, named by its subject hash.
    directory = folder / "ca"
    directory.mkdir()
    system_dir = Path(paths.capath or paths.openssl_capath)
    for entry in system_dir.iterdir():
        (directory / entry.name).symlink_to(entry.resolve())
    subject_hash = subprocess.run(
        ["openssl", "x509", "-hash", "-noout", "-in", str(folder / "cert.pem")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    suffix = 0
    while (directory / f"{subject_hash}.{suffix}").exists():
        suffix += 1
    (directory / f"{subject_hash}.{suffix}").symlink_to(folder / "cert.pem")
    return folder


def trust(tls: Path, by_directory: bool) -> str:
    """Point OpenSSL's defaults (this process and the workers) at the bundle or the
    directory; returns what a new default context loads."""
    if by_directory:
        os.environ.update(SSL_CERT_FILE=os.devnull, SSL_CERT_DIR=str(tls / "ca"))
        return "CA certificates looked up by directory"
    os.environ["SSL_CERT_FILE"] = str(tls / "bundle.pem")
    count = (tls / "bundle.pem").read_bytes().count(b"-----BEGIN CERTIFICATE-----")
    return f"a CA file of {count} certificates"


@dataclass(frozen=True)
class Checkout:
    """The code a path runs: an interpreter, and the folder that is its working
    directory and PYTHONPATH (so `worker` and `tests` are that checkout's)."""

    python: str
    folder: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(self.folder)}

    def step(self, name: str, url: str, *argv: str, **popen: Any) -> subprocess.Popen[str]:
        """bench/send_checkout.py on this checkout's code, on the database at `url`."""
        return subprocess.Popen(
            [self.python, "-P", str(ROOT / "bench/send_checkout.py"), name, url, *argv],
            cwd=self.folder,
            env={**self.env(), "BRIEFMAIL_DATABASE_URL": url},
            stdout=subprocess.PIPE,
            text=True,
            **popen,
        )


def checkout_of(path: str, args: argparse.Namespace) -> Checkout:
    if path == "before":
        folder = Path(args.before).resolve()
        return Checkout(str(folder / ".venv/bin/python"), folder)
    return Checkout(sys.executable, ROOT)


AUDIENCE_TABLES = ("topics", "subscribers", "subscriber_topics")


def audience_columns(url: str) -> dict[str, list[tuple[str, str, bool]]]:
    """Name, type and nullability of each column of the tables `seed` writes."""
    engine = create_engine(url)
    try:
        found = inspect(engine)
        return {
            table: [(c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(table)]
            for table in AUDIENCE_TABLES
        }
    finally:
        engine.dispose()


def seed(url: str, checkout: Checkout, count: int, rng: random.Random) -> str:
    """The checkout's schema, brief and topics (its own code), then `count` subscribers:
    the same rows for any schema whose audience tables match (`audience_columns`)."""
    with checkout.step("prepare", url, str(EXAMPLE), *TOPICS) as prepare:
        assert prepare.stdout is not None
        slug = prepare.stdout.read().strip()
    if prepare.returncode != 0 or not slug:
        raise SystemExit(f"preparing the database with {checkout.python} failed")
    engine = create_engine(url)
    tables = MetaData()
    tables.reflect(engine, only=["subscribers", "subscriber_topics"])
    subscribers, subscriber_topics = (
        tables.tables["subscribers"],
        tables.tables["subscriber_topics"],
    )
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
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
        conn.execute(insert(subscribers), rows)
        ids = list(conn.scalars(select(subscribers.c.id).order_by(subscribers.c.id)))
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
    from briefmail.sending.batch_content import ContentCache
    from briefmail.sending.options import SendOptions
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


def example_batch(count: int) -> Any:
    """`count` recipients of the example brief, with real signed values (no database)."""
    from briefmail.briefs.parse import load_brief
    from briefmail.render import personalise as p
    from briefmail.render.email import render_email
    from briefmail.render.message import list_unsubscribe_headers
    from briefmail.sending.backends.base import OutgoingBatch, OutgoingContent, OutgoingRecipient
    from briefmail.tracking.links import recipient_values

    rendered = render_email(
        load_brief(EXAMPLE),
        postal_address="100 Example Street",
        public_url="https://brief.example.org",
    )
    content = OutgoingContent(
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        from_address="Clinician Learning Brief <brief@example.org>",
    )
    recipients = []
    for i in range(count):
        values = recipient_values(
            keys=[SECRET.encode()],
            public_url="https://brief.example.org",
            send_id=1,
            link_ids=[link.link_id for link in rendered.links],
            subscriber_id=i + 1,
            subscriber_secret="0" * 32,
            name=f"Reader {i}",
            topics_text="Learning design",
        )
        headers = list_unsubscribe_headers(values[p.UNSUBSCRIBE_URL], "unsubscribe@example.org")
        recipients.append(
            OutgoingRecipient(i, i + 1, f"reader{i}@example.org", f"Reader {i}", values, headers)
        )
    return OutgoingBatch(1, 1, uuid.UUID(int=0).hex, content, recipients)


def cpu_per_call(action: Callable[[], object], calls: int) -> tuple[float, float]:
    """(CPU ms, wall ms) of one call, this process only, mean over `calls` after a warm-up."""
    action()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        action()
    return (
        (time.process_time() - cpu) / calls * 1000,
        (time.perf_counter() - wall) / calls * 1000,
    )


def by_directory() -> None:
    """A default context with no CA file, only OpenSSL's hashed CA directory (looked up
    per issuer when a chain is verified): SSL_CERT_FILE=/dev/null, as a deployment
    could set it."""
    saved = os.environ["SSL_CERT_FILE"]
    os.environ["SSL_CERT_FILE"] = os.devnull
    try:
        ssl.create_default_context()
    finally:
        os.environ["SSL_CERT_FILE"] = saved


def request_costs(calls: int, tls: Path | None, ca: str) -> list[tuple[str, float, float]]:
    """Client CPU of one 1000-recipient Mail Send request, each way of making it."""
    from bench.send_worker import HttpxSendGrid
    from sendgrid import SendGridAPIClient

    from briefmail.sending.backends.sendgrid import SendGridBackend, build_body

    fake, url = start_fake(tls)
    try:
        batch = example_batch(1000)
        body = build_body(batch)
        library = SendGridBackend(api_key=API_KEY, host=url, timeout=30)
        plain = SendGridAPIClient(api_key=API_KEY, host=url).client.mail.send
        old = HttpxSendGrid(api_key=API_KEY, host=url, timeout=30)
        size = len(orjson.dumps(body))
        ways: list[tuple[str, Callable[[], object]]] = [
            (f"orjson.dumps of the body ({size:,} bytes)", lambda: orjson.dumps(body)),
            ("json.dumps of the body (the library's default)", lambda: json.dumps(body).encode()),
            (
                "build_body + POST: library, orjson body (briefmail)",
                lambda: library.send_batch(batch),
            ),
            (
                "build_body + POST: library, dict body (its json.dumps)",
                lambda: plain.post(request_body=build_body(batch), timeout=30),
            ),
            (
                "build_body + POST: httpx keep-alive, orjson body (before)",
                lambda: old.send_batch(batch),
            ),
        ]
        if tls is not None:  # urllib builds a default context for every connection
            ways.insert(2, (f"ssl.create_default_context(), {ca}", ssl.create_default_context))
            if ca.startswith("a CA file"):
                ways.insert(3, ("  the same, CA certificates looked up by directory", by_directory))
        rows = [(label, *cpu_per_call(action, calls)) for label, action in ways]
        old.close()
        return rows
    finally:
        stop(fake)


def worker_command(path: str, checkout: Checkout, args: argparse.Namespace) -> list[str]:
    """Today's paths: bench/send_worker.py PATH; `before`: the checkout's own worker, as
    its bench/send.py started it."""
    options = [
        f"--pool={args.pool}",
        f"--concurrency={args.threads}",
        "--loglevel=INFO",
        "--without-heartbeat",
        "--without-mingle",
        "--without-gossip",
    ]
    if path == "before":
        return [checkout.python, "-m", "celery", "-A", "worker.app", "worker", *options]
    return [checkout.python, "bench/send_worker.py", path, *options]


def ready_creator(checkout: Checkout, url: str, slug: str, path: str) -> subprocess.Popen[str]:
    """bench/send_checkout.py create, its imports done, waiting for the go."""
    creator = checkout.step("create", url, slug, stdin=subprocess.PIPE)
    assert creator.stdout is not None
    if creator.stdout.readline().strip() != "ready":
        stop(creator)
        raise SystemExit(f"{path}: the process that creates the send did not start")
    return creator


def create_send(creator: subprocess.Popen[str], path: str) -> int:
    """Tell the waiting creator to create the send and queue its work; the send's id."""
    assert creator.stdin is not None
    assert creator.stdout is not None
    creator.stdin.write("go\n")
    creator.stdin.flush()
    answer = creator.stdout.readline().strip()
    if not answer.isdigit():
        raise SystemExit(f"{path}: creating the send failed")
    return int(answer)


def one_send(
    path: str, template: str, slug: str, args: argparse.Namespace, tls: Path | None
) -> dict[str, Any]:
    """One send of the seeded audience through `path`, in a fresh copy of its template."""
    from briefmail.db.session import dispose_engines

    checkout = checkout_of(path, args)
    name = f"briefmail_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    fake, fake_url = start_fake(tls)
    os.environ.update(BRIEFMAIL_DATABASE_URL=url, BRIEFMAIL_SENDGRID_HOST=fake_url)
    workers: list[subprocess.Popen[bytes]] = []
    creator: subprocess.Popen[str] | None = None
    try:
        from briefmail.config import get_settings

        get_settings.cache_clear()
        redis.Redis.from_url(BROKER).flushdb()
        logs = [
            Path(f"/tmp/briefmail-bench-worker{i}-{os.getpid()}.log") for i in range(args.workers)
        ]
        for i, log in enumerate(logs):
            workers.append(
                subprocess.Popen(
                    [*worker_command(path, checkout, args), f"--hostname=bench{i}@%h"],
                    cwd=checkout.folder,
                    env=checkout.env(),
                    stdout=log.open("wb"),
                    stderr=subprocess.STDOUT,
                )
            )
        deadline = time.monotonic() + 120
        while not all(b" ready." in log.read_bytes() for log in logs):  # both consuming
            assert time.monotonic() < deadline, f"workers did not start: see {logs[0]}"
            assert all(w.poll() is None for w in workers), f"a worker exited: see {logs}"
            time.sleep(0.1)
        creator = ready = ready_creator(checkout, url, slug, path)
        figures = measure_send(url, lambda: create_send(ready, path), workers, fake, fake_url)
        if path != "before":  # today's code, today's schema
            figures["baseline"] = baseline(url, figures["send_id"], 10_000)
        return figures
    finally:
        if creator is not None:
            stop(creator)
        for w in workers:
            stop(w)
        stop(fake)
        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


FINISHED = ("sent", "failed", "cancelled")
STATUS = text("SELECT status FROM sends WHERE id = :id")


def measure_send(
    url: str,
    start_send: Callable[[], int],
    workers: list[subprocess.Popen[bytes]],
    fake: subprocess.Popen[str],
    fake_url: str,
) -> dict[str, Any]:
    """Start the send and wait for it to finish. Plain SQL on tables both schemas have,
    so it reads either checkout's database."""
    from tests.fakes.sendgrid_server import RemoteFakeSendGrid

    from briefmail import clock

    engine = create_engine(url)
    try:
        cpu_before = sum(cpu_seconds(w.pid) for w in workers)
        fake_before, pg_before, busy_before = cpu_seconds(fake.pid), postgres_cpu(), machine_busy()
        wall_start = clock.now()
        started = time.perf_counter()
        send_id = start_send()
        while True:
            with engine.connect() as conn:
                status = conn.scalar(
                    text("SELECT status FROM sends WHERE id = :id"), {"id": send_id}
                )
            if status in FINISHED:
                break
            time.sleep(0.05)
        polled = time.perf_counter() - started
        cpu = sum(cpu_seconds(w.pid) for w in workers) - cpu_before
        fake_cpu = cpu_seconds(fake.pid) - fake_before
        pg_cpu = sum(c - pg_before.get(pid, 0.0) for pid, c in postgres_cpu().items())
        busy = machine_busy() - busy_before
        with engine.connect() as conn:
            recipients = conn.scalar(
                text("SELECT recipients FROM sends WHERE id = :id"), {"id": send_id}
            )
            last, batches = conn.execute(
                text("SELECT max(accepted_at), count(*) FROM batches WHERE send_id = :id"),
                {"id": send_id},
            ).one()
    finally:
        engine.dispose()
    elapsed = (clock.as_utc(last) - wall_start).total_seconds()
    accepted = RemoteFakeSendGrid(fake_url).accepted
    once = len({a["email"] for a in accepted}) == len(accepted) == recipients
    return {
        "send_id": send_id,
        "status": status,
        "recipients": recipients,
        "batches": batches,
        "once": once,
        "elapsed": elapsed,
        "polled": polled,
        "rate": recipients / elapsed,
        "cpu": cpu,
        "per_1000": cpu / recipients * 1000,
        "pg": pg_cpu,
        "fake": fake_cpu,
        "others": busy - cpu - fake_cpu - pg_cpu,
    }


def report(path: str, f: dict[str, Any]) -> None:
    print(
        f"[{path}] send {f['send_id']}: {f['status']}, {f['recipients']} recipients in "
        f"{f['batches']} batches, exactly once at the stand-in: {f['once']}"
    )
    print(
        f"[{path}] send -> last batch accepted: {f['elapsed']:.2f}s "
        f"({f['rate']:,.0f} recipients/s); polled end {f['polled']:.2f}s"
    )
    print(
        f"[{path}] CPU during the send: workers {f['cpu']:.2f}s "
        f"({f['per_1000']:.3f}s per 1000 recipients), PostgreSQL {f['pg']:.2f}s, "
        f"stand-in {f['fake']:.2f}s, everything else on the machine {f['others']:.2f}s "
        f"(of {2 * f['polled']:.1f} core-seconds)"
    )
    if "baseline" in f:
        print(
            f"[{path}] baseline (values + JSON only): {f['baseline']:.3f}s CPU per 1000 recipients"
        )


def summary(results: list[tuple[str, dict[str, Any]]], paths: list[str], title: str) -> None:
    """Every send in the order run, then (over several rounds) each path's median."""
    print(f"summary ({title}):")
    print("| path | recipients/s | worker CPU per 1000 recipients | exactly once |")
    print("| --- | --- | --- | --- |")
    for path, f in results:
        print(f"| {path} | {f['rate']:,.0f} | {f['per_1000']:.3f} s | {f['once']} |")
    if len(results) > len(paths):
        print("median per path:")
        print("| path | sends | recipients/s | worker CPU per 1000 recipients |")
        print("| --- | --- | --- | --- |")
        for path in paths:
            runs = [f for p, f in results if p == path]
            rate = statistics.median(f["rate"] for f in runs)
            cpu = statistics.median(f["per_1000"] for f in runs)
            print(f"| {path} | {len(runs)} | {rate:,.0f} | {cpu:.3f} s |")


PATHS = ("library", "httpx", "before")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--pool", default="solo", help="celery pool of each worker")
    parser.add_argument("--threads", type=int, default=1, help="concurrency of each worker")
    parser.add_argument(
        "--paths",
        default="",
        help=f"comma-separated, of {','.join(PATHS)} (default: all; before with --before)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="sends per path; each round starts one path later than the one before",
    )
    parser.add_argument(
        "--before",
        default="",
        help="another checkout of briefmail, with its .venv, whose whole send runs as "
        "the 'before' path (its schema, workers and send; the same audience and stand-in)",
    )
    parser.add_argument("--tls", action="store_true", help="the stand-in serves HTTPS")
    parser.add_argument(
        "--ca-directory",
        action="store_true",
        help="with --tls: clients find CA certificates in a hashed directory, not a file",
    )
    parser.add_argument("--calls", type=int, default=20, help="requests per way of posting")
    args = parser.parse_args()
    paths = args.paths.split(",") if args.paths else [p for p in PATHS if p != "before"]
    if args.before and not args.paths:
        paths.append("before")
    unknown = [p for p in paths if p not in PATHS]
    if unknown:
        parser.error(f"--paths: {','.join(unknown)} not among {','.join(PATHS)}")
    if "before" in paths:
        if not args.before:
            parser.error("--paths before needs --before DIR")
        python = Path(args.before).resolve() / ".venv/bin/python"
        if not python.exists():
            parser.error(f"--before: {python} not found (run `make sync` in that checkout)")
    args.paths = paths
    return args


def make_template(checkout: Checkout, admin: Engine, count: int) -> tuple[str, str, str]:
    """A database with the checkout's schema, brief and `count` subscribers (always the
    same ones: a fresh generator with the same seed); its name, URL and the slug."""
    name = f"briefmail_bench_{uuid.uuid4().hex[:8]}_template"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    t = time.perf_counter()
    slug = seed(url, checkout, count, random.Random(20240108))
    print(f"seeded {count} subscribers for {checkout.folder} in {time.perf_counter() - t:.1f}s")
    return name, url, slug


def main() -> None:
    began = time.perf_counter()
    args = parse_args()
    paths: list[str] = args.paths

    folder = Path(tempfile.mkdtemp(prefix="briefmail-bench-send-"))
    tls = make_tls(folder) if args.tls else None
    for key in [k for k in os.environ if k.startswith("BRIEFMAIL_")]:
        del os.environ[key]  # only the settings below, whatever the shell holds
    os.environ.update(
        BRIEFMAIL_BROKER_URL=BROKER,
        BRIEFMAIL_EMAIL_BACKEND="sendgrid",
        BRIEFMAIL_SENDGRID_API_KEY=API_KEY,
        BRIEFMAIL_SECRET_KEY=SECRET,
        BRIEFMAIL_PUBLIC_URL="https://brief.example.org",
    )
    ca = trust(tls, args.ca_directory) if tls is not None else "no TLS"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    templates: dict[str, tuple[str, str]] = {}  # "today" or "before": (database, slug)
    try:
        today = checkout_of("library", args)
        name, url, slug = make_template(today, admin, args.subscribers)
        templates["today"] = (name, slug)
        if "before" in paths:
            name, before_url, slug = make_template(
                checkout_of("before", args), admin, args.subscribers
            )
            templates["before"] = (name, slug)
            if audience_columns(before_url) != audience_columns(url):
                raise SystemExit(
                    "--before: the subscribers, topics or subscriber_topics tables differ "
                    "between the two schemas; the same rows cannot be seeded into both"
                )
        scheme = f"HTTPS, {ca}" if tls else "HTTP"
        print(f"client CPU per 1000-recipient request ({scheme}, mean of {args.calls}):")
        for label, cpu, wall in request_costs(args.calls, tls, ca):
            print(f"  {label}: {cpu:.2f} ms CPU, {wall:.2f} ms wall")
        results: list[tuple[str, dict[str, Any]]] = []
        for round_ in range(args.rounds):
            turn = round_ % len(paths)
            for path in paths[turn:] + paths[:turn]:
                template, slug = templates["before" if path == "before" else "today"]
                figures = one_send(path, template, slug, args, tls)
                report(path, figures)
                results.append((path, figures))
        summary(results, paths, f"{scheme}, {args.workers} workers, --pool {args.pool}")
        print(f"whole run: {time.perf_counter() - began:.0f}s")
    finally:
        with admin.connect() as conn:
            for name, _ in templates.values():
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
