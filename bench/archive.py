"""Archive speed: a brief's page, the index and the feed from `briefmail web`, against a
bare Starlette app serving the same bytes, in one run.

    .venv/bin/python bench/archive.py [--duration 10] [--connections 50] [--briefs 52]

Needs wrk (`apt-get install -y wrk`). Seeds a fresh SQLite database with `--briefs`
briefs that went out (a year of weekly briefs, fixed texts: the example brief with
its title and week changed), as a send leaves them (the send row with the text it
rendered, an accepted batch). Then, on loopback:

1. the real app as `briefmail web` runs it (uvicorn, uvloop, httptools, one process),
   wrk cycling over every brief's page (`/archive/SLUG`), then `/archive`, then
   `/feed.xml`;
2. the baseline: a bare Starlette route returning one brief's page as fixed bytes
   (bench/bare_page_app.py), same server settings.

It also times, in this process, what the archive costs each web process besides
requests: the version check it runs at most once a second, the first reading (every
brief parsed and rendered), and a new reading after one more brief went out (only
that brief's page, the index pages and the feed are rendered).

Goal (issue 17): an archive page answers at least 2,000 requests/s on two cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from briefmail.archive.pages import Pages, SiteOptions  # noqa: E402
from briefmail.archive.published import went_out_count  # noqa: E402
from briefmail.archive.site import Site, read_site  # noqa: E402
from briefmail.archive.urls import Urls  # noqa: E402
from briefmail.briefs.parse import parse_brief  # noqa: E402
from briefmail.briefs.store import approve_brief, store_brief  # noqa: E402
from briefmail.config import Settings  # noqa: E402
from briefmail.db.models import Batch, Send  # noqa: E402
from briefmail.db.session import session_factory, session_scope  # noqa: E402

EXAMPLE = ROOT / "examples" / "briefs" / "2024-01-08-clinician-educators.md"
TITLE = "Clinician-Educators Want Coaching Programs, Not More Lectures"
T0 = datetime(2024, 1, 8, 14, 0, tzinfo=UTC)
KEY = "bench-secret-key-0123456789abcdef"
PUBLIC = "https://brief.example.org"
WRK_THREADS = 2


def seed(url: str, count: int, first: int = 0) -> list[str]:
    """`count` weekly briefs that went out (week `first` on), oldest first; their slugs."""
    example = EXAMPLE.read_text(encoding="utf-8")
    slugs = []
    with session_scope(url) as session:
        for n in range(first, first + count):
            start = (T0 + timedelta(days=7 * n)).date()
            text = (
                example.replace(f"title: {TITLE}", f"title: Week {n + 1}, {TITLE}")
                .replace("start: 2024-01-08", f"start: {start.isoformat()}")
                .replace("end: 2024-01-14", f"end: {(start + timedelta(days=6)).isoformat()}")
            )
            row = store_brief(session, parse_brief(text, f"week-{n + 1}.md")).brief
            approve_brief(session, row.slug, "bench")
            at = T0 + timedelta(days=7 * n + 7)
            send = Send(
                brief_id=row.id,
                kind="brief",
                status="sent",
                scheduled_for=at,
                brief_source=row.source,
                recipients=1,
                started_at=at,
                finished_at=at,
            )
            session.add(send)
            session.flush()
            session.add(
                Batch(send_id=send.id, seq=1, status="accepted", size=1, due_at=at, accepted_at=at)
            )
            slugs.append(row.slug)
    return slugs


def median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def in_process(url: str, briefs: int) -> tuple[float, float, float]:
    """(version check, first reading, reading after one more brief went out), median ms."""
    sessions = session_factory(url)
    settings = Settings(database_url=url, public_url=PUBLIC)
    pages = Pages(SiteOptions.from_settings(settings), Urls.for_app(PUBLIC))

    def check() -> int:
        with sessions() as session:
            return went_out_count(session)

    def first_reading() -> Site:
        with sessions() as session:
            return read_site(session, pages, now=T0)

    check_ms, first_ms = median_ms(check, 200), median_ms(first_reading, 5)
    before = first_reading()
    seed(url, 1, first=briefs)

    def next_reading() -> object:
        with sessions() as session:
            return read_site(session, pages, now=T0, previous=before)

    return check_ms, first_ms, median_ms(next_reading, 5)


def server_cpu(pid: int) -> float:
    """CPU seconds the process has used (user + system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(command: list[str], env: dict[str, str], probe: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(command, env=env, cwd=ROOT)
    deadline = time.monotonic() + 180  # a loaded machine starts slowly
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{command} exited with {proc.returncode}")
        try:
            # The first archive request reads and renders the whole archive.
            if httpx.get(probe, timeout=60).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    sys.exit(f"{probe} did not answer")


def lua(paths: list[str], workdir: Path, name: str) -> Path:
    script = workdir / f"{name}.lua"
    listed = "\n".join(f'  "{p}",' for p in paths)
    script.write_text(
        f"local paths = {{\n{listed}\n}}\n"
        "local i = 0\n"
        "function request()\n"
        "  i = i % #paths + 1\n"
        '  return wrk.format("GET", paths[i])\n'
        "end\n"
    )
    return script


def wrk(base: str, script: Path, args: argparse.Namespace) -> tuple[int, float, float, float, int]:
    """(requests, rate, p50 ms, p99 ms, errors)."""
    out = subprocess.run(
        ["wrk", f"-t{WRK_THREADS}", f"-c{args.connections}", f"-d{args.duration}s", "--latency",
         "-s", str(script), base],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    errors = (int(bad.group(1)) if bad else 0) + (sum(map(int, sockets.groups())) if sockets else 0)

    def pct(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return requests, rate, pct("50%"), pct("99%"), errors


def measure(name: str, proc: subprocess.Popen[bytes], base: str, script: Path,
            args: argparse.Namespace) -> str:  # fmt: skip
    before = server_cpu(proc.pid)
    requests, rate, p50, p99, errors = wrk(base, script, args)
    cpu_us = (server_cpu(proc.pid) - before) / max(requests, 1) * 1e6
    return (
        f"| {name} | {rate:,.0f} | {p50:.2f} | {p99:.2f} | {cpu_us:.0f} | {requests:,} | {errors} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--briefs", type=int, default=52)
    args = parser.parse_args()
    if subprocess.run(["which", "wrk"], capture_output=True).returncode:
        sys.exit("bench/archive.py needs wrk: apt-get install -y wrk")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = f"sqlite:///{workdir / 'bench.db'}"
        slugs = seed(url, args.briefs)
        check_ms, first_ms, next_ms = in_process(url, args.briefs)
        slugs = slugs[-args.briefs :]
        env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFMAIL_")}
        env |= {
            "BRIEFMAIL_DATABASE_URL": url,
            "BRIEFMAIL_SECRET_KEY": KEY,
            "BRIEFMAIL_PUBLIC_URL": PUBLIC,
            "BRIEFMAIL_CLICK_SPOOL_DIR": str(workdir / "spool"),
            "PYTHONPATH": str(ROOT),
        }
        rows = []
        app = start(
            [sys.executable, "-m", "briefmail", "web", "--port", "8731"],
            env,
            "http://127.0.0.1:8731/archive",
        )
        try:
            page = httpx.get(f"http://127.0.0.1:8731/archive/{slugs[-1]}").content
            (workdir / "page.html").write_bytes(page)
            for name, paths in (
                (f"app: /archive/SLUG ({len(slugs)} in turn)", [f"/archive/{s}" for s in slugs]),
                ("app: /archive (index, page 1)", ["/archive"]),
                ("app: /feed.xml", ["/feed.xml"]),
            ):  # fmt: skip
                script = lua(paths, workdir, str(len(rows)))
                rows.append(measure(name, app, "http://127.0.0.1:8731", script, args))
        finally:
            app.terminate()
            app.wait(timeout=60)
        bare = start(
            [sys.executable, "-m", "uvicorn", "--factory", "bench.bare_page_app:create_app",
             "--port", "8732", "--loop", "uvloop", "--http", "httptools", "--no-access-log",
             "--log-level", "warning"],
            env | {"BENCH_PAGE": str(workdir / "page.html")},
            f"http://127.0.0.1:8732/archive/{slugs[-1]}",
        )  # fmt: skip
        try:
            script = lua([f"/archive/{s}" for s in slugs], workdir, "bare")
            rows.append(
                measure(
                    "bare Starlette route, same page", bare, "http://127.0.0.1:8732", script, args
                )
            )
        finally:
            bare.terminate()
            bare.wait(timeout=60)

    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
    )
    print(f"{args.briefs} briefs; brief page {len(page):,} bytes; wrk -t{WRK_THREADS} "
          f"-c{args.connections} -d{args.duration}s on the same machine\n")  # fmt: skip
    print("| target | requests/s | p50 ms | p99 ms | server CPU µs/request | requests | errors |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(row)
    print(f"\nversion check (went_out_count), median: {check_ms:.3f} ms")
    print(f"first reading, {args.briefs} briefs parsed and rendered, median: {first_ms:.0f} ms")
    print(f"next reading, one more brief went out, median: {next_ms:.0f} ms")


if __name__ == "__main__":
    main()
