"""Publishing with many confirms in flight: one thread, one connection, for a whole process.

`Publisher` (publisher.py) waits for each message's confirm before it sends the next: one
broker round trip per message. Under load the web's after-commit publisher fell behind
that way and the relay, meant only as a safety net, published much of the traffic (README
"Performance"). Here the thread runs pika's asynchronous `SelectConnection`: messages are
written as soon as they are submitted, and the broker's acks, often one for many messages
(`multiple`), come back as they come. The guarantee is the same: a message counts as
published only once the broker confirmed it, and it is handed to `on_confirmed` then.

What is not confirmed is never reported as published: a message that was nacked or
returned (unroutable), or in flight when the connection dropped, is handed to `on_failed`
(the outbox leaves it to the relay). Submitting never blocks: while the broker is away the
messages wait in a bounded buffer, and beyond it they are dropped (the relay has them).

`submit` may be called from any thread; pika itself is touched by the publisher's thread
only (`add_callback_threadsafe` is pika's one thread-safe call).
"""

from __future__ import annotations

import logging
import random
import threading
from collections import OrderedDict, deque
from collections.abc import Callable

import pika
import pika.exceptions
from django.conf import settings

from . import topology
from .config import Topology, connection_parameters, describe, redact
from .config import topology as load_topology
from .publisher import Backoff, Message, publish_arguments

log = logging.getLogger(__name__)

Report = Callable[[list[Message]], None]


