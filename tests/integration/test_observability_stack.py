"""Metrics, health and logs across the real processes (gunicorn workers, the worker).

Runs on SQLite and on PostgreSQL. The readiness test stops a broker: a private RabbitMQ
node (tests/support/rabbit_node.py), never the shared one.
"""

from __future__ import annotations

import requests

from tests.support.broker import Vhost
from tests.support.metrics import parse, total
from tests.support.rabbit_node import PrivateRabbitNode
from tests.support.stack import Stack, wait_until

TOKEN = "stack-metrics-token"


def scrape(stack: Stack) -> dict:
    r = requests.get(
        f"{stack.base_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    assert r.status_code == 200, r.text
    return parse(r.text)


def test_metrics_add_up_every_gunicorn_worker(stack, vhost):
    from metier.services import create_piece

    piece = create_piece(nom="Filtre", prix="10")
    stack.start_web(workers=3, threads=1, GARAGE_METRICS_TOKEN=TOKEN)
    n = 30
    for i in range(n):
        # A new connection each time, so that the requests spread over the workers.
        r = requests.get(
            f"{stack.base_url}/reparation/{piece.pk}/{1 + i % 5}/",
            headers={**stack.headers, "Connection": "close"},
            timeout=10,
        )
        assert r.status_code == 202, r.text
    r = requests.get(f"{stack.base_url}/reparation/{piece.pk}/0/", headers=stack.headers)
    assert r.status_code == 400
    samples = scrape(stack)
    assert total(samples, "garage_intake_requests_total", outcome="accepted") == n
    assert total(samples, "garage_intake_requests_total", outcome="invalid") == 1
    assert total(samples, "garage_intake_request_duration_seconds_count") == n + 1
    # The standard process metrics, for each live worker process, labelled by pid and role.
    web_pids = {
        dict(labels)["pid"]
        for (name, labels), _ in samples.items()
        if name == "process_resident_memory_bytes" and dict(labels).get("role") == "web"
    }
    assert len(web_pids) >= 2, "requests should have reached several workers"
    assert all(
        v > 0 for (name, labels), v in samples.items() if name == "process_resident_memory_bytes"
    )


def test_readiness_fails_while_the_broker_is_down_and_recovers(transactional_db, tmp_path):
    node = PrivateRabbitNode().start()
    try:
        vhost = Vhost(port=node.port, ctl=node.ctl)
        stack = Stack(vhost.url, tmp_path, GARAGE_HEALTH_BROKER_CACHE="0.5")
        try:
            stack.start_web(workers=1)
            url = f"{stack.base_url}/health/ready"

            def status() -> int:
                return requests.get(url, timeout=10).status_code

            assert status() == 200
            node.stop_app()
            wait_until(lambda: status() == 503, timeout=20, message="not ready without broker")
            body = requests.get(url, timeout=10).json()
            assert body["checks"]["broker"]["ok"] is False
            assert body["checks"]["database"]["ok"] is True
            assert requests.get(f"{stack.base_url}/health/live", timeout=10).status_code == 200
            node.start_app()
            wait_until(lambda: status() == 200, timeout=30, message="ready again")
        finally:
            stack.close()
    finally:
        node.stop()
