"""The OpenAPI document: valid OpenAPI 3.1, served without a token, listing every route."""

from __future__ import annotations

import httpx
import pytest
from fastapi.routing import APIRoute
from openapi_spec_validator import validate

from briefmail.api import briefs, reports, sends, subscribers
from tests.api.conftest import Api

# The issue's table: method and path under /api/v1, and the scope each needs.
ISSUE_ROUTES = {
    ("post", "/briefs"): "briefs:write",
    ("get", "/briefs"): "read",
    ("get", "/briefs/{slug}"): "read",
    ("get", "/briefs/{slug}/preview.html"): "read",
    ("post", "/briefs/{slug}/approve"): "briefs:write",
    ("get", "/briefs/{slug}/audience"): "read",
    ("post", "/sends"): "sends:write",
    ("get", "/sends"): "read",
    ("get", "/sends/{send_id}"): "read",
    ("post", "/sends/{send_id}/cancel"): "sends:write",
    ("get", "/schedule"): "read",
    ("put", "/schedule"): "sends:write",
    ("get", "/subscribers"): "read",
    ("post", "/subscribers"): "subscribers:write",
    ("get", "/subscribers/{email}"): "read",
    ("patch", "/subscribers/{email}"): "subscribers:write",
    ("post", "/subscribers/{email}/unsubscribe"): "subscribers:write",
    ("post", "/subscribers/import"): "subscribers:write",
    ("get", "/topics"): "read",
    ("get", "/reports/{slug}"): "read",
}


@pytest.fixture
def document(api: Api) -> dict:
    response = httpx.get(f"{api.url}/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_the_document_is_valid_openapi_3_1(document: dict) -> None:
    assert document["openapi"].startswith("3.1.")
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema
    assert document["servers"] == [{"url": "/api/v1"}]


def test_it_lists_every_route_of_the_app(document: dict) -> None:
    routes = {
        (method.lower(), route.path)
        for module in (briefs, sends, subscribers, reports)
        for route in module.router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    listed = {(method, path) for path, item in document["paths"].items() for method in item}
    assert routes == listed == set(ISSUE_ROUTES)


def test_each_operation_names_its_scope_and_its_problems(document: dict) -> None:
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "errors"} <= set(problem["properties"])
    for path, item in document["paths"].items():
        for method, operation in item.items():
            # OpenAPI 3.1 lets a bearer scheme's requirement list the roles it needs.
            needed = ISSUE_ROUTES[(method, path)]
            assert operation["security"] == [{"HTTPBearer": [needed]}], (method, path)
            assert f"Scope: `{needed}`." in operation["description"], (method, path)
            unauthorised = operation["responses"]["401"]["content"]
            assert unauthorised == {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            }


def test_shapes_come_from_the_shared_models(document: dict) -> None:
    schemas = document["components"]["schemas"]
    brief = schemas["BriefOut"]["properties"]
    assert {"slug", "title", "status", "coverage", "topics", "approved_by", "approved_at"} <= set(
        brief
    )
    send = schemas["SendOut"]["properties"]["status"]
    assert send["enum"] == ["scheduled", "sending", "sent", "failed", "cancelled"]
    body = document["paths"]["/briefs"]["post"]["requestBody"]["content"]
    assert list(body) == ["text/markdown"]
