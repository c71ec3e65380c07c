"""The example brief and edited copies of it, for tests that need a broken or odd brief."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import EXAMPLE_BRIEF


def example_text() -> str:
    return EXAMPLE_BRIEF.read_text(encoding="utf-8")


def edited(old: str, new: str, text: str | None = None) -> str:
    """The example with `old` replaced by `new` exactly once (fails loudly if absent)."""
    source = example_text() if text is None else text
    assert source.count(old) == 1, f"{old!r} occurs {source.count(old)} times"
    return source.replace(old, new)


def line_of(text: str, fragment: str) -> int:
    """1-based line of the first line containing `fragment`."""
    for number, line in enumerate(text.split("\n"), start=1):
        if fragment in line:
            return number
    raise AssertionError(f"{fragment!r} not in text")


def write(directory: Path, text: str | bytes, name: str = "brief.md") -> Path:
    path = directory / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def with_sources(count: int) -> str:
    """The example's front matter with `count` sources, each cited once in the body.

    Its tracked links are known: the hidden honeypot, `count` citations, `count`
    source cards and the call to action.
    """
    text = example_text()
    head, rest = text.split("sources:\n", 1)
    cta = rest[rest.index("cta:\n") : rest.index("\n---\n")]
    sources = "".join(
        f"  - kind: Article\n"
        f"    title: Study {i}\n"
        f"    outlet: Journal {i}\n"
        f"    summary: What study {i} found.\n"
        f"    url: https://journal.example.org/articles/{i:04d}\n"
        for i in range(1, count + 1)
    )
    citations = " ".join(
        f"Study {i} agrees ([Journal {i}](source:{i}))." for i in range(1, count + 1)
    )
    return f"{head}sources:\n{sources}{cta}\n---\n\n## The evidence\n\n{citations}\n"
