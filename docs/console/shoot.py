"""Screenshots of every console page, at desktop width and at 375 px (a phone).

    uv run python docs/console/shoot.py [--out docs/console]

Builds a throwaway world on the embedded defaults (`briefmail demo`: the example brief
sent to sample subscribers, scanners and readers clicking), adds one person per role,
a weekly slot and a second brief in draft, serves it with `briefmail web`, signs in
with headless Chromium and photographs each page as the role that uses it. Any
Content-Security-Policy violation or script error on a page stops the run, so the
pictures are of pages that work under the console's policy.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import ConsoleMessage, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "briefs" / "2024-01-08-clinician-educators.md"
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "screenshots-only-password"  # noqa: S105 - a throwaway world's
PEOPLE = {
    "editor": "dana.editor@example.org",
    "marketing": "mo.marketing@example.org",
    "admin": "ada.admin@example.org",
}
WIDTHS = {"desktop": (1280, 900), "phone": (375, 812)}
MAX_HEIGHT = 2400  # long lists are cut: the top of a page shows what it is


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def draft_brief(folder: Path) -> Path:
    """The example brief a week later, with a new title: a draft waiting for an editor."""
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace(
        "title: Clinician-Educators Want Coaching Programs, Not More Lectures",
        "title: Point-of-Care Learning Moves Into the EHR Workflow",
    )
    text = text.replace("start: 2024-01-08", "start: 2024-01-15")
    text = text.replace("end: 2024-01-14", "end: 2024-01-21")
    path = folder / "2024-01-15-point-of-care.md"
    path.write_text(text, encoding="utf-8")
    return path


def build_world(folder: Path, port: int) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFMAIL_")}
    subprocess.run(
        [sys.executable, "-m", "briefmail", "demo", "--dir", str(folder), "--subscribers", "150"],
        env=base,
        cwd=folder.parent,
        capture_output=True,
        check=True,
    )
    env = {
        **base,
        "BRIEFMAIL_DATABASE_URL": f"sqlite:///{folder / 'briefmail.db'}",
        "BRIEFMAIL_OUTBOX_DIR": str(folder / "outbox"),
        "BRIEFMAIL_SECRET_KEY_FILE": str(folder / "briefmail.secret"),
        "BRIEFMAIL_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "BRIEFMAIL_CLICK_SPOOL_DIR": str(folder / "click-spool"),
    }
    for role, email in PEOPLE.items():
        briefmail(env, "users", "add", email, "--role", role, stdin=PASSWORD + "\n")
    briefmail(env, "schedule", "weekly", "--day", "mon", "--time", "09:00", "--tz",
              "America/New_York")  # fmt: skip
    briefmail(env, "brief", "import", str(draft_brief(folder)))
    return env


def serve(env: dict[str, str], port: int, cwd: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "briefmail", "web", "--port", str(port)], env=env, cwd=cwd
    )
    deadline = time.monotonic() + 180  # a busy machine starts it slowly
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("briefmail web did not start")


def sign_in(page: Page, base: str, role: str) -> None:
    page.goto(f"{base}/console/login")
    page.get_by_label("Email").fill(PEOPLE[role])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/console/$"))


def shots(base: str, slugs: tuple[str, str]) -> list[tuple[str, str, str]]:
    """(name, role, path) of every page to photograph."""
    sent, draft = slugs
    return [
        ("login", "", "/console/login"),
        ("dashboard", "marketing", "/console/"),
        ("briefs", "editor", "/console/briefs"),
        ("brief-draft", "editor", f"/console/briefs/{draft}"),
        ("brief-approved", "marketing", f"/console/briefs/{sent}"),
        ("sends", "marketing", "/console/sends"),
        ("send", "marketing", "/console/sends/1"),
        ("schedule", "marketing", "/console/schedule"),
        ("subscribers", "marketing", "/console/subscribers"),
        ("reports", "marketing", "/console/reports"),
        ("report", "marketing", f"/console/reports/{sent}"),
        ("audit", "admin", "/console/audit"),
    ]


def watch(page: Page) -> list[str]:
    """Script errors and console errors (CSP violations among them) as they happen."""
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def photograph(base: str, out: Path, slugs: tuple[str, str]) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        for width_name, (width, height) in WIDTHS.items():
            for role in ("", "editor", "marketing", "admin"):
                context = browser.new_context(viewport={"width": width, "height": height})
                page = context.new_page()
                problems = watch(page)
                if role:
                    sign_in(page, base, role)
                for name, who, path in shots(base, slugs):
                    if who != role:
                        continue
                    page.goto(base + path, wait_until="networkidle")
                    if problems:
                        raise SystemExit(f"{path} at {width}px: {problems}")
                    target = out / f"{name}-{width_name}.png"
                    # One tall viewport, not a full-page capture: Chromium paints frames
                    # below the fold only once they are in the viewport.
                    tall = page.evaluate("document.documentElement.scrollHeight")
                    page.set_viewport_size({"width": width, "height": min(tall, MAX_HEIGHT)})
                    page.wait_for_timeout(500)
                    page.screenshot(path=str(target))
                    page.set_viewport_size({"width": width, "height": height})
                    print(f"wrote {target}")
                context.close()
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="briefmail-shots-") as tmp:
        folder = Path(tmp) / "world"
        port = free_port()
        env = build_world(folder, port)
        listing = briefmail(env, "brief", "list", "--json")
        slugs = tuple(re.findall(r'"slug": "([^"]+)"', listing))
        draft, sent = slugs[0], slugs[1]  # newest coverage first
        proc = serve(env, port, Path(tmp))
        try:
            photograph(f"http://127.0.0.1:{port}", args.out, (sent, draft))
        finally:
            proc.terminate()
            proc.wait(timeout=60)


if __name__ == "__main__":
    main()
