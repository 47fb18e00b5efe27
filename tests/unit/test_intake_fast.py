"""The intake's fast path (intake/fast.py) answers as the DRF views do, and only takes the
requests it should: every other request, and every error, is the views' to answer."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache

from metier.models import Demande
from tests.support.accounts import make_account, token_client

pytestmark = pytest.mark.django_db(transaction=True)

FAST = "intake.fast.FastIntakeMiddleware"
# What both paths must agree on, beside the body; the request id differs per request.
HEADERS = ("Content-Type", "Location", "Allow", "Vary", "X-Frame-Options", "Retry-After")


@pytest.fixture(autouse=True)
def no_broker(settings):
    settings.AMQP_URL = "amqp://guest:guest@127.0.0.1:1/%2F"  # nothing listens there
    cache.clear()


@pytest.fixture
def token():
    return make_account("accueil")[1]


@pytest.fixture
def client(token):
    return token_client(token)


@pytest.fixture
def views_taken(monkeypatch):
    """How many requests reached the DRF views."""
    from intake import views

    seen = []
    original = views._accept
    monkeypatch.setattr(views, "_accept", lambda *a, **kw: seen.append(1) or original(*a, **kw))
    return seen


def without_fast_path(settings):
    settings.MIDDLEWARE = [m for m in django_settings.MIDDLEWARE if m != FAST]


def answer(r) -> tuple:
    body = r.json()
    if "id" in body:
        body = {k: v for k, v in body.items() if k not in ("id", "url", "cree_le")}
    headers = {h: r.headers.get(h) for h in HEADERS if h not in ("Location", "Allow")}
    # DRF lists the allowed methods from a set: their order varies from run to run.
    allow = frozenset((r.headers.get("Allow") or "").split(", "))
    return r.status_code, headers, allow, body


def both(settings, token, send) -> tuple:
    """The same request with the fast path, then without (a new client: a client loads
    the middleware once)."""
    fast = send(token_client(token))
    without_fast_path(settings)
    slow = send(token_client(token))
    return fast, slow


@pytest.mark.parametrize(
    "send",
    [
        lambda c, p: c.get(f"/reparation/{p}/5/"),
        lambda c, p: c.post("/reparation/", {"piece": p, "duree": 2}, format="json"),
        lambda c, p: c.post(
            "/reparation/", {"piece": p, "duree": 2, "description": "bruit"}, format="json"
        ),
    ],
    ids=["get", "post", "post-description"],
)
def test_an_accepted_request_is_answered_alike_and_by_the_fast_path(
    settings, token, piece, views_taken, send
):
    fast, slow = both(settings, token, lambda c: send(c, piece.pk))
    assert fast.status_code == 202 and views_taken == [1]  # only the second went to DRF
    assert answer(fast) == answer(slow)
    assert fast["Location"] == fast.json()["url"]
    assert fast.json()["url"].endswith(f"/api/demande/{fast.json()['id']}/")
    assert Demande.objects.count() == 2


@pytest.mark.parametrize(
    "send",
    [
        lambda c, p: c.get("/reparation/999999/5/"),  # unknown part: 404
        lambda c, p: c.get(f"/reparation/{p}/0/"),  # out of bounds: 400
        lambda c, p: c.get(f"/reparation/{p}/abc/"),
        lambda c, p: c.post("/reparation/", {"piece": p}, format="json"),
        lambda c, p: c.post("/reparation/", {"piece": p, "duree": True}, format="json"),
        lambda c, p: c.post("/reparation/", {"piece": p, "duree": 2.5}, format="json"),
        lambda c, p: c.post("/reparation/", [1, 2], format="json"),
        lambda c, p: c.generic("POST", "/reparation/", "{", content_type="application/json"),
        lambda c, p: c.post("/reparation/", {"piece": p, "duree": 1, "voiture": 99}, format="json"),
        lambda c, p: c.get(f"/reparation/{p}/5/", HTTP_IDEMPOTENCY_KEY=" "),
        lambda c, p: c.get(f"/reparation/{p}/5/", HTTP_ACCEPT="text/html"),
    ],
)
def test_errors_are_the_views_and_the_same(settings, token, piece, send):
    fast, slow = both(settings, token, lambda c: send(c, piece.pk))
    assert fast.status_code >= 400
    assert answer(fast) == answer(slow)
    assert Demande.objects.count() == 0


def test_no_token_bad_token_and_no_permission_are_the_views(piece, views_taken):
    from rest_framework.test import APIClient

    assert APIClient().get(f"/reparation/{piece.pk}/5/").status_code == 401
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token " + "x" * 64)
    assert bad.get(f"/reparation/{piece.pk}/5/").status_code == 401
    mechanic = token_client(make_account("mecanicien")[1])
    r = mechanic.get(f"/reparation/{piece.pk}/5/")
    assert r.status_code == 403 and "detail" in r.json()
    assert Demande.objects.count() == 0


def test_a_replayed_key_gives_the_first_answer_and_one_row(client, piece, views_taken):
    first = client.get(f"/reparation/{piece.pk}/5/", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.get(f"/reparation/{piece.pk}/5/", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"] and views_taken == []
    other = client.get(f"/reparation/{piece.pk}/6/", HTTP_IDEMPOTENCY_KEY="k-1")
    assert other.status_code == 409 and Demande.objects.count() == 1


def test_the_throttle_counts_each_request_once(settings, client, piece):
    settings.GARAGE_THROTTLE_RATES = {**settings.GARAGE_THROTTLE_RATES, "intake": "3/min"}
    codes = [client.get(f"/reparation/{piece.pk}/1/").status_code for _ in range(2)]
    # A request the fast path counted, then handed to the view (unknown part): counted once.
    codes.append(client.get("/reparation/999999/1/").status_code)
    refused = client.get(f"/reparation/{piece.pk}/1/")
    assert codes == [202, 202, 404] and refused.status_code == 429
    assert "throttled" in refused.json()["detail"] and 1 <= int(refused["Retry-After"]) <= 60


def test_intake_metrics_and_the_access_log_see_the_fast_path(client, piece, caplog):
    import logging

    from observability import metrics

    caplog.set_level(logging.INFO, logger="garage.access")
    seen = []
    original = metrics.intake_answered
    metrics.intake_answered = lambda status, seconds: (
        seen.append(status) or original(status, seconds)
    )
    try:
        r = client.get(f"/reparation/{piece.pk}/3/", HTTP_X_REQUEST_ID="fast-rid-1")
    finally:
        metrics.intake_answered = original
    assert r.status_code == 202 and seen == [202] and r["X-Request-ID"] == "fast-rid-1"
    (line,) = [rec for rec in caplog.records if rec.name == "garage.access"]
    assert line.request_id == "fast-rid-1" and line.status == 202


def _kill_connection(monkeypatch, writers: bool) -> None:
    """The web's persistent database connection dies between two requests: the request
    thread's own (here, the test's), or with `writers` the group-commit writer's."""
    from django.db import OperationalError, connection

    if connection.vendor == "postgresql":
        import psycopg

        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        mine = connection.connection.info.backend_pid
        which = "pid NOT IN (pg_backend_pid(), %s)" if writers else "pid = %s"
        with psycopg.connect(**params, autocommit=True) as other:
            killed = other.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                f"WHERE datname = current_database() AND {which}",
                [mine],
            ).fetchone()[0]
        assert killed >= 1
        return
    # SQLite has no server to lose: the statement fails once without reaching the file.
    from metier.services import demandes

    real, failed = demandes._execute, []

    def lost_once(sql, params):
        if not failed:
            failed.append(1)
            raise OperationalError("server closed the connection unexpectedly")
        return real(sql, params)

    monkeypatch.setattr(demandes, "_execute", lost_once)


