"""Click redirect speed: the real app with click recording on, against two baselines.

    .venv/bin/python bench/redirect.py [--duration 10] [--rounds 3] [--traffic readers]
        [--connections 50] [--db postgresql] [--pin] [--only app,bare,...]

Runs wrk (needs `wrk` and `nginx`: `apt-get install -y wrk nginx`) against, in one run
on loopback, each for the same fixed duration with the same request script:

1. the real app (`briefmail web`: uvicorn + uvloop + httptools, access log off) with
   click recording on: in-memory buffer, batches written to the database;
2. the same with clicks going through the Redis stream (when Redis answers);
3. a bare Starlette-on-uvicorn app that only checks the HMAC token and redirects
   (bench/bare_redirect_app.py), same server settings;
4. nginx `return 302` (one worker, a temporary config, stopped at the end);
5. the real app under granian, when granian is installed, with granian's proxy-header
   handling as uvicorn has it for `briefmail web` (bench/granian_app.py);
6. the real app with storage off (bench/unrecorded_app.py: clicks buffered, then
   discarded): the request path alone.

Two kinds of traffic (`--traffic`), both with a browser user agent, a day after the
send was accepted (so the scanner window does not apply), fixed seed:

- `readers` (the default): 100,000 recipients who each open their 3 links once, far
  apart (all first links in a shuffled order, then all second links, then all third),
  as people do: almost every click is stored as a person's.
- `scanners`: 20,000 recipients' 60,000 links shuffled and cycled, so each recipient
  opens all 3 links within about two seconds, over and over: nearly every click joins
  a burst, and the earlier clicks of each burst, already stored as a person's, are
  re-marked. The worst case for storing clicks.

Each wrk thread starts at its own place in the list. After each real-app run the
server is stopped gracefully (SIGTERM) and the clicks in the database are counted
against wrk's request count: none may be missing. Beside the rates, the script prints
the CPU each part used per answered request (server, click writer, database, wrk, read
from /proc), which is where the rate goes on a small machine.

Goal: with recording on, at least the bare app's rate and p99 under 20 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
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
READERS = 100_000
SCANNED = 20_000  # recipients whose links the scanners traffic cycles through
LINK_IDS = (1, 2, 3)
WRK_THREADS = 2
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
    clicks_filtered: int = 0
    cpu: dict[str, float] | None = None  # CPU-microseconds per answered request, by part

    def cpu_row(self) -> str:
        cpu = self.cpu or {}
        cells = " | ".join(f"{cpu.get(part, 0.0):.1f}" for part in CPU_PARTS)
        return f"| {self.name} | {cells} | {sum(cpu.values()):.1f} |"

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


# Placement (`--pin`): the server under test gets a core of its own and everything else
# (wrk, PostgreSQL, Redis, the click writer) shares the rest, the same for every target.
# On two cores that puts wrk beside the click storage, so it shows where the CPU goes
# rather than a better figure (BENCHMARKS.md).
SERVER_CPUS: set[int] = set()
OTHER_CPUS: set[int] = set()


def place(pin: bool) -> str:
    cpus = sorted(os.sched_getaffinity(0))
    if not pin or len(cpus) < 2:
        return "no pinning: every process on every CPU"
    SERVER_CPUS.update(cpus[:1])
    OTHER_CPUS.update(cpus[1:])
    return f"server on CPU {cpus[0]}; wrk, PostgreSQL, Redis, click writer on CPU {cpus[1:]}"


def on_server_cpus() -> None:
    if SERVER_CPUS:
        os.sched_setaffinity(0, SERVER_CPUS)


def on_other_cpus() -> None:
    if OTHER_CPUS:
        os.sched_setaffinity(0, OTHER_CPUS)


def move_helpers(server_pid: int, marker: str) -> None:
    """Put the server's children (the click writer) and the processes whose command
    line names `marker` (the database's backends, redis-server) on the other CPUs."""
    if not OTHER_CPUS:
        return
    for pid, (parent, cmdline, _) in _proc_table().items():
        if parent == server_pid or (marker and marker in cmdline) or "redis-server" in cmdline:
            try:
                os.sched_setaffinity(pid, OTHER_CPUS)
            except OSError as exc:
                print(f"could not move process {pid}: {exc}", file=sys.stderr)


CPU_PARTS = ("server", "click writer", "database", "wrk")


def _proc_table() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, command line, CPU seconds so far), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        table[int(entry)] = (int(fields[1]), cmdline, (int(fields[11]) + int(fields[12])) / tick)
    return table


