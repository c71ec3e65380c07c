"""The footer's reason line: why this reader gets this brief (their topics).

The phrase is a per-recipient value (`%%bm:topics%%`); the send pipeline and the
preview both build it here, so readers see one wording whoever sent the email.
"""

from __future__ import annotations

from collections.abc import Sequence

ALL_TOPICS = "all topics"


def topics_phrase(names: Sequence[str]) -> str:
    """ "A", "A and B", "A, B and C"; "all topics" for a reader who follows everything."""
    names = [n for n in names if n]
    if not names:
        return ALL_TOPICS
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]
