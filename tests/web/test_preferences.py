"""/preferences/TOKEN: over real HTTP, and in real headless Chromium on a phone-sized screen."""

from __future__ import annotations

import re

import httpx
import pytest

from briefmail.config import get_settings
from briefmail.db.models import Subscriber, Topic
from briefmail.db.session import session_scope
from briefmail.tracking.tokens import Purpose, subscriber_token
from tests.browser import chromium
from tests.tracking.factories import build_world


def prefs_url(server, world, sub: int) -> str:
    keys = get_settings().signing_keys()
    token = subscriber_token(keys, Purpose.PREFERENCES, sub, world.secrets[sub], world.send_id)
    return f"{server.url}/preferences/{token}"


def topics_of(url: str, sub: int) -> tuple[str, list[str]]:
    with session_scope(url) as s:
        subscriber = s.get(Subscriber, sub)
        return subscriber.status, sorted(t.slug for t in subscriber.topics)


def add_topic(url: str, slug: str, name: str) -> None:
    with session_scope(url) as s:
        s.add(Topic(slug=slug, name=name))


def mac_of(page: str) -> str:
    return re.search(r'name="form_mac" value="([0-9a-f]+)"', page).group(1)


def test_page_lists_every_topic_with_the_readers_choice_ticked(db_url, start_server) -> None:
    world = build_world(db_url, topics=("learning-design",))
    server = start_server()
    page = httpx.get(prefs_url(server, world, world.subscribers[0])).text
    assert re.search(r'id="topic-learning-design"[^>]*checked', page)
    assert re.search(r'id="topic-accreditation"[^>]*value="accreditation" >', page)
    assert '<label for="topic-accreditation">Accreditation operations</label>' in page
    assert "<legend>Topics</legend>" in page
    assert 'lang="en"' in page


def test_save_topics_then_all_topics(db_url, start_server) -> None:
    world = build_world(db_url)
    sub = world.subscribers[0]
    server = start_server()
    url = prefs_url(server, world, sub)
    mac = mac_of(httpx.get(url).text)
    answer = httpx.post(
        url,
        data={
            "form_mac": mac,
            "action": "save",
            "mode": "some",
            "topics": ["accreditation", "learning-design"],
        },
        headers={"origin": server.url},
    )
    assert answer.status_code == 303
    assert answer.headers["location"].endswith("?saved=1")
    assert topics_of(db_url, sub) == ("active", ["accreditation", "learning-design"])
    assert "Your choices are saved" in httpx.get(url + "?saved=1").text
    httpx.post(
        url, data={"form_mac": mac, "action": "save", "mode": "all", "topics": "accreditation"}
    )
    assert topics_of(db_url, sub) == ("active", [])


def test_some_topics_but_none_ticked_is_explained(db_url, start_server) -> None:
    world = build_world(db_url)
    sub = world.subscribers[0]
    server = start_server()
    url = prefs_url(server, world, sub)
    mac = mac_of(httpx.get(url).text)
    answer = httpx.post(url, data={"form_mac": mac, "action": "save", "mode": "some"})
    assert answer.status_code == 400
    assert "Choose at least one topic" in answer.text
    unknown = httpx.post(
        url, data={"form_mac": mac, "action": "save", "mode": "some", "topics": "nope"}
    )
    assert unknown.status_code == 400
    assert topics_of(db_url, sub) == ("active", ["learning-design"])


def test_unsubscribe_from_the_preferences_page(db_url, start_server) -> None:
    world = build_world(db_url)
    sub = world.subscribers[0]
    server = start_server()
    url = prefs_url(server, world, sub)
    mac = mac_of(httpx.get(url).text)
    answer = httpx.post(url, data={"form_mac": mac, "action": "unsubscribe"})
    assert answer.status_code == 200
    assert "You are unsubscribed" in answer.text
    assert topics_of(db_url, sub)[0] == "unsubscribed"


def test_forged_posts_change_nothing(db_url, start_server) -> None:
    world = build_world(db_url)
    sub = world.subscribers[0]
    server = start_server()
    url = prefs_url(server, world, sub)
    mac = mac_of(httpx.get(url).text)
    save = {"action": "save", "mode": "all"}
    assert httpx.post(url, data=save).status_code == 403
    assert httpx.post(url, data={**save, "form_mac": "f" * 32}).status_code == 403
    assert (
        httpx.post(
            url, data={**save, "form_mac": mac}, headers={"origin": "https://evil.example.net"}
        ).status_code
        == 403
    )
    assert httpx.post(url, data={**save, "form_mac": mac, "action": "delete"}).status_code == 400
    other = prefs_url(server, world, world.subscribers[1])
    # A MAC is bound to its own token: another reader's MAC does not carry over.
    assert httpx.post(other, data={**save, "form_mac": mac}).status_code == 403
    assert (
        httpx.post(
            url,
            content=b"x" * 50_000,
            headers={"content-type": "application/x-www-form-urlencoded"},
        ).status_code
        == 413
    )
    assert httpx.put(url).status_code == 405
    assert httpx.get(url[:-3]).status_code == 404
    assert topics_of(db_url, sub) == ("active", ["learning-design"])


@pytest.mark.browser
def test_in_chromium_on_a_phone(db_url, start_server) -> None:
    world = build_world(db_url, topics=("learning-design",))
    add_topic(
        db_url, "workflow-based-education", "Workflow-based education with a rather long name"
    )
    sub = world.subscribers[0]
    server = start_server()
    url = prefs_url(server, world, sub)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 375, "height": 740}, is_mobile=True)
        page.goto(url)
        assert page.title().startswith("Your email preferences")
        assert page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
        # Every control has a visible label (accessible name).
        for box in page.locator("input[type=checkbox], input[type=radio]").all():
            label = page.locator(f"label[for='{box.get_attribute('id')}']")
            assert label.count() == 1
            assert label.is_visible()
        assert page.locator("fieldset legend").count() == 2
        # Change topics with the labels, as a person would.
        page.get_by_label("Only briefs on the topics I tick below").check()
        page.get_by_label("Learning design").uncheck()
        page.get_by_label("Accreditation operations").check()
        page.get_by_label("Workflow-based education with a rather long name").check()
        # Tabbing to the submit button shows where the keyboard focus is.
        page.keyboard.press("Tab")
        button = page.get_by_role("button", name="Save my choices")
        assert button.evaluate("b => b === document.activeElement")
        assert button.evaluate("b => getComputedStyle(b).outlineStyle") == "solid"
        page.keyboard.press("Enter")
        page.wait_for_url("**?saved=1")
        assert page.get_by_role("status").inner_text() == "Your choices are saved."
        assert page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    assert topics_of(db_url, sub) == ("active", ["accreditation", "workflow-based-education"])
