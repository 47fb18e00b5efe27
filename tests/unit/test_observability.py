"""Request ids, health checks, the metrics endpoint and the log formats, in one process.

The same claims across real processes (gunicorn workers, the worker) are in
tests/integration/test_observability_stack.py.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from metier.models import Demande
from observability import collectors
from observability.context import request_id
from observability.logs import JsonFormatter, RequestIdFilter, UTCFormatter
from tests.support.metrics import parse, value

TOKEN = "metrics-test-token"


@pytest.fixture
def metrics_on(settings):
    settings.GARAGE_METRICS_TOKEN = TOKEN
    collectors.depths.clear()
    collectors.broker_up.clear()
    yield
    collectors.depths.clear()
    collectors.broker_up.clear()


def scrape(client: Client | None = None) -> dict:
    r = (client or Client()).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert r.status_code == 200, r.content
    assert r["Content-Type"].startswith("text/plain")
    return parse(r.content.decode())


# --- request id ---------------------------------------------------------------------------
def test_a_request_id_is_made_and_returned():
    a, b = Client().get("/health/live"), Client().get("/health/live")
    assert len(a["X-Request-ID"]) == 32 and a["X-Request-ID"] != b["X-Request-ID"]


def test_a_sensible_client_request_id_is_kept_and_a_bad_one_replaced():
    r = Client().get("/health/live", HTTP_X_REQUEST_ID="trace-0af7651916cd43dd")
    assert r["X-Request-ID"] == "trace-0af7651916cd43dd"
    for bad in ("has spaces", "x" * 200, "nl\ninjected", "<script>"):
        r = Client().get("/health/live", HTTP_X_REQUEST_ID=bad)
        assert r["X-Request-ID"] != bad and len(r["X-Request-ID"]) == 32


def test_errors_carry_the_request_id_too(db):
    r = Client().get("/api/piece/", HTTP_X_REQUEST_ID="abc-401")
    assert r.status_code == 401 and r["X-Request-ID"] == "abc-401"
    r = Client().get("/no/such/page/", HTTP_X_REQUEST_ID="abc-404")
    assert r.status_code == 404 and r["X-Request-ID"] == "abc-404"


# --- health -------------------------------------------------------------------------------
def test_live_is_public_and_touches_nothing():
    # No database access is allowed in this test: a query would raise.
    r = Client().get("/health/live")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert Client().get("/health/live/").status_code == 200
    assert Client().post("/health/live").status_code == 405


@pytest.mark.django_db
def test_ready_reports_each_check_with_its_timing(vhost, metrics_on):
    r = Client().get("/health/ready")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "outbox"}
    for check in body["checks"].values():
        assert check["ok"] is True and check["ms"] >= 0


@pytest.mark.django_db
def test_ready_fails_on_an_unreachable_broker_without_saying_where(settings, metrics_on):
    settings.AMQP_URL = "amqp://secretuser:secretpass@127.0.0.1:1/secret-vhost"
    r = Client().get("/health/ready")
    assert r.status_code == 503
    assert r.json()["checks"]["broker"]["ok"] is False
    assert r.json()["checks"]["database"]["ok"] is True
    text = r.content.decode().lower()
    for leak in ("secret", "127.0.0.1", "amqp", "5672", "sqlite", "postgres", "version"):
        assert leak not in text


@pytest.mark.django_db
def test_ready_fails_when_the_outbox_lags(vhost, settings, metrics_on, piece):
    settings.GARAGE_READY_MAX_OUTBOX_LAG = 30
    d = Demande.objects.create(piece=piece.pk, duree=1)
    assert Client().get("/health/ready").status_code == 200
    Demande.objects.filter(pk=d.pk).update(cree_le=timezone.now() - timedelta(seconds=45))
    r = Client().get("/health/ready")
    assert r.status_code == 503
    outbox = r.json()["checks"]["outbox"]
    assert outbox["ok"] is False and outbox["lag_s"] >= 45 and outbox["max_lag_s"] == 30
    Demande.objects.filter(pk=d.pk).update(statut=Demande.Statut.EN_FILE)  # published
    assert Client().get("/health/ready").status_code == 200


def test_the_broker_probe_is_cached(settings, monkeypatch):
    calls = []
    monkeypatch.setattr(collectors.broker_up, "compute", lambda: calls.append(1) or True)
    collectors.broker_up.clear()
    settings.GARAGE_HEALTH_BROKER_CACHE = 60
    for _ in range(5):
        assert collectors.broker_up.get()[0] is True
    assert len(calls) == 1
    settings.GARAGE_HEALTH_BROKER_CACHE = 0
    collectors.broker_up.get()
    assert len(calls) == 2
    collectors.broker_up.clear()


# --- metrics ------------------------------------------------------------------------------
def test_metrics_are_off_without_a_token(settings):
    settings.GARAGE_METRICS_TOKEN = ""
    r = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ")
    assert r.status_code == 404 and "GARAGE_METRICS_TOKEN" in r.json()["detail"]


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Token {TOKEN}", TOKEN])
def test_metrics_need_the_token(metrics_on, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    r = Client().get("/metrics", **extra)
    assert r.status_code == 401 and r.json()["detail"]
    assert r["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db(transaction=True)
def test_intake_outcomes_and_latency_are_counted(admin_api, piece, settings, metrics_on):
    settings.AMQP_URL = "amqp://guest:guest@127.0.0.1:1/%2F"  # publishing: not the point
    before = scrape()
    for _ in range(3):
        assert admin_api.get(f"/reparation/{piece.pk}/2/").status_code == 202
    r = admin_api.post("/reparation/", {"piece": piece.pk, "duree": 1}, format="json")
    assert r.status_code == 202
    assert admin_api.get("/reparation/999999/2/").status_code == 404
    assert admin_api.get(f"/reparation/{piece.pk}/0/").status_code == 400
    assert Client().get(f"/reparation/{piece.pk}/2/").status_code == 401
    assert admin_api.get("/api/piece/").status_code == 200  # not the intake: not counted
    after = scrape()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("garage_intake_requests_total", outcome="accepted") == 4
    assert delta("garage_intake_requests_total", outcome="invalid") == 2
    assert delta("garage_intake_requests_total", outcome="refused") == 1
    assert delta("garage_intake_request_duration_seconds_count") == 7
    assert delta("garage_intake_request_duration_seconds_bucket", le="+Inf") == 7
    assert delta("garage_intake_request_duration_seconds_sum") > 0


@pytest.mark.django_db
def test_outbox_lag_and_queue_depths_are_computed_at_scrape(vhost, metrics_on, piece):
    samples = scrape()
    assert value(samples, "garage_outbox_lag_seconds") == 0
    assert value(samples, "garage_broker_up") == 1
    d = Demande.objects.create(piece=piece.pk, duree=1)
    Demande.objects.filter(pk=d.pk).update(cree_le=timezone.now() - timedelta(seconds=90))
    vhost.publish(b'{"piece": 1, "duree": 1}')
    vhost.publish(b'{"piece": 1, "duree": 1}')
    collectors.depths.clear()
    samples = scrape()
    assert 90 <= value(samples, "garage_outbox_lag_seconds") < 120
    assert value(samples, "garage_queue_messages", queue="garage") == 2
    assert value(samples, "garage_dead_letters_waiting") == 0


@pytest.mark.django_db
def test_the_boards_pipeline_figures_are_exported(settings, metrics_on, piece):
    settings.AMQP_URL = "amqp://guest:guest@127.0.0.1:1/%2F"
    for _ in range(10):
        Demande.objects.create(piece=piece.pk, duree=1)
    samples = scrape()
    assert value(samples, "garage_pipeline_requests_per_minute", window_seconds="300") == 2.0
    assert value(samples, "garage_outbox_pending") == 10
    assert value(samples, "garage_requests_queued") == 0


@pytest.mark.django_db
def test_a_missing_broker_is_a_gauge_not_an_error(settings, metrics_on):
    settings.AMQP_URL = "amqp://guest:guest@127.0.0.1:1/%2F"
    samples = scrape()
    assert value(samples, "garage_broker_up") == 0
    assert not any(name == "garage_queue_messages" for name, _ in samples)


# --- logs ---------------------------------------------------------------------------------
def _record(msg: str = "hello %s", args=("world",), name: str = "garage.test"):
    record = logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, None)
    RequestIdFilter().filter(record)
    return record


def test_json_lines_carry_utc_time_and_the_request_id():
    token = request_id.set("rid-42")
    try:
        line = JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        ).format(_record())
    finally:
        request_id.reset(token)
    data = json.loads(line)
    assert data["message"] == "hello world" and data["level"] == "INFO"
    assert data["request_id"] == "rid-42" and data["logger"] == "garage.test"
    assert data["time"].endswith("Z") and "T" in data["time"]
    assert "\n" not in line


@pytest.mark.django_db
def test_one_access_line_per_request_with_its_id_and_fields(client, caplog):
    caplog.set_level(logging.INFO, logger="garage.access")
    r = client.get("/api/piece/?probe=1", HTTP_X_REQUEST_ID="r-access-1")
    assert r.status_code == 401
    lines = [rec for rec in caplog.records if rec.name == "garage.access"]
    assert len(lines) == 1
    (record,) = lines
    RequestIdFilter().filter(record)
    data = json.loads(JsonFormatter("%(message)s").format(record))
    assert data["request_id"] == "r-access-1" and data["status"] == 401
    assert data["path"] == "/api/piece/?probe=1" and data["method"] == "GET"
    assert isinstance(data["duration_ms"], int) and data["bytes"] == len(r.content)
    assert '"GET /api/piece/?probe=1 HTTP/1.1" 401' in data["message"]
    assert "Authorization" not in data["message"]


def test_plain_lines_are_utc_whatever_the_process_time_zone(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    try:
        record = _record()
        line = UTCFormatter("%(asctime)s [%(request_id)s] %(message)s").format(record)
    finally:
        monkeypatch.undo()
        time.tzset()
    stamp = time.strftime("%Y-%m-%dT%H", time.gmtime(record.created))
    assert line.startswith(stamp) and line.split(" ")[0].endswith("Z")
    assert "[-] hello world" in line
