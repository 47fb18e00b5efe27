"""Issue 15, finding 11: unknown methods, Content-Security-Policy."""

from __future__ import annotations

import logging
import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


PATHS = ["/api/piece/", "/api/piece/1/", "/api/reparation/", "/api/auth/me/"]


@pytest.mark.parametrize("method", ["TRACE", "FOO", "CONNECT"])
@pytest.mark.parametrize("path", PATHS)
def test_an_unknown_method_is_a_405_and_no_error_log(admin_api, piece, caplog, method, path):
    caplog.set_level(logging.INFO)
    r = admin_api.generic(method, path)
    assert r.status_code == 405, (path, r.content)
    assert "detail" in r.json() and r.get("Allow")
    assert not [x for x in caplog.records if x.levelno >= logging.ERROR]


def test_known_methods_still_checked(admin_api, piece):
    from tests.support.accounts import make_account, token_client

    _, token = make_account("mecanicien")
    assert token_client(token).delete(f"/api/piece/{piece.pk}/").status_code == 403
    assert admin_api.options("/api/piece/").status_code == 200


@pytest.mark.parametrize("path", ["/admin/login/", "/api/docs/"])
def test_html_pages_send_a_content_security_policy(path):
    r = Client().get(path)
    assert r.status_code == 200
    policy = r["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "script-src 'self' 'nonce-" in policy and "unsafe-inline" not in policy.split(";")[1]


def test_the_docs_have_no_inline_script():
    page = Client().get("/api/docs/").content.decode()
    inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert inline == [], inline
    script = re.search(r'<script src="([^"]*\?[^"]*script[^"]*)"', page)
    assert script, page
    assert Client().get(script.group(1).replace("&amp;", "&")).status_code == 200


def test_the_boards_script_carries_the_pages_nonce(django_user_model):
    user = django_user_model.objects.create_superuser("chef", "c@example.fr", "pw-123456789")
    browser = Client()
    browser.force_login(user)
    r = browser.get("/atelier/")
    assert r.status_code == 200
    nonce = re.search(r"'nonce-([^']+)'", r["Content-Security-Policy"]).group(1)
    scripts = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", r.content.decode())
    assert scripts and all(f'nonce="{nonce}"' in s for s in scripts)


def test_json_answers_need_no_policy(admin_api):
    assert "Content-Security-Policy" not in admin_api.get("/api/piece/")