class PipelinedPublisher:
    def __init__(
        self,
        *,
        on_confirmed: Report,
        on_failed: Report,
        url: str | None = None,
        topo: Topology | None = None,
        role: str = "publisher",
        buffer: int = 10_000,
    ) -> None:
        self.url = url or settings.AMQP_URL
        self.topo = topo or load_topology()
        self.role = role
        self.on_confirmed, self.on_failed = on_confirmed, on_failed
        self.buffer = buffer
        self.backoff = Backoff()
        self._lock = threading.Lock()
        self._waiting: deque[Message] = deque()  # submitted, not yet written
        self._wake_scheduled = False
        self._connection: pika.SelectConnection | None = None
        self._channel = None
        self._ready = False  # channel open, confirms on, not blocked
        self._in_flight: OrderedDict[int, Message] = OrderedDict()  # delivery tag -> message
        self._returned: set[str | None] = set()
        self._next_tag = 1
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{role}-publisher", daemon=True)
        self._thread.start()

    # -- any thread ---------------------------------------------------------------------
    def submit(self, message: Message) -> bool:
        """Queues a message for publishing; False if the buffer is full (it was dropped)."""
        with self._lock:
            if len(self._waiting) + len(self._in_flight) >= self.buffer:
                return False
            self._waiting.append(message)
            if self._wake_scheduled or not self._ready:
                return True
            self._wake_scheduled = True
            connection = self._connection
        try:
            connection.ioloop.add_callback_threadsafe(self._write)
        except Exception:  # the loop is going away: the messages wait for the next connection
            with self._lock:
                self._wake_scheduled = False
        return True

    def pending(self) -> int:
        with self._lock:
            return len(self._waiting) + len(self._in_flight)

    def stop(self, timeout: float = 5.0) -> None:
        """Closes the connection after what is in flight was confirmed (or `timeout`)."""
        self._stopping.set()
        connection = self._connection
        if connection is not None:
            try:
                connection.ioloop.add_callback_threadsafe(self._close_when_done)
            except Exception:
                pass
        self._thread.join(timeout)

    # -- the publisher's thread ------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping.is_set():
            wait = self.backoff.delay()
            if wait and self._stopping.wait(wait):
                break
            try:
                self._declare()
                params = random.choice(connection_parameters(self.url, self.role))
                self._connection = pika.SelectConnection(
                    params,
                    on_open_callback=self._on_open,
                    on_open_error_callback=self._on_open_error,
                    on_close_callback=self._on_closed,
                )
                self._connection.ioloop.start()
            except Exception as exc:
                log.warning(
                    "%s publisher: cannot publish to %s: %r", self.role, redact(self.url), exc
                )
                self.backoff.failed()
            finally:
                self._lost()

    def _declare(self) -> None:
        """The topology, declared idempotently over a short blocking connection first."""
        connection = pika.BlockingConnection(connection_parameters(self.url, self.role))
        try:
            topology.declare(connection.channel(), self.topo)
        finally:
            connection.close()

    def _on_open(self, connection: pika.SelectConnection) -> None:
        connection.add_on_connection_blocked_callback(self._on_blocked)
        connection.add_on_connection_unblocked_callback(self._on_unblocked)
        connection.channel(on_open_callback=self._on_channel)

    def _on_channel(self, channel) -> None:
        self._channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(ack_nack_callback=self._on_confirm, callback=self._on_confirming)

    def _on_confirming(self, _frame) -> None:
        self.backoff.succeeded()
        # The node's address, as the other clients log it (the cluster test follows them).
        log.info(
            "%s publisher connected to %s (confirms pipelined)",
            self.role,
            describe(self._connection),
        )
        with self._lock:
            self._ready = True
        self._write()

    def _on_open_error(self, _connection, exc: BaseException) -> None:
        log.warning("%s publisher: cannot connect to %s: %r", self.role, redact(self.url), exc)
        self.backoff.failed()
        self._connection.ioloop.stop()

    def _on_closed(self, _connection, reason: BaseException) -> None:
        if not self._stopping.is_set():
            log.warning("%s publisher connection closed: %r", self.role, reason)
            self.backoff.failed()
        self._connection.ioloop.stop()

    def _on_channel_closed(self, _channel, reason: BaseException) -> None:
        if self._connection is not None and self._connection.is_open:
            if not self._stopping.is_set():
                log.warning("%s publisher channel closed: %r", self.role, reason)
            self._connection.close()

    def _on_blocked(self, _connection, _frame) -> None:
        log.warning("broker blocked the %s publisher (resource alarm)", self.role)
        with self._lock:
            self._ready = False

    def _on_unblocked(self, _connection, _frame) -> None:
        log.info("broker unblocked the %s publisher", self.role)
        with self._lock:
            self._ready = True
        self._write()

    def _write(self) -> None:
        with self._lock:
            self._wake_scheduled = False
            if not self._ready:
                return
            batch = list(self._waiting)
            self._waiting.clear()
        for message in batch:
            self._channel.basic_publish(**publish_arguments(message, self.topo.queue))
            with self._lock:
                self._in_flight[self._next_tag] = message
            self._next_tag += 1

    def _on_return(self, _channel, _method, properties, _body) -> None:
        # Arrives before the message's ack: remember it, so the ack does not count.
        self._returned.add(properties.message_id)

    def _on_confirm(self, frame) -> None:
        method = frame.method
        settled: list[Message] = []
        with self._lock:
            while self._in_flight:
                tag = next(iter(self._in_flight))
                if tag > method.delivery_tag or (
                    not method.multiple and tag != method.delivery_tag
                ):
                    break
                settled.append(self._in_flight.pop(tag))
        if isinstance(method, pika.spec.Basic.Ack):
            good = [m for m in settled if m.message_id not in self._returned]
            bad = [m for m in settled if m.message_id in self._returned]
        else:
            good, bad = [], settled
        self._returned.difference_update(m.message_id for m in bad)
        if good:
            self._report(self.on_confirmed, good)
        if bad:
            log.warning("%s publisher: %d message(s) refused or unroutable", self.role, len(bad))
            self._report(self.on_failed, bad)
        if self._stopping.is_set():
            self._close_when_done()

    def _close_when_done(self) -> None:
        with self._lock:
            done = not self._in_flight
        if done and self._connection is not None and self._connection.is_open:
            self._connection.close()

    def _lost(self) -> None:
        """The connection is gone: what was in flight has no known outcome."""
        with self._lock:
            self._ready = False
            self._wake_scheduled = False
            lost = list(self._in_flight.values())
            self._in_flight.clear()
            self._next_tag = 1
        self._returned.clear()
        self._connection = self._channel = None
        if lost:
            self._report(self.on_failed, lost)

    def _report(self, report: Report, messages: list[Message]) -> None:
        try:
            report(messages)
        except Exception:
            log.exception("%s publisher: reporting %d message(s) failed", self.role, len(messages))
