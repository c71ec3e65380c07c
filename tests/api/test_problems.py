"""Bad input anywhere: a problem naming the field, nothing stored, no traceback."""

from __future__ import annotations

import base64
from datetime import timedelta

import httpx
import pytest

from briefmail import clock
from briefmail.audience.subscribers import add_subscriber, unsubscribe
from briefmail.audience.suppression import suppress
from briefmail.db.session import session_scope
from tests.api.conftest import Api
from tests.conftest import EXAMPLE_BRIEF
from tests.sending.helpers import SLUG, store_brief

MARKDOWN = {"content-type": "text/markdown"}
BAD_BRIEF = """---
series: Clinician Learning Brief
title: ""
topics: [Learning design]
coverage:
  start: 2024-01-08
  end: 2024-01-01
abstract: An abstract.
takeaways: [One]
sources:
  - kind: Podcast
    title: T
    outlet: O
    summary: S
    url: ftp://example.org/x
---
Body citing [this](source:7).
"""


def _problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "Traceback" not in response.text
    return response.json()


def test_a_bad_brief_lists_every_problem_by_line_and_stores_nothing(api: Api) -> None:
    cms = api.client("cms")
    body = _problem(cms.post("/briefs", content=BAD_BRIEF, headers=MARKDOWN), 422)
    errors = body["errors"]
    assert [(e["line"], e["field"]) for e in errors] == [
        (3, "title"),
        (7, "coverage.end"),
        (15, "sources[1].url"),
        (17, "body"),
    ]
    assert all(e["message"] for e in errors)
    assert body["detail"] == "the brief has 4 problems; nothing was stored"
    assert cms.get("/briefs").json() == {"briefs": []}


@pytest.mark.parametrize(
    ("content", "headers", "status", "detail"),
    [
        (b"\xff\xfe", MARKDOWN, 422, "is not UTF-8"),
        (b"", MARKDOWN, 422, "is empty"),
        (EXAMPLE_BRIEF.read_bytes(), {"content-type": "application/json"}, 415, "text/markdown"),
        (b"x" * (1024 * 1024 + 1), MARKDOWN, 413, "over 1,048,576 bytes"),
    ],
    ids=["not-utf8", "empty", "wrong-type", "too-large"],
)
def test_refused_uploads(api: Api, content: bytes, headers: dict, status: int, detail: str) -> None:
    body = _problem(api.client("cms").post("/briefs", content=content, headers=headers), status)
    assert detail in (body["detail"] + str(body.get("errors")))


def test_a_body_without_length_is_cut_at_the_cap(api: Api) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(100):
            yield b"x" * 1024

    body = _problem(api.client("cms").post("/sends", content=chunks()), 413)
    assert body["detail"] == "the request body is over 65,536 bytes"


def _field(response: httpx.Response) -> str:
    body = _problem(response, 422)
    (error,) = body["errors"]
    assert error["message"]
    return error["field"]


