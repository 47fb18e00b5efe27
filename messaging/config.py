"""Connection settings and the names of the queues, read once from Django settings."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pika
from django.conf import settings


@dataclass(frozen=True)
class Topology:
    queue: str
    queue_type: str  # "classic" or "quorum"
    delivery_limit: int
    retry_limit: int
    retry_base_ms: int

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
    )


def connection_parameters(url: str | None = None, role: str = "tool") -> pika.URLParameters:
    """Parameters from AMQP_URL (its vhost is honoured) with timeouts that fail fast.

    `blocked_connection_timeout` turns a broker alarm (connection.blocked) into an error
    after a few seconds instead of a publisher that waits forever.
    """
    params = pika.URLParameters(url or settings.AMQP_URL)
    params.heartbeat = settings.GARAGE_HEARTBEAT
    params.socket_timeout = settings.GARAGE_CONNECT_TIMEOUT
    params.stack_timeout = settings.GARAGE_CONNECT_TIMEOUT * 2
    params.blocked_connection_timeout = max(settings.GARAGE_CONNECT_TIMEOUT * 2, 1.0)
    params.connection_attempts = 1
    # Shown by `rabbitmqctl list_connections name client_properties`: who is who.
    params.client_properties = {"connection_name": f"garage-{role}-{os.getpid()}"}
    return params


def redact(url: str) -> str:
    """The URL without its password, for logs."""
    params = pika.URLParameters(url)
    return f"amqp://{params.credentials.username}:***@{params.host}:{params.port}/{params.virtual_host}"
