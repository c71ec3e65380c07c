"""A state machine as data: the edges a status may take, each named by its cause.

The send and the batch each have one (`send_states.SEND`, `batch_states.BATCH`). Their
writers build every conditional UPDATE from it, so no status can change in a way
the table does not list, and `docs/states.md` is rendered from the same tables
(`state_docs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

S = TypeVar("S", bound=StrEnum)
E = TypeVar("E", bound=StrEnum)


class TransitionError(RuntimeError):
    """A write asked for a move its machine's table does not have: a bug, not bad input."""


@dataclass(frozen=True, slots=True)
class Edge(Generic[S, E]):
    source: S
    event: E
    target: S


@dataclass(frozen=True, slots=True)
class Machine(Generic[S, E]):
    """Statuses, the status a row is created in, and every edge between them."""

    name: str
    initial: S
    edges: tuple[Edge[S, E], ...]
    # event -> why it happens, for people reading the docs
    causes: Mapping[E, str]

    def sources(self, event: E, target: S) -> tuple[S, ...]:
        """The statuses `event` moves to `target`; raises when the table has none."""
        found = tuple(e.source for e in self.edges if e.event == event and e.target == target)
        if not found:
            raise TransitionError(f"{self.name}: no edge {event!s} to {target!s} in the table")
        return found

    def mermaid(self) -> str:
        """The table as a mermaid state diagram (one arrow per edge, named by its event)."""
        lines = ["stateDiagram-v2", f"    [*] --> {self.initial}"]
        lines += [f"    {e.source} --> {e.target}: {e.event}" for e in self.edges]
        return "\n".join(lines)

    def table(self) -> str:
        """The table as Markdown: one row per edge, with the event's cause."""
        rows = ["| from | event | to | when |", "| --- | --- | --- | --- |"]
        rows += [
            f"| `{e.source}` | `{e.event}` | `{e.target}` | {self.causes[e.event]} |"
            for e in self.edges
        ]
        return "\n".join(rows)


def edges(*triples: tuple[S, E, S]) -> tuple[Edge[S, E], ...]:
    return tuple(Edge(source, event, target) for source, event, target in triples)
