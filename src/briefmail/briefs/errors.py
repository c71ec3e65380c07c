"""Validation errors that point an editor at the exact place to fix.

One error carries every problem found in a file, so an editor fixes them in one
pass instead of one run per typo. Each problem reads `FILE:LINE: field: what is
wrong`, the shape compilers use, so editors and terminals can jump to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from briefmail.characters import shown
from briefmail.errors import InvalidInputError


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        # Field names and messages can quote the file (an unknown key, a bad link):
        # whatever it holds, a problem stays one line and sends nothing to the terminal.
        return f"{self.path}:{self.line}: {shown(self.field)}: {shown(self.message)}"


class BriefValidationError(InvalidInputError):
    """A brief file that cannot be used; `str()` is one `FILE:LINE: field: ...` per line."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("BriefValidationError needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(cls, path: str, line: int, field: str, message: str) -> BriefValidationError:
        return cls([Problem(path, line, field, message)])
