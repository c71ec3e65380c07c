"""Click redirect speed: the real app with click recording on, against two baselines.

    .venv/bin/python bench/redirect.py [--duration 10] [--rounds 3] [--traffic readers]
        [--connections 50] [--db postgresql] [--pin] [--only app,bare,...] [--before DIR]

Runs wrk (needs `wrk` and `nginx`: `apt-get install -y wrk nginx`) against, in one run
on loopback, each for the same fixed duration with the same request script:

1. `app`: `briefmail web --click-port` (uvicorn + uvloop + httptools for the app, the
   click listener on its own port) with click recording on, wrk on the click port:
   in-memory buffer, batches written to the database by the click writer;
2. `web`: the same server, wrk on the web port: /c/ through ASGI (`ClickRedirects`);
3. `before`: with `--before DIR`, `briefmail web` of another checkout (its own .venv),
   on the same database and traffic: the same run's "before";
4. `redis`: as 1, clicks going through the Redis stream (when Redis answers);
5. `granian`: the app under granian, when granian is installed, with granian's
   proxy-header handling as uvicorn has it (bench/granian_app.py);
6. `unrecorded`: as 1 with storage off (bench/unrecorded_app.py: clicks buffered, then
   discarded): the request path alone;
7. `bare`: a bare Starlette-on-uvicorn app that only checks the HMAC token and
   redirects (bench/bare_redirect_app.py), same server settings;
8. `nginx`: `return 302` (one worker, a temporary config, stopped at the end).

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

Goal: with recording on, at least the bare app's rate and p99 under 20 ms (printed
for `app`, `web` and `before`).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.redirect_baselines import bench_bare, bench_nginx
from bench.redirect_support import (
    BROWSER_UA,
    CPU_PARTS,
    GRANIAN_PATH,
    KEY,
    LINK_IDS,
    READERS,
    REDIS_URL,
    ROOT,
    SCANNED,
    SEED,
    Result,
    app_env,
    clear_clicks,
    count_clicks,
    drop_database,
    free_port,
    lua_script,
    make_database,
    measured,
    move_helpers,
    need,
    on_server_cpus,
    place,
    postgres_available,
    redis_available,
    run_wrk,
    seed_send,
    wait_ready,
)

from briefmail.tracking.tokens import click_token


def seed(url: str, traffic: str) -> list[str]:
    """One sent brief to READERS people; returns the click paths in `traffic`'s order."""
    send_id, ids = seed_send(url, READERS)
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


def real_app_command(
    server: str, port: int, click_port: int, env: dict[str, str], args: argparse.Namespace
) -> tuple[list[str], Path]:
    """The command line and folder of a real-app target (see `bench_real_app`)."""
    if server == "unrecorded":
        return [sys.executable, "bench/unrecorded_app.py", str(port), str(click_port)], ROOT
    if server == "granian":
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [GRANIAN_PATH, str(ROOT)]))
        return [
            sys.executable, "-m", "granian", "--interface", "asgi", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "1",
            "--no-ws", "--workers", "1", "--log-level", "warning",
            "bench.granian_app:create_app",
        ], ROOT  # fmt: skip
    if server == "before":
        before = Path(args.before).resolve()
        env["PYTHONPATH"] = str(before)
        return [
            str(before / ".venv/bin/python"),
            "-m",
            "briefmail",
            "web",
            "--port",
            str(port),
        ], before
    return [
        sys.executable, "-m", "briefmail", "web",
        "--port", str(port), "--click-port", str(click_port),
    ], ROOT  # fmt: skip


def bench_real_app(
    name: str,
    url: str,
    paths: list[str],
    script: Path,
    args: argparse.Namespace,
    *,
    redis: str = "",
    server: str = "listener",
) -> Result:
    """One real-app target. `server`: "listener" (`briefmail web --click-port`, wrk on
    the click port), "web" (the same, wrk on the web port: /c/ through ASGI),
    "unrecorded" (the listener with storage off), "granian" (the app on granian),
    "before" (`briefmail web` of the checkout given with --before)."""
    clear_clicks(url)
    port, click_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    env = app_env(url, redis)
    command, cwd = real_app_command(server, port, click_port, env, args)
    on_click_port = server in ("listener", "unrecorded")
    target = f"http://127.0.0.1:{click_port}" if on_click_port else base
    proc = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=on_server_cpus,
    )  # fmt: skip
    marker = url.rsplit("/", 1)[-1]
    try:
        wait_ready(f"{base}/healthz", proc)
        httpx.get(target + paths[0], headers={"user-agent": BROWSER_UA})  # loads the links
        time.sleep(0.5)  # the writer has stored it: its database connection is open
        move_helpers(proc.pid, marker)
        result = measured(
            lambda: run_wrk(name, target, script, args.duration, args.connections),
            proc.pid,
            marker,
        )
    finally:
        proc.send_signal(signal.SIGTERM)  # graceful: the lifespan flushes every click
        proc.wait(timeout=120)
    if server != "unrecorded":
        stored, result.clicks_filtered = count_clicks(url)
        result.clicks_stored = stored - 1  # less the one that loaded the link table
    return result


