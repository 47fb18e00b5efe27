"""Accounts and tokens: the write functions behind the management commands and the API."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from knox.models import AuthToken
from knox.settings import knox_settings

from .roles import ROLES

_DEFAULT = object()
_TTL = re.compile(r"^(\d+)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_ttl(text: str) -> timedelta | None:
    """`90m`, `12h`, `30d` -> a timedelta; `never` -> None (the token never expires)."""
    if text.strip().lower() == "never":
        return None
    match = _TTL.match(text.strip().lower())
    if not match or int(match[1]) == 0:
        raise ValidationError({"ttl": ["a duration such as 90m, 12h, 30d, or `never`"]})
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def _permissions(names: list[str]) -> list[Permission]:
    found = []
    for name in names:
        app_label, _, codename = name.partition(".")
        perm = Permission.objects.filter(
            content_type__app_label=app_label, codename=codename
        ).first()
        if perm is None:
            raise ValidationError({"perm": [f"no permission named {name!r}"]})
        found.append(perm)
    return found


@transaction.atomic
def create_account(
    *,
    username: str,
    roles: list[str] | None = None,
    permissions: list[str] | None = None,
    service: bool = False,
    admin: bool = False,
) -> tuple[Any, bool]:
    """Creates or updates a user. Returns (user, created).

    A person (the default) may log in to the admin, where they see what their roles allow;
    their password is set with `manage.py changepassword`. A service account (`service`) is
    for a program: no password, no admin, only tokens. `admin` makes a superuser. Roles and
    permissions, when given, replace the user's.
    """
    unknown = sorted(set(roles or ()) - set(ROLES))
    if unknown:
        raise ValidationError({"role": [f"unknown role(s) {unknown}; roles are {sorted(ROLES)}"]})
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
    user.is_active = True
    user.is_staff = admin or not service
    user.is_superuser = admin
    user.full_clean()
    user.save()
    if roles is not None:
        user.groups.set(Group.objects.filter(name__in=roles))
    if permissions is not None:
        user.user_permissions.set(_permissions(permissions))
    return user, created


@transaction.atomic
def issue_token(*, user: Any, ttl: timedelta | object | None = _DEFAULT) -> tuple[AuthToken, str]:
    """A new token for `user`; returns the row and the token (shown once, stored hashed)."""
    expiry = knox_settings.TOKEN_TTL if ttl is _DEFAULT else ttl
    return AuthToken.objects.create(user=user, expiry=expiry)


@transaction.atomic
def revoke_tokens(*, user: Any = None, token_key: str | None = None, expired: bool = False) -> int:
    """Deletes tokens: one (`token_key`, the first 15 characters), all of a user's, or all
    expired ones. Returns how many."""
    tokens = AuthToken.objects.all()
    if user is not None:
        tokens = tokens.filter(user=user)
    if token_key:
        tokens = tokens.filter(token_key=token_key[:15])
    if expired:
        tokens = tokens.filter(expiry__lte=timezone.now())
    if user is None and not token_key and not expired:
        raise ValidationError({"token": ["say which tokens: a user, a token key, or expired"]})
    count = 0
    for token in tokens:  # one by one, so that each process-local cache is told
        token.delete()
        count += 1
    return count
