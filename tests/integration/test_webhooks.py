"""Webhooks against the real things: RabbitMQ (a private vhost), the `webhooks` process as a
process, and a real HTTP receiver (http.server) that verifies every signature.

The events are published to `garage.events` in the contract's shape (EVENTS.md) through
the project's messaging module, as the event outbox will publish them."""

from __future__ import annotations

import io
import re
import time
from collections import defaultdict

import pytest
from django.core.management import call_command

from messaging.events import EventPublisher
from metier.models import LivraisonWebhook
from metier.services import webhooks as service
from tests.support.broker import rabbitmqctl
from tests.support.stack import free_port, wait_until
from tests.support.webhooks import Receiver, body, cloudevent
from webhooks.evenements import topology

pytestmark = [pytest.mark.rabbitmq, pytest.mark.django_db(transaction=True)]

EXCHANGE = "garage.events"
FAST = {
    "GARAGE_WEBHOOK_ALLOW_PRIVATE": "1",  # the receiver is on 127.0.0.1
    "GARAGE_WEBHOOK_RETRY_BASE_S": "0.5",
    "GARAGE_WEBHOOK_RETRY_CAP_S": "4",
    "GARAGE_WEBHOOK_POLL_S": "0.1",
}


@pytest.fixture
def publisher(vhost):
    p = EventPublisher(vhost.url, EXCHANGE, role="test")
    yield p
    p.close()


def bindings(vhost) -> set[tuple[str, str, str]]:
    out = rabbitmqctl(
        "list_bindings",
        "-p",
        vhost.name,
        "-q",
        "--no-table-headers",
        "source_name",
        "destination_name",
        "routing_key",
    )
    return {tuple(line.split("\t")) for line in out.splitlines() if line.strip()}


def test_a_receiver_down_for_30s_gets_everything_signed_in_order_per_subject(
    stack, vhost, publisher, settings
):
    settings.GARAGE_RETRY_BASE_MS = int(stack.env["GARAGE_RETRY_BASE_MS"])  # same delay queues
    port = free_port()
    abonnement = service.create_abonnement(url=f"http://127.0.0.1:{port}/hook", types=["#"])
    other = service.create_abonnement(url=f"http://127.0.0.1:{port}/x", types=["facture.*"])
    # Declared before the process runs (as it declares it too): idempotent, same arguments.
    publisher.declare_queue(topology(), ("#",))
    proc = stack.start_webhooks(**FAST)
    subjects = [f"reparation/{n}" for n in range(1, 6)]
    events = []
    for sequence in range(1, 9):  # interleaved subjects, each in its own order
        for subject in subjects:
            events.append(cloudevent("reparation.statut", subject, sequence, statut="x"))
    down_since = time.monotonic()
    for event in events:
        publisher.publish("reparation.statut", body(event), message_id=event["id"])
    for event in events[:5]:  # at least once: some are delivered twice
        publisher.publish("reparation.statut", body(event), message_id=event["id"])
    wait_until(
        lambda: LivraisonWebhook.objects.filter(abonnement=abonnement).count() == len(events),
        timeout=30,
        message="every event recorded once",
    )
    assert not LivraisonWebhook.objects.filter(abonnement=other).exists()  # not its types
    wait_until(
        lambda: LivraisonWebhook.objects.filter(tentatives__gte=2).count() >= len(subjects),
        timeout=30,
        message="the deliveries being retried while the receiver is down",
    )
    # The retries are scheduled in the database: a webhooks process killed meanwhile, and
    # another started, carries on where it was.
    time.sleep(max(0.0, 10 - (time.monotonic() - down_since)))
    proc.kill()
    proc = stack.start_webhooks(**FAST)
    time.sleep(max(0.0, 30 - (time.monotonic() - down_since)))
    assert LivraisonWebhook.objects.filter(statut="livree").count() == 0

    receiver = Receiver(port=port, secret=abonnement.secret)
    try:
        wait_until(
            lambda: len(receiver.received) >= len(events),
            timeout=60,
            message="every delivery after the receiver came back",
        )
        time.sleep(1)  # nothing more should come
        assert receiver.bad_signatures == []
        got = receiver.events()
        ids = [e["id"] for e in got]
        assert len(ids) == len(set(ids)) == len(events)
        per_subject = defaultdict(list)
        for event in got:
            per_subject[event["subject"]].append(event["sequence"])
        assert dict(per_subject) == {s: list(range(1, 9)) for s in subjects}
        for r in receiver.received:
            assert r["headers"]["webhook-id"] == r["event"]["id"]
            assert r["headers"]["webhook-signature"].startswith("v1,")
    finally:
        receiver.close()
    rows = LivraisonWebhook.objects.filter(abonnement=abonnement)
    assert rows.filter(statut="livree").count() == len(events)
    assert rows.filter(tentatives__gte=2).count() >= len(subjects)  # the log shows the outage
    assert proc.terminate() == 0, proc.output()


def test_a_malformed_event_is_dead_lettered_and_the_queue_is_bound_with_hash(
    stack, vhost, publisher
):
    proc = stack.start_webhooks(**FAST)
    wait_until(lambda: vhost.depth("garage.webhooks") is not None, timeout=30)
    wait_until(
        lambda: (EXCHANGE, "garage.webhooks", "#") in bindings(vhost),
        timeout=30,
        message="garage.webhooks bound to garage.events with #",
    )
    # Someone subscribes to parts (an event nobody wants is acked and not kept).
    service.create_abonnement(url=f"http://127.0.0.1:{free_port()}/hook", types=["piece.*"])
    good = cloudevent("piece.sous_seuil", "piece/3", 1)
    publisher.publish("piece.sous_seuil", b'{"specversion": "1.0", "id": ')
    publisher.publish("piece.sous_seuil", body({**good, "id": "x", "sequence": "one"}))
    publisher.publish("piece.sous_seuil", body(good), message_id=good["id"])
    wait_until(lambda: vhost.depth("garage.webhooks.dlq") == 2, timeout=30)
    dead = vhost.get_all("garage.webhooks.dlq")
    reasons = sorted(props.headers["x-garage-reason"] for props, _ in dead)
    assert all(r.startswith("malformed event") for r in reasons), reasons
    assert "sequence" in reasons[1] or "sequence" in reasons[0]
    from metier.models import EvenementWebhook

    wait_until(lambda: EvenementWebhook.objects.filter(id=good["id"]).exists(), timeout=10)
    assert vhost.depth("garage.webhooks") == 0
    # The operator's commands cover the webhooks' queues.
    out = io.StringIO()
    call_command("queues", stdout=out)
    assert re.search(r"^garage\.webhooks\.dlq\s+2$", out.getvalue(), re.M), out.getvalue()
    out = io.StringIO()
    call_command("dlq", "--queue", "garage.webhooks", "list", stdout=out)
    assert "malformed event" in out.getvalue() and "2 dead letter(s)" in out.getvalue()
    # A second process declares the same queue and binding again: nothing breaks.
    second = stack.start_webhooks(**FAST)
    time.sleep(2)
    assert second.alive(), second.output()
    assert proc.terminate() == 0 and second.terminate() == 0
