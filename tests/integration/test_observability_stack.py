"""Metrics, health and logs across the real processes (gunicorn workers, the worker).

Runs on SQLite and on PostgreSQL. The readiness test stops a broker: a private RabbitMQ
node (tests/support/rabbit_node.py), never the shared one.
"""

from __future__ import annotations

import json
import uuid

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


def json_lines(text: str) -> list[dict]:
    """The JSON objects of a process's output; any other line fails the test."""
    lines = []
    for line in text.splitlines():
        if line.strip():
            lines.append(json.loads(line))  # GARAGE_LOG_FORMAT=json: nothing else is written
    return lines


def test_one_request_id_from_the_http_edge_to_the_worker(stack, vhost):
    from metier.models import Reparation
    from metier.services import create_piece

    piece = create_piece(nom="Courroie", prix="30")
    stack.start_web(GARAGE_LOG_FORMAT="json")
    consumer = stack.start_consumer(GARAGE_LOG_FORMAT="json")
    rid = f"e2e-{uuid.uuid4().hex}"
    r = stack.http.get(
        f"{stack.base_url}/reparation/{piece.pk}/2/", headers={"X-Request-ID": rid}, timeout=10
    )
    assert r.status_code == 202 and r.headers["X-Request-ID"] == rid
    wait_until(lambda: Reparation.objects.count() == 1, timeout=30, message="repair made")

    def worker_line() -> dict | None:
        return next(
            (x for x in json_lines(consumer.output()) if rid in x.get("request_ids", ())), None
        )

    wait_until(lambda: worker_line() is not None, timeout=10, message="worker logged the id")
    line = worker_line()
    assert line["logger"].startswith("pipeline") and line["time"].endswith("Z")
    web = [x for x in json_lines(stack.processes[0].output()) if x.get("request_id") == rid]
    assert len(web) == 1 and web[0]["status"] == 202 and web[0]["path"].startswith("/reparation/")
    # A request without an id of its own gets one, and it follows too.
    r = stack.http.get(f"{stack.base_url}/reparation/{piece.pk}/3/", timeout=10)
    made = r.headers["X-Request-ID"]
    wait_until(
        lambda: any(made in x.get("request_ids", ()) for x in json_lines(consumer.output())),
        timeout=30,
        message="generated id logged by the worker",
    )


def test_pipeline_metrics_count_what_the_worker_did(stack, vhost):
    from metier.models import Reparation
    from metier.services import create_piece

    piece = create_piece(nom="Bougie", prix="8")
    stack.start_web(GARAGE_METRICS_TOKEN=TOKEN)
    stack.start_consumer()
    n = 25
    for i in range(n):
        r = stack.http.get(f"{stack.base_url}/reparation/{piece.pk}/{1 + i % 3}/", timeout=10)
        assert r.status_code == 202, r.text
    vhost.publish(b"{not json", message_id="poison-1")
    wait_until(lambda: Reparation.objects.count() == n, timeout=60, message="all repairs")
    wait_until(lambda: vhost.depth("garage.dlq") == 1, timeout=30, message="poison dead")

    def counted() -> bool:
        s = scrape(stack)
        return (
            total(s, "garage_consumer_messages_total", result="done") == n
            and total(s, "garage_consumer_dead_letters_total") == 1
        )

    wait_until(counted, timeout=10, message="the worker's counters")
    s = scrape(stack)
    assert total(s, "garage_consumer_messages_total", result="rejected") == 1
    assert total(s, "garage_consumer_batch_size_sum") == n + 1
    assert total(s, "garage_consumer_batch_size_count") >= 1
    assert total(s, "garage_consumer_batch_duration_seconds_count") >= 1
    assert total(s, "garage_request_to_repair_seconds_count") == n
    assert total(s, "garage_request_to_repair_seconds_bucket", le="+Inf") == n
    assert total(s, "garage_request_to_repair_seconds_sum") > 0
    published = total(s, "garage_messages_published_total")
    confirmed = total(s, "garage_messages_confirmed_total")
    assert published >= n and confirmed >= n  # the web's, and the relay's if it stepped in
    assert total(s, "garage_consumer_retries_total") == 0
    assert total(s, "garage_dead_letters_waiting") == 1
    assert total(s, "garage_queue_messages", queue="garage.dlq") == 1
    # The board's figures, from the requests' timestamps: the same story.
    # n requests and the poison (recorded by the worker, as any message with an id), in 5 min
    assert total(s, "garage_pipeline_requests_per_minute") == (n + 1) / 5
    assert total(s, "garage_pipeline_latency_seconds", quantile="0.95") > 0
    roles = {dict(labels).get("role") for (name, labels) in s if name.startswith("process_")}
    assert {"web", "worker"} <= roles


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
