"""The CMS with one token and HTTP alone: upload (a bad brief first), approve, send,
watch it reach `sent`, read the report; a read-only token can look but not change.
Also: the CLI's --json and the API answer with the same documents."""

from __future__ import annotations

import json
import time

import pytest

from briefmail.db.session import session_scope
from tests.api.conftest import Api
from tests.api.test_problems import BAD_BRIEF
from tests.cli import run_cli
from tests.conftest import EXAMPLE_BRIEF
from tests.sending.helpers import SLUG, add_people

MARKDOWN = {"content-type": "text/markdown"}


def _wait_until_sent(api: Api, send_id: int) -> dict:
    reader = api.client("reader")
    deadline = time.monotonic() + 60
    while True:
        send = reader.get(f"/sends/{send_id}").json()
        if send["status"] in ("sent", "failed", "cancelled") or time.monotonic() > deadline:
            return send
        time.sleep(0.1)


def test_the_cms_flow_end_to_end(api: Api) -> None:
    with session_scope() as session:
        add_people(session, 5, topics=["learning-design"])
    cms, reader = api.client("cms"), api.client("reader")

    bad = cms.post("/briefs", content=BAD_BRIEF, headers=MARKDOWN)
    assert bad.status_code == 422
    assert [e["line"] for e in bad.json()["errors"]] == [3, 7, 15, 17]

    uploaded = cms.post("/briefs", content=EXAMPLE_BRIEF.read_bytes(), headers=MARKDOWN)
    assert uploaded.status_code == 201
    assert uploaded.json()["slug"] == SLUG
    assert uploaded.json()["status"] == "draft"
    again = cms.post("/briefs", content=EXAMPLE_BRIEF.read_bytes(), headers=MARKDOWN)
    assert (again.status_code, again.json()["outcome"]) == (200, "unchanged")

    # The read-only token looks but changes nothing.
    assert reader.get(f"/briefs/{SLUG}/preview.html").text.startswith("<!doctype html>")
    assert reader.post(f"/briefs/{SLUG}/approve", json={"by": "Eve"}).status_code == 403
    assert reader.post("/sends", json={"brief": SLUG}).status_code == 403

    approved = cms.post(f"/briefs/{SLUG}/approve", json={"by": "Dana (editor)"})
    assert approved.json()["approved_by"] == "Dana (editor)"
    assert reader.get(f"/briefs/{SLUG}/audience").json()["total"] == 5

    created = cms.post("/sends", json={"brief": SLUG, "at": None})
    assert created.status_code == 201
    send = _wait_until_sent(api, created.json()["id"])
    assert (send["status"], send["recipients"], send["accepted"]) == ("sent", 5, 5)

    report = reader.get(f"/reports/{SLUG}").json()
    assert (report["brief"], report["recipients"], report["sends"]) == (SLUG, 5, [send["id"]])


@pytest.fixture
def sent(api: Api) -> int:
    with session_scope() as session:
        add_people(session, 3, topics=["learning-design"])
    cms = api.client("cms")
    assert cms.post("/briefs", content=EXAMPLE_BRIEF.read_bytes(), headers=MARKDOWN).is_success
    assert cms.post(f"/briefs/{SLUG}/approve", json={"by": "Dana"}).is_success
    send_id: int = cms.post("/sends", json={"brief": SLUG}).json()["id"]
    assert _wait_until_sent(api, send_id)["status"] == "sent"
    return send_id


def test_the_cli_and_the_api_print_the_same_documents(
    api: Api, sent: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reader = api.client("reader")
    pairs = {
        ("brief", "list", "--json"): "/briefs",
        ("sends", "list", "--json"): "/sends",
        ("sends", "show", str(sent), "--json"): f"/sends/{sent}",
        ("audience", SLUG, "--json"): f"/briefs/{SLUG}/audience",
        ("audience", SLUG, "--topics", "learning-design", "--json"): (
            f"/briefs/{SLUG}/audience?topics=learning-design"
        ),
        ("report", SLUG, "--json"): f"/reports/{SLUG}",
        ("topics", "list", "--json"): "/topics",
        ("schedule", "show", "--json"): "/schedule",
        ("subscribers", "list", "--json"): "/subscribers",
    }
    for args, path in pairs.items():
        code, out, err = run_cli(list(args), monkeypatch, capsys)
        assert code == 0, err
        assert json.loads(out) == reader.get(path).json(), args
