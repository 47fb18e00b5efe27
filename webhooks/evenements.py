"""The `webhooks` process's batch handler: events off `garage.webhooks`, checked against the
contract (EVENTS.md: CloudEvents 1.0 structured JSON), recorded with their deliveries in one
transaction, then acked by the consumer. A message that is not such an event is
dead-lettered (`garage.webhooks.dlq`) with the reason; a database failure retries the batch
through the delay queues."""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.db import DatabaseError

from messaging.config import Topology, for_queue
from messaging.config import topology as load_topology
from messaging.consumer import ACK, DeadLetter, Delivery, Outcome, TransientError
from metier.services.webhooks import EvenementRecu, enregistrer_evenements

log = logging.getLogger(__name__)

TYPE_PREFIX = "fr.garage."
_REQUIRED_STRINGS = ("id", "source", "type", "time", "subject")


def topology() -> Topology:
    """`garage.webhooks`, its dead letters and delay queues (same kinds as `garage`'s), as
    every consuming service's queue is (GARAGE_EVENT_QUEUES)."""
    return for_queue(load_topology(), settings.GARAGE_WEBHOOK_QUEUE)


class EvenementInvalide(ValueError):
    pass


def lire(body: bytes) -> EvenementRecu:
    """The event in a message body; EvenementInvalide says what is wrong with it."""
    if len(body) > settings.GARAGE_WEBHOOK_MAX_EVENT_BYTES:
        raise EvenementInvalide(f"event too large: {len(body)} bytes")
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvenementInvalide(f"not JSON: {exc}") from exc
    if not isinstance(event, dict):
        raise EvenementInvalide("not a JSON object")
    if event.get("specversion") != "1.0":
        raise EvenementInvalide(f"specversion must be '1.0', not {event.get('specversion')!r}")
    for name in _REQUIRED_STRINGS:
        value = event.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > 100:
            raise EvenementInvalide(f"`{name}` must be a non-empty string (at most 100)")
        if not value.isprintable():
            raise EvenementInvalide(f"`{name}` holds control characters")
    if not event["type"].startswith(TYPE_PREFIX) or len(event["type"]) == len(TYPE_PREFIX):
        raise EvenementInvalide(f"`type` must be {TYPE_PREFIX}<routing key>")
    sequence = event.get("sequence")
    if isinstance(sequence, bool) or not isinstance(sequence, int) or not 1 <= sequence < 2**63:
        raise EvenementInvalide("`sequence` must be a whole number from 1")
    if "data" in event and not isinstance(event["data"], dict | list):
        raise EvenementInvalide("`data` must be a JSON object")
    return EvenementRecu(
        id=event["id"],
        cle=event["type"][len(TYPE_PREFIX) :],
        sujet=event["subject"],
        sequence=sequence,
        corps=body.decode(),
    )


def handle_batch(batch: list[Delivery]) -> list[Outcome]:
    outcomes: list[Outcome] = []
    events: list[EvenementRecu] = []
    for delivery in batch:
        try:
            events.append(lire(delivery.body))
            outcomes.append(ACK)
        except EvenementInvalide as exc:
            outcomes.append(DeadLetter(f"malformed event: {exc}"))
    try:
        created = enregistrer_evenements(events)
    except DatabaseError as exc:
        raise TransientError(f"database: {exc}") from exc
    if created:
        log.info("%d events, %d new deliveries", len(events), created)
    return outcomes
