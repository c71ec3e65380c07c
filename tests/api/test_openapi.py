"""The OpenAPI document: valid OpenAPI 3.1, served without a token, listing every route."""

from __future__ import annotations

import httpx
import pytest
from fastapi.routing import APIRoute
from openapi_spec_validator import validate

from briefmail.api import briefs, reports, sends, subscribers
from tests.api.conftest import Api

# The issue's table, method and path under /api/v1.
ISSUE_ROUTES = {
    ("post", "/briefs"),
    ("get", "/briefs"),
    ("get", "/briefs/{slug}"),
    ("get", "/briefs/{slug}/preview.html"),
    ("post", "/briefs/{slug}/approve"),
    ("get", "/briefs/{slug}/audience"),
    ("post", "/sends"),
    ("get", "/sends"),
    ("get", "/sends/{send_id}"),
    ("post", "/sends/{send_id}/cancel"),
    ("get", "/schedule"),
    ("put", "/schedule"),
    ("get", "/subscribers"),
    ("post", "/subscribers"),
    ("get", "/subscribers/{email}"),
    ("patch", "/subscribers/{email}"),
    ("post", "/subscribers/{email}/unsubscribe"),
    ("post", "/subscribers/import"),
    ("get", "/topics"),
    ("get", "/reports/{slug}"),
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
    assert routes == listed == ISSUE_ROUTES


def test_each_operation_names_its_scope_and_its_problems(document: dict) -> None:
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "errors"} <= set(problem["properties"])
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation["security"] == [{"HTTPBearer": []}], (method, path)
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
