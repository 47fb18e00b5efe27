"""Password guessing (issue 15, finding 4): the admin's login locks out after
GARAGE_LOGIN_FAILURE_LIMIT failures, per username and per address, with a 429 page that
says what happened; an administrator unlocks in the admin."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client

from access.services import create_account

pytestmark = pytest.mark.django_db
LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture
def staff(db):
    user, _ = create_account(username="clerk", roles=["accueil"], service=False)
    user.set_password("the-right-one")
    user.save()
    return user


def _login(client: Client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_the_settings_are_the_documented_ones():
    assert settings.AXES_FAILURE_LIMIT == settings.GARAGE_LOGIN_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60


def test_guessing_a_password_is_locked_out(staff):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, "clerk", "guess").status_code == 200  # the form again
    r = _login(client, "clerk", "guess")
    assert r.status_code == 429
    # Locked: even the right password is refused, with a page that says why.
    r = _login(client, "clerk", "the-right-one")
    assert r.status_code == 429 and "bloquée" in r.content.decode()
    assert "_auth_user_id" not in client.session


def test_per_username_from_any_address(staff):
    for i in range(settings.AXES_FAILURE_LIMIT):
        _login(Client(), "clerk", "guess", ip=f"10.0.1.{i}")
    assert _login(Client(), "clerk", "the-right-one", ip="10.0.9.9").status_code == 429


def test_per_address_for_any_username(staff):
    for i in range(settings.AXES_FAILURE_LIMIT):
        _login(Client(), f"nobody{i}", "guess", ip="10.0.2.1")
    assert _login(Client(), "clerk", "the-right-one", ip="10.0.2.1").status_code == 429
    r = _login(Client(), "clerk", "the-right-one", ip="10.0.2.2")
    assert r.status_code == 302  # another address, a user not locked: logged in


def test_a_success_before_the_limit_starts_the_count_again(staff):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(Client(), "clerk", "guess")
    assert _login(Client(), "clerk", "the-right-one").status_code == 302
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(Client(), "clerk", "guess")
    assert _login(Client(), "clerk", "the-right-one").status_code == 302


def test_an_administrator_unlocks_in_the_admin(staff):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(Client(), "clerk", "guess")
    assert _login(Client(), "clerk", "the-right-one").status_code == 429
    admin, _ = create_account(username="boss", roles=["administrateur"], service=False)
    boss = Client()
    boss.force_login(admin)
    listing = boss.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and "clerk" in listing.content.decode()
    ids = [str(pk) for pk in AccessAttempt.objects.values_list("pk", flat=True)]
    r = boss.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )
    assert r.status_code == 302 and not AccessAttempt.objects.exists()
    assert _login(Client(), "clerk", "the-right-one").status_code == 302
