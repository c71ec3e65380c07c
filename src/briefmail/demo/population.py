"""Sample subscribers for the demo: spread over topics the way a real list is.

Most readers follow one or two of the brief's topics, some take all topics, and some
follow only topics this brief does not cover (so the segment visibly leaves them
out). Fixed seed: every demo run has the same population.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from pathlib import Path

PACKAGE_EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "briefs"
CHECKOUT_EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "briefs"
EXAMPLE_NAME = "2024-01-08-clinician-educators.md"

OTHER_TOPICS = ("Outcomes measurement", "Grant strategy", "Learner engagement")
FIRST = ("Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jo", "Kofi")
LAST = ("Okafor", "Schmidt", "Nguyen", "Garcia", "Patel", "Kowalski", "Haddad", "Ito", "Silva")
DOMAINS = ("example.org", "example.edu", "example.com", "hospital.example", "cme.example")


def example_brief() -> Path:
    """The example brief shipped with briefmail (the wheel's copy first, then a checkout's)."""
    for folder in (PACKAGE_EXAMPLE, CHECKOUT_EXAMPLE):
        candidate = folder / EXAMPLE_NAME
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"example brief {EXAMPLE_NAME} not found in {PACKAGE_EXAMPLE}")


def write_subscribers_csv(
    path: Path, brief_topics: Sequence[str], count: int, *, seed: int = 2024
) -> None:
    """`count` subscribers in the import format (email,name,topics)."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "name", "topics"])
        for number in range(count):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            roll = rng.random()
            if roll < 0.15:
                topics: list[str] = []  # all topics
            elif roll < 0.30:
                topics = rng.sample(OTHER_TOPICS, k=rng.randint(1, 2))
            else:
                topics = rng.sample(list(brief_topics), k=rng.randint(1, 2))
                if rng.random() < 0.2:
                    topics.append(rng.choice(OTHER_TOPICS))
            email = f"{first}.{last}.{number}@{rng.choice(DOMAINS)}".lower()
            writer.writerow([email, f"{first} {last}", ";".join(topics)])
