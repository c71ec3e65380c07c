"""`briefmail archive build DIR`: the archive as files, nothing else in it, never half-written."""

from __future__ import annotations

import feedparser

from tests.archive.atom import atom_problems
from tests.archive.world import World, brief_text
from tests.cli import run_cli

TITLE = "Clinician-Educators Want Coaching Programs, Not More Lectures"


def test_build_writes_every_page_and_the_feed(db_url, tmp_path, monkeypatch, capsys) -> None:
    world = World(tmp_path)
    sent = world.store(brief_text())
    proofed = world.store(brief_text("Proofed Only", "2024-01-22"), approve=False)
    world.proof(proofed)
    draft = world.store(brief_text("Draft Only", "2024-01-29"), approve=False)
    world.send(sent)
    out = tmp_path / "site"
    code, stdout, stderr = run_cli(["archive", "build", str(out)], monkeypatch, capsys)
    assert (code, stderr) == (0, "")
    assert "1 briefs" in stdout
    assert "https://brief.example.org/archive/" in stdout
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert files == {
        ".briefmail-archive",
        "index.html",
        "404.html",
        "archive.css",
        "feed.xml",
        "topic.learning-design.html",
        "topic.workflow-based-education.html",
        "topic.accreditation-operations.html",
        f"{sent}/index.html",
    }
    page = (out / sent / "index.html").read_text()
    assert TITLE in page
    assert f'href="https://brief.example.org/archive/{sent}/"' in page  # canonical
    assert 'action="https://brief.example.org/subscribe"' in page
    assert TITLE in (out / "index.html").read_text()
    feed = (out / "feed.xml").read_bytes()
    assert atom_problems(feed) == []
    assert [e.link for e in feedparser.parse(feed).entries] == [
        f"https://brief.example.org/archive/{sent}/"
    ]
    everything = "".join(p.read_text() for p in out.rglob("*") if p.is_file())
    for hidden in ("Proofed Only", "Draft Only", proofed, draft, "/u/", "/preferences/", "%%bm:"):
        assert hidden not in everything, hidden


def test_a_new_build_replaces_the_last_one_whole(tmp_path, monkeypatch, capsys) -> None:
    world = World(tmp_path)
    out = tmp_path / "site"
    assert run_cli(["archive", "build", str(out)], monkeypatch, capsys)[0] == 0
    assert "No brief has gone out yet" in (out / "index.html").read_text()
    (out / "stale.html").write_text("from before")
    slug = world.store(brief_text())
    world.send(slug)
    base = "https://cdn.example.net/brief"
    code, _, _ = run_cli(["archive", "build", str(out), "--base-url", base], monkeypatch, capsys)
    assert code == 0
    assert not (out / "stale.html").exists()
    assert f'href="{base}/{slug}/"' in (out / "index.html").read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".site")] == []


def test_refusals_leave_everything_as_it_was(tmp_path, monkeypatch, capsys) -> None:
    World(tmp_path)
    mine = tmp_path / "my-site"
    mine.mkdir()
    (mine / "about.html").write_text("keep me")
    code, _, stderr = run_cli(["archive", "build", str(mine)], monkeypatch, capsys)
    assert code == 2
    assert f"{mine}: is not empty and holds no earlier archive build" in stderr
    assert "Traceback" not in stderr
    assert [p.name for p in mine.iterdir()] == ["about.html"]
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    code, _, stderr = run_cli(["archive", "build", str(a_file)], monkeypatch, capsys)
    assert (code, a_file.read_text()) == (2, "x")
    assert "exists and is not a folder" in stderr
    code, _, stderr = run_cli(
        ["archive", "build", str(tmp_path / "new"), "--base-url", "ftp://x"], monkeypatch, capsys
    )
    assert code == 2
    assert "--base-url: 'ftp://x' is not an http(s) URL" in stderr
    assert not (tmp_path / "new").exists()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_written_files_are_readable_by_a_web_server(tmp_path, monkeypatch, capsys) -> None:
    World(tmp_path)
    out = tmp_path / "site"
    assert run_cli(["archive", "build", str(out)], monkeypatch, capsys)[0] == 0
    assert out.stat().st_mode & 0o755 == 0o755
    assert all(p.stat().st_mode & 0o444 == 0o444 for p in out.rglob("*") if p.is_file())
