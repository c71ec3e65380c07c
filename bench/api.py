"""Requests/s of the REST API: GET /api/v1/sends/{id} and POST /api/v1/briefs.

`briefmail web` (one process, as deployed per core) serves a database seeded with the
example brief, approved, and one send of it to 1,000 subscribers (run in-process to
`sent`); wrk (one thread, on the other core where there are two) hammers each route
with a real token. The baseline in the same run is GET /healthz on the same server
(no token, no database). POST /briefs uploads the example brief again and again:
each is parsed, rendered for its warnings and found unchanged (200), the path a CMS
that saves often takes.

    .venv/bin/python bench/api.py [--database sqlite|postgresql] [--duration 10]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.redirect_support import drop_database, make_database  # noqa: E402

EXAMPLE = ROOT / "examples" / "briefs" / "2024-01-08-clinician-educators.md"
KEY = "bench-secret-key-0123456789abcdef"


def env_for(url: str, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFMAIL_")}
    env.update(
        BRIEFMAIL_DATABASE_URL=url,
        BRIEFMAIL_SECRET_KEY=KEY,
        BRIEFMAIL_OUTBOX_DIR=str(workdir / "outbox"),
        BRIEFMAIL_CLICK_SPOOL_DIR=str(workdir / "spool"),
    )
    return env


def briefmail(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "briefmail", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def seed(env: dict[str, str], workdir: Path) -> tuple[str, int]:
    """The token and a send id; 1,000 subscribers (fixed seed) all get the brief."""
    if "postgresql" in env["BRIEFMAIL_DATABASE_URL"]:
        briefmail(env, "db", "upgrade")
    rows = ["email,name,topics"] + [f"reader{n}@example.org,Reader {n}," for n in range(1000)]
    (workdir / "people.csv").write_text("\n".join(rows) + "\n")
    briefmail(env, "subscribers", "import", str(workdir / "people.csv"))
    slug = briefmail(env, "brief", "import", str(EXAMPLE)).strip().splitlines()[-1]
    briefmail(env, "brief", "approve", slug, "--by", "bench")
    send_id = int(briefmail(env, "send", slug, "--now").strip().splitlines()[-1])
    token = briefmail(env, "api-tokens", "create", "bench", "--scopes", "read,briefs:write")
    return token.strip().splitlines()[-1], send_id


def lua(workdir: Path, name: str, method: str, token: str, body: Path | None) -> Path:
    script = workdir / f"{name}.lua"
    lines = [f'wrk.method = "{method}"']
    if token:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {token}"')
    if body is not None:
        lines += [
            'wrk.headers["Content-Type"] = "text/markdown"',
            f'local f = io.open("{body}", "rb"); wrk.body = f:read("*a"); f:close()',
        ]
    script.write_text("\n".join(lines) + "\n")
    return script


def wrk(url: str, script: Path, duration: int, connections: int) -> tuple[float, int, str]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p99 = re.search(r"^\s+99%\s+(\S+)$", out, re.M)
    return rate, int(bad.group(1)) if bad else 0, p99.group(1) if p99 else "?"


def serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "briefmail", "web", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    sys.exit("briefmail web did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--port", type=int, default=8731)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url, pg_name = make_database(args.database, workdir)
        try:
            env = env_for(url, workdir)
            token, send_id = seed(env, workdir)
            proc = serve(env, args.port)
            base = f"http://127.0.0.1:{args.port}"
            targets = [
                ("GET /healthz (baseline)", f"{base}/healthz", lua(workdir, "h", "GET", "", None)),
                (
                    f"GET /api/v1/sends/{send_id}",
                    f"{base}/api/v1/sends/{send_id}",
                    lua(workdir, "s", "GET", token, None),
                ),
                (
                    "POST /api/v1/briefs (unchanged)",
                    f"{base}/api/v1/briefs",
                    lua(workdir, "b", "POST", token, EXAMPLE),
                ),
            ]
            try:
                print(f"database {args.database}, {args.duration} s per route, "
                      f"{args.connections} connections, {os.cpu_count()} cores")  # fmt: skip
                for name, target, script in targets:
                    rate, bad, p99 = wrk(target, script, args.duration, args.connections)
                    print(f"{name:36} {rate:9.1f} req/s  p99 {p99:>8}  non-2xx {bad}")
            finally:
                proc.terminate()
                proc.wait(timeout=60)
        finally:
            drop_database(pg_name)


if __name__ == "__main__":
    main()
