"""The pipelined publisher (messaging/pipelined.py) against a real RabbitMQ: what it reports
as confirmed is on the queue, and what it cannot vouch for is reported as failed."""

from __future__ import annotations

import threading
import time

import pytest

from messaging.config import topology
from messaging.pipelined import PipelinedPublisher
from messaging.publisher import Message
from tests.support.broker import rabbitmqctl
from tests.support.stack import wait_until

pytestmark = pytest.mark.rabbitmq


class Outcomes:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.confirmed: list[str] = []
        self.failed: list[str] = []

    def ok(self, messages: list[Message]) -> None:
        with self.lock:
            self.confirmed += [m.message_id for m in messages]

    def ko(self, messages: list[Message]) -> None:
        with self.lock:
            self.failed += [m.message_id for m in messages]


def publisher(vhost, outcomes: Outcomes, **kw) -> PipelinedPublisher:
    return PipelinedPublisher(
        url=vhost.url, role="test", on_confirmed=outcomes.ok, on_failed=outcomes.ko, **kw
    )


def message(i: int) -> Message:
    return Message(body=b'{"piece": 1, "duree": 1}', message_id=f"m-{i}")


def test_every_confirmed_message_is_on_the_queue_once(vhost, settings):
    outcomes = Outcomes()
    pub = publisher(vhost, outcomes)
    try:
        # From several threads at once, as the web's request threads hand them over.
        def send(start: int) -> None:
            for i in range(start, start + 500):
                assert pub.submit(message(i))

        threads = [threading.Thread(target=send, args=(k * 500,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wait_until(lambda: len(outcomes.confirmed) == 2000, timeout=30, message="2000 confirms")
    finally:
        pub.stop()
    assert sorted(outcomes.confirmed) == sorted(f"m-{i}" for i in range(2000))
    assert outcomes.failed == [] and pub.pending() == 0
    assert vhost.depth(topology().queue) == 2000


def test_unroutable_messages_are_failed_not_confirmed(vhost):
    outcomes = Outcomes()
    pub = publisher(vhost, outcomes)
    try:
        pub.submit(message(0))
        wait_until(lambda: outcomes.confirmed == ["m-0"], timeout=20, message="first confirm")
        with vhost.connection() as conn:  # the queue disappears under the publisher
            conn.channel().queue_delete(topology().queue)
        pub.submit(message(1))
        wait_until(lambda: outcomes.failed == ["m-1"], timeout=20, message="returned message")
    finally:
        pub.stop()
    assert outcomes.confirmed == ["m-0"]


def test_a_dropped_connection_fails_what_was_in_flight_and_recovers(vhost):
    outcomes = Outcomes()
    pub = publisher(vhost, outcomes)
    try:
        pub.submit(message(0))
        wait_until(lambda: len(outcomes.confirmed) == 1, timeout=20, message="connected")
        closed = 0
        for line in rabbitmqctl("list_connections", "-q", "pid", "vhost").splitlines():
            pid, _, name = line.partition("\t")
            if name.strip() == vhost.name:
                rabbitmqctl("close_connection", pid.strip(), "test: connection dropped")
                closed += 1
        assert closed == 1
        for i in range(1, 200):
            pub.submit(message(i))
            time.sleep(0.005)
        wait_until(
            lambda: len(outcomes.confirmed) + len(outcomes.failed) == 200,
            timeout=60,
            message="every message settled after the reconnect",
        )
    finally:
        pub.stop()
    assert not set(outcomes.confirmed) & set(outcomes.failed)
    assert len(outcomes.confirmed) >= 100  # the reconnect published the rest
    # Nothing reported confirmed is missing from the queue (failed ones may be there too).
    assert vhost.depth(topology().queue) >= len(outcomes.confirmed)
