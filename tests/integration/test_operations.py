"""Operator commands against a real broker: queue depths, dead letters, replay; quorum mode."""

from __future__ import annotations

import json
import subprocess

import pika
from django.core.management import call_command

from metier.models import Demande, Reparation
from metier.services import create_piece
from tests.support.stack import wait_until


def test_queues_and_dead_letters_commands(stack, vhost, capsys):
    piece = create_piece(nom="Filtre", prix="10")
    with vhost.connection() as conn:
        ch = conn.channel()
        ch.queue_declare("garage", durable=True)
        ch.basic_publish("", "garage", b"{oops", pika.BasicProperties(message_id="bad-1"))
        # a request for a part that does not exist yet
        body = json.dumps({"piece": piece.pk + 1, "duree": 2}).encode()
        ch.basic_publish("", "garage", body, pika.BasicProperties(message_id="later-1"))
    consumer = stack.start_consumer()
    wait_until(lambda: vhost.depth("garage.dlq") == 2, timeout=30, message="two dead letters")

    call_command("queues")
    out = capsys.readouterr().out
    assert "garage.dlq" in out and " 2" in out

    call_command("dlq", "list")
    out = capsys.readouterr().out
    assert "bad-1" in out and "not JSON" in out and "unknown part" in out

    call_command("dlq", "show", "2")
    assert json.loads(capsys.readouterr().out)["message_id"] == "later-1"

    # The part arrives; the operator replays that one letter, which is reopened and done.
    create_piece(nom="Courroie", prix="20")
    call_command("dlq", "replay", "later-1")
    assert "replayed 1" in capsys.readouterr().out
    wait_until(lambda: Reparation.objects.count() == 1, timeout=30, message="replayed repair")
    assert Demande.objects.get(statut="traitee").reparation is not None
    assert vhost.depth("garage.dlq") == 1  # the JSON error stays
    assert consumer.alive()


def test_quorum_queue_setting(stack, vhost):
    """GARAGE_QUEUE_TYPE=quorum declares `garage` as a quorum queue with a delivery limit."""
    consumer = stack.start_consumer(GARAGE_QUEUE_TYPE="quorum", GARAGE_DELIVERY_LIMIT="3")

    def declared() -> str:
        out = subprocess.run(
            ["rabbitmqctl", "list_queues", "-p", vhost.name, "name", "type", "arguments", "-q"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return out

    wait_until(lambda: "garage\t" in declared(), timeout=30, message="garage declared")
    line = next(x for x in declared().splitlines() if x.startswith("garage\t"))
    assert "quorum" in line and "x-delivery-limit" in line
    with vhost.connection() as conn:
        conn.channel().basic_publish("", "garage", json.dumps({"piece": 1, "duree": 1}).encode())
    wait_until(
        lambda: vhost.depth("garage.dlq") == 1, timeout=30, message="unknown part dead-lettered"
    )
    assert consumer.alive(), consumer.output()


def test_relay_republishes_a_request_left_without_outcome(stack, vhost, settings):
    """The safety net: a request queued long ago whose message left the queue without an
    outcome (e.g. its transient retries ran out while the database was down) is published
    again, and the idempotent worker makes its repair once."""
    from datetime import timedelta

    from django.utils import timezone

    from metier.services import accept_demande

    piece = create_piece(nom="Filtre", prix="10")
    demande, _ = accept_demande(piece=piece.pk, duree=2)
    # As if it had been published an hour and a half ago, and its message lost to the DLQ.
    Demande.objects.filter(pk=demande.pk).update(
        statut="en_file", publiee_le=timezone.now() - timedelta(minutes=90)
    )
    stack.start_consumer(GARAGE_RELAY_REQUEUE_AFTER="3600")
    wait_until(lambda: Reparation.objects.count() == 1, timeout=30, message="republished, done")
    demande.refresh_from_db()
    assert demande.statut == "traitee" and demande.reparation is not None
