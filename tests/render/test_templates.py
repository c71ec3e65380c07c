"""Templates are found from a checkout and from an installed wheel (package copy first)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from briefmail.render import templates
from tests.conftest import EXAMPLE_BRIEF, ROOT

RENDER_SCRIPT = """
import json, sys
import briefmail
from briefmail.briefs.parse import load_brief
from briefmail.render.email import render_email
from briefmail.render.templates import template_dir
rendered = render_email(
    load_brief(sys.argv[1]), postal_address="1 Example Street", public_url="https://x.example"
)
print(json.dumps({
    "module": briefmail.__file__,
    "templates": str(template_dir()),
    "html_bytes": len(rendered.html.encode()),
    "mj_left": "<mj-" in rendered.html,
    "sources": sum(1 for link in rendered.links if link.kind == "source"),
}))
"""


def test_a_checkout_uses_the_repository_templates() -> None:
    assert templates.template_dir() == ROOT / "templates" / "email"


def test_the_package_copy_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / templates.MAIN_TEMPLATE).write_text("x")
    monkeypatch.setattr(templates, "PACKAGE_DIR", tmp_path)
    assert templates.template_dir() == tmp_path


def test_missing_templates_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(templates, "PACKAGE_DIR", tmp_path / "a")
    monkeypatch.setattr(templates, "CHECKOUT_DIR", tmp_path / "b")
    with pytest.raises(FileNotFoundError, match=r"brief\.mjml\.j2"):
        templates.template_dir()


def find_uv() -> str:
    candidates = [
        os.environ.get("UV", ""),
        shutil.which("uv") or "",
        str(ROOT / ".tools" / "bin" / "uv"),
        "/tmp/uvboot/bin/uv",
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("uv is needed to build the wheel (make test installs it into .tools/)")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only the built wheel installed; dependencies come from this venv."""
    uv = find_uv()
    base = tmp_path_factory.mktemp("wheel")
    dist, venv = base / "dist", base / "venv"
    subprocess.run(
        [uv, "build", "--wheel", "-o", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = dist.glob("briefmail-*.whl")
    subprocess.run(
        [uv, "venv", "--python", sys.executable, str(venv)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    python = venv / "bin" / "python"
    subprocess.run(
        [uv, "pip", "install", "--python", str(python), "--no-deps", "--offline", str(wheel)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    # A plain path line: this venv's .pth files (the editable checkout) are not processed.
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "_briefmail_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def test_installed_wheel_renders_from_its_own_templates(installed: Path, tmp_path: Path) -> None:
    brief = shutil.copy(EXAMPLE_BRIEF, tmp_path / "brief.md")
    result = subprocess.run(
        [str(installed / "bin" / "python"), "-I", "-c", RENDER_SCRIPT, str(brief)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert Path(facts["module"]).is_relative_to(installed)
    assert Path(facts["templates"]).is_relative_to(installed)
    assert facts["templates"].endswith("briefmail/templates/email")
    assert facts["html_bytes"] > 10_000
    assert facts["mj_left"] is False
    assert facts["sources"] == 2


def test_installed_command_previews_a_brief(installed: Path, tmp_path: Path) -> None:
    brief = shutil.copy(EXAMPLE_BRIEF, tmp_path / "brief.md")
    out = tmp_path / "out"
    result = subprocess.run(
        [str(installed / "bin" / "briefmail"), "preview", str(brief), "--out", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["email.eml", "email.html", "email.txt"]
    assert "Clinician-Educators Want Coaching Programs" in (out / "email.html").read_text()
