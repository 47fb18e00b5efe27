"""Publishing with publisher confirms over one long-lived connection.

A `Publisher` belongs to one thread (pika connections are not thread-safe). It connects
lazily, reconnects after a failure, and refuses to retry a dead broker more often than its
backoff allows, so that a caller is never held up by a broker that is down.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

import pika
import pika.exceptions
from django.conf import settings

from . import topology
from .config import Topology, connection_parameters, describe, redact
from .config import topology as load_topology

log = logging.getLogger(__name__)

JSON = "application/json"


class PublishError(Exception):
    """A message was not confirmed by the broker: it may or may not have been stored.

    `confirmed` counts the messages of the same call that were confirmed before it.
    """

    def __init__(self, message: str, confirmed: int = 0) -> None:
        super().__init__(message)
        self.confirmed = confirmed


@dataclass
class Message:
    body: bytes
    message_id: str | None = None
    headers: dict | None = None
    # The HTTP request id it came from (AMQP `correlation_id`), for the logs.
    correlation_id: str | None = None
    # Where it goes: by default the main queue (default exchange); events name their
    # exchange (`garage.events`) and routing key, and their own content type.
    exchange: str = ""
    routing_key: str | None = None
    content_type: str | None = None
    # Unroutable is an error (the queue is missing) unless the sender says a message may go
    # nowhere: an event no service subscribes to (the consumers' queues are declared with
    # the exchange on connect, so a subscribed event always finds its queue).
    mandatory: bool = True


@dataclass
class Backoff:
    """Exponential backoff with full jitter (AWS architecture blog), capped."""

    base: float = 0.2
    cap: float = 10.0
    failures: int = 0
    _not_before: float = field(default=0.0)

    def ready(self) -> bool:
        return time.monotonic() >= self._not_before

    def delay(self) -> float:
        return max(0.0, self._not_before - time.monotonic())

    def failed(self) -> None:
        self.failures += 1
        wait = random.uniform(0, min(self.cap, self.base * 2**self.failures))
        self._not_before = time.monotonic() + wait

    def succeeded(self) -> None:
        self.failures = 0
        self._not_before = 0.0


def publish_arguments(message: Message, queue: str) -> dict[str, Any]:
    """`basic_publish`'s arguments for a message, for both publishers: persistent, to its
    exchange and routing key (the default: the `queue`). mandatory: an unroutable request
    (queue missing) is an error, not a loss; an event may go nowhere (`Message.mandatory`)."""
    return {
        "exchange": message.exchange,
        "routing_key": message.routing_key or queue,
        "body": message.body,
        "properties": pika.BasicProperties(
            content_type=message.content_type or JSON,
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            headers=message.headers,
        ),
        "mandatory": message.mandatory,
    }


class Publisher:
    def __init__(
        self, url: str | None = None, topo: Topology | None = None, role: str = "publisher"
    ) -> None:
        self.url = url or settings.AMQP_URL
        self.role = role
        self.topo = topo or load_topology()
        self.backoff = Backoff()
        self._connection: pika.BlockingConnection | None = None
        self._channel = None
        self.blocked = False

    # -- connection ------------------------------------------------------------------
    def _connect(self) -> None:
        if not self.backoff.ready():
            raise PublishError(f"broker unavailable, next try in {self.backoff.delay():.1f}s")
        try:
            connection = pika.BlockingConnection(connection_parameters(self.url, self.role))
            channel = connection.channel()
            channel.confirm_delivery()
            topology.declare(channel, self.topo)
        except Exception as exc:  # pika raises many unrelated types; all mean "not now"
            self.backoff.failed()
            raise PublishError(f"cannot connect to {redact(self.url)}: {exc!r}") from exc
        connection.add_on_connection_blocked_callback(self._on_blocked)
        connection.add_on_connection_unblocked_callback(self._on_unblocked)
        self._connection, self._channel = connection, channel
        self.blocked = False
        self.backoff.succeeded()
        log.info("%s publisher connected to %s", self.role, describe(connection))

    def _on_blocked(self, _connection, _frame) -> None:
        log.warning("broker blocked the publisher (resource alarm)")
        self.blocked = True

    def _on_unblocked(self, _connection, _frame) -> None:
        log.info("broker unblocked the publisher")
        self.blocked = False

    def keepalive(self) -> None:
        """Services heartbeats and broker notices on an idle connection (never raises)."""
        if self._connection is None or not self._connection.is_open:
            return
        try:
            self._connection.process_data_events(0)
        except Exception:
            log.info("publisher connection lost while idle; it reconnects on the next publish")
            self.close()

    def ensure_connected(self) -> None:
        """Connects now if the connection is gone (never raises): an idle publisher, such as
        the relay's, moves off a lost node before it has something to publish."""
        self.keepalive()
        if (self._connection is None or not self._connection.is_open) and self.backoff.ready():
            try:
                self._connect()
            except PublishError as exc:
                log.info("%s publisher not connected: %s", self.role, exc)

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except Exception:  # closing a broken connection: nothing left to save
                log.debug("error while closing publisher connection", exc_info=True)

    def _reset(self) -> None:
        self.close()
        self.backoff.failed()

    # -- publishing ------------------------------------------------------------------
    def publish_many(self, messages: list[Message]) -> None:
        """Publishes persistent messages one after the other, each confirmed by the broker;
        raises on the first failure.

        The messages before the failing one are confirmed; the caller keeps track of them
        through the exception's `confirmed` count.
        """
        if self._connection is None or not self._connection.is_open:
            self._connect()
        else:
            # Let pika read pending frames (blocked/unblocked, heartbeats) before we write.
            try:
                self._connection.process_data_events(0)
            except Exception as exc:
                self._reset()
                raise PublishError(f"connection lost: {exc!r}") from exc
        if self.blocked:
            raise PublishError("broker has a resource alarm (connection.blocked)")
        confirmed = 0
        try:
            for message in messages:
                self._channel.basic_publish(**publish_arguments(message, self.topo.queue))
                confirmed += 1
        except pika.exceptions.UnroutableError as exc:
            raise PublishError(f"unroutable message: {exc!r}", confirmed) from exc
        except pika.exceptions.NackError as exc:
            raise PublishError(f"broker refused the message: {exc!r}", confirmed) from exc
        except Exception as exc:
            self._reset()
            raise PublishError(f"publish failed: {exc!r}", confirmed) from exc

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
