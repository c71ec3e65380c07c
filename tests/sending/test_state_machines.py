"""The send and batch state machines: every status write is an edge of its table.

Three checks together: the writers move only along the table and refuse anything
else (driven here edge by edge on a real database); no code writes a send's or a
batch's status except through them (read from the source, so a new write cannot
slip in); and every call of a writer names an edge the table has. The docs' diagram
is the table's own rendering.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

import pytest
from sqlalchemy import select, text

from briefmail.db.models import Batch, BatchStatus, Send, SendStatus
from briefmail.db.session import session_scope
from briefmail.sending import state_docs
from briefmail.sending.batch_states import BATCH, BatchEvent, move_batches
from briefmail.sending.send_states import SEND, SendEvent, move_sends
from briefmail.sending.state_machine import Machine, TransitionError
from briefmail.sending.views import SendStatusName
from tests.sending.helpers import started_send

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "briefmail"
STATE_MODULES = {SRC / "sending" / "send_states.py", SRC / "sending" / "batch_states.py"}
MACHINES: dict[str, tuple[Machine, type, type]] = {  # type: ignore[type-arg]
    "move_sends": (SEND, SendEvent, SendStatus),
    "move_batches": (BATCH, BatchEvent, BatchStatus),
}


def _set(table: str, row_id: int, status: str) -> None:
    """Put a row in a status directly (test set-up only: code never does this)."""
    with session_scope() as session:
        session.execute(
            text(f"UPDATE {table} SET status = :s WHERE id = :id"), {"s": status, "id": row_id}
        )


def _walk_every_edge(writer: str, table: str, model: type, row_id: int) -> None:
    """Drive `writer` from every status, by every event, to every status, on one row:
    it moves the row exactly along the table's edges and refuses moves it has none for."""
    machine, events, statuses = MACHINES[writer]
    move = {"move_sends": move_sends, "move_batches": move_batches}[writer]
    this = model.id == row_id
    for event in events:
        for target in statuses:
            allowed = {e.source for e in machine.edges if e.event == event and e.target == target}
            for source in statuses:
                _set(table, row_id, source)
                with session_scope() as session:
                    if not allowed:
                        with pytest.raises(TransitionError):
                            move(session, this, by=event, to=target)
                        continue
                    moved = move(session, this, by=event, to=target)
                with session_scope() as session:
                    now = session.get_one(model, row_id).status
                edge = f"{source} --{event}--> {target}"
                if source in allowed:
                    assert (moved, now) == (1, target), edge
                else:
                    assert (moved, now) == (0, source), f"moved along {edge}, not in the table"


def test_the_batch_writer_moves_along_every_edge_and_nowhere_else(db_url: str) -> None:
    send_id = started_send(5)
    with session_scope() as session:
        batch_id = session.scalars(select(Batch.id).where(Batch.send_id == send_id)).one()
    _walk_every_edge("move_batches", "batches", Batch, batch_id)


def test_the_send_writer_moves_along_every_edge_and_nowhere_else(db_url: str) -> None:
    _walk_every_edge("move_sends", "sends", Send, started_send(5))


def test_a_writer_refuses_a_status_among_the_values(db_url: str) -> None:
    with session_scope() as session, pytest.raises(TypeError):
        move_batches(
            session,
            Batch.id == 1,
            by=BatchEvent.CLAIM,
            to=BatchStatus.SENDING,
            status=BatchStatus.FAILED,
        )


def test_a_status_the_enum_does_not_name_is_refused_before_the_database(db_url: str) -> None:
    send_id = started_send(5)
    with session_scope() as session, pytest.raises(Exception, match="sendng"):
        session.execute(select(Send.id).where(Send.id == send_id, Send.status == "sendng"))


def test_statuses_read_back_as_enum_members(db_url: str) -> None:
    send_id = started_send(5)
    with session_scope() as session:
        send = session.get_one(Send, send_id)
        assert send.status is SendStatus.SENDING
        statuses = set(session.scalars(select(Batch.status).where(Batch.send_id == send_id)))
    assert statuses == {BatchStatus.PENDING}
    assert all(isinstance(s, BatchStatus) for s in statuses)


def test_the_api_names_every_send_status() -> None:
    assert get_args(SendStatusName) == tuple(SendStatus)


# -- read from the source ---------------------------------------------------------------


def _modules() -> list[Path]:
    return sorted([*SRC.rglob("*.py"), *(ROOT / "worker").rglob("*.py")])


def _root_call(node: ast.AST) -> ast.Call | None:
    """The innermost call of a method chain: `update(X)` in `update(X).where(..).values(..)`."""
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        node = node.func.value
    return node if isinstance(node, ast.Call) else None


