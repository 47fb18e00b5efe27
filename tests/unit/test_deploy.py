"""Production settings: `manage.py check --deploy` has nothing to say, from the environment
alone. Run as subprocesses, with a clean environment, as a deployment would."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def production_env(**extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "garage.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "garage.example",
        "GARAGE_VAR_DIR": os.environ.get("GARAGE_VAR_DIR", str(ROOT / "var")),
        **extra,
    }


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_reports_nothing_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "DEBUG", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_does_complain_about_a_weak_setup():
    """The test above can fail: the same check with DEBUG on and a short key does."""
    env = production_env(DJANGO_DEBUG="1", DJANGO_SECRET_KEY="short")
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "security.W018" in result.stderr and "security.W009" in result.stderr


def test_production_needs_a_secret_key():
    env = production_env()
    del env["DJANGO_SECRET_KEY"]
    result = manage("check", env=env)
    assert result.returncode != 0 and "DJANGO_SECRET_KEY is not set" in result.stderr


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "True None 31536000 True True True"),
        (
            {"DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"},
            "True ('HTTP_X_FORWARDED_PROTO', 'https') 31536000 True True True",
        ),
        ({"DJANGO_DEBUG": "1"}, "False None 0 False False False"),
    ],
)
def test_https_settings_follow_the_environment(env, expected):
    code = (
        "from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, "
        "getattr(s, 'SECURE_PROXY_SSL_HEADER', None), s.SECURE_HSTS_SECONDS, "
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_PRELOAD)"
    )
    result = manage("shell", "-c", code, env=production_env(**env))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected
