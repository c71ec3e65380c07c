from __future__ import annotations

import pytest

from briefmail.accounts.roles import (
    PERMISSIONS,
    ROLES,
    Permission,
    PermissionDenied,
    can,
    parse_role,
    require,
)
from briefmail.db.models import USER_ROLES
from briefmail.errors import InvalidInputError

P = Permission


def test_the_type_and_the_check_constraint_name_the_same_roles() -> None:
    assert ROLES == USER_ROLES
    assert set(PERMISSIONS) == set(ROLES)


@pytest.mark.parametrize(
    ("permission", "editor", "marketing"),
    [
        (P.BRIEFS_IMPORT, True, False),
        (P.BRIEFS_APPROVE, True, False),
        (P.SENDS_PROOF, True, False),
        (P.BRIEFS_READ, True, True),
        (P.AUDIENCE_READ, False, True),
        (P.SCHEDULE_MANAGE, False, True),
        (P.SENDS_CREATE, False, True),
        (P.SENDS_CANCEL, False, True),
        (P.SENDS_RESOLVE, False, True),
        (P.SUBSCRIBERS_MANAGE, False, True),
        (P.REPORTS_READ, False, True),
        (P.USERS_MANAGE, False, False),
        (P.AUDIT_READ, False, False),
    ],
)
def test_issue_16s_table(permission: Permission, editor: bool, marketing: bool) -> None:
    assert can("editor", permission) is editor
    assert can("marketing", permission) is marketing
    assert can("admin", permission)  # admins do both, and manage users


def test_require_refuses_and_unknown_roles_may_do_nothing() -> None:
    require("editor", P.BRIEFS_APPROVE)
    with pytest.raises(PermissionDenied, match=r"marketing role may not do briefs\.approve"):
        require("marketing", P.BRIEFS_APPROVE)
    assert not any(can("owner", p) for p in Permission)


def test_parse_role() -> None:
    assert parse_role(" Marketing ") == "marketing"
    with pytest.raises(InvalidInputError, match="not one of editor, marketing, admin"):
        parse_role("owner")
