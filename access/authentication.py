"""Token authentication for programs: django-rest-knox tokens, looked up by their digest.

Knox stores only a SHA-512 digest of each token, with an expiry, one row per token (so each
can be revoked alone). This subclass keeps knox's model and header (`Authorization: Token
<token>`) and changes three things:

- a malformed header (not ASCII, wrong length) is a 401, never a 500, and costs no query;
- the token is found by its digest, the primary key: one indexed query, and no sweep of the
  user's other tokens on every request (knox deletes expired ones there; expired tokens are
  refused here, and `manage.py revoke_tokens --expired` deletes them);
- a validated token is remembered by the process for GARAGE_TOKEN_CACHE_SECONDS (default 5),
  with its user and the user's permissions: the intake's hot path then makes no query for
  authentication. Revocation and role changes reach other processes within that time; in
  this process, deleting a token or saving its user forgets it at once.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone
from knox import auth as knox_auth
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import knox_settings
from rest_framework import exceptions

INVALID = "Invalid token."
_MAX_ENTRIES = 10_000


class _TokenCache:
    """digest -> (user, token, remembered until). Per process, thread-safe, bounded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[Any, AuthToken, float]] = {}

    def get(self, digest: str) -> tuple[Any, AuthToken] | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        user, token, until = entry
        if time.monotonic() >= until or _expired(token):
            self.forget(digest)
            return None
        return user, token

    def put(self, digest: str, user: Any, token: AuthToken, seconds: float) -> None:
        with self._lock:
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries.clear()
            self._entries[digest] = (user, token, time.monotonic() + seconds)

    def forget(self, digest: str) -> None:
        with self._lock:
            self._entries.pop(digest, None)

    def forget_user(self, user_id: Any) -> None:
        with self._lock:
            for digest in [d for d, (u, _, _) in self._entries.items() if u.pk == user_id]:
                del self._entries[digest]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


token_cache = _TokenCache()


def _expired(token: AuthToken) -> bool:
    return token.expiry is not None and token.expiry <= timezone.now()


class TokenAuthentication(knox_auth.TokenAuthentication):
    def authenticate_credentials(self, token: bytes) -> tuple[Any, AuthToken]:
        try:
            text = token.decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(INVALID) from None
        expected = len(knox_settings.TOKEN_PREFIX) + knox_settings.AUTH_TOKEN_CHARACTER_LENGTH
        if len(text) != expected:
            raise exceptions.AuthenticationFailed(INVALID)
        digest = hash_token(text)
        cached = token_cache.get(digest)
        if cached is not None:
            return cached
        auth_token = AuthToken.objects.select_related("user").filter(digest=digest).first()
        if auth_token is None:
            raise exceptions.AuthenticationFailed(INVALID)
        if _expired(auth_token):
            auth_token.delete()
            raise exceptions.AuthenticationFailed(INVALID)
        user = auth_token.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        seconds = settings.GARAGE_TOKEN_CACHE_SECONDS
        if seconds > 0:
            user.get_all_permissions()  # fills the user's permission cache before sharing it
            token_cache.put(digest, user, auth_token, seconds)
        return user, auth_token


# In this process, forget at once what changed; other processes forget within the TTL.
def _token_deleted(sender: Any, instance: AuthToken, **kwargs: Any) -> None:
    token_cache.forget(instance.digest)


def _user_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    token_cache.forget_user(instance.pk)


def _rights_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    if isinstance(instance, get_user_model()):
        token_cache.forget_user(instance.pk)
    else:  # a group's permissions or members changed: forget everyone
        token_cache.clear()


def connect_signals() -> None:
    user_model = get_user_model()
    post_delete.connect(_token_deleted, sender=AuthToken, dispatch_uid="access.token")
    post_save.connect(_user_changed, sender=user_model, dispatch_uid="access.user")
    for i, through in enumerate(
        (
            user_model.groups.through,
            user_model.user_permissions.through,
            Group.permissions.through,
        )
    ):
        m2m_changed.connect(_rights_changed, sender=through, dispatch_uid=f"access.m2m.{i}")
