"""CSV import and export of subscribers, set-based so 100,000 rows take seconds.

Rows are read and validated in Python (in a thread, one chunk ahead), then written a
chunk at a time with a few set-based statements per chunk (`_writer`: look up the
chunk's addresses, insert the new ones, update the changed ones, replace their topic
links), never one ORM object per row.

The whole file is one transaction, committed by the caller: a crash or a decoding
error half-way leaves the database exactly as it was, and running the import again
is safe because a re-import updates rather than duplicates. Invalid rows are not
errors: they are reported by line and skipped, and the valid rows are imported.

An import never re-activates anyone: an existing subscriber keeps their status (a
`status` column may only stop them: unsubscribed, bounced, complained), and a
suppressed address that is not yet a subscriber is skipped.
"""

from __future__ import annotations

import csv
import io
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from queue import Full, Queue
from typing import Any, BinaryIO, TextIO, TypeVar

from sqlalchemy.orm import Session

from briefmail import clock
from briefmail.audience._writer import Change, Existing, NewSubscriber, bulk_writer
from briefmail.audience.csv_cells import neutralise, restore
from briefmail.audience.subscribers import (
    STOPPED_STATUSES,
    InvalidEmailError,
    clean_name,
    iter_subscribers,
    new_secret,
    normalise_email,
)
from briefmail.audience.topics import parse_topic_list, topic_slug
from briefmail.db.models import SUBSCRIBER_STATUSES
from briefmail.db.topics import ensure_topic_pairs
from briefmail.errors import InvalidInputError

HEADER = ("email", "name", "topics")
OPTIONAL_COLUMNS = ("status",)
EXPORT_HEADER = (*HEADER, "status")
CHUNK_SIZE = 5000
_MAX_TOPIC_NAME = 200

