"""Users and tokens for tests, made through the same functions as `create_account`."""

from __future__ import annotations

import itertools
from typing import Any

from rest_framework.test import APIClient

from access.services import create_account, issue_token

_names = itertools.count(1)


def make_account(
    *roles: str, perms: tuple[str, ...] = (), admin: bool = False, service: bool = True
) -> tuple[Any, str]:
    """A user with these roles and permissions, and a fresh token for them."""
    user, _ = create_account(
        username=f"user{next(_names)}-{'-'.join(roles) or 'none'}",
        roles=list(roles),
        permissions=list(perms),
        service=service,
        admin=admin,
    )
    _, token = issue_token(user=user)
    return user, token


def token_client(token: str | None) -> APIClient:
    """An API client sending `Authorization: Token <token>` (none when token is None)."""
    client = APIClient()
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client
