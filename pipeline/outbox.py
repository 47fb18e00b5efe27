"""Getting accepted requests from the database (the outbox) onto the queue.

Two paths, both with publisher confirms, so that a request is on the queue soon after its
commit and, whatever fails, eventually:

- right after the commit, each web process hands the request to its own publisher thread
  (one AMQP connection per process, never one per request, many confirms in flight, and
  the HTTP answer never waits for RabbitMQ);
- the relay (`python manage.py relay`, also run inside the worker) publishes every request
  still `acceptee` after a grace period: those whose web process died, or whose broker
  was down or blocked.

Publishing twice is harmless: the consumer is idempotent on the request id.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from messaging.pipelined import PipelinedPublisher
from messaging.publisher import Message, Publisher, PublishError
from metier.models import Demande, Evenement
from observability import metrics
from observability.context import request_id

from . import events, messages
from .demandes import mark_published, mark_republished

log = logging.getLogger(__name__)


def message_for(demande: Demande, correlation_id: str | None = None) -> Message:
    """The request's message; its correlation id is the HTTP request's, as recorded."""
    return Message(
        body=messages.encode(demande),
        message_id=str(demande.id),
        correlation_id=correlation_id or demande.id_requete or None,
        headers={messages.ACCEPTED_AT: int(demande.cree_le.timestamp() * 1000)},
    )


def publish_batch(
    publisher: Publisher, items: list[Message], mark=mark_published, sender: str = "web"
) -> int:
    """Publishes, then `mark`s (by default: published) what the broker confirmed.
    Returns how many were confirmed. `sender` labels the metrics."""
    try:
        publisher.publish_many(items)
        confirmed = len(items)
    except PublishError as exc:
        confirmed = exc.confirmed
        log.warning("publishing stopped after %d of %d: %s", confirmed, len(items), exc)
    metrics.published(sender, len(items), confirmed)
    if confirmed:
        mark(ids=[m.message_id for m in items[:confirmed]])
    return confirmed


_STOP: list[Message] = []  # tells the marker to finish


class _AfterCommitPublisher:
    """One per web process: requests handed over after their commit are published with
    many confirms in flight (messaging/pipelined.py); a marker thread then records the
    confirmed ones as published, a few hundred per statement."""

    def __init__(self, mark=mark_published, sender: str = "web") -> None:
        self.mark, self.sender = mark, sender  # events have their own (issue 12)
        self.pid = os.getpid()
        self.url = settings.AMQP_URL
        self.confirmed: queue.Queue[list[Message]] = queue.Queue()
        self.publisher = PipelinedPublisher(
            url=self.url, role=sender, on_confirmed=self.confirmed.put, on_failed=self._failed
        )
        self.marker = threading.Thread(target=self._mark, name="outbox-marker", daemon=True)
        self.marker.start()

    def submit(self, message: Message) -> None:
        if not self.publisher.submit(message):
            log.warning("publisher backlog full; request %s left to the relay", message.message_id)

    def _failed(self, messages: list[Message]) -> None:
        metrics.published(self.sender, len(messages), 0)
        log.warning("%d message(s) not confirmed; left to the relay", len(messages))

    def _mark(self) -> None:
        # Waiting a little gathers the confirms of many requests into one statement; a row
        # not yet marked is harmless (the relay's grace is far longer).
        delay = settings.GARAGE_MARK_DELAY_MS / 1000
        while True:
            try:
                batch = self.confirmed.get(timeout=5)
            except queue.Empty:
                close_old_connections()  # idle: let go of an old or broken connection
                continue
            if batch is _STOP:
                connection.close()
                return
            time.sleep(delay)
            stop = False
            while len(batch) < 2000:
                try:
                    more = self.confirmed.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                batch += more
            metrics.published(self.sender, len(batch), len(batch))
            try:
                self.mark(ids=[m.message_id for m in batch])
            except Exception:
                log.exception("marking %d confirmed request(s) failed; the relay will", len(batch))
            if stop:
                connection.close()
                return

    def stop(self, timeout: float = 5.0) -> None:
        self.publisher.stop(timeout)
        self.confirmed.put(_STOP)
        self.marker.join(timeout)


_lock = threading.Lock()
_instances: dict[str, _AfterCommitPublisher] = {}


def _current(kind: str, make: Callable[[], _AfterCommitPublisher]) -> _AfterCommitPublisher:
    """This process's publisher of a kind (requests, events): one thread and connection.
    A forked process must not reuse its parent's; a new broker URL (tests) gets a new one."""
    with _lock:
        current = _instances.get(kind)
        stale = current is None or current.pid != os.getpid()
        if stale or current.url != settings.AMQP_URL:
            if not stale:
                current.stop(timeout=1.0)
            current = _instances[kind] = make()
        return current


def _publisher() -> _AfterCommitPublisher:
    return _current("requests", _AfterCommitPublisher)


