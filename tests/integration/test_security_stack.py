"""The web process with production settings, as processes: https behind a proxy, static
files without DEBUG, size limits, and no credential in any log."""

from __future__ import annotations

import subprocess
import sys
import uuid

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


# docs/security.md's `rabbitmqctl set_permissions` for the garage's own user, verbatim.
CONFIGURE, WRITE, READ = r"^garage(\..*)?$", r"^(garage(\..*)?|amq\.default)$", r"^garage(\..*)?$"


def test_own_rabbitmq_user_with_the_documented_permissions(vhost, transactional_db, tmp_path):
    """The system runs with its own user limited to its vhost and names, not guest."""
    from urllib.parse import quote

    from metier.services import create_piece
    from tests.support.broker import rabbitmqctl

    user, password = f"garage-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    rabbitmqctl("add_user", user, password)
    try:
        rabbitmqctl("set_permissions", "-p", vhost.name, user, CONFIGURE, WRITE, READ)
        url = f"amqp://{user}:{password}@127.0.0.1:5672/{quote(vhost.name, safe='')}"
        stack = Stack(url, tmp_path)
        try:
            piece = create_piece(nom="Filtre", prix="10").pk
            web = stack.start_web()
            consumer = stack.start_consumer()
            ok = stack.http.get(f"{stack.base_url}/reparation/{piece}/2/", timeout=5)
            again = stack.http.get(f"{stack.base_url}/reparation/{piece}/3/", timeout=5)
            assert ok.status_code == again.status_code == 202
            wait_until(
                lambda: Demande.objects.filter(statut="traitee").count() == 2,
                timeout=30,
                message="both requests done through the garage user",
            )
            # dead-lettering (a republish by the consumer) works with these rights too
            vhost.publish(b"not json", message_id="poison-1")
            wait_until(lambda: vhost.depth("garage.dlq") == 1, timeout=30, message="DLQ")
            logs = web.output() + consumer.output()
            assert password not in logs and f"{user}:***" in logs
            assert "ACCESS_REFUSED" not in logs
        finally:
            stack.close()
    finally:
        rabbitmqctl("delete_user", user)
