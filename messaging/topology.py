"""Declares the queues each process uses. Declaring is idempotent, so every process does it."""

from __future__ import annotations

from pika.adapters.blocking_connection import BlockingChannel

from .config import Topology


def garage_queue_arguments(topo: Topology) -> dict | None:
    """Arguments of the main queue.

    Classic: none at all, the seed's own declaration (`durable=True`), so a queue made by
    the seed or any other program that declares it the same way is compatible.
    Quorum: for a cluster; a delivery limit dead-letters a message that keeps crashing
    its consumers instead of letting it loop.
    """
    if topo.queue_type == "quorum":
        return {
            "x-queue-type": "quorum",
            "x-delivery-limit": topo.delivery_limit,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": topo.dlq,
        }
    return None


def _type_args(topo: Topology) -> dict:
    return {"x-queue-type": "quorum"} if topo.queue_type == "quorum" else {}


def _retry_extra(topo: Topology) -> dict:
    if topo.queue_type != "quorum":
        return {}
    # Quorum queues can dead-letter at-least-once (3.10+): a retried message is not lost
    # on its way back to the main queue if a node fails.
    return {
        "x-queue-type": "quorum",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def declare(channel: BlockingChannel, topo: Topology) -> None:
    channel.queue_declare(topo.queue, durable=True, arguments=garage_queue_arguments(topo))
    channel.queue_declare(topo.dlq, durable=True, arguments=_type_args(topo) or None)
    for attempt in range(1, topo.retry_limit + 1):
        # A delay queue: messages wait out the TTL, then dead-letter back to the main queue.
        channel.queue_declare(
            topo.retry_queue(attempt),
            durable=True,
            arguments={
                **_retry_extra(topo),
                "x-message-ttl": topo.retry_delay_ms(attempt),
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": topo.queue,
            },
        )
