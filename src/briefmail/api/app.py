"""The API application, mounted by the web app at /api/v1.

FastAPI, because it derives request validation and the OpenAPI 3.1 document from the
same pydantic models the services' views already are (`briefs.views`,
`sending.views`, `audience.views`, `reports.views`): one set of types for the CLI's
`--json`, the API's answers and the document, so the document cannot drift from the
code.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

import briefmail
from briefmail.api import briefs, docs, problems, reports, sends, subscribers
from briefmail.api.context import ApiContext
from briefmail.api.limits import BodyLimit
from briefmail.config import Settings

PREFIX = "/api/v1"
DESCRIPTION = """The CMS and CRM side of briefmail: upload and approve briefs, send and
watch them, manage subscribers, read reports. Every request but this document carries
`Authorization: Bearer TOKEN` (`briefmail api-tokens create NAME --scopes ...`); each
route names the scope it needs. Every error is an RFC 9457 problem
(`application/problem+json`)."""


class BriefmailApi(FastAPI):
    def openapi(self) -> dict[str, Any]:
        """The generated document, plus the problem schema the error responses name."""
        if self.openapi_schema is None:
            document = get_openapi(
                title=self.title,
                version=self.version,
                openapi_version=self.openapi_version,
                description=self.description,
                routes=self.routes,
                servers=[{"url": PREFIX}],
                tags=self.openapi_tags,
            )
            _name_scopes(document)
            schema = problems.Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(schema.pop("$defs", {}))
            schemas["Problem"] = schema
            self.openapi_schema = document
        return self.openapi_schema


def _name_scopes(document: dict[str, Any]) -> None:
    """Say each operation's scope in its description too: Swagger UI shows that, and
    not the scopes of a bearer scheme's security requirement."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            scopes = [s for req in operation.get("security", []) for s in next(iter(req.values()))]
            if scopes:
                said = ", ".join(f"`{s}`" for s in scopes)
                text = operation.get("description", "")
                operation["description"] = f"{text}\n\nScope: {said}.".lstrip()


def create_api(settings: Settings) -> FastAPI:
    api = BriefmailApi(
        title="briefmail API",
        version=briefmail.__version__,
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        openapi_tags=[
            {"name": name}
            for name in ("briefs", "sends", "schedule", "subscribers", "topics", "reports")
        ],
    )
    api.state.api = ApiContext.build(settings)
    problems.install(api)
    for module in (briefs, sends, subscribers, reports):
        api.include_router(module.router)
    docs.install(api)
    api.add_middleware(BodyLimit)
    return api
