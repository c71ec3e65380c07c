"""`/api/v1/docs`: Swagger UI over the generated document, served from this package.

The Swagger UI files are vendored unchanged from the npm registry's swagger-ui-dist
(Apache-2.0, LICENSE and NOTICE beside them; version in VERSION), so the page loads
nothing from a CDN. Its start-up code is a file (`static/docs.js`) rather than the
inline script of Swagger UI's own index.html, so a Content-Security-Policy without
'unsafe-inline' does not stop it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).with_name("static")

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>briefmail API</title>
<link rel="stylesheet" href="static/swagger-ui/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="static/swagger-ui/swagger-ui-bundle.js"></script>
<script src="static/docs.js"></script>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    """Serve the page at /docs and its files under /static (relative to the API)."""

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(PAGE, headers={"cache-control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="api-static")
