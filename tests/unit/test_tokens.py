"""Tokens: hashed at rest, expiring, revocable one by one; the commands that make them."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from knox.crypto import hash_token
from knox.models import AuthToken

from access.authentication import token_cache
from access.services import issue_token
from tests.support.accounts import make_account, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_token_cache():
    token_cache.clear()
    yield
    token_cache.clear()


def test_only_a_digest_is_stored():
    user, token = make_account(admin=True)
    row = AuthToken.objects.get(user=user)
    assert row.digest == hash_token(token) != token
    assert row.expiry is not None  # tokens expire by default (GARAGE_TOKEN_TTL_HOURS)


@pytest.mark.parametrize("cache_seconds", [0, 5])
def test_expired_token_is_refused(settings, cache_seconds):
    settings.GARAGE_TOKEN_CACHE_SECONDS = cache_seconds
    user, _ = make_account(admin=True)
    row, token = issue_token(user=user, ttl=timedelta(hours=1))
    client = token_client(token)
    assert client.get("/api/piece/").status_code == 200
    AuthToken.objects.filter(pk=row.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    if cache_seconds:
        # a remembered token still carries its expiry: refused too
        token_cache._entries[row.digest][1].expiry = timezone.now() - timedelta(seconds=1)
    r = client.get("/api/piece/")
    assert r.status_code == 401 and r.json()["detail"] == "Invalid token."
    assert not AuthToken.objects.filter(pk=row.pk).exists()  # and deleted


def test_revoking_the_token_in_use():
    _, token = make_account(admin=True)
    client = token_client(token)
    assert client.get("/api/piece/").status_code == 200
    assert client.delete("/api/auth/token/").status_code == 204
    assert client.get("/api/piece/").status_code == 401


def test_revoking_one_token_leaves_the_others():
    user, first = make_account(admin=True)
    _, second = issue_token(user=user)
    for t in (first, second):
        assert token_client(t).get("/api/piece/").status_code == 200  # both remembered
    out = io.StringIO()
    call_command("revoke_tokens", "--key", first[:15], stdout=out)
    assert "revoked 1" in out.getvalue()
    assert token_client(first).get("/api/piece/").status_code == 401
    assert token_client(second).get("/api/piece/").status_code == 200


def test_revoking_all_of_a_user_and_deactivating():
    user, token = make_account(admin=True)
    _, other = make_account(admin=True)
    call_command("revoke_tokens", "--user", user.username, stdout=io.StringIO())
    assert token_client(token).get("/api/piece/").status_code == 401
    assert token_client(other).get("/api/piece/").status_code == 200
    # a deactivated user's tokens stop working at once in this process
    _, third = issue_token(user=user)
    assert token_client(third).get("/api/piece/").status_code == 200
    user.is_active = False
    user.save()
    assert token_client(third).get("/api/piece/").status_code == 401


def test_revoke_needs_a_target():
    with pytest.raises(CommandError):
        call_command("revoke_tokens", stdout=io.StringIO())
    with pytest.raises(CommandError, match="no user"):
        call_command("revoke_tokens", "--user", "nobody", stdout=io.StringIO())


def test_purging_expired_tokens():
    user, token = make_account(admin=True)
    old, _ = issue_token(user=user, ttl=timedelta(minutes=1))
    AuthToken.objects.filter(pk=old.pk).update(expiry=timezone.now() - timedelta(days=1))
    call_command("revoke_tokens", "--expired", stdout=io.StringIO())
    assert list(AuthToken.objects.filter(user=user)) == [AuthToken.objects.get(user=user)]
    assert token_client(token).get("/api/piece/").status_code == 200


def test_losing_a_role_takes_effect_at_once_in_this_process():
    user, token = make_account("magasinier")
    client = token_client(token)
    assert client.get("/api/piece/").status_code == 200
    user.groups.clear()
    assert client.get("/api/piece/").status_code == 403


@pytest.mark.parametrize(
    "header",
    [
        "Token",
        "Token a b",
        "Token " + "é" * 64,
        "Token " + "z" * 10,
        "Token " + "0" * 64,
        "Token " + "0" * 10_000,
        "Bearer " + "0" * 64,
        "Basic Zm9vOmJhcg==",
    ],
)
def test_malformed_credentials_are_401_json(header):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    r = client.get("/api/piece/")
    assert r.status_code == 401 and "detail" in r.json()


def test_create_account_command_prints_a_working_token():
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "create_account",
        "intake-bot",
        "--service",
        "--perm",
        "metier.add_demande",
        "--token-ttl",
        "12h",
        stdout=out,
        stderr=err,
    )
    token = out.getvalue().strip()
    assert len(token) == 64 and "service account intake-bot" in err.getvalue()
    row = AuthToken.objects.get(digest=hash_token(token))
    assert timedelta(hours=11) < row.expiry - timezone.now() <= timedelta(hours=12)
    assert not row.user.is_staff and not row.user.has_usable_password()
    assert token_client(token).get("/api/piece/").status_code == 403  # only the intake


def test_create_account_roles_admin_and_errors():
    out = io.StringIO()
    call_command("create_account", "alice", "--role", "accueil", stdout=out, stderr=io.StringIO())
    assert token_client(out.getvalue().strip()).get("/api/voiture/").status_code == 200
    out = io.StringIO()
    call_command(
        "create_account",
        "root",
        "--admin",
        "--token-ttl",
        "never",
        stdout=out,
        stderr=io.StringIO(),
    )
    row = AuthToken.objects.get(digest=hash_token(out.getvalue().strip()))
    assert row.expiry is None and row.user.is_superuser
    with pytest.raises(CommandError, match="permission"):
        call_command("create_account", "x", "--perm", "metier.nope", stderr=io.StringIO())
    with pytest.raises(CommandError, match="duration"):
        call_command("create_account", "x", "--token-ttl", "soon", stderr=io.StringIO())
    with pytest.raises(CommandError):
        call_command("create_account", "x", "--role", "patron", stderr=io.StringIO())


def test_ensure_demo_is_made_once_and_refused_without_debug(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("ensure_demo", stdout=io.StringIO())
    settings.DEBUG = True
    first, again = io.StringIO(), io.StringIO()
    call_command("ensure_demo", stdout=first)
    call_command("ensure_demo", stdout=again)
    token = (tmp_path / "demo-token").read_text().strip()
    assert token in first.getvalue() and first.getvalue() == again.getvalue()
    assert oct((tmp_path / "demo-token").stat().st_mode & 0o777) == "0o600"
    assert AuthToken.objects.filter(user__username="demo").count() == 1
    assert token_client(token).get("/api/piece/").status_code == 200
