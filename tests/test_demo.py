"""`briefmail demo` end to end, twice in a row, in a temporary folder, as a newcomer runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path

import pytest

BRIEFMAIL = [sys.executable, "-m", "briefmail"]


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        BRIEFMAIL + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_demo_runs_twice_and_leaves_a_consistent_outbox_and_report(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFMAIL_")}
    # The demo must ignore a production-looking environment.
    env["BRIEFMAIL_EMAIL_BACKEND"] = "sendgrid"
    env["BRIEFMAIL_BROKER_URL"] = "redis://127.0.0.1:1/0"
    env["COLUMNS"] = "200"
    for _ in range(2):
        result = _run(["demo", "--dir", "demo"], tmp_path, env)
        assert result.returncode == 0, result.stderr + result.stdout
        assert "Traceback" not in result.stderr

    folder = tmp_path / "demo"
    out = result.stdout
    assert f"Outbox:      {folder / 'outbox'}" in out
    assert f"HTML report: {folder / 'report.html'}" in out

    emls = sorted((folder / "outbox").rglob("*.eml"))
    message = message_from_bytes(emls[0].read_bytes(), policy=policy.default)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html_part = message.get_body(("html",))
    assert html_part is not None
    assert "/c/" in html_part.get_content()
    assert "%%bm:" not in emls[0].read_text()

    report_env = {k: v for k, v in env.items() if not k.startswith("BRIEFMAIL_")}
    report_env["BRIEFMAIL_DATABASE_URL"] = f"sqlite:///{folder / 'briefmail.db'}"
    brief_list = _run(["brief", "list", "--json"], tmp_path, report_env)
    slug = json.loads(brief_list.stdout)["briefs"][0]["slug"]
    figures = json.loads(_run(["report", slug, "--json"], tmp_path, report_env).stdout)

    # Every recipient got exactly one .eml, and only recipients did.
    assert figures["recipients"] == len(emls) > 500
    links = {link["kind"] for link in figures["links"]}
    assert links == {"source", "cta"}
    # The simulated gateway scanner is filtered out, the simulated readers are counted.
    assert sum(link["filtered_clicks"] for link in figures["links"]) > 0
    assert sum(link["human_clicks"] for link in figures["links"]) > 0
    # Self-contained: a chart, and nothing fetched from elsewhere.
    report_html = (folder / "report.html").read_text()
    assert "<svg" in report_html
    assert 'src="http' not in report_html
    assert "<link" not in report_html