T = TypeVar("T")
# (bytes read so far, file size): lets the CLI draw a progress bar.
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Why one line was skipped, printed as `FILE:LINE: field: what is wrong`."""

    line: int
    field: str
    message: str


@dataclass(slots=True)
class ImportResult:
    path: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[RowProblem] = field(default_factory=list)  # in line order

    @property
    def skipped(self) -> int:
        """Rows not imported: each has a problem saying why."""
        return len(self.problems)

    def describe(self, problem: RowProblem) -> str:
        return f"{self.path}:{problem.line}: {problem.field}: {problem.message}"


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    email: str
    key: str
    name: str
    topics: frozenset[str]
    status: str | None  # only when the file has a status column


@dataclass(frozen=True, slots=True)
class _Record:
    line: int  # where the record starts (a quoted line break makes it span lines)
    fields: list[str]
    error: str | None = None  # csv could not read it (e.g. a NUL byte)


def _records(text: TextIO) -> Iterator[_Record]:
    """Every non-blank record of the file, with the line it starts on."""
    reader = csv.reader(text)
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield _Record(start, [], f"unreadable row: {exc}")
            continue
        if any(f.strip() for f in fields):
            yield _Record(start, [restore(f) for f in fields])


class _RowError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def import_csv(
    session: Session,
    path: str | Path,
    *,
    chunk_size: int = CHUNK_SIZE,
    progress: Progress | None = None,
) -> ImportResult:
    """Import `path` (header `email,name,topics`, optional `status`) into the session."""
    name = str(path)
    try:
        size = os.path.getsize(path)
        raw = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InvalidInputError(f"{name}: cannot read: {exc.strerror or exc}") from None
    with raw:
        return import_csv_stream(
            session, raw, name, chunk_size=chunk_size, progress=progress, size=size
        )


def import_csv_stream(
    session: Session,
    raw: BinaryIO,
    name: str,
    *,
    chunk_size: int = CHUNK_SIZE,
    progress: Progress | None = None,
    size: int = 0,
) -> ImportResult:
    """The same from a seekable binary stream (an upload); `name` stands for the path in
    problems, `size` its length for `progress`."""
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    try:
        return _Importer(session, name, chunk_size).run(
            text, lambda: _report(progress, raw.tell(), size)
        )
    except UnicodeDecodeError:
        raw.seek(0)
        raise InvalidInputError(_decode_error(raw.read(), name)) from None
    finally:
        text.detach()


def _report(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


def _decode_error(data: bytes, name: str) -> str:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return (
            f"{name}:{line}: file is not UTF-8 text (byte 0x{data[exc.start]:02x}); "
            "save it as CSV UTF-8 and import again"
        )
    return f"{name}: file is not UTF-8 text; save it as CSV UTF-8 and import again"


class _Importer:
    def __init__(self, session: Session, path: str, chunk_size: int) -> None:
        self.session = session
        self.result = ImportResult(path)
        self.chunk_size = chunk_size
        self.seen: dict[str, int] = {}  # email_key -> first line, to catch repeats
        self.topic_names: dict[str, str] = {}  # slug -> first spelling in the file
        self.slugs: dict[str, str] = {}  # spelling -> slug
        self.known_topics: set[str] = set()
        # Filled by the reading thread and the writing thread respectively.
        self.parse_problems: list[RowProblem] = []
        self.write_problems: list[RowProblem] = []
        self.writer = bulk_writer(session, clock.now())

    def run(self, text: TextIO, tick: Callable[[], None]) -> ImportResult:
        records = _records(text)
        columns = self._header(records)
        # The next chunk is read and validated while this one is written.
        for chunk in _read_ahead(self._chunks(records, columns)):
            self._write(chunk)
            tick()
        tick()
        problems = self.parse_problems + self.write_problems
        self.result.problems = sorted(problems, key=lambda problem: problem.line)
        return self.result

    def _chunks(self, records: Iterator[_Record], columns: dict[str, int]) -> Iterator[list[_Row]]:
        chunk: list[_Row] = []
        for record in records:
            row = self._parse(record, columns)
            if row is not None:
                chunk.append(row)
                if len(chunk) >= self.chunk_size:
                    yield chunk
                    chunk = []
        if chunk:
            yield chunk

    def _header(self, records: Iterator[_Record]) -> dict[str, int]:
        path = self.result.path
        expected = ",".join(HEADER)
        first = next(records, None)
        if first is None:
            raise InvalidInputError(f"{path}: the file is empty; expected a header {expected}")
        line, fields = first.line, first.fields
        if first.error:
            raise InvalidInputError(f"{path}:{line}: header: {first.error}")
        names = [f.strip().lower() for f in fields]
        allowed = set(HEADER) | set(OPTIONAL_COLUMNS)
        if set(HEADER) - set(names) or set(names) - allowed or len(set(names)) != len(names):
            raise InvalidInputError(
                f"{path}:{line}: header: expected columns {expected} (status optional), "
                f"found {','.join(fields)!r}"
            )
        return {column: index for index, column in enumerate(names)}

    def _parse(self, record: _Record, columns: dict[str, int]) -> _Row | None:
        line, fields = record.line, record.fields
        try:
            if record.error:
                raise _RowError("row", record.error)
            if len(fields) != len(columns):
                raise _RowError(
                    "row", f"{len(fields)} fields, expected {len(columns)} ({','.join(columns)})"
                )
            row = self._validate(line, fields, columns)
        except _RowError as exc:
            self._skip(line, exc.field, exc.message)
            return None
        first = self.seen.setdefault(row.key, line)
        if first != line:
            self._skip(line, "email", f"same address as line {first}; this row is skipped")
            return None
        return row

    def _validate(self, line: int, fields: list[str], columns: dict[str, int]) -> _Row:
        raw_email = fields[columns["email"]]
        try:
            email, key = normalise_email(raw_email)
        except InvalidEmailError as exc:
            raise _RowError("email", f"{exc.reason} ({raw_email.strip()!r})") from None
        try:
            name = clean_name(fields[columns["name"]])
        except InvalidInputError as exc:
            raise _RowError("name", str(exc)) from None
        slugs = frozenset(
            self._slug(topic) for topic in parse_topic_list(fields[columns["topics"]])
        )
        status = None
        if "status" in columns:
            status = fields[columns["status"]].strip().lower() or None
            if status is not None and status not in SUBSCRIBER_STATUSES:
                raise _RowError(
                    "status", f"{status!r} is not one of {', '.join(SUBSCRIBER_STATUSES)}"
                )
        return _Row(line, email, key, name, slugs, status)

    def _slug(self, topic: str) -> str:
        """The slug a topic cell names; a file repeats a handful of topics, so cache them."""
        slug = self.slugs.get(topic)
        if slug is None:
            if len(topic) > _MAX_TOPIC_NAME:
                raise _RowError("topics", f"topic {topic[:40]!r}... is over 200 characters")
            try:
                slug = topic_slug(topic)
            except InvalidInputError as exc:
                raise _RowError("topics", str(exc)) from None
            self.slugs[topic] = slug
            self.topic_names.setdefault(slug, topic)
        return slug

    def _skip(self, line: int, field: str, message: str) -> None:
        self.parse_problems.append(RowProblem(line, field, message))

    def _write(self, chunk: list[_Row]) -> None:
        self._ensure_topics(chunk)
        existing = self.writer.existing([row.key for row in chunk])
        fresh = [row for row in chunk if row.key not in existing]
        suppressed = self.writer.suppressed([row.key for row in fresh])
        for row in fresh:
            if row.key in suppressed:
                reason = suppressed[row.key]
                message = f"address is suppressed ({reason}); not added"
                self.write_problems.append(RowProblem(row.line, "email", message))
        lost = self._insert([row for row in fresh if row.key not in suppressed])
        if lost:  # a concurrent writer added them first: update them instead
            existing.update(self.writer.existing([row.key for row in lost]))
        self._update([row for row in chunk if row.key in existing], existing)

    def _ensure_topics(self, chunk: list[_Row]) -> None:
        wanted = {slug for row in chunk for slug in row.topics} - self.known_topics
        if wanted:
            pairs = [(slug, self.topic_names[slug]) for slug in sorted(wanted)]
            ensure_topic_pairs(self.session, pairs)
            self.session.flush()
            self.known_topics |= wanted

    def _insert(self, rows: list[_Row]) -> list[_Row]:
        """Insert new subscribers and their topics; returns rows someone else inserted."""
        if not rows:
            return []
        new = [
            NewSubscriber(row.email, row.key, row.name, row.status or "active", new_secret())
            for row in rows
        ]
        ids = self.writer.insert(new)
        self.writer.link(
            (ids[row.key], slug) for row in rows if row.key in ids for slug in sorted(row.topics)
        )
        self.result.added += len(ids)
        return [row for row in rows if row.key not in ids]

    def _update(self, rows: list[_Row], existing: dict[str, Existing]) -> None:
        if not rows:
            return
        current = self.writer.topics_of([existing[row.key].id for row in rows])
        changed: list[Change] = []
        relink: list[tuple[int, frozenset[str]]] = []
        for row in rows:
            old = existing[row.key]
            status = old.status
            if row.status in STOPPED_STATUSES and old.status not in STOPPED_STATUSES:
                status = row.status  # the file may stop someone, never start them
            topics_changed = current.get(old.id, set()) != row.topics
            if topics_changed:
                relink.append((old.id, row.topics))
            if topics_changed or row.name != old.name or status != old.status:
                changed.append(Change(old.id, row.name, status))
            else:
                self.result.unchanged += 1
        if changed:
            self.writer.update(changed)
            self.result.updated += len(changed)
        if relink:
            self.writer.link(
                ((sid, slug) for sid, slugs in relink for slug in sorted(slugs)),
                replace=[sid for sid, _ in relink],
            )


def _read_ahead(items: Iterator[T]) -> Iterator[T]:
    """Yield `items`, producing the next one in a thread while the caller works on this one.

    The reader (CSV parsing, validation) is pure Python and the writer mostly waits
    on the database, so the two overlap. An error in the reader is raised here; if
    the caller stops early, the reader thread is told to stop and joined.
    """
    queue: Queue[tuple[str, Any]] = Queue(maxsize=1)
    stop = threading.Event()

    def put(entry: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                queue.put(entry, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(("item", item)):
                    return
            put(("done", None))
        except BaseException as exc:  # handed to the consumer, raised there
            put(("error", exc))

    thread = threading.Thread(target=produce, name="csv-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = queue.get()
            if kind == "error":
                raise value
            if kind == "done":
                return
            yield value
    finally:
        stop.set()
        thread.join()


def write_csv(session: Session, out: TextIO) -> int:
    """Every subscriber as CSV (`email,name,topics,status`), re-importable and with no
    cell a spreadsheet would run (`csv_cells`); returns the number of rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_HEADER)
    count = 0
    for view in iter_subscribers(session):
        row = (view.email, view.name, ";".join(view.topics), view.status)
        writer.writerow([neutralise(cell) for cell in row])
        count += 1
    return count
