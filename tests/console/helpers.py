"""Signing in to the console over real HTTP, as a browser does."""

from __future__ import annotations

import re

import httpx

from briefmail.db.session import session_scope

PASSWORD = "correct horse battery staple"
PEOPLE = {
    "editor": "dana.editor@example.org",
    "marketing": "mo.marketing@example.org",
    "admin": "ada.admin@example.org",
}
_TOKEN = re.compile(r'name="(?:login_token|csrf_token)" value="([^"]+)"')


def add_people() -> None:
    """One user per role, each with `PASSWORD`."""
    from briefmail import clock
    from briefmail.accounts.users import add_user

    with session_scope() as session:
        for role, email in PEOPLE.items():
            add_user(session, email, role, PASSWORD, now=clock.now())


def token_in(html: str) -> str:
    """The CSRF (or sign-in) token of the first form in a page."""
    found = _TOKEN.search(html)
    assert found, "no token in the page"
    return found.group(1)


def sign_in_form(client: httpx.Client, email: str, password: str) -> httpx.Response:
    page = client.get("/console/login")
    data = {"login_token": token_in(page.text), "email": email, "password": password}
    return client.post("/console/login", data=data)


def signed_in(base_url: str, role: str) -> httpx.Client:
    """A client with a live console session of the person with `role`."""
    client = httpx.Client(base_url=base_url, timeout=30)
    answer = sign_in_form(client, PEOPLE[role], PASSWORD)
    assert answer.status_code == 303, answer.text
    return client


def csrf(client: httpx.Client, path: str = "/console/") -> str:
    return token_in(client.get(path).text)
