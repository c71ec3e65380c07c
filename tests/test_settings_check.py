"""Every setting is checked when a process starts: one line per bad variable, exit 2.

Through the real entry points: the `briefmail` command (any command, and `web` and
`worker`), and `celery -A worker.app worker|beat` as docker-compose runs them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from briefmail.config import Settings, get_settings
from briefmail.errors import ConfigError
from briefmail.render.email import render_email
from tests.briefs.variants import example_text, write
from tests.cli import run_cli
from tests.conftest import EXAMPLE_BRIEF

BAD: list[tuple[str, str, str]] = [
    (
        "BRIEFMAIL_LANG",
        "en_US",
        "'en_US' is not a BCP 47 language tag such as 'en' or 'en-US': write 'en-US'",
    ),
    ("BRIEFMAIL_LANG", "english", "'english' is not a BCP 47 language tag"),
    ("BRIEFMAIL_LANG", "C.UTF-8", "'C.UTF-8' is not a BCP 47 language tag"),
    ("BRIEFMAIL_LANG", 'en" onload="x', "is not a BCP 47 language tag"),
    ("BRIEFMAIL_DATABASE_URL", "notaurl", "is not a database URL"),
    ("BRIEFMAIL_DATABASE_URL", "postgresql://h@[::1/x", "is not a database URL"),
    ("BRIEFMAIL_DATABASE_URL", "postgresql://h@host:abc/x", "is not a database URL"),
    ("BRIEFMAIL_DATABASE_URL", "mysql://u@db/briefmail", "mysql is not supported"),
    ("BRIEFMAIL_DATABASE_URL", "postgres://u@db/briefmail", "write postgresql://"),
    (
        "BRIEFMAIL_BROKER_URL",
        "amqp://guest@rabbit//",
        "must be a URL starting redis:// or rediss://",
    ),
    ("BRIEFMAIL_BROKER_URL", "redis://localhost:99999/0", "its port is not a number from 1 to"),
    ("BRIEFMAIL_REDIS_URL", "redis://localhost/clicks", "its path must be a database number"),
    ("BRIEFMAIL_REDIS_URL", "localhost:6379", "must be a URL starting redis://"),
    ("BRIEFMAIL_SMTP_URL", "mailpit:1025", "must be a URL starting smtp:// or smtps://"),
    ("BRIEFMAIL_PUBLIC_URL", "brief.example.org", "must be a URL starting http:// or https://"),
    ("BRIEFMAIL_PUBLIC_URL", "https://brief.example.org/?x=1", "must not have a query"),
    ("BRIEFMAIL_SENDGRID_HOST", "https://", "must be a URL starting http:// or https://"),
    ("BRIEFMAIL_TICK_SECONDS", "0", "Input should be greater than 0"),
    ("BRIEFMAIL_TICK_SECONDS", "inf", "must be a finite number of seconds"),
    ("BRIEFMAIL_HTTP_TIMEOUT_SECONDS", "-5", "Input should be greater than 0"),
    ("BRIEFMAIL_SEND_LEASE_SECONDS", "99999999999999999999", "at most 31622400"),
    ("BRIEFMAIL_SEND_RETRY_BASE_SECONDS", "nan", "Input should be greater than 0"),
    ("BRIEFMAIL_SCANNER_WINDOW_SECONDS", "-1", "Input should be greater than or equal to 0"),
    ("BRIEFMAIL_BATCH_SIZE", "0", "Input should be greater than or equal to 1"),
    ("BRIEFMAIL_BATCH_SIZE", "1001", "Input should be less than or equal to 1000"),
    ("BRIEFMAIL_SEND_MAX_ATTEMPTS", "many", "Input should be a valid integer"),
    ("BRIEFMAIL_EMAIL_BACKEND", "mailgun", "Input should be 'outbox', 'smtp' or 'sendgrid'"),
    ("BRIEFMAIL_FROM", "Brief brief@example.org", "must be an address such as"),
    ("BRIEFMAIL_FROM", "a@example.org, b@example.org", "must be one address, not 2"),
    ("BRIEFMAIL_FROM", "brief@localhost", "'brief@localhost' is not a full address"),
    ("BRIEFMAIL_FROM", "Brief\u2028Desk <brief@example.org>", "must be on one line"),
    ("BRIEFMAIL_REPLY_TO", "editors at example.org", "must be addresses such as"),
    ("BRIEFMAIL_UNSUBSCRIBE_MAILTO", "Unsubscribe <u@example.org>", "one plain address"),
    ("BRIEFMAIL_POSTAL_ADDRESS", "100 Example St\x1b[2J", "contains U+001B (escape)"),
    ("BRIEFMAIL_DEBUG", "sometimes", "Input should be a valid boolean"),
]
GOOD: list[tuple[str, str]] = [
    ("BRIEFMAIL_LANG", "en-US"),
    ("BRIEFMAIL_LANG", "zh-Hant-TW"),
    ("BRIEFMAIL_LANG", "sgn-BE-FR"),
    ("BRIEFMAIL_LANG", "de-CH-1996"),
    ("BRIEFMAIL_LANG", "x-internal"),
    ("BRIEFMAIL_LANG", "es-419"),
    ("BRIEFMAIL_DATABASE_URL", "postgresql+psycopg://u:p@db:5432/briefmail"),
    ("BRIEFMAIL_DATABASE_URL", "sqlite:////var/lib/briefmail/briefmail.db"),
    ("BRIEFMAIL_BROKER_URL", "rediss://:pw@redis.internal:6380/2"),
    ("BRIEFMAIL_SMTP_URL", "smtps://user:p%40ss@smtp.example.org:465"),
    ("BRIEFMAIL_PUBLIC_URL", "https://brief.example.org/news/"),
    ("BRIEFMAIL_FROM", '"Brief, Inc." <brief@example.org>'),
    ("BRIEFMAIL_REPLY_TO", "Editors <editors@example.org>, desk@example.org"),
    ("BRIEFMAIL_UNSUBSCRIBE_MAILTO", "mailto:unsubscribe@example.org?subject=stop"),
    ("BRIEFMAIL_POSTAL_ADDRESS", "Straße 1\t· Zürich"),
    ("BRIEFMAIL_TICK_SECONDS", "0.5"),
    ("BRIEFMAIL_DEBUG", "1"),
]


def check(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return get_settings()


@pytest.mark.parametrize(("variable", "value", "message"), BAD)
def test_a_bad_value_is_one_line_naming_the_variable(
    variable: str,
    value: str,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    code, stdout, stderr = run_cli(["topics", "list"], monkeypatch, capsys)
    assert code == 2
    assert stdout == ""
    assert stderr.startswith(f"briefmail: error: {variable}: ")
    assert message in stderr
    assert stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize(("variable", "value"), GOOD)
def test_good_values_pass(variable: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    check(monkeypatch, **{variable: value})


def test_every_bad_variable_gets_its_own_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BRIEFMAIL_LANG", "en_US")
    monkeypatch.setenv("BRIEFMAIL_BATCH_SIZE", "5000")
    monkeypatch.setenv("BRIEFMAIL_FROM", "nobody")
    code, _, stderr = run_cli(["topics", "list"], monkeypatch, capsys)
    assert code == 2
    lines = [line.removeprefix("briefmail: error: ") for line in stderr.splitlines()]
    assert sorted(line.split(":")[0] for line in lines) == [
        "BRIEFMAIL_BATCH_SIZE",
        "BRIEFMAIL_FROM",
        "BRIEFMAIL_LANG",
    ]


def test_a_password_is_never_repeated(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as caught:
        check(
            monkeypatch,
            BRIEFMAIL_SMTP_URL="smtp://user:hunter2-pw@smtp.example.org:70000",
            BRIEFMAIL_DATABASE_URL="mysql://user:hunter2-pw@db/briefmail",
            BRIEFMAIL_BROKER_URL="redis://:hunter2-pw@redis:6379/x",
        )
    assert str(caught.value).count("\n") == 2
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "args", [["preview", "{brief}"], ["web", "--port", "1"], ["worker"], ["demo"]]
)
def test_every_command_checks_before_it_starts(
    args: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    brief = write(tmp_path, example_text())
    monkeypatch.setenv("BRIEFMAIL_LANG", "en_US")
    get_settings.cache_clear()
    code, _, stderr = run_cli([a.format(brief=brief) for a in args], monkeypatch, capsys)
    assert code == 2
    assert stderr.startswith("briefmail: error: BRIEFMAIL_LANG: 'en_US'")


def test_help_works_while_a_setting_is_wrong(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BRIEFMAIL_LANG", "en_US")
    get_settings.cache_clear()
    code, stdout, _ = run_cli(["sends", "show", "--help"], monkeypatch, capsys)
    assert code == 0
    assert "Usage" in stdout


@pytest.mark.parametrize(
    ("role", "bad", "said"),
    [
        (
            role,
            {"BRIEFMAIL_LANG": "en_US"},
            "BRIEFMAIL_LANG: 'en_US' is not a BCP 47 language tag such as 'en' or 'en-US': "
            "write 'en-US'",
        )
        for role in ("worker", "beat")
    ]
    + [
        (
            "worker",  # it signs every link a subscriber gets: the web app must verify them
            {
                "BRIEFMAIL_DATABASE_URL": "postgresql+psycopg://briefmail@db.example.org/x",
                "BRIEFMAIL_SECRET_KEY": "change-me-to-a-long-random-string",
            },
            "BRIEFMAIL_SECRET_KEY: ",
        )
    ],
)
def test_celery_worker_and_beat_check_before_they_start(
    role: str, bad: dict[str, str], said: str, tmp_path: Path
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BRIEFMAIL_")},
        "BRIEFMAIL_BROKER_URL": os.environ.get(
            "BRIEFMAIL_TEST_BROKER_URL", "redis://127.0.0.1:6379/4"
        ),
        **bad,
    }
    result = subprocess.run(
        [str(Path(sys.executable).parent / "celery"), "-A", "worker.app", role],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"briefmail: error: {said}")
    assert result.stderr.count("\n") == 1


def test_rendering_uses_the_same_rule() -> None:
    from briefmail.briefs.parse import load_brief

    with pytest.raises(ValueError, match="'en_US' is not a BCP 47 language tag"):
        render_email(
            load_brief(EXAMPLE_BRIEF),
            lang="en_US",
            postal_address="x",
            public_url="https://brief.example.org",
        )
