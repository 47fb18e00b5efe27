"""The events' topic exchange (`garage.events`, EVENTS.md): declaring it, binding a consuming
service's own queue to it, consuming that queue, and publishing an event (with confirms).

A service's queue is an ordinary `Topology` (its dead-letter and delay queues included); an
`EventConsumer` is the project's `Consumer` that also declares the exchange and the binding
each time it connects. Everything here is idempotent: every process declares what it uses.
"""

from __future__ import annotations

from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from . import topology
from .config import Topology, connection_parameters
from .consumer import Consumer
from .publisher import PublishError

CLOUDEVENTS_JSON = "application/cloudevents+json"


def declare_exchange(channel: BlockingChannel, exchange: str) -> None:
    channel.exchange_declare(exchange, exchange_type="topic", durable=True)


def declare_bound_queue(
    channel: BlockingChannel, topo: Topology, exchange: str, bindings: tuple[str, ...]
) -> None:
    """The exchange, the service's queues, and the queue bound with each pattern."""
    declare_exchange(channel, exchange)
    topology.declare(channel, topo)
    for pattern in bindings:
        channel.queue_bind(topo.queue, exchange, routing_key=pattern)


class EventConsumer(Consumer):
    """A `Consumer` of a queue bound to the events' exchange (same batches, acks, dead
    letters and delay queues)."""

    def __init__(self, handler: Any, *, exchange: str, bindings: tuple[str, ...], **kw: Any):
        super().__init__(handler, **kw)
        self.exchange = exchange
        self.bindings = bindings

    def _connect(self) -> None:
        super()._connect()
        declare_bound_queue(self.channel, self.topo, self.exchange, self.bindings)


class EventPublisher:
    """Publishes events to the exchange, persistent, each confirmed by the broker; one
    connection, for one thread. Raises PublishError when a message is not confirmed."""

    def __init__(self, url: str, exchange: str, role: str = "events") -> None:
        self.url = url
        self.exchange = exchange
        self.role = role
        self._connection: pika.BlockingConnection | None = None
        self._channel = None

    def _open(self):
        if self._connection is None or not self._connection.is_open:
            self._connection = pika.BlockingConnection(connection_parameters(self.url, self.role))
            self._channel = self._connection.channel()
            self._channel.confirm_delivery()
            declare_exchange(self._channel, self.exchange)
        return self._channel

    def declare_queue(self, topo: Topology, bindings: tuple[str, ...]) -> None:
        """For a service that is not running yet: its queue exists and gets the events."""
        declare_bound_queue(self._open(), topo, self.exchange, bindings)

    def publish(
        self,
        routing_key: str,
        body: bytes,
        *,
        message_id: str | None = None,
        content_type: str = CLOUDEVENTS_JSON,
    ) -> None:
        try:
            self._open().basic_publish(
                exchange=self.exchange,
                routing_key=routing_key,
                body=body,
                properties=pika.BasicProperties(
                    content_type=content_type,
                    delivery_mode=pika.DeliveryMode.Persistent,
                    message_id=message_id,
                ),
            )
        except pika.exceptions.NackError as exc:
            raise PublishError(f"broker refused the event: {exc!r}") from exc
        except (pika.exceptions.AMQPError, OSError) as exc:
            self.close()
            raise PublishError(f"publish failed: {exc!r}") from exc

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except Exception:  # already broken: nothing to close cleanly
                pass

    def __enter__(self) -> EventPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