@pytest.mark.parametrize("group", [64, 1], ids=["group-commit", "own-commit"])
def test_a_dead_database_connection_costs_no_failed_request(
    client, piece, views_taken, monkeypatch, settings, group
):
    """The fast path skips the per-request health check (a round trip): a dead connection
    is found by the INSERT itself, which is sent again once on a new connection."""
    settings.GARAGE_INTAKE_GROUP_MAX = group
    assert client.get(f"/reparation/{piece.pk}/1/").status_code == 202
    _kill_connection(monkeypatch, writers=group > 1)
    r = client.get(f"/reparation/{piece.pk}/2/")
    assert r.status_code == 202, r.content
    assert Demande.objects.filter(pk=r.json()["id"]).count() == 1 and views_taken == []


def test_a_retry_after_a_commit_adds_no_second_row(client, piece, monkeypatch):
    """The connection dies after the INSERT committed but before the answer: the retry
    finds the row by its id instead of adding another."""
    from django.db import OperationalError

    from metier.services import demandes

    real = demandes._execute
    calls = []

    def commit_then_die(sql, params):
        calls.append(1)
        if len(calls) == 1:
            real(sql, params)
            raise OperationalError("server closed the connection unexpectedly")
        return real(sql, params)

    monkeypatch.setattr(demandes, "_execute", commit_then_die)
    r = client.get(f"/reparation/{piece.pk}/4/")
    assert r.status_code == 202 and len(calls) == 2
    assert Demande.objects.count() == 1 and str(Demande.objects.get().pk) == r.json()["id"]


def test_concurrent_requests_share_commits_and_each_gets_its_own_row(piece, monkeypatch):
    """The group commit (intake/writer.py): 64 requests from 16 threads, one row each,
    the unknown parts refused; on PostgreSQL they took fewer commits than requests."""
    import threading

    from django.db import connection

    from intake import writer

    token = make_account("accueil")[1]
    answers: list = []
    lock = threading.Lock()
    batches: list[int] = []
    real = writer.enregistrer_demandes

    def counting(*, demandes):
        batches.append(len(demandes))
        return real(demandes=demandes)

    monkeypatch.setattr(writer, "enregistrer_demandes", counting)

    def send(n: int) -> None:
        c = token_client(token)
        for i in range(4):
            target = piece.pk if (n + i) % 8 else 999_999  # one in eight: unknown part
            r = c.get(f"/reparation/{target}/{1 + i}/")
            with lock:
                answers.append((target, r.status_code, r.json()))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = [body["id"] for target, code, body in answers if code == 202]
    assert all(code == 404 for target, code, _ in answers if target == 999_999)
    assert len(ok) == len(set(ok)) == sum(1 for t, _, _ in answers if t == piece.pk) == 56
    assert Demande.objects.count() == 56
    if connection.vendor == "postgresql":
        assert sum(batches) == 64 and len(batches) < 64, batches
    else:  # SQLite: each request records its own row
        assert batches == []


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "drf-view"])
def test_the_request_id_is_kept_for_whoever_publishes_the_request(settings, token, piece, fast):
    """The relay publishes rows, not requests: the row keeps the HTTP request's id, so the
    message it sends carries it to the worker's logs as the after-commit one does."""
    from pipeline.outbox import message_for

    if not fast:
        without_fast_path(settings)
    r = token_client(token).get(f"/reparation/{piece.pk}/3/", HTTP_X_REQUEST_ID="rid-kept-1")
    assert r.status_code == 202
    demande = Demande.objects.get(pk=r.json()["id"])
    assert demande.id_requete == "rid-kept-1"
    assert message_for(demande).correlation_id == "rid-kept-1"  # as the relay builds it
