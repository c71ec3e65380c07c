"""Click redirect speed: the real app with click recording on, against two baselines.

    .venv/bin/python bench/redirect.py [--duration 10] [--connections 50] [--db postgresql]

Runs wrk (needs `wrk` and `nginx`: `apt-get install -y wrk nginx`) against, in one run
on loopback, each for the same fixed duration with the same request script:

1. the real app (`briefmail web`: uvicorn + uvloop + httptools, access log off) with
   click recording on: in-memory buffer, batches written to the database;
2. the same with clicks going through the Redis stream (when Redis answers);
3. a bare Starlette-on-uvicorn app that only checks the HMAC token and redirects
   (bench/bare_redirect_app.py), same server settings;
4. nginx `return 302` (one worker, a temporary config, stopped at the end);
5. the real app under granian, when granian is installed;
6. the real app with storage off (bench/unrecorded_app.py: clicks buffered, then
   discarded): the request path alone.

Requests cycle through 60,000 distinct click tokens (20,000 subscribers x 3 links,
fixed seed, shuffled) with a browser user agent, so clicks are classified as a
person's and bursts are rare, as in real traffic. After each real-app run the server
is stopped gracefully (SIGTERM) and the clicks in the database are counted against
wrk's request count: none may be missing.

Goal: with recording on, at least the bare app's rate and p99 under 20 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from briefmail.db.models import Batch, Brief, Click, Delivery, Send, SendLink, Subscriber  # noqa: E402
from briefmail.db.session import dispose_engines, session_scope, upgrade  # noqa: E402
from briefmail.tracking.tokens import click_token  # noqa: E402

SEED = 20240108
KEY = "bench-secret-key-0123456789abcdef"
SUBSCRIBERS = 20_000
LINK_IDS = (1, 2, 3)
BROWSER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
PG_ADMIN = os.environ.get(
    "BRIEFMAIL_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("BRIEFMAIL_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
# granian is not a dependency: point this at a folder it is installed in to compare it
# (uv pip install --target DIR granian), or install it into the environment.
GRANIAN_PATH = os.environ.get("BRIEFMAIL_BENCH_GRANIAN_PATH", "")


@dataclass
class Result:
    name: str
    requests: int
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int
    clicks_stored: int | None = None

    def row(self) -> str:
        stored = "" if self.clicks_stored is None else str(self.clicks_stored)
        return (
            f"| {self.name} | {self.rate:,.0f} | {self.p50_ms:.2f} | {self.p99_ms:.2f} | "
            f"{self.requests:,} | {self.errors} | {stored} |"
        )


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        sys.exit(f"bench/redirect.py needs {tool}: apt-get install -y wrk nginx")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            sys.exit(f"server for {url} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    sys.exit(f"{url} did not answer")


# --------------------------------------------------------------------------- data


def make_database(kind: str, workdir: Path) -> tuple[str, str | None]:
    """A fresh database; returns its URL and, for PostgreSQL, the name to drop."""
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}", None
    name = f"briefmail_bench_redirect_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", name


def drop_database(name: str | None) -> None:
    if name is None:
        return
    dispose_engines()
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def seed(url: str) -> list[str]:
    """One sent brief to SUBSCRIBERS people; returns every click path, shuffled."""
    upgrade(url)
    t0 = datetime(2024, 1, 8, 9, 0, tzinfo=UTC)
    with session_scope(url) as s:
        brief = Brief(
            slug="bench",
            title="Bench",
            source="",
            content_hash="0" * 64,
            coverage_start=t0.date(),
            status="approved",
        )
        s.add(brief)
        s.flush()
        send = Send(brief_id=brief.id, kind="brief", status="sent", scheduled_for=t0)
        s.add(send)
        s.flush()
        batch = Batch(
            send_id=send.id,
            seq=0,
            status="accepted",
            size=SUBSCRIBERS,
            due_at=t0,
            accepted_at=t0 - timedelta(days=1),
        )
        s.add(batch)
        for link_id in LINK_IDS:
            s.add(
                SendLink(
                    send_id=send.id,
                    link_id=link_id,
                    kind="source",
                    url=f"https://example.org/source/{link_id}",
                    source_number=link_id,
                )
            )
        s.flush()
        send_id, brief_id, batch_id = send.id, brief.id, batch.id
    subs = [
        {
            "email": f"r{i}@example.org",
            "email_key": f"r{i}@example.org",
            "name": "",
            "status": "active",
            "secret": f"s{i}",
            "created_at": t0,
            "updated_at": t0,
        }
        for i in range(SUBSCRIBERS)
    ]
    with session_scope(url) as s:
        s.execute(Subscriber.__table__.insert(), subs)
        ids = list(s.scalars(select(Subscriber.id).order_by(Subscriber.id)))
        s.execute(
            Delivery.__table__.insert(),
            [
                {
                    "send_id": send_id,
                    "brief_id": brief_id,
                    "batch_id": batch_id,
                    "subscriber_id": sid,
                    "email": f"r{i}@example.org",
                    "name": "",
                    "topics": "",
                    "due_at": t0,
                    "status": "delivered",
                    "accepted_at": t0 - timedelta(days=1),
                }
                for i, sid in enumerate(ids)
            ],
        )
    keys = [KEY.encode()]
    paths = [f"/c/{click_token(keys, send_id, link, sid)}" for sid in ids for link in LINK_IDS]
    random.Random(SEED).shuffle(paths)
    return paths


def count_clicks(url: str) -> int:
    dispose_engines()
    with session_scope(url) as s:
        return s.scalar(select(func.count()).select_from(Click)) or 0


def clear_clicks(url: str) -> None:
    with session_scope(url) as s:
        s.execute(Click.__table__.delete())


# --------------------------------------------------------------------------- wrk


def lua_script(paths: list[str], workdir: Path) -> Path:
    script = workdir / "paths.lua"
    lines = ["local paths = {"]
    lines += [f'  "{p}",' for p in paths]
    lines += [
        "}",
        "local n = #paths",
        "local i = 0",
        f'local headers = {{["User-Agent"] = "{BROWSER_UA}"}}',
        "function init(args) i = math.random(n) end",
        "function request()",
        "  i = i + 1",
        "  if i > n then i = 1 end",
        '  return wrk.format("GET", paths[i], headers)',
        "end",
    ]
    script.write_text("\n".join(lines) + "\n")
    return script


def run_wrk(name: str, base: str, script: Path, duration: int, connections: int) -> Result:
    threads = 2
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(script),
            base,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors_match = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    errors = int(errors_match.group(1)) if errors_match else 0
    if socket_errors:
        errors += sum(int(x) for x in socket_errors.groups())
    return Result(name, requests, rate, _percentile(out, "50%"), _percentile(out, "99%"), errors)


def _percentile(out: str, label: str) -> float:
    value, unit = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


# --------------------------------------------------------------------------- targets


def app_env(url: str, redis: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFMAIL_")}
    env.update(
        {
            "BRIEFMAIL_DATABASE_URL": url,
            "BRIEFMAIL_SECRET_KEY": KEY,
            "BRIEFMAIL_REDIS_URL": redis,
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def bench_real_app(
    name: str,
    url: str,
    paths: list[str],
    script: Path,
    args: argparse.Namespace,
    *,
    redis: str = "",
    server: str = "uvicorn",
) -> Result:
    clear_clicks(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = app_env(url, redis)
    if server == "unrecorded":
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bench.unrecorded_app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
    elif server == "granian":
        command = [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "1",
            "--no-ws",
            "--workers",
            "1",
            "--log-level",
            "warning",
            "briefmail.web.app:create_app",
        ]
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [GRANIAN_PATH, str(ROOT)]))
    else:
        command = [sys.executable, "-m", "briefmail", "web", "--port", str(port)]
    proc = subprocess.Popen(
        command,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"{base}/healthz", proc)
        httpx.get(base + paths[0], headers={"user-agent": BROWSER_UA})  # loads the link table
        result = run_wrk(name, base, script, args.duration, args.connections)
    finally:
        proc.send_signal(signal.SIGTERM)  # graceful: the lifespan flushes every click
        proc.wait(timeout=120)
    if server != "unrecorded":
        result.clicks_stored = count_clicks(url) - 1
    return result


def bench_bare(script: Path, args: argparse.Namespace) -> Result:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bench.bare_redirect_app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=app_env(""),
        cwd=ROOT,
    )
    try:
        wait_ready(f"{base}/c/x", proc)
        return run_wrk(
            "bare Starlette + uvicorn (HMAC check, 302)",
            base,
            script,
            args.duration,
            args.connections,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def bench_nginx(script: Path, args: argparse.Namespace, workdir: Path) -> Result:
    port = free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(
        f"""worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/nginx-body;
    proxy_temp_path {workdir}/nginx-proxy;
    fastcgi_temp_path {workdir}/nginx-fastcgi;
    uwsgi_temp_path {workdir}/nginx-uwsgi;
    scgi_temp_path {workdir}/nginx-scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 302 https://example.org/; }}
    }}
}}
"""
    )
    proc = subprocess.Popen([need("nginx"), "-c", str(conf), "-p", str(workdir)])
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        return run_wrk("nginx return 302 (1 worker)", base, script, args.duration, args.connections)
    finally:
        proc.send_signal(signal.SIGQUIT)  # graceful stop
        proc.wait(timeout=30)


def granian_available() -> bool:
    probe = subprocess.run(
        [sys.executable, "-c", "import granian"],
        env={**os.environ, "PYTHONPATH": GRANIAN_PATH},
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def redis_available() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL).ping()
        return True
    except Exception:
        return False


def postgres_available() -> bool:
    try:
        engine = create_engine(PG_ADMIN)
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per target")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run every target this many times, in a rotating order; report the median",
    )
    parser.add_argument(
        "--db",
        choices=["postgresql", "sqlite"],
        default=None,
        help="database for the real app (default: PostgreSQL if it answers)",
    )
    parser.add_argument(
        "--only", default="", help="comma list: app,redis,granian,unrecorded,bare,nginx"
    )
    args = parser.parse_args()
    need("wrk")
    need("nginx")
    only = set(filter(None, args.only.split(",")))
    kind = args.db or ("postgresql" if postgres_available() else "sqlite")
    every_target = ("app", "redis", "granian", "unrecorded", "bare", "nginx")
    wanted = [t for t in every_target if not only or t in only]
    if "redis" in wanted and not redis_available():
        wanted.remove("redis")
    if "granian" in wanted and not granian_available():
        wanted.remove("granian")

    runs: dict[str, list[Result]] = {t: [] for t in wanted}
    with tempfile.TemporaryDirectory(prefix="bench-redirect-") as tmp:
        workdir = Path(tmp)
        url, pg_name = make_database(kind, workdir)
        try:
            paths = seed(url)
            script = lua_script(paths, workdir)
            targets = {
                "app": lambda: bench_real_app(
                    f"briefmail web, clicks -> {kind} (recording on)", url, paths, script, args
                ),
                "redis": lambda: bench_redis(kind, url, paths, script, args),
                "granian": lambda: bench_real_app(
                    f"briefmail app on granian, clicks -> {kind}",
                    url,
                    paths,
                    script,
                    args,
                    server="granian",
                ),
                "unrecorded": lambda: bench_real_app(
                    "briefmail web, storage off (request path only)",
                    url,
                    paths,
                    script,
                    args,
                    server="unrecorded",
                ),
                "bare": lambda: bench_bare(script, args),
                "nginx": lambda: bench_nginx(script, args, workdir),
            }
            for round_ in range(args.rounds):
                order = wanted[round_ % len(wanted) :] + wanted[: round_ % len(wanted)]
                for target in order:
                    runs[target].append(targets[target]())
        finally:
            drop_database(pg_name)

    results = [sorted(r, key=lambda x: x.rate)[len(r) // 2] for r in runs.values()]
    machine = f"{platform.platform()}, {os.cpu_count()} CPUs"
    print(f"\nMachine: {machine}, Python {platform.python_version()}")
    print(
        f"wrk -t2 -c{args.connections} -d{args.duration}s, {len(paths):,} distinct tokens, "
        f"{args.rounds} round(s), median shown\n"
    )
    print("| target | redirects/s | p50 ms | p99 ms | requests | errors | clicks stored |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for result in results:
        print(result.row())
    every = [r for rs in runs.values() for r in rs]
    lost = [r for r in every if r.clicks_stored is not None and r.clicks_stored < r.requests]
    print()
    for r in every:
        if r.clicks_stored is not None:
            print(
                f"{r.name}: {r.clicks_stored:,} clicks stored for {r.requests:,} answered "
                f"requests ({'none lost' if r.clicks_stored >= r.requests else 'LOST CLICKS'})"
            )
    if runs.get("app") and runs.get("bare"):
        app, bare = results[wanted.index("app")], results[wanted.index("bare")]
        verdict = "met" if app.rate >= bare.rate and app.p99_ms < 20 else "NOT met"
        print(
            f"goal (rate >= bare app, p99 < 20 ms): {verdict} "
            f"({app.rate / bare.rate:.2f}x bare, p99 {app.p99_ms:.1f} ms)"
        )
    if lost:
        sys.exit(1)


def bench_redis(
    kind: str, url: str, paths: list[str], script: Path, args: argparse.Namespace
) -> Result:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    try:
        return bench_real_app(
            f"briefmail web, clicks -> Redis stream -> {kind}",
            url, paths, script, args, redis=REDIS_URL,
        )  # fmt: skip
    finally:
        redis.Redis.from_url(REDIS_URL).flushdb()


if __name__ == "__main__":
    main()
