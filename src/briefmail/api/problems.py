"""Every error as an RFC 9457 problem (`application/problem+json`).

Services raise briefmail's errors with messages written for people; this module
turns each kind into its status (not found 404, bad input 422, wrong state 409) and
names the field at fault. Service messages about an input start with the CLI
option or field they concern (`--at: ...`, `status: ...`); the API's fields carry
the same names (`--test-to` is `test_to`), so the prefix names the field.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from briefmail.accounts.roles import PermissionDenied
from briefmail.audience.subscribers import InvalidEmailError
from briefmail.briefs.errors import BriefValidationError
from briefmail.errors import InvalidInputError, NotFoundError, StateError

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"
_FIELD_PREFIX = re.compile(r"(?:--)?([a-z][a-z_-]*): (.+)", re.DOTALL)


class FieldError(BaseModel):
    """One problem with the request: the field (and, in a brief, the line) at fault."""

    field: str | None = None
    message: str
    line: int | None = None


class Problem(BaseModel):
    """RFC 9457 problem details; `errors` lists every problem when there are several
    (a brief's `{line, field, message}`, a request's `{field, message}`)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None


class ApiProblem(Exception):
    """Raised by API code for an answer that is not a service's error (auth, bodies)."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


class FieldInvalid(InvalidInputError):
    """Bad input whose field the service's message does not name (see `about`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@contextmanager
def about(field: str) -> Iterator[None]:
    """Blame `field` for bad input raised inside, unless the message names a field."""
    try:
        yield
    except InvalidInputError as exc:
        if isinstance(exc, BriefValidationError | FieldInvalid) or _split_field(str(exc)):
            raise
        raise FieldInvalid(field, str(exc)) from exc


def problem(
    status: int,
    detail: str | None = None,
    *,
    errors: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail, errors=errors)
    return JSONResponse(
        body.model_dump(exclude_none=True), status, headers=headers, media_type=MEDIA_TYPE
    )


def _split_field(message: str) -> tuple[str, str] | None:
    match = _FIELD_PREFIX.fullmatch(message)
    return (match.group(1).replace("-", "_"), match.group(2)) if match else None


def _invalid(exc: InvalidInputError) -> JSONResponse:
    if isinstance(exc, BriefValidationError):
        errors = [FieldError(line=p.line, field=p.field, message=p.message) for p in exc.problems]
        count = f"{len(errors)} problem{'s' if len(errors) > 1 else ''}"
        return problem(422, f"the brief has {count}; nothing was stored", errors=errors)
    message = str(exc)
    if isinstance(exc, FieldInvalid):
        field: str | None = exc.field
    elif isinstance(exc, InvalidEmailError):
        field = "email"
    elif split := _split_field(message):
        field, message = split
    else:
        field = None
    detail = f"{field}: {message}" if field else message
    return problem(422, detail, errors=[FieldError(field=field, message=message)])


def _validation(exc: RequestValidationError) -> JSONResponse:
    """FastAPI's own checks (types, required fields, malformed JSON), as named fields."""
    errors = []
    for error in exc.errors():
        # A malformed JSON body is located by character offset: the field is the body.
        where = [] if error.get("type") == "json_invalid" else error.get("loc", ())[1:]
        field = ".".join(str(part) for part in where) or "body"
        errors.append(FieldError(field=field, message=error.get("msg", "")))
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
    return problem(422, detail, errors=errors)


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, ApiProblem):
        return problem(exc.status, exc.detail, headers=exc.headers)
    if isinstance(exc, InvalidInputError):
        return _invalid(exc)
    if isinstance(exc, NotFoundError):
        return problem(404, str(exc))
    if isinstance(exc, StateError):
        return problem(409, str(exc))
    if isinstance(exc, PermissionDenied):
        return problem(403, str(exc))
    if isinstance(exc, RequestValidationError):
        return _validation(exc)
    if isinstance(exc, HTTPException):
        return problem(exc.status_code, str(exc.detail), headers=exc.headers)
    log.exception("API request failed: %s %s", request.method, request.url.path)
    return problem(500, "something went wrong on our side; it has been logged")


def install(app: FastAPI) -> None:
    for kind in (
        ApiProblem,
        InvalidInputError,
        NotFoundError,
        StateError,
        PermissionDenied,
        RequestValidationError,
        HTTPException,
        Exception,
    ):
        app.add_exception_handler(kind, _handle)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI entries of the problems a route may answer with."""
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
