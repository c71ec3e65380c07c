"""The README and .env.example must name every setting and every command (datasette's rule),
and the README's command reference must be what the commands' --help says today."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.main import get_command

from briefmail.cli import app, reference
from briefmail.config import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
ENV_EXAMPLE = (ROOT / ".env.example").read_text(encoding="utf-8")
SETTINGS = [
    field.alias or f"BRIEFMAIL_{name.upper()}" for name, field in Settings.model_fields.items()
]


@pytest.mark.parametrize("variable", SETTINGS)
def test_every_setting_is_in_the_readme_table(variable: str) -> None:
    assert f"| `{variable}` |" in README


@pytest.mark.parametrize("variable", SETTINGS)
def test_every_setting_is_in_env_example(variable: str) -> None:
    assert f"\n{variable}=" in ENV_EXAMPLE


def _commands() -> list[str]:
    names: list[str] = []
    root = get_command(app)
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        if subcommands:
            names.extend(f"{name} {sub}" for sub in subcommands)
        else:
            names.append(name)
    return names


@pytest.mark.parametrize("command", _commands())
def test_every_command_is_in_the_readme(command: str) -> None:
    assert f"briefmail {command}" in README


def test_the_readme_command_reference_is_what_help_says() -> None:
    problems = reference.differences(README, reference.entries())
    assert not problems, (
        "README.md's command reference differs from the commands' --help:\n  "
        + "\n  ".join(problems)
        + f"\nRun `{reference.REGENERATE}` (python -m briefmail.cli.reference --write README.md)."
    )
