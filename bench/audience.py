"""Audience figures: CSV import speed, and counting/streaming a 1M-subscriber audience.

    .venv/bin/python bench/audience.py [--import-rows 100000] [--population 1000000]

On a temporary SQLite file and a throwaway PostgreSQL database (created and dropped
here; admin URL from BRIEFMAIL_BENCH_PG_URL, default postgres@127.0.0.1:5432):

1. import a generated CSV of 100,000 subscribers (fixed seed) through the real
   importer, then import it again (every row unchanged), in rows/s; baseline: the
   same file only parsed and validated (no database);
2. bulk-load 1,000,000 subscribers directly (COPY on PostgreSQL; 12 topics, 0-3 per
   subscriber, 90% active, 0.5% suppressed), VACUUM ANALYZE, then time
   `audience_count` for a 3-topic brief against two baselines (the textbook per-row
   EXISTS query, and on PostgreSQL the same count under the planner's default
   parallel plan), and stream the whole audience with `yield_per(5000)` in rows/s.

Goals: import >= 20,000 rows/s on both; 1M audience counted in < 1 s on PostgreSQL.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import random
import secrets
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar
from unittest.mock import patch

from sqlalchemy import Select, create_engine, exists, func, or_, select, text

from briefmail.audience import segment
from briefmail.audience._sql import SUBSCRIBER_TOPICS, SUBSCRIBERS, SUPPRESSIONS, TOPICS
from briefmail.audience.csv_import import ImportResult, import_csv
from briefmail.audience.segment import audience_count, audience_select
from briefmail.audience.subscribers import clean_name, normalise_email
from briefmail.audience.topics import parse_topic_list, topic_slug
from briefmail.db.session import dispose_engines, session_factory, upgrade

T = TypeVar("T")
SEED = 20240108
TOPIC_NAMES = [
    "Learning design",
    "Workflow-based education",
    "Accreditation operations",
    "Outcomes measurement",
    "Faculty development",
    "Patient safety",
    "Interprofessional education",
    "Simulation",
    "Point-of-care learning",
    "Grant strategy",
    "Learner engagement",
    "Health equity",
]
BRIEF_TOPICS = ["learning-design", "workflow-based-education", "accreditation-operations"]
PG_ADMIN = os.environ.get(
    "BRIEFMAIL_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PG_NAME = "briefmail_bench_audience"


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def write_csv(path: Path, rows: int) -> None:
    rng = random.Random(SEED)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "name", "topics"])
        for i in range(rows):
            local = f"{rng.choice(['ann', 'Bob', 'carol', 'DAVE', 'eve'])}.{i}"
            domain = f"Clinic{i % 997}.Example.org"
            topics = rng.sample(TOPIC_NAMES, rng.choice([0, 1, 1, 2, 2, 3]))
            writer.writerow([f" {local}@{domain}", f"Reader {i}", ";".join(topics)])


def parse_only(path: Path) -> int:
    """Baseline: read and validate every row as the importer does, writing nothing."""
    rows = 0
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for email, name, topics in reader:
            normalise_email(email)
            clean_name(name)
            for topic in parse_topic_list(topics):
                topic_slug(topic)
            rows += 1
    return rows


def bench_import(label: str, url: str, path: Path, rows: int) -> None:
    make = session_factory(url)

    def run() -> ImportResult:
        with make() as session:
            result = import_csv(session, path)
            session.commit()
        return result

    for attempt in ("first import", "re-import (unchanged)"):
        seconds, result = timed(run)
        print(
            f"  {label:10} {attempt:22} {seconds:6.2f} s  {rows / seconds:9,.0f} rows/s  "
            f"added {result.added:,}, updated {result.updated:,}, "
            f"unchanged {result.unchanged:,}, skipped {result.skipped:,}"
        )


def population(n: int) -> Iterator[tuple[tuple[object, ...], list[str]]]:
    rng = random.Random(SEED)
    slugs = [name.lower().replace(" ", "-") for name in TOPIC_NAMES]
    now = datetime(2024, 1, 1, tzinfo=UTC)
    statuses = ["active"] * 90 + ["unsubscribed"] * 4 + ["pending"] * 3 + ["bounced"] * 2
    statuses += ["complained"]
    for i in range(1, n + 1):
        email = f"reader{i}@clinic{i % 997}.example.org"
        row = (
            i,
            email,
            email,
            f"Reader {i}",
            rng.choice(statuses),
            None,
            secrets.token_hex(16),
            now,
            now,
        )
        k = rng.choice([0, 1, 1, 1, 2, 2, 3])
        yield row, rng.sample(slugs, k)


def load_population(url: str, n: int) -> None:
    engine = create_engine(url)
    slugs = [name.lower().replace(" ", "-") for name in TOPIC_NAMES]
    now = datetime(2024, 1, 1, tzinfo=UTC)
    rng = random.Random(SEED + 1)
    suppressed = [
        f"reader{i}@clinic{i % 997}.example.org" for i in rng.sample(range(1, n + 1), n // 200)
    ]
    with engine.begin() as conn:
        conn.execute(
            TOPICS.insert(),
            [{"slug": s, "name": nm, "created_at": now} for s, nm in zip(slugs, TOPIC_NAMES)],
        )
        conn.execute(
            SUPPRESSIONS.insert(),
            [
                {"email_key": e, "email": e, "reason": "bounce", "created_at": now}
                for e in suppressed
            ],
        )
        columns = (
            "id",
            "email",
            "email_key",
            "name",
            "status",
            "timezone",
            "secret",
            "created_at",
            "updated_at",
        )
        if engine.dialect.name == "postgresql":
            raw = conn.connection.driver_connection
            with raw.cursor() as cur:  # type: ignore[union-attr]
                with cur.copy(f"COPY subscribers ({', '.join(columns)}) FROM STDIN") as sub_copy:
                    links: list[tuple[int, str]] = []
                    for row, topics in population(n):
                        sub_copy.write_row(row)
                        links.extend((row[0], s) for s in topics)  # type: ignore[misc]
                with cur.copy(
                    "COPY subscriber_topics (subscriber_id, topic_slug) FROM STDIN"
                ) as link_copy:
                    for link in links:
                        link_copy.write_row(link)
                cur.execute("SELECT setval('subscribers_id_seq', %s)", (n,))
        else:
            batch: list[dict[str, object]] = []
            link_batch: list[dict[str, object]] = []
            for row, topics in population(n):
                batch.append(dict(zip(columns, row)))
                link_batch.extend({"subscriber_id": row[0], "topic_slug": s} for s in topics)
                if len(batch) >= 50_000:
                    conn.execute(SUBSCRIBERS.insert(), batch)
                    conn.execute(SUBSCRIBER_TOPICS.insert(), link_batch)
                    batch, link_batch = [], []
            if batch:
                conn.execute(SUBSCRIBERS.insert(), batch)
                conn.execute(SUBSCRIBER_TOPICS.insert(), link_batch)
    # A long-lived table is vacuumed and analysed by autovacuum; a table loaded a second
    # ago is not, and without a visibility map no index-only scan is possible.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
    engine.dispose()


def naive_count(topics: list[str]) -> Select[int]:
    """Baseline: the textbook form, a per-row EXISTS for "has a topic" OR "has none"."""
    sub, links = SUBSCRIBERS, SUBSCRIBER_TOPICS
    return (
        select(func.count())
        .select_from(sub)
        .where(
            sub.c.status == "active",
            ~exists().where(SUPPRESSIONS.c.email_key == sub.c.email_key),
            or_(
                exists().where(links.c.subscriber_id == sub.c.id, links.c.topic_slug.in_(topics)),
                ~exists().where(links.c.subscriber_id == sub.c.id),
            ),
        )
    )


def bench_segment(label: str, url: str, n: int) -> None:
    seconds, _ = timed(lambda: load_population(url, n))
    print(f"  {label:10} bulk-loaded {n:,} subscribers in {seconds:.1f} s (+ VACUUM/ANALYZE)")
    make = session_factory(url)
    with make() as session:
        naive_s, naive = timed(lambda: session.scalar(naive_count(BRIEF_TOPICS)))
        print(f"  {label:10} count, per-row EXISTS baseline   {naive_s:6.3f} s  total={naive:,}")
        runs = [timed(lambda: audience_count(session, BRIEF_TOPICS)) for _ in range(5)]
        count = runs[0][1]
        times = sorted(t for t, _ in runs)
        print(
            f"  {label:10} audience_count first/median/best of 5  {runs[0][0]:.3f} / "
            f"{times[2]:.3f} / {times[0]:.3f} s"
        )
        print(f"  {label:10}   -> {count.as_json()}")
        if label == "postgresql":
            # What `_single_scan` buys: the same statement under the planner's own choice.
            with patch.object(segment, "_single_scan", lambda _session: nullcontext()):
                own = sorted(
                    timed(lambda: audience_count(session, BRIEF_TOPICS))[0] for _ in range(3)
                )
            print(f"  {label:10} same count, planner's default plan  median of 3 {own[1]:.3f} s")
        narrow_s, narrow = timed(lambda: audience_count(session, BRIEF_TOPICS, BRIEF_TOPICS[:1]))
        print(
            f"  {label:10} audience_count --topics 1 topic   {narrow_s:6.3f} s  {narrow.as_json()}"
        )
    with make() as session:

        def stream() -> int:
            rows = 0
            result = session.execute(
                audience_select(BRIEF_TOPICS), execution_options={"yield_per": 5000}
            )
            for _ in result:
                rows += 1
            return rows

        seconds, streamed = timed(stream)
        assert streamed == count.total, (streamed, count.total)
        print(
            f"  {label:10} stream audience (yield_per 5000) {seconds:6.2f} s  "
            f"{streamed / seconds:9,.0f} rows/s  rows={streamed:,}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--import-rows", type=int, default=100_000)
    parser.add_argument("--population", type=int, default=1_000_000)
    args = parser.parse_args()
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f}"
    )
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        print(f"postgresql: {conn.scalar(text('SHOW server_version'))}")
    print(f"sqlite: {sqlite3.sqlite_version}")
    pg_url = PG_ADMIN.rsplit("/", 1)[0] + f"/{PG_NAME}"
    with tempfile.TemporaryDirectory(prefix="bench-audience-") as tmp:
        csv_path = Path(tmp) / "subscribers.csv"
        write_csv(csv_path, args.import_rows)
        size_mb = csv_path.stat().st_size / 1e6
        print(f"\nimport: {args.import_rows:,} rows, {size_mb:.1f} MB CSV (seed {SEED})")
        seconds, _ = timed(lambda: parse_only(csv_path))
        rate = args.import_rows / seconds
        print(
            f"  {'baseline':10} {'parse + validate only':22} {seconds:6.2f} s  {rate:9,.0f} rows/s"
        )
        for label, url in _databases(tmp, "import", admin, pg_url):
            bench_import(label, url, csv_path, args.import_rows)
        print(
            f"\naudience: {args.population:,} subscribers, brief topics {', '.join(BRIEF_TOPICS)}"
        )
        for label, url in _databases(tmp, "segment", admin, pg_url):
            bench_segment(label, url, args.population)
    admin.dispose()


def _databases(tmp: str, tag: str, admin: object, pg_url: str) -> Iterator[tuple[str, str]]:
    sqlite_url = f"sqlite:///{tmp}/{tag}.db"
    upgrade(sqlite_url)
    yield "sqlite", sqlite_url
    dispose_engines()
    with admin.connect() as conn:  # type: ignore[attr-defined]
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{PG_NAME}"'))
    try:
        upgrade(pg_url)
        yield "postgresql", pg_url
    finally:
        dispose_engines()
        with admin.connect() as conn:  # type: ignore[attr-defined]
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
