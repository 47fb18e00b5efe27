"""The consumer's hooks (what metrics count) and the request id on the messages it moves,
against a real RabbitMQ, in this process."""

from __future__ import annotations

import threading

import pika

from messaging.consumer import ACK, Consumer, DeadLetter, Delivery, Hooks, Retry
from tests.support.stack import wait_until


def test_hooks_see_each_retry_and_dead_letter_and_the_request_id_travels(vhost, settings):
    settings.GARAGE_RETRY_LIMIT = 1
    settings.GARAGE_RETRY_BASE_MS = 100
    seen: list[tuple[str, str | None, str | None]] = []
    handled: list[Delivery] = []

    def handler(batch: list[Delivery]):
        handled.extend(batch)
        return [
            Retry("later")
            if d.body == b"retry"
            else DeadLetter("never")
            if d.body == b"bad"
            else ACK
            for d in batch
        ]

    hooks = Hooks(
        retried=lambda d, reason: seen.append(("retried", d.correlation_id, reason)),
        dead_lettered=lambda d, reason: seen.append(("dead", d.correlation_id, reason)),
    )
    stop = threading.Event()
    consumer = Consumer(handler, stop_event=stop, hooks=hooks, batch_wait_ms=5)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        for body, rid in ((b"ok", "rid-ok"), (b"bad", "rid-bad"), (b"retry", "rid-retry")):
            vhost.publish(body, message_id=body.decode(), correlation_id=rid)
        # retry → delay queue → back → retry limit reached → dead letter
        wait_until(lambda: len(seen) == 3, timeout=30, message="two dead letters, one retry")
    finally:
        stop.set()
        thread.join(timeout=15)
    assert ("retried", "rid-retry", "later") in seen
    assert ("dead", "rid-bad", "never") in seen
    assert any(kind == "dead" and rid == "rid-retry" for kind, rid, _ in seen)
    assert {d.correlation_id for d in handled} == {"rid-ok", "rid-bad", "rid-retry"}
    letters = vhost.get_all("garage.dlq")
    assert sorted(props.correlation_id for props, _ in letters) == ["rid-bad", "rid-retry"]
    assert all(isinstance(props, pika.BasicProperties) for props, _ in letters)
