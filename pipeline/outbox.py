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
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from messaging.pipelined import PipelinedPublisher
from messaging.publisher import Message, Publisher, PublishError
from metier.models import Demande
from observability import metrics
from observability.context import request_id

from . import messages
from .demandes import mark_published, mark_republished

log = logging.getLogger(__name__)


def message_for(demande: Demande, correlation_id: str | None = None) -> Message:
    return Message(
        body=messages.encode(demande),
        message_id=str(demande.id),
        correlation_id=correlation_id,
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

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.url = settings.AMQP_URL
        self.confirmed: queue.Queue[list[Message]] = queue.Queue()
        self.publisher = PipelinedPublisher(
            url=self.url, role="web", on_confirmed=self.confirmed.put, on_failed=self._failed
        )
        self.marker = threading.Thread(target=self._mark, name="outbox-marker", daemon=True)
        self.marker.start()

    def submit(self, message: Message) -> None:
        if not self.publisher.submit(message):
            log.warning("publisher backlog full; request %s left to the relay", message.message_id)

    def _failed(self, messages: list[Message]) -> None:
        metrics.published("web", len(messages), 0)
        log.warning("%d request(s) not confirmed; left to the relay", len(messages))

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
            metrics.published("web", len(batch), len(batch))
            try:
                mark_published(ids=[m.message_id for m in batch])
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
_instance: _AfterCommitPublisher | None = None


def _publisher() -> _AfterCommitPublisher:
    global _instance
    with _lock:
        # A forked worker (gunicorn) must not reuse its parent's thread or connection; a
        # new broker URL (tests) gets a new publisher.
        stale = _instance is None or _instance.pid != os.getpid()
        if stale or _instance.url != settings.AMQP_URL:
            if not stale:
                _instance.stop(timeout=1.0)  # a new broker URL (tests): the old one goes
            _instance = _AfterCommitPublisher()
        return _instance


def stop() -> None:
    """Stops this process's publisher and marker (the test suite, before it drops its
    database: the marker holds a connection)."""
    global _instance
    with _lock:
        if _instance is not None and _instance.pid == os.getpid():
            _instance.stop()
        _instance = None


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
    return sent + republish_stale(publisher, limit=limit)


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
                stop.wait(max(interval, publisher.backoff.delay()))
            else:
                time.sleep(0)
    finally:
        publisher.close()
