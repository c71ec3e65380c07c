"""What the click benchmarks share (bench/redirect.py, bench/redirect_hot_link.py):
the throwaway database and its sent brief, wrk runs and their figures, and the CPU each
process used, read from /proc."""

from __future__ import annotations

import os
import re
import resource
import shutil
import socket
import subprocess
import sys
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


def seed_send(url: str, readers: int) -> tuple[int, list[int]]:
    """One brief sent a day earlier (settled since: the scanner window is long past) to
    `readers` people, with LINK_IDS; returns the send's id and the subscribers' ids."""
    upgrade(url)
    t0 = datetime(2024, 1, 8, 9, 0, tzinfo=UTC)
    day_before = t0 - timedelta(days=1)
    with session_scope(url) as s:
        brief = Brief(
            slug="bench", title="Bench", source="", content_hash="0" * 64,
            coverage_start=t0.date(), status="approved",
        )  # fmt: skip
        s.add(brief)
        s.flush()
        send = Send(brief_id=brief.id, kind="brief", status="sent", scheduled_for=t0)
        s.add(send)
        s.flush()
        batch = Batch(
            send_id=send.id, seq=0, status="accepted", size=readers, due_at=t0,
            accepted_at=day_before, updated_at=day_before,
        )  # fmt: skip
        s.add(batch)
        for link_id in LINK_IDS:
            url_of = f"https://example.org/source/{link_id}"
            s.add(SendLink(send_id=send.id, link_id=link_id, kind="source", url=url_of))
        s.flush()
        send_id, brief_id, batch_id = send.id, brief.id, batch.id
    people = [
        {"email": f"r{i}@example.org", "email_key": f"r{i}@example.org", "name": "",
         "status": "active", "secret": f"s{i}", "created_at": t0, "updated_at": t0}
        for i in range(readers)
    ]  # fmt: skip
    with session_scope(url) as s:
        s.execute(Subscriber.__table__.insert(), people)
        ids = list(s.scalars(select(Subscriber.id).order_by(Subscriber.id)))
        deliveries = [
            {"send_id": send_id, "brief_id": brief_id, "batch_id": batch_id,
             "subscriber_id": sid, "email": f"r{i}@example.org", "name": "", "topics": "",
             "due_at": t0, "status": "delivered", "accepted_at": day_before}
            for i, sid in enumerate(ids)
        ]  # fmt: skip
        s.execute(Delivery.__table__.insert(), deliveries)
    return send_id, ids


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
