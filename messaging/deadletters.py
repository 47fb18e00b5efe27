"""Operator tools on the broker: queue depths, and listing and replaying dead letters."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pika
import pika.exceptions
from django.conf import settings
from pika.adapters.blocking_connection import BlockingChannel

from .config import Topology, connection_parameters
from .config import topology as load_topology
from .consumer import ATTEMPT_HEADER, REASON_HEADER


@dataclass(frozen=True)
class StoredDeadLetter:
    """A message parked in `<queue>.dlq`, as an operator sees it."""

    position: int
    message_id: str | None
    reason: str
    headers: dict
    body: bytes
    correlation_id: str | None = None  # the request id of the HTTP request it came from


def _connect(url: str | None) -> pika.BlockingConnection:
    return pika.BlockingConnection(connection_parameters(url or settings.AMQP_URL))


def queue_depths(url: str | None = None, topo: Topology | None = None) -> dict[str, int | None]:
    """Messages ready in each queue of the topology (None: the queue does not exist)."""
    topo = topo or load_topology()
    names = [topo.queue, topo.dlq] + [topo.retry_queue(a) for a in range(1, topo.retry_limit + 1)]
    depths: dict[str, int | None] = {}
    with _connect(url) as connection:
        for name in names:
            channel = connection.channel()
            try:
                depths[name] = channel.queue_declare(name, passive=True).method.message_count
                channel.close()
            except pika.exceptions.ChannelClosedByBroker:
                depths[name] = None  # 404: not declared yet
    return depths


@contextmanager
def _dead_letters(
    url: str | None, topo: Topology
) -> Iterator[tuple[BlockingChannel, list[tuple[StoredDeadLetter, int]]]]:
    """Gets every dead letter once, unacked, with its delivery tag.

    What the caller does not ack goes back to the queue, in order, when the channel closes.
    """
    with _connect(url) as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        total = channel.queue_declare(topo.dlq, passive=True).method.message_count
        letters = []
        for position in range(1, total + 1):
            method, props, body = channel.basic_get(topo.dlq)
            if method is None:
                break
            headers = dict(props.headers or {})
            reason = _text(headers.get(REASON_HEADER, ""))
            letters.append(
                (
                    StoredDeadLetter(
                        position, props.message_id, reason, headers, body, props.correlation_id
                    ),
                    method.delivery_tag,
                )
            )
        yield channel, letters
        channel.close()


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def list_dead_letters(
    url: str | None = None, topo: Topology | None = None
) -> list[StoredDeadLetter]:
    with _dead_letters(url, topo or load_topology()) as (_channel, letters):
        return [letter for letter, _tag in letters]


def replay_dead_letters(
    select: Callable[[StoredDeadLetter], bool],
    before_replay: Callable[[list[StoredDeadLetter]], None] | None = None,
    url: str | None = None,
    topo: Topology | None = None,
) -> list[StoredDeadLetter]:
    """Moves the selected dead letters back to the main queue, with a fresh retry count.

    Each is republished (confirmed) before it is acked on the DLQ: a crash in between
    leaves a copy in both, which the idempotent consumer absorbs.
    """
    topo = topo or load_topology()
    with _dead_letters(url, topo) as (channel, letters):
        chosen = [(letter, tag) for letter, tag in letters if select(letter)]
        if before_replay is not None and chosen:
            before_replay([letter for letter, _ in chosen])
        for letter, tag in chosen:
            headers = {
                k: v
                for k, v in letter.headers.items()
                if k not in (ATTEMPT_HEADER, REASON_HEADER, "x-garage-failed-at")
            }
            channel.basic_publish(
                "",
                topo.queue,
                letter.body,
                pika.BasicProperties(
                    content_type="application/json",
                    delivery_mode=pika.DeliveryMode.Persistent,
                    message_id=letter.message_id,
                    correlation_id=letter.correlation_id,
                    headers=headers or None,
                ),
                mandatory=True,
            )
            channel.basic_ack(tag)
        return [letter for letter, _ in chosen]
