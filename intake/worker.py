"""The worker's handler: a thin bridge from queue deliveries to the domain function."""

from __future__ import annotations

import logging

from django.db import DatabaseError, InterfaceError, OperationalError, connection

from messaging.consumer import ACK, DeadLetter, Delivery, Outcome, TransientError
from metier.services import process_demandes

from . import messages

log = logging.getLogger(__name__)


def handle_batch(batch: list[Delivery]) -> list[Outcome]:
    requests = [messages.decode(d.body, d.message_id) for d in batch]
    try:
        results = process_demandes(requests=requests)
    except (OperationalError, InterfaceError, DatabaseError) as exc:
        # Unreachable database, lock timeout, a unique key raced by another consumer...:
        # none of it is the messages' fault. Drop the connection so the next try opens a
        # fresh one, and let the consumer retry the batch through the delay queues.
        _close_quietly()
        raise TransientError(f"database: {exc.__class__.__name__}: {exc}") from exc
    outcomes: list[Outcome] = []
    for result in results:
        if result.status == "rejected":
            outcomes.append(DeadLetter(result.reason))
        else:
            outcomes.append(ACK)
    return outcomes


def _close_quietly() -> None:
    try:
        connection.close()
    except Exception:
        log.debug("closing a broken database connection failed", exc_info=True)
