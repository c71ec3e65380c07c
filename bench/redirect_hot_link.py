"""Hot link: one token at full rate for a few seconds, then how long until every click
is stored.

    .venv/bin/python bench/redirect_hot_link.py [--duration 5] [--connections 50]
        [--db postgresql] [--wait 300]

One recipient's link hammered (a bot, a looping scanner, anyone with one valid link)
must cost no more to store per click than anyone's clicks, or its backlog holds up
every other reader's clicks behind it. In one run, on the same database, this script
serves `briefmail web --click-port` twice, the click store's burst memory being:

- `after`: the store as it is (`briefmail.tracking.bursts`: the latest click on each of
  a recipient's last few distinct links);
- `before`: the burst memory as it was, copied here only as the baseline
  (`OldBurstMemory`: every click of the last seconds per recipient, in a tuple copied
  for every click, so one recipient's flood costs time quadratic in its clicks).

Each time: wrk with one click token (`-t2 -c50`, browser user agent) for `--duration`
seconds against the click port, then, at once, one click of another reader. The script
polls the database and prints how many of the answered clicks were still unstored 5 s
and 30 s after the flood, when the last was stored, and when the other reader's click
was. Then the server is stopped gracefully (SIGTERM) and the stored clicks are counted.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from briefmail.tracking import classifier  # noqa: E402
from briefmail.tracking.classifier import Reason  # noqa: E402
from briefmail.tracking.clicks import RawClick  # noqa: E402

K = TypeVar("K", bound=Hashable)
_MEMORY = classifier.BURST_SECONDS + 1
_Seen = tuple[float, int, str, bool]


class OldBurstMemory:
    """The burst memory before issue 14 (`ClickStore._bursts` and `_remember`), kept
    behind `bursts.BurstMemory`'s interface: the baseline of this script, nothing else."""

    def __init__(self) -> None:
        self._recent: dict[int, tuple[_Seen, ...]] = {}
        self._older: dict[int, tuple[_Seen, ...]] = {}
        self._generation_start: float | None = None

    def judge(
        self,
        clicks: Sequence[RawClick],
        recipients: Sequence[int | None],
        reasons: list[Reason | None],
    ) -> tuple[Any, set[tuple[int, str]]]:
        batch_keys = {c.event_key for c in clicks}
        recent, older = self._recent, self._older
        first: dict[int, int] = {}
        groups: dict[int, list[int]] = {}
        for i, recipient in enumerate(recipients):
            if recipient is None:
                continue
            j = first.setdefault(recipient, i)
            if j != i:
                groups.setdefault(recipient, [j]).append(i)
            elif recipient in recent or recipient in older:
                groups[recipient] = [i]
        earlier: set[tuple[int, str]] = set()
        for recipient, indices in groups.items():
            remembered = older.get(recipient, ()) + recent.get(recipient, ())
            if len(indices) + len(remembered) < classifier.BURST_LINKS:
                continue
            series: list[tuple[float, int, int | str]] = [
                (clicks[i].clicked_at, clicks[i].link_id, i) for i in indices
            ]
            since = min(item[0] for item in series) - classifier.BURST_SECONDS
            humans: set[str] = set()
            for at, link_id, key, human in remembered:
                if at >= since and key not in batch_keys:
                    series.append((at, link_id, key))
                    if human:
                        humans.add(key)
            for member in _recipient_burst(series):
                if isinstance(member, int):
                    if reasons[member] is None:
                        reasons[member] = Reason.BURST
                elif member in humans:
                    earlier.add((recipient >> 40, member))
        return (clicks, recipients, reasons), earlier

    def commit(self, after: Any) -> None:
        clicks, recipients, reasons = after
        latest = max(c.clicked_at for c in clicks)
        start = self._generation_start
        if start is None or latest < start:
            start = self._generation_start = latest
        elif latest - start > _MEMORY:
            self._older, self._recent = self._recent, {}
            start = self._generation_start = latest
        cutoff = start - _MEMORY
        recent = self._recent
        for click, recipient, reason in zip(clicks, recipients, reasons, strict=True):
            at = click.clicked_at
            if recipient is None or at < cutoff:
                continue
            seen = (at, click.link_id, click.event_key, reason is None)
            old = recent.get(recipient)
            recent[recipient] = (seen,) if old is None else (*old, seen)


def _recipient_burst(series: list[tuple[float, int, K]]) -> list[K]:
    """The burst rule as it was: every click of a qualifying window, over a full series."""
    if len({link for _, link, _ in series}) < classifier.BURST_LINKS:
        return []
    series.sort(key=lambda item: item[0])
    members: list[K] = []
    start = unmarked = 0
    counts: dict[int, int] = {}
    for end, (at, link, _) in enumerate(series):
        counts[link] = counts.get(link, 0) + 1
        while at - series[start][0] > classifier.BURST_SECONDS:
            old = series[start][1]
            counts[old] -= 1
            if not counts[old]:
                del counts[old]
            start += 1
        if len(counts) >= classifier.BURST_LINKS:
            members.extend(k for _, _, k in series[max(start, unmarked) : end + 1])
            unmarked = end + 1
    return members


