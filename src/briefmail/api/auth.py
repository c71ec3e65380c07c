"""Bearer tokens and their scopes, checked for every route that needs one.

No token, or one that is unknown or revoked: 401 with `WWW-Authenticate: Bearer`.
A live token without the route's scope: 403. Nothing about why a token is unknown
is told (revoked and never-issued look alike).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from briefmail import clock
from briefmail.accounts import tokens
from briefmail.accounts.audit import Actor
from briefmail.accounts.tokens import Scope
from briefmail.api.context import api_context
from briefmail.api.problems import ApiProblem

_bearer = HTTPBearer(
    auto_error=False,
    description="A token from `briefmail api-tokens create NAME --scopes ...`.",
)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True, slots=True)
class Caller:
    """The token a request came with, as the audit log names it."""

    token: str  # the token's name
    actor: Actor


def scope(needed: Scope) -> Any:
    """A dependency admitting requests whose token has the `needed` scope.

    The scope is declared on the bearer scheme (`Security(..., scopes=...)`), so the
    OpenAPI document's security requirement of each operation names it (OpenAPI 3.1
    lets a non-OAuth scheme list the roles it needs there)."""

    def check(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Security(_bearer, scopes=[needed]),
    ) -> Caller:
        if credentials is None:
            raise ApiProblem(401, "send a token: Authorization: Bearer TOKEN", headers=_CHALLENGE)
        ctx = api_context(request)
        with ctx.transaction() as session:
            row = tokens.authenticate(session, credentials.credentials, now=clock.now())
            if row is None:
                raise ApiProblem(401, "unknown or revoked token", headers=_CHALLENGE)
            name, granted = row.name, tokens.has_scope(row, needed)
        if not granted:
            raise ApiProblem(403, f"token {name!r} lacks the {needed!r} scope")
        client = request.client.host if request.client else "unknown"
        return Caller(name, Actor("token", name, client))

    dependency: Callable[..., Caller] = check
    return Depends(dependency)
