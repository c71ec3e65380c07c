from __future__ import annotations

import pytest

from briefmail.briefs.model import Brief
from briefmail.briefs.parse import load_brief
from briefmail.render.email import render_email
from briefmail.render.model import RenderedEmail
from tests.conftest import EXAMPLE_BRIEF

POSTAL = "Clinician Learning Brief · 100 Example Street · Boston, MA 02110 · USA"
PUBLIC = "https://brief.example.org"


@pytest.fixture(scope="module")
def seed() -> Brief:
    return load_brief(EXAMPLE_BRIEF)


@pytest.fixture(scope="module")
def rendered(seed: Brief) -> RenderedEmail:
    return render_email(seed, lang="en", postal_address=POSTAL, public_url=PUBLIC)