if os.environ.get("BENCH_BURST_MEMORY") == "before":
    # Here in the server and, imported again as the spawned click writer's __mp_main__,
    # in the writer, where the store runs.
    from briefmail.tracking import clickstore

    clickstore.BurstMemory = OldBurstMemory  # type: ignore[misc,assignment]


def serve(port: int, click_port: int) -> None:
    """`briefmail web --port PORT --click-port CLICK_PORT`, in this script's process."""
    import uvicorn

    from briefmail.web.app import create_app
    from briefmail.web.clickport import ClickPort
    from briefmail.web.serve import server_options

    app = create_app(click_port=ClickPort.bind("127.0.0.1", click_port))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", **server_options())


def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]), int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds of the flood")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default=None)
    parser.add_argument("--wait", type=float, default=300.0, help="give up after (s)")
    args = parser.parse_args()
    from bench import redirect_support as rb

    rb.need("wrk")
    kind = args.db or ("postgresql" if rb.postgres_available() else "sqlite")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-hot-link-") as tmp:
        url, pg_name = rb.make_database(kind, Path(tmp))
        try:
            hot, other = seed(url)
            for memory in ("before", "after"):
                results.append((memory, flood(memory, url, hot, other, args, Path(tmp))))
        finally:
            rb.drop_database(pg_name)
    print(f"\none token, wrk -t2 -c{args.connections} -d{args.duration}s, clicks -> {kind}\n")
    print(
        "| burst memory | answered | redirects/s | unstored 5 s after | unstored 30 s after "
        "| every click stored after | another reader's click stored after | stored at stop |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for memory, row in results:
        print(f"| {memory} | " + " | ".join(row) + " |")


def seed(url: str) -> tuple[str, str]:
    """One brief sent a day earlier to two readers; the hot token and the other's."""
    from bench import redirect_support as rb

    from briefmail.tracking.tokens import click_token

    send_id, (hot, other) = rb.seed_send(url, 2)
    keys = [rb.KEY.encode()]
    return (
        f"/c/{click_token(keys, send_id, 1, hot)}",
        f"/c/{click_token(keys, send_id, 2, other)}",
    )


def flood(
    memory: str, url: str, hot: str, other: str, args: argparse.Namespace, workdir: Path
) -> list[str]:
    import httpx
    from bench import redirect_support as rb

    rb.clear_clicks(url)
    port, click_port = rb.free_port(), rb.free_port()
    env = rb.app_env(url) | {
        "BENCH_BURST_MEMORY": memory,
        "BRIEFMAIL_CLICK_SPOOL_DIR": str(workdir / f"spool-{memory}"),
    }
    proc = subprocess.Popen(
        [sys.executable, "bench/redirect_hot_link.py", "--serve", str(port), str(click_port)],
        env=env,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{click_port}"
    browser = {"user-agent": rb.BROWSER_UA}
    try:
        rb.wait_ready(f"http://127.0.0.1:{port}/healthz", proc)
        httpx.get(base + hot, headers=browser)  # loads the send's links
        time.sleep(0.5)
        out = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{args.connections}",
                f"-d{args.duration}s",
                "-H",
                f"User-Agent: {rb.BROWSER_UA}",
                base + hot,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        ended = time.monotonic()
        httpx.get(base + other, headers=browser)
        answered = int(re.search(r"(\d+) requests in", out).group(1)) + 2  # with ours
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        row = wait_for_storage(url, answered, ended, args.wait)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=args.wait + 120)
    stored = count(url)[0]
    return [f"{answered:,}", f"{rate:,.0f}", *row, f"{stored:,}"]


def wait_for_storage(url: str, answered: int, ended: float, limit: float) -> list[str]:
    """Poll until `answered` clicks are stored; the backlog at +5 s and +30 s, and when
    all of them and the other reader's click were stored (seconds after the flood)."""
    backlog = {5.0: "", 30.0: ""}
    every = other = None
    while time.monotonic() - ended < limit and (every is None or other is None):
        stored, theirs = count(url)
        since = time.monotonic() - ended
        for mark in backlog:
            if not backlog[mark] and since >= mark:
                backlog[mark] = f"{max(answered - stored, 0):,}"
        if other is None and theirs:
            other = since
        if every is None and stored >= answered:
            every = since
        time.sleep(0.1)
    for mark in backlog:
        backlog[mark] = backlog[mark] or "0"
    return [
        backlog[5.0],
        backlog[30.0],
        f"{every:.1f} s" if every is not None else f"> {limit:.0f} s",
        f"{other:.1f} s" if other is not None else f"> {limit:.0f} s",
    ]


def count(url: str) -> tuple[int, int]:
    """Clicks stored, and how many of them are the other reader's (link 2)."""
    from sqlalchemy import func, select

    from briefmail.db.models import Click
    from briefmail.db.session import session_scope

    with session_scope(url) as s:
        total = s.scalar(select(func.count()).select_from(Click)) or 0
        theirs = s.scalar(select(func.count()).where(Click.link_id == 2)) or 0
    return total, theirs


if __name__ == "__main__":
    main()
