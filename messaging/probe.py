"""Is the broker there? One short AMQP connection, opened and closed (for readiness)."""

from __future__ import annotations

import logging

import pika

from .config import connection_parameters

log = logging.getLogger(__name__)


def broker_reachable(url: str | None = None) -> bool:
    """True when an AMQP connection (credentials and vhost included) can be opened now.
    Bounded by GARAGE_CONNECT_TIMEOUT; never raises."""
    try:
        connection = pika.BlockingConnection(connection_parameters(url, "health"))
    except Exception:  # refused, timeout, bad credentials, unknown vhost: all "no"
        return False
    try:
        connection.close()
    except Exception:
        log.debug("closing the probe connection failed", exc_info=True)
    return True
