"""Declares the queues each process uses. Declaring is idempotent, so every process does it."""

from __future__ import annotations

from dataclasses import replace

from pika.adapters.blocking_connection import BlockingChannel

from .config import Topology


def _quorum(dead_letter_to: str | None = None, delivery_limit: int | None = None) -> dict:
    """A quorum queue's arguments (replicated by Raft; a publish is confirmed once a majority
    of the queue's members hold it).

    - `x-overflow: reject-publish`: if a length limit is ever set (by a policy), a full queue
      refuses new messages (the publisher gets a nack and the request stays in the outbox)
      instead of dropping its oldest ones; it is also what at-least-once dead-lettering
      requires of its source queue.
    - `x-dead-letter-strategy: at-least-once`: a message dead-lettered by this queue is removed
      only once its target queue has confirmed it, so a node failing on the way loses nothing
      (the default, at-most-once, fires and forgets).
    """
    args: dict = {"x-queue-type": "quorum", "x-overflow": "reject-publish"}
    if delivery_limit is not None:
        args["x-delivery-limit"] = delivery_limit
    if dead_letter_to is not None:
        args.update(
            {
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": dead_letter_to,
                "x-dead-letter-strategy": "at-least-once",
            }
        )
    return args


def garage_queue_arguments(topo: Topology) -> dict | None:
    """Arguments of the main queue.

    Classic: none at all, the seed's own declaration (`durable=True`), so a queue made by
    the seed or any other program that declares it the same way is compatible.
    Quorum: for a cluster; a delivery limit dead-letters (to the DLQ, at least once) a
    message that keeps crashing its consumers instead of letting it loop.
    """
    if topo.queue_type == "quorum":
        return _quorum(dead_letter_to=topo.dlq, delivery_limit=topo.delivery_limit)
    return None


def dlq_arguments(topo: Topology) -> dict | None:
    """The end of the line: no dead-lettering further, and no delivery limit (`dlq list`
    reads the dead letters and gives them back; each time counts as a delivery, and a limit
    without a target would drop them)."""
    return _quorum() if topo.queue_type == "quorum" else None


def retry_queue_arguments(topo: Topology, attempt: int) -> dict:
    """A delay queue: messages wait out the TTL, then dead-letter back to the main queue.
    Nothing consumes it, so it needs no delivery limit."""
    args = _quorum(dead_letter_to=topo.queue) if topo.queue_type == "quorum" else {}
    return {
        **args,
        "x-message-ttl": topo.retry_delay_ms(attempt),
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": topo.queue,
    }


def declare(channel: BlockingChannel, topo: Topology) -> None:
    _declare_queues(channel, topo)
    declare_events(channel, topo)


def declare_events(channel: BlockingChannel, topo: Topology) -> None:
    """The events' topic exchange (durable) and each consuming service's queue bound to it:
    declared by every publisher too, so that no event is published before the queues that
    must hold it exist (events are published non-mandatory: one that no queue is bound to
    goes nowhere, by design). Their DLQ and delay queues are declared by their consumer
    (`declare` with the consumer's topology), whose settings they follow."""
    if not topo.events_exchange:
        return
    channel.exchange_declare(topo.events_exchange, exchange_type="topic", durable=True)
    for name, keys in topo.event_queues:
        own = replace(topo, queue=name)
        channel.queue_declare(name, durable=True, arguments=garage_queue_arguments(own))
        for key in keys:
            channel.queue_bind(name, topo.events_exchange, routing_key=key)


def _declare_queues(channel: BlockingChannel, topo: Topology) -> None:
    channel.queue_declare(topo.queue, durable=True, arguments=garage_queue_arguments(topo))
    channel.queue_declare(topo.dlq, durable=True, arguments=dlq_arguments(topo))
    for attempt in range(1, topo.retry_limit + 1):
        channel.queue_declare(
            topo.retry_queue(attempt),
            durable=True,
            arguments=retry_queue_arguments(topo, attempt),
        )
