"""bench/redirect.py's baselines: the bare Starlette app on uvicorn and nginx, each
serving the same wrk script as the real app."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path

from bench.redirect_support import (
    ROOT,
    Result,
    app_env,
    free_port,
    measured,
    need,
    on_server_cpus,
    run_wrk,
    wait_ready,
)


def uvicorn_command(factory: str, port: int) -> list[str]:
    """uvicorn as `briefmail web` runs it (uvloop, httptools, no access log)."""
    return [
        sys.executable, "-m", "uvicorn", "--factory", factory,
        "--host", "127.0.0.1", "--port", str(port),
        "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


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