def _events_publisher() -> _AfterCommitPublisher:
    """The process's publisher of domain events (its own thread and connection)."""
    return _current("events", lambda: _AfterCommitPublisher(mark=_mark_events, sender="events"))


def _mark_events(*, ids: list) -> int:
    # The marker thread keeps its connection while busy (a new one per batch cost a
    # PostgreSQL backend each time) and lets it go after 5 s idle, or on stop().
    return events.mark_published(ids=ids)


def publish_events_after_commit(committed: list) -> None:
    """The domain's on-commit listener (metier.evenements, registered by PipelineConfig):
    the events a transaction wrote leave right after its commit; the relay has the rows."""
    if not settings.GARAGE_EVENTS_AFTER_COMMIT:
        return
    try:
        publisher = _events_publisher()
        for event in committed:
            publisher.submit(events.message_for(event))
    except Exception:  # never fail the caller's request for this: the relay publishes it
        log.exception("could not hand events to the publisher; the relay will")


def stop() -> None:
    """Stops this process's publishers and markers (the test suite, before it drops its
    database: a marker holds a connection)."""
    with _lock:
        for publisher in _instances.values():
            if publisher.pid == os.getpid():
                publisher.stop()
        _instances.clear()


def publish_on_commit(demande: Demande) -> None:
    message = message_for(demande, request_id.get())  # the HTTP request's id, for the logs
    transaction.on_commit(lambda: _publisher().submit(message))


# --- the relay --------------------------------------------------------------------------
def relay_once(
    publisher: Publisher, *, grace: float | None = None, limit: int | None = None
) -> int:
    """Publishes requests still unpublished after `grace` seconds. Returns how many."""
    grace = settings.GARAGE_RELAY_GRACE if grace is None else grace
    limit = limit or settings.GARAGE_RELAY_BATCH
    cutoff = timezone.now() - timedelta(seconds=grace)
    pending = list(
        Demande.objects.filter(statut=Demande.Statut.ACCEPTEE, cree_le__lte=cutoff).order_by(
            "cree_le"
        )[:limit]
    )
    batch = [message_for(d) for d in pending]
    sent = publish_batch(publisher, batch, sender="relay") if pending else 0
    sent += relay_events(publisher, cutoff=cutoff, limit=limit)
    return sent + republish_stale(publisher, limit=limit)


def relay_events(publisher: Publisher, *, cutoff, limit: int) -> int:
    """Publishes the domain events still unpublished (written before `cutoff`), in the
    order they were written, each subject's in sequence order."""
    pending = list(
        Evenement.objects.filter(publie_le__isnull=True, cree_le__lte=cutoff).order_by(
            "cree_le", "sujet", "sequence"
        )[:limit]
    )
    if not pending:
        return 0
    return publish_batch(
        publisher,
        [events.message_for(e) for e in pending],
        mark=events.mark_published,
        sender="relay_events",
    )


def republish_stale(publisher: Publisher, *, limit: int) -> int:
    """Publishes again the requests queued long ago and still not done or rejected.

    The safety net for a message that left the queue without an outcome: its transient
    retries ran out while the database was down for longer than they last (it waits in
    the DLQ), or a quorum queue's delivery limit dead-lettered it. The worker is
    idempotent, so a copy that was merely slow costs a duplicate ack, nothing more.
    """
    if not settings.GARAGE_RELAY_REQUEUE_AFTER:
        return 0
    cutoff = timezone.now() - timedelta(seconds=settings.GARAGE_RELAY_REQUEUE_AFTER)
    stale = list(
        Demande.objects.filter(statut=Demande.Statut.EN_FILE, publiee_le__lte=cutoff).order_by(
            "publiee_le"
        )[:limit]
    )
    if not stale:
        return 0
    confirmed = publish_batch(
        publisher, [message_for(d) for d in stale], mark=mark_republished, sender="safety_net"
    )
    log.warning("republished %d request(s) queued for too long without an outcome", confirmed)
    return confirmed


def run_relay(stop: threading.Event, *, interval: float | None = None) -> None:
    interval = settings.GARAGE_RELAY_INTERVAL if interval is None else interval
    publisher = Publisher(role="relay")
    log.info("relay started (every %.1fs, grace %.1fs)", interval, settings.GARAGE_RELAY_GRACE)
    try:
        while not stop.is_set():
            try:
                sent = relay_once(publisher)
            except Exception:
                log.exception("relay pass failed")
                sent = 0
            finally:
                close_old_connections()
            if sent:
                log.info("relay published %d pending request(s)", sent)
            if sent < settings.GARAGE_RELAY_BATCH:
                publisher.ensure_connected()  # idle: still on a live node when needed
                stop.wait(max(interval, publisher.backoff.delay()))
            else:
                time.sleep(0)
    finally:
        publisher.close()
