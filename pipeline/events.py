"""Domain events on the wire: CloudEvents 1.0 (structured JSON) on the topic exchange
`garage.events`, routing key `<subject>.<event>` (docs/events/, EVENTS.md).

The domain writes events to its outbox (metier/evenements.py) in the transaction of the
change; this module turns an outbox row into its message, and marks what the broker
confirmed as published. Publishing is pipeline/outbox.py's job (right after the commit,
and the relay for whatever that missed).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from messaging.publisher import Message
from metier.models import Evenement

CONTENT_TYPE = "application/cloudevents+json"
TYPE_PREFIX = "fr.garage."


def cloudevent(event: Evenement) -> dict[str, Any]:
    """The CloudEvents 1.0 structured form of an outbox row; `sequence` is an extension
    attribute (an integer, per subject, from 1): consumers order by it."""
    return {
        "specversion": "1.0",
        "id": str(event.id),
        "source": settings.GARAGE_EVENTS_SOURCE,
        "type": TYPE_PREFIX + event.type,
        "time": event.cree_le.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "subject": event.sujet,
        "datacontenttype": "application/json",
        "sequence": event.sequence,
        "data": event.donnees,
    }


def message_for(event: Evenement) -> Message:
    return Message(
        body=json.dumps(cloudevent(event), ensure_ascii=False, separators=(",", ":")).encode(),
        message_id=str(event.id),
        exchange=settings.GARAGE_EVENTS_EXCHANGE,
        routing_key=event.type,
        content_type=CONTENT_TYPE,
        mandatory=False,  # an event no service subscribes to goes nowhere, and that is fine
    )


def routing_key(ce: dict[str, Any]) -> str:
    """The routing key of a CloudEvent's `type` (`fr.garage.reparation.terminee`)."""
    return str(ce.get("type", "")).removeprefix(TYPE_PREFIX)


@transaction.atomic
def mark_published(*, ids: list[str | uuid.UUID]) -> int:
    """Stamps `publie_le` on the events the broker confirmed (once: a second publication,
    relay and after-commit racing, keeps the first time)."""
    return Evenement.objects.filter(id__in=ids, publie_le__isnull=True).update(
        publie_le=timezone.now()
    )