def test_bad_json_names_the_field(api: Api) -> None:
    with session_scope() as session:
        store_brief(session)
    cms = api.client("cms")
    naive = (clock.now() + timedelta(days=1)).replace(tzinfo=None).isoformat()
    past = (clock.now() - timedelta(days=1)).isoformat()
    assert (
        _field(cms.post("/sends", content=b"{", headers={"content-type": "application/json"}))
        == "body"
    )
    assert _field(cms.post("/sends", json={})) == "brief"
    assert _field(cms.post("/sends", json={"brief": SLUG, "at": "soon"})) == "at"
    assert _field(cms.post("/sends", json={"brief": SLUG, "at": naive})) == "at"
    assert _field(cms.post("/sends", json={"brief": SLUG, "at": past})) == "at"
    assert _field(cms.post("/sends", json={"brief": SLUG, "topics": ["nope"]})) == "topics"
    assert _field(cms.post("/sends", json={"brief": SLUG, "test_to": ["x"]})) == "test_to"
    assert _field(cms.post("/sends", json={"brief": SLUG, "colour": "red"})) == "colour"
    assert _field(cms.put("/schedule", json={"day": "someday", "time": "9", "tz": "UTC"})) == "day"
    assert _field(cms.put("/schedule", json={"day": "mon", "time": "9", "tz": "UTC"})) == "time"
    assert _field(cms.put("/schedule", json={"day": "mon", "time": "09:00", "tz": "Mars"})) == "tz"
    assert _field(cms.post(f"/briefs/{SLUG}/approve", json={"by": ""})) == "by"
    assert _field(cms.get(f"/briefs/{SLUG}/audience", params={"topics": "nope"})) == "topics"
    assert _field(cms.post("/subscribers", json={"email": "not-an-address"})) == "email"
    assert _field(cms.post("/subscribers", json={"email": "a@example.org", "name": "x" * 300})) == (
        "name"
    )
    assert _field(cms.post("/subscribers", json={"email": "a@example.org", "topics": ["!!"]})) == (
        "topics"
    )
    assert _field(
        cms.post("/subscribers", json={"email": "a@example.org", "timezone": "Mars"})
    ) == ("timezone")
    assert _field(cms.get("/subscribers", params={"status": "gone"})) == "status"
    assert _field(cms.get("/subscribers", params={"cursor": "!!"})) == "cursor"
    past_any_row = base64.urlsafe_b64encode(b"9" * 30).decode()  # no database holds it
    assert _field(cms.get("/subscribers", params={"cursor": past_any_row})) == "cursor"
    assert _field(cms.get("/sends/abc")) == "send_id"


def test_state_and_missing_things(api: Api) -> None:
    with session_scope() as session:
        store_brief(session, approve=False)
        add_subscriber(session, "gone@example.org")
        unsubscribe(session, "gone@example.org")
        suppress(session, "blocked@example.org", "hard bounce")
    cms = api.client("cms")
    draft = _problem(cms.post("/sends", json={"brief": SLUG}), 409)
    assert "is a draft" in draft["detail"]
    proof = cms.post("/sends", json={"brief": SLUG, "test_to": ["editor@example.org"]})
    assert proof.status_code == 201  # a proof of a draft is allowed
    assert cms.post(f"/briefs/{SLUG}/approve", json={"by": "Dana"}).status_code == 200
    again = _problem(cms.post(f"/briefs/{SLUG}/approve", json={"by": "Eve"}), 409)
    assert "not a draft" in again["detail"]
    stopped = _problem(cms.post("/subscribers", json={"email": "gone@example.org"}), 409)
    assert "unsubscribed" in stopped["detail"]
    blocked = _problem(cms.post("/subscribers", json={"email": "Blocked@example.org"}), 409)
    assert "suppression list (hard bounce)" in blocked["detail"]
    assert "no brief 'nope'" in _problem(cms.get("/briefs/nope"), 404)["detail"]
    assert "no send 99" in _problem(cms.get("/sends/99"), 404)["detail"]
    _problem(cms.get("/subscribers/nobody@example.org"), 404)
    _problem(cms.get("/reports/nope"), 404)
    _problem(cms.get("/no-such-route"), 404)
    _problem(cms.delete("/briefs"), 405)


def test_subscribers_page_through_with_cursors(api: Api) -> None:
    with session_scope() as session:
        for n in range(5):
            add_subscriber(session, f"p{n}@example.org", name=f"Person {n}", topics=["Simulation"])
        add_subscriber(session, "other@example.org", name="Other")
    reader = api.client("reader")
    seen, cursor = [], None
    while True:
        page = reader.get(
            "/subscribers", params={"limit": 2, "topic": "simulation", "cursor": cursor}
        )
        assert page.status_code == 200
        seen += [p["email"] for p in page.json()["subscribers"]]
        cursor = page.json()["next"]
        if cursor is None:
            break
    assert seen == [f"p{n}@example.org" for n in range(5)]
    found = reader.get("/subscribers", params={"q": "PERSON 3"}).json()
    assert [p["email"] for p in found["subscribers"]] == ["p3@example.org"]
    assert found["next"] is None
    # Empty parameters, as a form or the issue's `?status=&topic=&q=&cursor=` sends
    # them, filter nothing.
    empty = reader.get("/subscribers?status=&topic=&q=&cursor=")
    assert empty.status_code == 200, empty.text
    assert len(empty.json()["subscribers"]) == 6
