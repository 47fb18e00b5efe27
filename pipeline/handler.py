"""The worker's batch handler: deliveries from the queue in, one outcome each out (ack, dead
letter, retry). It decodes the messages (messages.py) and hands the batch to
`process_demandes` (demandes.py), one transaction; the consumer loop (messaging/) acks."""

from __future__ import annotations

import logging
import time

from django.db import InterfaceError, OperationalError, connection

from messaging.consumer import ACK, DeadLetter, Delivery, Outcome, Retry, TransientError
from metier.models import Demande
from observability import metrics

from . import messages
from .demandes import process_demandes

log = logging.getLogger(__name__)


def handle_batch(batch: list[Delivery]) -> list[Outcome]:
    started = time.perf_counter()
    requests = [messages.decode(d.body, d.message_id) for d in batch]
    try:
        results = process_demandes(requests=requests)
    except (OperationalError, InterfaceError) as exc:
        # Unreachable database, lock timeout, deadlock victim: not the messages' fault.
        # Drop the connection so the next try opens a fresh one, and let the consumer retry
        # the batch through the delay queues.
        _close_quietly()
        raise TransientError(f"database: {exc.__class__.__name__}: {exc}") from exc
    except Exception:
        # Anything else (a value the database refuses, a bug) may be one message's doing:
        # the batch is tried again one message at a time, so that only that one is retried
        # (and, past the limit, dead-lettered) while the others go through.
        if len(batch) == 1:
            raise
        log.exception("a batch of %d failed; trying its messages one by one", len(batch))
        return [_alone(delivery) for delivery in batch]
    _observe(batch, results, time.perf_counter() - started)
    return [
        DeadLetter(r.motif) if r.statut == Demande.Statut.REJETEE and not r.doublon else ACK
        for r in results
    ]


def _observe(batch: list[Delivery], results: list, seconds: float) -> None:
    """Metrics and one log line for a committed batch: in memory, no round trip."""
    committed = time.time()
    counts = {"done": 0, "duplicate": 0, "rejected": 0}
    latencies = []
    for delivery, r in zip(batch, results, strict=True):
        if r.doublon:
            counts["duplicate"] += 1
        elif r.statut == Demande.Statut.TRAITEE:
            counts["done"] += 1
            accepted = messages.accepted_at(delivery.headers)
            if accepted is not None:
                latencies.append(committed - accepted)
        else:
            counts["rejected"] += 1
    metrics.batch_handled(size=len(batch), seconds=seconds, results=counts, latencies=latencies)
    log.info(
        "batch of %d handled in %.1f ms: %d done, %d duplicate, %d rejected",
        len(batch),
        seconds * 1000,
        counts["done"],
        counts["duplicate"],
        counts["rejected"],
        # The HTTP requests' ids (X-Request-ID), to follow one request from the edge.
        extra={"request_ids": [d.correlation_id for d in batch if d.correlation_id]},
    )


def _alone(delivery: Delivery) -> Outcome:
    try:
        [outcome] = handle_batch([delivery])
        return outcome
    except TransientError as exc:
        return Retry(str(exc))
    except Exception as exc:
        return Retry(f"handler error: {exc!r}")


def _close_quietly() -> None:
    try:
        connection.close()
    except Exception:
        log.debug("closing a broken database connection failed", exc_info=True)
