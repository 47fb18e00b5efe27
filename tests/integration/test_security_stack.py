"""The web process with production settings, as processes: https behind a proxy, static
files without DEBUG, size limits, and no credential in any log."""

from __future__ import annotations

import subprocess
import sys

import requests

from metier.models import Demande
from tests.support.stack import ROOT, Stack, wait_until


def test_production_web_process(vhost, transactional_db, tmp_path, piece):
    static = tmp_path / "static"
    env = {
        "DJANGO_STATIC_ROOT": str(static),
        "DJANGO_SECURE_SSL_REDIRECT": "1",
        "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
        "GARAGE_LOG_LEVEL": "DEBUG",
    }
    stack = Stack(vhost.url, tmp_path, **env)
    try:
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
            cwd=ROOT,
            env=stack.env,
            check=True,
            timeout=120,
        )
        web = stack.start_web()
        consumer = stack.start_consumer()
        base = stack.base_url
        https = {**stack.headers, "X-Forwarded-Proto": "https"}

        # plain http is sent to https, except the load balancers' health probe
        r = requests.get(f"{base}/api/piece/", headers=stack.headers, allow_redirects=False)
        assert r.status_code == 301 and r.headers["Location"].startswith("https://")
        assert requests.get(f"{base}/health/", timeout=5).status_code == 200

        r = requests.get(f"{base}/api/piece/", headers=https, timeout=5)
        assert r.status_code == 200
        assert "max-age=31536000" in r.headers["Strict-Transport-Security"]
        assert r.headers["X-Content-Type-Options"] == "nosniff"

        # the admin's static files, served by WhiteNoise with DEBUG off
        r = requests.get(
            f"{base}/static/admin/css/base.css", headers={"X-Forwarded-Proto": "https"}
        )
        assert r.status_code == 200 and "text/css" in r.headers["Content-Type"]

        # bodies over the limit are refused, as JSON
        r = requests.post(
            f"{base}/api/piece/",
            data='{"nom": "' + "x" * 70_000 + '", "prix": 1}',
            headers={**https, "Content-Type": "application/json"},
            timeout=5,
        )
        assert r.status_code == 413 and r.json()["detail"] == "request body too large"

        # a request through the pipeline, then the logs: no token, no password
        r = requests.get(f"{base}/reparation/{piece.pk}/2/", headers=https, timeout=5)
        assert r.status_code == 202
        wait_until(
            lambda: Demande.objects.get(pk=r.json()["id"]).statut == "traitee",
            timeout=30,
            message="request processed",
        )
        r = requests.get(f"{base}/api/piece/", headers={"X-Forwarded-Proto": "https"})
        assert r.status_code == 401
        consumer.terminate()
        web.terminate()
        logs = web.output() + consumer.output()
        assert "consuming garage" in logs  # the consumer did log its connection
        assert stack.token not in logs
        assert "guest:guest" not in logs and "guest:***" in logs
    finally:
        stack.close()
