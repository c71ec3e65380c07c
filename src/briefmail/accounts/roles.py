"""Who may do what in the console: one table, one check.

Editors look after the content (import, preview, approve, send proofs); marketing
looks after the audience and the sending (audiences, schedule, sends, subscribers,
reports); admins do both and manage people. Pages may hide what a role cannot do,
but only `require` decides, on the server, for every action.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args

from briefmail.errors import BriefmailError, InvalidInputError

Role = Literal["editor", "marketing", "admin"]
# The same as the CHECK constraint's `USER_ROLES` (a test keeps them equal).
ROLES: tuple[Role, ...] = get_args(Role)


class Permission(StrEnum):
    BRIEFS_READ = "briefs.read"  # list briefs, open one, preview it
    BRIEFS_IMPORT = "briefs.import"
    BRIEFS_APPROVE = "briefs.approve"
    SENDS_PROOF = "sends.proof"  # a test send to a few addresses (drafts too)
    SENDS_READ = "sends.read"  # watch sends and their progress
    SENDS_CREATE = "sends.create"  # send now or at a time
    SENDS_CANCEL = "sends.cancel"
    SENDS_RESOLVE = "sends.resolve"  # settle a batch in doubt
    SCHEDULE_READ = "schedule.read"
    SCHEDULE_MANAGE = "schedule.manage"
    AUDIENCE_READ = "audience.read"
    SUBSCRIBERS_READ = "subscribers.read"
    SUBSCRIBERS_MANAGE = "subscribers.manage"  # add, import, unsubscribe, suppress
    REPORTS_READ = "reports.read"
    USERS_MANAGE = "users.manage"
    AUDIT_READ = "audit.read"


_EDITOR = frozenset(
    {
        Permission.BRIEFS_READ,
        Permission.BRIEFS_IMPORT,
        Permission.BRIEFS_APPROVE,
        Permission.SENDS_PROOF,
        Permission.SENDS_READ,
        Permission.SCHEDULE_READ,
    }
)
_MARKETING = frozenset(
    {
        Permission.BRIEFS_READ,
        Permission.SENDS_READ,
        Permission.SENDS_CREATE,
        Permission.SENDS_CANCEL,
        Permission.SENDS_RESOLVE,
        Permission.SCHEDULE_READ,
        Permission.SCHEDULE_MANAGE,
        Permission.AUDIENCE_READ,
        Permission.SUBSCRIBERS_READ,
        Permission.SUBSCRIBERS_MANAGE,
        Permission.REPORTS_READ,
    }
)
# The table: each role and everything it may do.
PERMISSIONS: dict[Role, frozenset[Permission]] = {
    "editor": _EDITOR,
    "marketing": _MARKETING,
    "admin": _EDITOR | _MARKETING | {Permission.USERS_MANAGE, Permission.AUDIT_READ},
}


class PermissionDenied(BriefmailError):
    """The signed-in person's role does not allow the action (HTTP 403)."""


def parse_role(text: str) -> Role:
    """The role named by `text` (any case); InvalidInputError listing the roles."""
    value = text.strip().lower()
    for role in ROLES:
        if role == value:
            return role
    raise InvalidInputError(f"role: {text!r} is not one of {', '.join(ROLES)}")


def can(role: str, permission: Permission) -> bool:
    """Whether `role` may do `permission`; an unknown role may do nothing."""
    allowed = PERMISSIONS.get(role)  # type: ignore[call-overload]
    return allowed is not None and permission in allowed


def require(role: str, permission: Permission) -> None:
    """Raise PermissionDenied unless `role` may do `permission`."""
    if not can(role, permission):
        raise PermissionDenied(f"the {role} role may not do {permission.value}")