def granian_available() -> bool:
    probe = subprocess.run(
        [sys.executable, "-c", "import granian"],
        env={**os.environ, "PYTHONPATH": GRANIAN_PATH},
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def parse_args() -> argparse.Namespace:
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
        "--before",
        default="",
        help="another checkout of briefmail, with its .venv, whose `briefmail web` runs as "
        "the 'before' target (the same database and traffic)",
    )
    parser.add_argument("--only", default="", help=f"comma list: {','.join(TARGETS)}")
    return parser.parse_args()


TARGETS = ("app", "web", "before", "redis", "granian", "unrecorded", "bare", "nginx")


def run_targets(
    wanted: list[str], kind: str, args: argparse.Namespace
) -> tuple[dict[str, list[Result]], int]:
    """Every wanted target, `args.rounds` times in a rotating order; and the token count."""
    runs: dict[str, list[Result]] = {t: [] for t in wanted}
    with tempfile.TemporaryDirectory(prefix="bench-redirect-") as tmp:
        workdir = Path(tmp)
        url, pg_name = make_database(kind, workdir)
        try:
            paths = seed(url, args.traffic)
            script = lua_script(paths, workdir)

            def real(name: str, server: str) -> Callable[[], Result]:
                return lambda: bench_real_app(name, url, paths, script, args, server=server)

            targets = {
                "app": real(f"briefmail web --click-port, clicks -> {kind}", "listener"),
                "web": real(f"briefmail web, /c/ on the web port (ASGI), clicks -> {kind}", "web"),
                "before": real(
                    f"before: briefmail web of {args.before}, clicks -> {kind}", "before"
                ),
                "redis": lambda: bench_redis(kind, url, paths, script, args),
                "granian": real(f"briefmail app on granian (proxy headers) -> {kind}", "granian"),
                "unrecorded": real("click listener, storage off (request path only)", "unrecorded"),
                "bare": lambda: bench_bare(script, args),
                "nginx": lambda: bench_nginx(script, args, workdir),
            }
            for round_ in range(args.rounds):
                order = wanted[round_ % len(wanted) :] + wanted[: round_ % len(wanted)]
                for target in order:
                    runs[target].append(targets[target]())
        finally:
            drop_database(pg_name)
    return runs, len(paths)


def report(
    runs: dict[str, list[Result]], tokens: int, placement: str, args: argparse.Namespace
) -> bool:
    """Print the tables; False if any answered click was not stored."""
    results = {t: sorted(r, key=lambda x: x.rate)[len(r) // 2] for t, r in runs.items()}
    machine = f"{platform.platform()}, {os.cpu_count()} CPUs"
    print(f"\nMachine: {machine}, Python {platform.python_version()}; {placement}")
    print(
        f"wrk -t2 -c{args.connections} -d{args.duration}s, {args.traffic} traffic, "
        f"{tokens:,} distinct tokens, {args.rounds} round(s), median shown\n"
    )
    print("| target | redirects/s | p50 ms | p99 ms | requests | errors | clicks stored |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for result in results.values():
        print(result.row())
    print("\nCPU-microseconds per answered request (same runs):\n")
    print(f"| target | {' | '.join(CPU_PARTS)} | all |")
    print("|---|" + "---:|" * (len(CPU_PARTS) + 1))
    for result in results.values():
        print(result.cpu_row())
    every = [r for rs in runs.values() for r in rs]
    print()
    for r in every:
        if r.clicks_stored is not None:
            print(
                f"{r.name}: {r.clicks_stored:,} clicks stored for {r.requests:,} answered "
                f"requests ({'none lost' if r.clicks_stored >= r.requests else 'LOST CLICKS'}), "
                f"{r.clicks_filtered:,} filtered as automated"
            )
    bare = results.get("bare")
    for target in ("app", "web", "before"):
        if bare is not None and target in results:
            ours = results[target]
            verdict = "met" if ours.rate >= bare.rate and ours.p99_ms < 20 else "NOT met"
            print(
                f"{ours.name}: goal (rate >= bare app, p99 < 20 ms) {verdict} "
                f"({ours.rate / bare.rate:.2f}x bare, p99 {ours.p99_ms:.1f} ms)"
            )
    return all(r.clicks_stored is None or r.clicks_stored >= r.requests for r in every)


def main() -> None:
    args = parse_args()
    need("wrk")
    need("nginx")
    only = set(filter(None, args.only.split(",")))
    kind = args.db or ("postgresql" if postgres_available() else "sqlite")
    placement = place(args.pin)
    wanted = [t for t in TARGETS if not only or t in only]
    if "before" in wanted and not args.before:
        wanted.remove("before")
    if "redis" in wanted and not redis_available():
        wanted.remove("redis")
    if "granian" in wanted and not granian_available():
        wanted.remove("granian")
    runs, tokens = run_targets(wanted, kind, args)
    if not report(runs, tokens, placement, args):
        sys.exit(1)


def bench_redis(
    kind: str, url: str, paths: list[str], script: Path, args: argparse.Namespace
) -> Result:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    try:
        return bench_real_app(
            f"briefmail web --click-port, clicks -> Redis stream -> {kind}",
            url, paths, script, args, redis=REDIS_URL,
        )  # fmt: skip
    finally:
        redis.Redis.from_url(REDIS_URL).flushdb()


if __name__ == "__main__":
    main()
