"""The weekly routine in real headless Chromium, by the accessible names the issue fixes.

An editor uploads a bad then a good brief, sees both previews and approves it; a
marketer, on a phone, imports subscribers, cannot approve, sends now through the
SendGrid stand-in (held at first, so the page is seen polling), watches the progress
reach sent and opens the report; an admin finds every one of those actions in the
audit log and visits every page at 375 px. Any Content-Security-Policy violation or
script error fails the test, and no page may scroll sideways at 375 px.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from briefmail.briefs.errors import BriefValidationError
from briefmail.briefs.parse import parse_bytes
from briefmail.briefs.store import import_brief
from briefmail.config import get_settings
from briefmail.console.briefs import problem_line
from briefmail.db.session import session_scope
from tests.browser import chromium
from tests.conftest import EXAMPLE_BRIEF
from tests.console.helpers import PASSWORD, PEOPLE
from tests.fakes.sendgrid_server import API_KEY, FakeSendGrid
from tests.web.server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}
NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth"
TITLE = "Clinician-Educators Want Coaching Programs, Not More Lectures"
SUBSCRIBERS = 25


class Errors(list[str]):
    """Console errors (CSP violations are among them) and uncaught script errors; a page
    answered 422 on purpose (the bad brief) is reported too, and is not one."""

    EXPECTED = "the server responded with a status of 422"

    def watch(self, page: Page) -> Page:
        def console(message: ConsoleMessage) -> None:
            if message.type == "error" and self.EXPECTED not in message.text:
                self.append(message.text)

        page.on("console", console)
        page.on("pageerror", lambda e: self.append(str(e)))
        return page


def open_page(browser: Browser, viewport: dict[str, int], errors: Errors) -> Page:
    context: BrowserContext = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    return errors.watch(context.new_page())


def sign_in(page: Page, base: str, role: str) -> None:
    page.goto(f"{base}/console/login")
    page.get_by_label("Email").fill(PEOPLE[role])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/console/")


def fits_a_phone(page: Page) -> None:
    """The page as it is now, at 375 px: nothing wider than the screen."""
    size = page.viewport_size
    page.set_viewport_size(PHONE)
    assert page.evaluate(NO_SIDEWAYS_SCROLL), f"{page.url} scrolls sideways at 375 px"
    if size is not None:
        page.set_viewport_size(size)


def bad_brief() -> tuple[bytes, list[str]]:
    text = EXAMPLE_BRIEF.read_text(encoding="utf-8")
    bad = text.replace("title: Clinician", "titel: Clinician").replace(
        "end: 2024-01-14", "end: 2024-01-01"
    )
    data = bad.encode()
    with pytest.raises(BriefValidationError) as refused:
        parse_bytes(data, "bad.md")
    return data, [problem_line(p) for p in refused.value.problems]


def editor_uploads_and_approves(browser: Browser, base: str, errors: Errors) -> str:
    page = open_page(browser, DESKTOP, errors)
    sign_in(page, base, "editor")
    page.get_by_role("link", name="Briefs").click()
    data, problems = bad_brief()
    assert len(problems) >= 3
    page.get_by_label("Brief file").set_input_files(
        {"name": "bad.md", "mimeType": "text/markdown", "buffer": data}
    )
    page.get_by_role("button", name="Upload").click()
    for line in problems:
        expect(page.get_by_role("listitem").filter(has_text=line)).to_be_visible()
    expect(page.get_by_text("No briefs yet.")).to_be_visible()  # nothing stored
    fits_a_phone(page)

    page.get_by_label("Brief file").set_input_files(str(EXAMPLE_BRIEF))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    for frame in ("Desktop preview", "Phone preview"):
        inside = page.frame_locator(f'iframe[title="{frame}"]')
        expect(inside.get_by_role("heading", name=TITLE)).to_be_visible()
    phone = page.get_by_title("Phone preview").bounding_box()
    assert phone is not None
    assert round(phone["width"]) == 375
    fits_a_phone(page)
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("Approved.")).to_be_visible()
    expect(page.get_by_text("approved", exact=True)).to_be_visible()
    slug = page.url.split("?")[0].rsplit("/", 1)[1]
    page.context.close()
    return slug


def subscribers_csv() -> bytes:
    rows = [f"reader{i}@example.org,Reader {i},Learning design" for i in range(SUBSCRIBERS)]
    return ("email,name,topics\n" + "\n".join(rows) + "\nnot-an-address,Nobody,\n").encode()


def marketer_sends_and_reads(
    browser: Browser, base: str, errors: Errors, fake: FakeSendGrid
) -> None:
    page = open_page(browser, PHONE, errors)  # the whole routine on a phone
    sign_in(page, base, "marketing")
    page.get_by_role("link", name="Subscribers").click()
    page.get_by_text("Import a CSV").click()
    page.get_by_label("CSV file").set_input_files(
        {"name": "readers.csv", "mimeType": "text/csv", "buffer": subscribers_csv()}
    )
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_text(f"{SUBSCRIBERS} added")).to_be_visible()
    expect(page.get_by_text(f"line {SUBSCRIBERS + 2}: email: no @")).to_be_visible()
    fits_a_phone(page)

    page.get_by_role("link", name="Briefs").click()
    page.get_by_role("link", name=TITLE).click()
    expect(page.get_by_role("button", name="Send now")).to_be_visible()
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    slug = page.url.rsplit("/", 1)[1]
    refused = page.request.post(
        f"{base}/console/briefs/{slug}/approve", form={"csrf_token": token or ""}
    )
    assert refused.status == 403  # whatever the page shows, the server says no
    fits_a_phone(page)

    fake.hold()  # SendGrid takes the first batch and does not answer yet
    page.get_by_role("button", name="Send now").click()
    expect(page).to_have_url(f"{base}/console/sends/1?done=sending")
    assert fake.wait_for_requests(1)
    status = page.locator(".progress .status")
    expect(status).to_have_text("sending")
    with page.expect_request("**/console/sends/1/progress"):
        pass  # htmx polls by itself
    expect(page.get_by_text(f"0 of {SUBSCRIBERS} accepted")).to_be_visible()
    page.goto(f"{base}/console/sends")  # the list shows the same live bar
    expect(page.locator("#progress-1 progress")).to_be_visible()
    fits_a_phone(page)
    page.go_back()
    fake.release()
    expect(status).to_have_text("sent", timeout=30_000)
    expect(page.get_by_text(f"{SUBSCRIBERS} of {SUBSCRIBERS} accepted")).to_be_visible()
    expect(page.locator("progress")).to_have_attribute("value", str(SUBSCRIBERS))
    expect(page.get_by_text("accepted", exact=True)).to_have_count(3)  # the batches of 10
    fits_a_phone(page)

    page.get_by_role("link", name="Report", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(page.locator("svg.bars-narrow")).to_be_visible()  # the report's phone chart
    expect(page.locator(".figures li").first).to_have_text(f"{SUBSCRIBERS}recipients")
    fits_a_phone(page)
    page.context.close()


def admin_reads_the_audit_log(browser: Browser, base: str, errors: Errors, slug: str) -> None:
    page = open_page(browser, DESKTOP, errors)
    sign_in(page, base, "admin")
    page.get_by_role("link", name="Audit").click()
    rows = page.locator("tbody tr")
    for who, action in [
        (PEOPLE["editor"], "brief.import"),
        (PEOPLE["editor"], "brief.approve"),
        (PEOPLE["marketing"], "subscribers.import"),
        (PEOPLE["marketing"], "send.create"),
        (PEOPLE["marketing"], "session.sign-in"),
    ]:
        row = rows.filter(has_text=who).filter(has_text=action)
        expect(row.first).to_be_visible()
        expect(row.first).to_contain_text("127.0.0.1")
    # Every page, as the one role that sees them all, fits a phone.
    pages = [
        link.get_attribute("href") or ""
        for link in page.get_by_role("navigation", name="Console").get_by_role("link").all()
    ]
    assert len(pages) == 7
    for path in [*pages, "/console/sends/1", f"/console/briefs/{slug}", f"/console/reports/{slug}"]:
        page.goto(base + path)
        fits_a_phone(page)
    page.context.close()


def test_the_weekly_routine_in_a_browser(
    console_server: Callable[..., LiveServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    errors = Errors()
    with FakeSendGrid() as fake:
        monkeypatch.setenv("BRIEFMAIL_EMAIL_BACKEND", "sendgrid")
        monkeypatch.setenv("BRIEFMAIL_SENDGRID_API_KEY", API_KEY)
        monkeypatch.setenv("BRIEFMAIL_SENDGRID_HOST", fake.url)
        get_settings.cache_clear()
        server = console_server(batch_size=10)
        with chromium() as browser:
            slug = editor_uploads_and_approves(browser, server.url, errors)
            marketer_sends_and_reads(browser, server.url, errors, fake)
            admin_reads_the_audit_log(browser, server.url, errors, slug)
        assert len(fake.snapshot()["accepted"]) == SUBSCRIBERS  # each reader exactly once
    assert errors == []


def test_signing_in_and_approving_by_keyboard_alone(
    console_server: Callable[..., LiveServer],
) -> None:
    with session_scope() as session:
        slug = import_brief(session, EXAMPLE_BRIEF).slug
    server = console_server()
    errors = Errors()
    with chromium() as browser:
        page = open_page(browser, DESKTOP, errors)
        page.goto(f"{server.url}/console/login")
        page.keyboard.type(PEOPLE["editor"])  # the email field has the focus
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        expect(page).to_have_url(f"{server.url}/console/")
        tab_to(page, lambda p: p.evaluate("document.activeElement.textContent") == "Briefs")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        tab_to(page, lambda p: p.evaluate("document.activeElement.textContent") == TITLE)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        expect(page).to_have_url(f"{server.url}/console/briefs/{slug}")
        tab_to(page, lambda p: p.evaluate("document.activeElement.textContent") == "Approve")
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none"  # where the focus is can be seen
        page.keyboard.press("Enter")
        expect(page.get_by_text("Approved.")).to_be_visible()
    assert errors == []


def tab_to(page: Page, found: Callable[[Page], bool], limit: int = 40) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if found(page):
            return
    raise AssertionError(f"Tab never reached the element on {page.url}")
