"""Domain events reach the topic exchange `garage.events` as CloudEvents, with confirms:
right after the commit, and through the relay for what that missed (real RabbitMQ)."""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal

import pytest

from messaging.publisher import Publisher
from metier import services
from metier.models import Evenement
from pipeline.outbox import relay_once

pytestmark = [pytest.mark.rabbitmq, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tap(vhost, settings):
    """A queue of the test's own, bound to every event (as a subscriber would be)."""
    name = f"test.tap.{uuid.uuid4().hex[:8]}"
    settings.GARAGE_EVENT_QUEUES = {**settings.GARAGE_EVENT_QUEUES, name: ["#"]}
    return name


def _drain(vhost, queue: str) -> list:
    out = []
    with vhost.connection() as conn:
        ch = conn.channel()
        while True:
            method, props, body = ch.basic_get(queue, auto_ack=True)
            if method is None:
                return out
            out.append((method, props, json.loads(body)))


def _wait_published(timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while Evenement.objects.filter(publie_le__isnull=True).exists():
        assert time.monotonic() < deadline, "events still unpublished"
        time.sleep(0.05)


def test_events_are_published_after_commit_as_cloudevents(vhost, tap):
    client = services.create_client(nom="Mme Martin", email="m@example.fr")
    voiture = services.create_voiture(marque="Peugeot", couleur="gris", client=client)
    piece = services.create_piece(nom="Filtre", prix=Decimal("12.00"), stock=3)
    # declare the topology (the tap queue exists before the first event goes out)
    with Publisher() as p:
        p._connect()
    rep = services.create_reparation(piece=piece, duree=1, voiture=voiture)
    for action in ("planifier", "demarrer", "terminer"):
        services.transition(reparation=rep, action=action)
    # on the exchange right after each commit (no relay runs here)
    got: list = []
    deadline = time.monotonic() + 30
    while len(got) < 4:
        assert time.monotonic() < deadline, f"only {len(got)} event(s) published"
        got += _drain(vhost, tap)
        time.sleep(0.05)
    _wait_published(timeout=30)  # and marked published once confirmed
    mine = [(m, p, ce) for m, p, ce in got if ce["subject"] == f"reparation/{rep.pk}"]
    assert [m.routing_key for m, _p, _ce in mine] == [
        "reparation.demandee",
        "reparation.planifiee",
        "reparation.en_cours",
        "reparation.terminee",
    ]
    for method, props, ce in mine:
        assert method.exchange == "garage.events"
        assert props.content_type == "application/cloudevents+json"
        assert props.delivery_mode == 2
        assert props.message_id == ce["id"]
        assert ce["specversion"] == "1.0" and ce["source"] == "/garage"
        assert ce["type"] == "fr.garage." + method.routing_key
        assert ce["time"].endswith("Z") and ce["datacontenttype"] == "application/json"
    assert [ce["sequence"] for _m, _p, ce in mine] == [1, 2, 3, 4]
    # and the notifier's own queue holds the one it is bound to
    notifier = [ce["type"] for _m, _p, ce in _drain(vhost, "garage.notifier")]
    assert "fr.garage.reparation.terminee" in notifier


def test_the_relay_publishes_what_the_after_commit_path_missed(vhost, tap, settings):
    piece = services.create_piece(nom="Filtre", prix=Decimal("12.00"), stock=0)
    # the broker is "down" for the after-commit publisher: a closed port
    settings.AMQP_URL = "amqp://guest:guest@127.0.0.1:1/%2F"
    rep = services.create_reparation(piece=piece, duree=1)
    services.transition(reparation=rep, action="planifier")
    time.sleep(0.5)
    assert Evenement.objects.filter(publie_le__isnull=True).count() == 2
    settings.AMQP_URL = vhost.url
    with Publisher() as publisher:
        assert relay_once(publisher, grace=0) == 2
    assert not Evenement.objects.filter(publie_le__isnull=True).exists()
    got = [ce for _m, _p, ce in _drain(vhost, tap)]
    assert [(ce["type"], ce["sequence"]) for ce in got] == [
        ("fr.garage.reparation.demandee", 1),
        ("fr.garage.reparation.en_attente_pieces", 2),
    ]
