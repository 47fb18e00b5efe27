"""Connection settings and the names of the queues, read once from Django settings."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, replace

import pika
from django.conf import settings


@dataclass(frozen=True)
class Topology:
    queue: str
    queue_type: str  # "classic" or "quorum"
    delivery_limit: int
    retry_limit: int
    retry_base_ms: int
    # The events' topic exchange (empty: none) and the consuming services' queues bound to
    # it: (queue, binding keys). Each such queue's consumer declares its own DLQ and delay
    # queues (`for_queue`).
    events_exchange: str = ""
    event_queues: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def dlq(self) -> str:
        return f"{self.queue}.dlq"

    def retry_queue(self, attempt: int) -> str:
        """The delay queue for the given attempt (1-based); its TTL doubles each time."""
        return f"{self.queue}.retry.{attempt}"

    def retry_delay_ms(self, attempt: int) -> int:
        return self.retry_base_ms * (2 ** (attempt - 1))


def topology() -> Topology:
    if settings.GARAGE_QUEUE_TYPE not in {"classic", "quorum"}:
        raise ValueError(
            f"GARAGE_QUEUE_TYPE must be classic or quorum, not {settings.GARAGE_QUEUE_TYPE!r}"
        )
    return Topology(
        queue=settings.GARAGE_QUEUE,
        queue_type=settings.GARAGE_QUEUE_TYPE,
        delivery_limit=settings.GARAGE_DELIVERY_LIMIT,
        retry_limit=settings.GARAGE_RETRY_LIMIT,
        retry_base_ms=settings.GARAGE_RETRY_BASE_MS,
        events_exchange=getattr(settings, "GARAGE_EVENTS_EXCHANGE", ""),
        event_queues=tuple(
            (name, tuple(keys))
            for name, keys in getattr(settings, "GARAGE_EVENT_QUEUES", {}).items()
        ),
    )


def for_queue(topo: Topology, queue: str) -> Topology:
    """The same topology for another consuming queue (an event consumer's: its DLQ and
    delay queues are named after it)."""
    return replace(topo, queue=queue)


def amqp_urls(value: str | None = None) -> list[str]:
    """The broker addresses of AMQP_URL: one URL, or several separated by commas (a cluster's
    nodes), each with its own credentials and vhost."""
    urls = [u.strip() for u in (value or settings.AMQP_URL).split(",") if u.strip()]
    if not urls:
        raise ValueError("AMQP_URL holds no address")
    return urls


def connection_parameters(url: str | None = None, role: str = "tool") -> list[pika.URLParameters]:
    """Parameters for each address of AMQP_URL (vhosts honoured), shuffled, with timeouts that
    fail fast; `pika.BlockingConnection` takes the list and tries them in that order.

    Called on every connect and reconnect, so clients spread over a cluster's nodes and a
    node that goes away costs one refused (or timed-out) attempt, not an outage.
    `blocked_connection_timeout` turns a broker alarm (connection.blocked) into an error
    after a few seconds instead of a publisher that waits forever.
    """
    urls = amqp_urls(url)
    random.shuffle(urls)
    return [_parameters(u, role) for u in urls]


def _parameters(url: str, role: str) -> pika.URLParameters:
    params = pika.URLParameters(url)
    params.heartbeat = settings.GARAGE_HEARTBEAT
    params.socket_timeout = settings.GARAGE_CONNECT_TIMEOUT
    params.stack_timeout = settings.GARAGE_CONNECT_TIMEOUT * 2
    params.blocked_connection_timeout = max(settings.GARAGE_CONNECT_TIMEOUT * 2, 1.0)
    params.connection_attempts = 1
    # Shown by `rabbitmqctl list_connections name client_properties`: who is who.
    params.client_properties = {"connection_name": f"garage-{role}-{os.getpid()}"}
    return params


def _redact_one(url: str) -> str:
    params = pika.URLParameters(url)
    return f"amqp://{params.credentials.username}:***@{params.host}:{params.port}/{params.virtual_host}"


def redact(url: str) -> str:
    """The URL (or comma-separated URLs) without passwords, for logs."""
    return ",".join(_redact_one(u) for u in amqp_urls(url))


def describe(connection: pika.BlockingConnection | pika.SelectConnection) -> str:
    """The address an open connection actually went to (which node of a cluster), for logs."""
    params = getattr(connection, "params", None) or getattr(
        getattr(connection, "_impl", None), "params", None
    )
    if params is None:  # pika keeps it on its internal connection; never fail a log line
        return "?"
    return f"amqp://{params.credentials.username}:***@{params.host}:{params.port}/{params.virtual_host}"