def status_writes(source: str, *, in_sending: bool) -> list[str]:
    """Each write of a send's or a batch's status in `source` that bypasses the writers:
    `send.status = ...` (any `x.status = ...` in `sending/` but an exception's own),
    and an `update(Send)`/`update(Batch)` whose values name the status or are spread
    from a dict (which could)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Attribute) and target.attr == "status":
                base = target.value
                name = base.id if isinstance(base, ast.Name) else ""
                if ("send" in name or "batch" in name) or (in_sending and name != "self"):
                    found.append(f"line {node.lineno}: {ast.unparse(target)} = ...")
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "values"
        ):
            continue
        root = _root_call(node.func.value)
        if not (
            root is not None
            and isinstance(root.func, ast.Name)
            and root.func.id == "update"
            and root.args
            and isinstance(root.args[0], ast.Name)
            and root.args[0].id in ("Send", "Batch")
        ):
            continue
        keys = [k.arg for k in node.keywords]
        dicts = [a for a in node.args if isinstance(a, ast.Dict)]
        named = "status" in keys or any(
            isinstance(k, ast.Constant) and k.value == "status" for d in dicts for k in d.keys
        )
        if named or None in keys:
            found.append(f"line {node.lineno}: update({root.args[0].id}) sets the status")
    return found


def test_no_code_writes_a_status_but_the_state_modules() -> None:
    offenders = {
        str(path.relative_to(ROOT)): writes
        for path in _modules()
        if path not in STATE_MODULES
        and (
            writes := status_writes(
                path.read_text(encoding="utf-8"), in_sending="sending" in path.parts
            )
        )
    }
    assert offenders == {}, "write statuses through send_states.move_sends/move_batches"


@pytest.mark.parametrize(
    "source",
    [
        "send.status = 'sent'",
        "def f(b):\n    b.status = 'accepted'",  # counted only in sending/
        "session.execute(update(Batch).where(Batch.id == 1).values(status='failed'))",
        "session.execute(update(Send).values(**values))",
        "session.execute(update(Batch).values({'status': 'x'}))",
    ],
)
def test_the_source_check_sees_a_status_write(source: str) -> None:
    assert status_writes(source, in_sending=True)


def test_the_source_check_lets_other_writes_through() -> None:
    source = (
        "self.status = status\n"
        "session.execute(update(Delivery).values(status='failed'))\n"
        "session.execute(update(Send).values(finished_at=now))\n"
        "subscriber.status = 'active'\n"
    )
    assert status_writes(source, in_sending=False) == []
    assert status_writes(source, in_sending=True) == ["line 4: subscriber.status = ..."]


def writer_calls(source: str) -> list[tuple[str, int, str, str]]:
    """Every call of a writer: (writer, line, event member name, status member name);
    a `by=` or `to=` that is not written as `Enum.MEMBER` is reported as "?"."""
    calls = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name not in MACHINES:
            continue
        kw = {k.arg: k.value for k in node.keywords}
        members = [
            v.attr if isinstance(v, ast.Attribute) and isinstance(v.value, ast.Name) else "?"
            for v in (kw.get("by"), kw.get("to"))
        ]
        calls.append((name, node.lineno, members[0], members[1]))
    return calls


def test_every_writer_call_in_the_code_names_an_edge_of_its_table() -> None:
    seen: set[tuple[str, str, str]] = set()
    wrong = []
    for path in _modules():
        for writer, line, event, status in writer_calls(path.read_text(encoding="utf-8")):
            machine, events, statuses = MACHINES[writer]
            where = f"{path.relative_to(ROOT)}:{line}"
            if event not in events.__members__ or status not in statuses.__members__:
                wrong.append(f"{where}: by= and to= must be written as Enum.MEMBER")
                continue
            by, to = events[event], statuses[status]
            if not any(e.event == by and e.target == to for e in machine.edges):
                wrong.append(f"{where}: {writer}(by={by}, to={to}) is not in the table")
            seen.add((writer, by, to))
    assert wrong == []
    # And the other way: every (event, target) of each table is written somewhere.
    for writer, (machine, _, _) in MACHINES.items():
        unused = {(e.event, e.target) for e in machine.edges} - {
            (by, to) for w, by, to in seen if w == writer
        }
        assert unused == set(), f"{writer}: edges no code takes"


def test_the_docs_diagram_is_the_tables() -> None:
    committed = (ROOT / "docs" / "states.md").read_text(encoding="utf-8")
    assert committed == state_docs.document(), (
        f"docs/states.md differs from the transition tables; regenerate it: {state_docs.REGENERATE}"
    )


def test_the_docs_show_every_edge() -> None:
    page = state_docs.document()
    for machine in (SEND, BATCH):
        for edge in machine.edges:
            assert f"    {edge.source} --> {edge.target}: {edge.event}\n" in page
            assert f"| `{edge.source}` | `{edge.event}` | `{edge.target}` |" in page
