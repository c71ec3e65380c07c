"""docker-compose.yml is checked, not run (no Docker engine here): its shape, and that
every command it runs exists in the package with arguments the command accepts."""

from __future__ import annotations

import importlib
import ipaddress
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.main import get_command

from briefmail.cli import app as cli_app

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
SERVICES = {"redis", "postgres", "migrate", "web", "worker", "beat", "mailpit"}
APP_SERVICES = {"migrate", "web", "worker", "beat"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def test_every_service_is_there(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == SERVICES
    assert "postgres-data" in compose["volumes"]
    volumes = compose["services"]["postgres"]["volumes"]
    assert any(str(v).startswith("postgres-data:") for v in volumes)


def test_app_services_wait_for_their_dependencies(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker", "beat"):
        deps = services[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully"
        assert deps["postgres"]["condition"] == "service_healthy"
        assert deps["redis"]["condition"] == "service_healthy"
    for name in ("postgres", "redis", "mailpit", "web", "worker"):
        assert "test" in services[name]["healthcheck"], name


def test_default_backend_is_mailpit_and_sendgrid_is_one_variable(compose: dict[str, Any]) -> None:
    env = compose["services"]["web"]["environment"]
    assert env["BRIEFMAIL_EMAIL_BACKEND"] == "${BRIEFMAIL_EMAIL_BACKEND:-smtp}"
    assert env["BRIEFMAIL_SMTP_URL"] == "smtp://mailpit:1025"


def _check_briefmail_command(args: list[str]) -> None:
    command: Any = get_command(cli_app)
    rest = list(args)
    while getattr(command, "commands", None):
        name = rest.pop(0)
        assert name in command.commands, f"briefmail has no command {name!r}"
        command = command.commands[name]
    # Parsing (not invoking) proves every option and argument is accepted.
    command.make_context(command.name, rest, resilient_parsing=False)


def _check_celery_command(args: list[str]) -> None:
    assert args[0] == "-A"
    module_name, _, attr = args[1].partition(":")
    module = importlib.import_module(module_name)
    celery_app = getattr(module, attr or "app")
    from celery import Celery

    assert isinstance(celery_app, Celery)
    assert args[2] in {"worker", "beat"}


@pytest.mark.parametrize("service", sorted(APP_SERVICES))
def test_service_command_exists(compose: dict[str, Any], service: str) -> None:
    command = compose["services"][service]["command"]
    program, args = command[0], command[1:]
    if program == "briefmail":
        _check_briefmail_command(args)
    elif program == "celery":
        _check_celery_command(args)
    else:
        pytest.fail(f"{service}: unexpected program {program!r}")


def test_dockerfile_default_command_exists() -> None:
    text = (ROOT / "Dockerfile").read_text()
    cmd_line = next(line for line in text.splitlines() if line.startswith("CMD "))
    args = yaml.safe_load(cmd_line.removeprefix("CMD "))
    assert args[0] == "briefmail"
    _check_briefmail_command(args[1:])


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    """`docker-compose config` validates without an engine; CI installs it (.ci/run)."""
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is not installed (CI installs Debian's docker-compose)")
        pytest.skip("docker-compose not installed")
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yml")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    result = subprocess.run(
        [binary, "config", "--quiet"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_every_app_service_requires_the_one_signing_key(compose: dict[str, Any]) -> None:
    """Unset, compose must stop (each container would make its own key, and the worker
    would sign links the web app refuses); set, every service gets the same value."""
    keys = {
        compose["services"][name]["environment"]["BRIEFMAIL_SECRET_KEY"] for name in APP_SERVICES
    }
    assert len(keys) == 1
    [key] = keys
    assert key.startswith("${BRIEFMAIL_SECRET_KEY:?")
    for name in APP_SERVICES:
        assert "BRIEFMAIL_SECRET_KEY_FILE" not in compose["services"][name]["environment"]


def test_compose_stops_without_a_signing_key(tmp_path: Path) -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is not installed (CI installs Debian's docker-compose)")
        pytest.skip("docker-compose not installed")
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yml")
    env = (ROOT / ".env.example").read_text()
    (tmp_path / ".env").write_text(env.replace("\nBRIEFMAIL_SECRET_KEY=", "\n#"))
    result = subprocess.run(
        [binary, "config", "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("BRIEFMAIL_")},
    )
    assert result.returncode != 0
    assert "BRIEFMAIL_SECRET_KEY" in result.stderr


def test_the_web_app_trusts_only_its_proxy(compose: dict[str, Any]) -> None:
    """Behind a TLS proxy every reader would share the proxy's address (one sign-up
    bucket for all, every click from one place) unless the proxy is trusted; trusting
    anyone else would let a client choose its own address."""
    web = compose["services"]["web"]
    command = web["command"]
    trusted = command[command.index("--forwarded-allow-ips") + 1]
    default = trusted.removeprefix("${TRUSTED_PROXY:-").removesuffix("}")
    assert trusted.startswith("${TRUSTED_PROXY:-")
    assert ipaddress.ip_address(default)
    [network] = compose["networks"]["default"]["ipam"]["config"]
    assert network["gateway"] == default  # where a proxy on the host connects from
    assert ipaddress.ip_address(default) in ipaddress.ip_network(network["subnet"])
    # Published on the loopback interface only: reachable by the host's proxy alone.
    for service in ("web", "mailpit"):
        for port in compose["services"][service]["ports"]:
            assert str(port).startswith("127.0.0.1:"), (service, port)


def test_the_web_app_keeps_its_click_spool_in_a_volume(compose: dict[str, Any]) -> None:
    web = compose["services"]["web"]
    folder = web["environment"]["BRIEFMAIL_CLICK_SPOOL_DIR"]
    assert f"click-spool:{folder}" in web["volumes"]
    assert "click-spool" in compose["volumes"]
    assert web["environment"]["BRIEFMAIL_DATABASE_URL"].startswith("postgresql://")
    assert f"install -d -o briefmail {folder}" in (ROOT / "Dockerfile").read_text()
