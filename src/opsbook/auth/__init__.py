"""Who may do what: API tokens, dashboard users and sessions, roles, signed approval links.

Library calls (``web/`` and ``cli/`` are their adapters):

- :func:`authenticate` ``(store, bearer) -> Principal`` for ``Authorization: Bearer TOKEN``;
- :meth:`Principal.require` ``(role, action)`` raises Forbidden below that role;
- :func:`create_token`, :func:`list_tokens`, :func:`revoke_token`;
- :func:`add_user`, :func:`list_users`, :func:`remove_user`, :func:`login`, :func:`session`,
  :func:`logout` for the dashboard.
"""

from opsbook.auth.roles import Principal, Role
from opsbook.auth.tokens import (
    NewToken,
    TokenInfo,
    authenticate,
    create_token,
    list_tokens,
    revoke_token,
)
from opsbook.auth.users import (
    Session,
    UserInfo,
    add_user,
    list_users,
    login,
    logout,
    remove_user,
    session,
)

__all__ = [
    "NewToken",
    "Principal",
    "Role",
    "Session",
    "TokenInfo",
    "UserInfo",
    "add_user",
    "authenticate",
    "create_token",
    "list_tokens",
    "list_users",
    "login",
    "logout",
    "remove_user",
    "revoke_token",
    "session",
]
