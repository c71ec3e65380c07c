"""The README's command reference, generated from the commands' own `--help`.

A hand-kept table drifts from the code the first time someone adds an option, so the
README holds only what this module writes between two markers, and a test
(tests/test_docs.py) fails, naming the command, when the two differ. Regenerate with
`make readme` (`python -m briefmail.cli.reference --write README.md`).

The help is rendered by the plain click formatter Typer ships, at a fixed width, never
by Rich: Rich sizes its panels to the terminal and colours them when CI variables such
as FORCE_COLOR or GITHUB_ACTIONS are set, so its output would differ from machine to
machine. The words are the same as `--help` prints; only the boxes are gone.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption
from typer.main import get_command

from briefmail.cli import app as briefmail_app

START = "<!-- cli-reference:start -->"
END = "<!-- cli-reference:end -->"
# Wide enough for most help lines on one line, narrow enough for GitHub's column.
WIDTH = 88
REGENERATE = "make readme"
PROGRAM = "briefmail"


@dataclass(frozen=True)
class Entry:
    """One runnable command as the reference shows it."""

    path: str  # "briefmail brief import"
    synopsis: str  # "briefmail brief import FILE"
    summary: str  # the first paragraph of its help, on one line
    help: str  # what `--help` prints, without Rich's boxes

    def row(self) -> str:
        return f"| `{self.synopsis}` | {_cell(self.summary)} |"

    def details(self) -> str:
        fence = "`" * max(3, _longest_backtick_run(self.help) + 1)
        return "\n".join(
            [
                f"<details><summary><code>{self.path} --help</code></summary>",
                "",
                f"{fence}text",
                self.help,
                fence,
                "",
                "</details>",
            ]
        )


def entries(app: typer.Typer | None = None) -> list[Entry]:
    """Every command that runs something (groups only list theirs).

    Sorted by top-level command so a reader finds one by name (`--help` lists single
    commands before groups); a group's subcommands keep their `--help` order, which
    follows the work (import, approve, list).
    """
    root = get_command(app or briefmail_app)
    found = _walk(_context(_typer_command(root), PROGRAM, None))
    return sorted(found, key=lambda entry: entry.path.split()[1])


def render(found: Sequence[Entry]) -> str:
    """The text between the markers: a summary table, then each command's `--help`."""
    lines = [
        START,
        f"<!-- Generated from each command's --help by `{REGENERATE}`: edit the help texts "
        "in src/briefmail/cli/, not this block. -->",
        "",
        "| command | what it does |",
        "| --- | --- |",
        *(entry.row() for entry in found),
        "",
        "Every command's full `--help`:",
        "",
    ]
    for entry in found:
        lines += [entry.details(), ""]
    lines.append(END)
    return "\n".join(lines)


def block_of(readme: str) -> str:
    """The generated block of a README, markers included."""
    start, end = _markers(readme)
    return readme[start : end + len(END)]


def replace_block(readme: str, block: str) -> str:
    start, end = _markers(readme)
    return readme[:start] + block + readme[end + len(END) :]


def differences(readme: str, found: Sequence[Entry]) -> list[str]:
    """What in the README's block no longer matches the code, one line per command.

    Empty when the block is exactly what `render` writes.
    """
    block = block_of(readme)
    problems: list[str] = []
    for entry in found:
        if f"\n{entry.row()}\n" not in block:
            problems.append(f"`{entry.path}`: its row in the summary table differs")
        if f"\n{entry.details()}\n" not in block:
            problems.append(f"`{entry.path}`: its --help block differs or is missing")
    current = {entry.path for entry in found}
    for path in re.findall(r"<summary><code>(.+?) --help</code></summary>", block):
        if path not in current:
            problems.append(f"`{path}`: documented but no such command")
    if not problems and block != render(found):
        problems.append("the block's order or layout differs from what the code renders")
    return problems


def _walk(ctx: typer.Context) -> Iterator[Entry]:
    command = ctx.command
    if isinstance(command, TyperGroup):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from _walk(_context(_typer_command(sub, name), name, ctx))
        return
    yield Entry(
        path=ctx.command_path,
        synopsis=" ".join([ctx.command_path, *_arguments(ctx)]),
        summary=_first_paragraph(command.help or ""),
        help=command.get_help(ctx).rstrip(),
    )


def _typer_command(command: object, name: str = PROGRAM) -> TyperCommand | TyperGroup:
    if not isinstance(command, TyperCommand | TyperGroup):
        raise TypeError(f"{name}: not a Typer command, so its help cannot be rendered here")
    return command


def _context(
    command: TyperCommand | TyperGroup, name: str, parent: typer.Context | None
) -> typer.Context:
    # Typer hands help to Rich unless a command's markup mode is None; these commands
    # are a fresh tree built for this rendering, so switching them to click's plain
    # formatter changes nothing the CLI prints.
    command.rich_markup_mode = None
    return typer.Context(
        command,
        info_name=name,
        parent=parent,
        terminal_width=WIDTH,
        max_content_width=WIDTH,
    )


def _arguments(ctx: typer.Context) -> list[str]:
    """The arguments, then the options a command cannot run without, as a synopsis."""
    words, required = [], []
    for param in ctx.command.get_params(ctx):
        if not param.name:
            continue
        if isinstance(param, TyperArgument):
            word = param.name.upper() + ("..." if param.nargs != 1 else "")
            words.append(word if param.required else f"[{word}]")
        elif isinstance(param, TyperOption) and param.required and param.opts:
            required.append(f"{max(param.opts, key=len)} {param.metavar or param.name.upper()}")
    return words + required


def _first_paragraph(text: str) -> str:
    return " ".join(text.strip().split("\n\n")[0].split())


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _markers(readme: str) -> tuple[int, int]:
    start, end = readme.find(START), readme.find(END)
    if start < 0 or end < start or readme.count(START) != 1 or readme.count(END) != 1:
        raise ValueError(f"the README needs exactly one {START} and, after it, one {END}")
    return start, end


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m briefmail.cli.reference",
        description="Write or check the README's command reference.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", metavar="README", type=Path, help="Replace the block in it.")
    mode.add_argument("--check", metavar="README", type=Path, help="Exit 1 if it is stale.")
    args = parser.parse_args(argv)
    found = entries()
    if args.write is None and args.check is None:
        sys.stdout.write(render(found) + "\n")
        return 0
    path: Path = args.write or args.check
    try:
        readme = path.read_text(encoding="utf-8")
        problems = differences(readme, found)
    except (OSError, ValueError) as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 2
    if args.check is not None:
        for problem in problems:
            print(f"{path}: {problem}", file=sys.stderr)
        if problems:
            print(f"{path}: run `{REGENERATE}` to regenerate the reference", file=sys.stderr)
        return 1 if problems else 0
    if problems:
        path.write_text(replace_block(readme, render(found)), encoding="utf-8", newline="\n")
        print(f"{path}: command reference regenerated ({len(found)} commands)")
    else:
        print(f"{path}: command reference already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
