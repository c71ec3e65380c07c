from __future__ import annotations

from tests.web.conftest import start_server  # noqa: F401 (the live web app, as a fixture)