def _cpu_by_part(server_pid: int, marker: str) -> dict[str, float]:
    """CPU seconds so far of the server (and its worker processes), its click writer,
    the database's backends for `marker` and redis-server."""
    table = _proc_table()
    ours = {server_pid}
    for _ in range(3):  # children and grandchildren (granian's workers spawn the writer)
        ours |= {pid for pid, (parent, _, _) in table.items() if parent in ours}
    use = dict.fromkeys(CPU_PARTS[:3], 0.0)
    for pid, (_, cmdline, seconds) in table.items():
        if pid in ours:
            use["click writer" if "spawn_main" in cmdline else "server"] += seconds
        elif (marker and marker in cmdline) or "redis-server" in cmdline:
            use["database"] += seconds
    return use


def measured(run: Callable[[], Result], server_pid: int, marker: str) -> Result:
    """`run()` (one wrk run) with the CPU each part used meanwhile, per request."""
    before = _cpu_by_part(server_pid, marker)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = run()
    after = _cpu_by_part(server_pid, marker)
    done = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = {part: after[part] - before[part] for part in before}
    used["wrk"] = (done.ru_utime - children.ru_utime) + (done.ru_stime - children.ru_stime)
    result.cpu = {part: seconds / max(result.requests, 1) * 1e6 for part, seconds in used.items()}
    return result


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


def seed(url: str, traffic: str) -> list[str]:
    """One sent brief to READERS people; returns the click paths in `traffic`'s order."""
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
            size=READERS,
            due_at=t0,
            accepted_at=t0 - timedelta(days=1),
            updated_at=t0 - timedelta(days=1),  # sent yesterday, settled since
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
        for i in range(READERS)
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
    rng = random.Random(SEED)
    if traffic == "scanners":
        paths = [
            f"/c/{click_token(keys, send_id, link, sid)}"
            for sid in ids[:SCANNED]
            for link in LINK_IDS
        ]
        rng.shuffle(paths)
        return paths
    paths = []
    for link in LINK_IDS:
        block = [f"/c/{click_token(keys, send_id, link, sid)}" for sid in ids]
        rng.shuffle(block)
        paths += block
    return paths


def count_clicks(url: str) -> tuple[int, int]:
    """Clicks stored, and how many of them were filtered as automated."""
    dispose_engines()
    with session_scope(url) as s:
        total = s.scalar(select(func.count()).select_from(Click)) or 0
        automated = s.scalar(select(func.count()).where(Click.automated.is_(True))) or 0
        return total, automated


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
        "local threads = 0",
        # each thread starts at its own place: thread k of t at k/t of the list
        'function setup(thread) thread:set("k", threads); threads = threads + 1 end',
        f"function init(args) i = math.floor(k * n / {WRK_THREADS}) end",
        "function request()",
        "  i = i + 1",
        "  if i > n then i = 1 end",
        '  return wrk.format("GET", paths[i], headers)',
        "end",
    ]
    script.write_text("\n".join(lines) + "\n")
    return script


def run_wrk(name: str, base: str, script: Path, duration: int, connections: int) -> Result:
    out = subprocess.run(
        [
            "wrk",
            f"-t{WRK_THREADS}",
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
        preexec_fn=on_other_cpus,
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


def uvicorn_command(factory: str, port: int) -> list[str]:
    """uvicorn as `briefmail web` runs it (uvloop, httptools, no access log)."""
    return [
        sys.executable, "-m", "uvicorn", "--factory", factory,
        "--host", "127.0.0.1", "--port", str(port),
        "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


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
    if server == "unrecorded":  # served exactly as `briefmail web` serves the real app
        command = [
            sys.executable, "-c",
            "import sys, uvicorn; from briefmail.web.serve import server_options; "
            "uvicorn.run('bench.unrecorded_app:create_app', factory=True, host='127.0.0.1', "
            "port=int(sys.argv[1]), log_level='warning', **server_options())",
            str(port),
        ]  # fmt: skip
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
            "bench.granian_app:create_app",
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
        preexec_fn=on_server_cpus,
    )
    try:
        wait_ready(f"{base}/healthz", proc)
        httpx.get(base + paths[0], headers={"user-agent": BROWSER_UA})  # loads the link table
        time.sleep(0.5)  # the writer has stored it: its database connection is open
        move_helpers(proc.pid, url.rsplit("/", 1)[-1])
        result = measured(
            lambda: run_wrk(name, base, script, args.duration, args.connections),
            proc.pid,
            url.rsplit("/", 1)[-1],
        )
    finally:
        proc.send_signal(signal.SIGTERM)  # graceful: the lifespan flushes every click
        proc.wait(timeout=120)
    if server != "unrecorded":
        stored, result.clicks_filtered = count_clicks(url)
        result.clicks_stored = stored - 1  # less the one that loaded the link table
    return result


def bench_bare(script: Path, args: argparse.Namespace) -> Result:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        uvicorn_command("bench.bare_redirect_app:create_app", port),
        env=app_env(""),
        cwd=ROOT,
        preexec_fn=on_server_cpus,
    )
    try:
        wait_ready(f"{base}/c/x", proc)
        return measured(
            lambda: run_wrk(
                "bare Starlette + uvicorn (HMAC check, 302)",
                base,
                script,
                args.duration,
                args.connections,
            ),
            proc.pid,
            "",
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
    proc = subprocess.Popen(
        [need("nginx"), "-c", str(conf), "-p", str(workdir)], preexec_fn=on_server_cpus
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        return measured(
            lambda: run_wrk(
                "nginx return 302 (1 worker)", base, script, args.duration, args.connections
            ),
            proc.pid,
            "",
        )
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
        "--traffic",
        choices=["readers", "scanners"],
        default="readers",
        help="readers: each opens 3 links far apart; scanners: all 3 within ~2 s, repeatedly",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="server on a CPU of its own; wrk, databases and the click writer on the others",
    )
    parser.add_argument(
        "--only", default="", help="comma list: app,redis,granian,unrecorded,bare,nginx"
    )
    args = parser.parse_args()
    need("wrk")
    need("nginx")
    only = set(filter(None, args.only.split(",")))
    kind = args.db or ("postgresql" if postgres_available() else "sqlite")
    placement = place(args.pin)
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
            paths = seed(url, args.traffic)
            script = lua_script(paths, workdir)
            targets = {
                "app": lambda: bench_real_app(
                    f"briefmail web, clicks -> {kind} (recording on)", url, paths, script, args
                ),
                "redis": lambda: bench_redis(kind, url, paths, script, args),
                "granian": lambda: bench_real_app(
                    f"briefmail app on granian (proxy headers), clicks -> {kind}",
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
    print(f"\nMachine: {machine}, Python {platform.python_version()}; {placement}")
    print(
        f"wrk -t2 -c{args.connections} -d{args.duration}s, {args.traffic} traffic, "
        f"{len(paths):,} distinct tokens, {args.rounds} round(s), median shown\n"
    )
    print("| target | redirects/s | p50 ms | p99 ms | requests | errors | clicks stored |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for result in results:
        print(result.row())
    print("\nCPU-microseconds per answered request (same runs):\n")
    print(f"| target | {' | '.join(CPU_PARTS)} | all |")
    print("|---|" + "---:|" * (len(CPU_PARTS) + 1))
    for result in results:
        print(result.cpu_row())
    every = [r for rs in runs.values() for r in rs]
    lost = [r for r in every if r.clicks_stored is not None and r.clicks_stored < r.requests]
    print()
    for r in every:
        if r.clicks_stored is not None:
            print(
                f"{r.name}: {r.clicks_stored:,} clicks stored for {r.requests:,} answered "
                f"requests ({'none lost' if r.clicks_stored >= r.requests else 'LOST CLICKS'}), "
                f"{r.clicks_filtered:,} filtered as automated"
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
