"""Self-check for the fault-injection helpers (no Django needed).

Run: python -m pytest -p no:django tests/support/test_support_selfcheck.py -v -s

Nothing here skips: a missing RabbitMQ install or PostgreSQL fails loudly.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pika
import pika.exceptions
import psycopg
import pytest

from .rabbit_node import PrivateRabbitNode
from .tcp_proxy import TcpProxy

PG_HOST = "127.0.0.1"
PG_PORT = 5432
# Failing "fast" means well under the 3 s connect_timeout in the DSN.
FAST = 2.0


def _pg_dsn(port: int) -> str:
    return f"host={PG_HOST} port={port} user=postgres dbname=test connect_timeout=3"


def _params(url: str, **extra: object) -> pika.URLParameters:
    params = pika.URLParameters(url)
    # One quick attempt: the tests want to see failures, not retries.
    params.connection_attempts = 1
    params.retry_delay = 0
    params.socket_timeout = 3
    for key, value in extra.items():
        setattr(params, key, value)
    return params


@pytest.fixture(scope="module")
def node() -> Iterator[PrivateRabbitNode]:
    started = time.monotonic()
    rabbit = PrivateRabbitNode().start()
    print(f"\n[selfcheck] {rabbit!r} started in {time.monotonic() - started:.1f}s")
    try:
        yield rabbit
    finally:
        rabbit.stop()


def test_node_basics(node: PrivateRabbitNode) -> None:
    assert node.port not in (5672, 25672)
    assert node.amqp_url == f"amqp://guest:guest@127.0.0.1:{node.port}/%2F"
    assert node.nodename in node.ctl("status")
    conn = pika.BlockingConnection(_params(node.amqp_url))
    try:
        assert conn.is_open
    finally:
        conn.close()


def test_add_vhost(node: PrivateRabbitNode) -> None:
    url = node.add_vhost("selfcheck")
    assert "selfcheck" in node.ctl("list_vhosts")
    conn = pika.BlockingConnection(_params(url))
    try:
        conn.channel().queue_declare("in-vhost", auto_delete=True)
    finally:
        conn.close()


def test_persistent_message_survives_restart(node: PrivateRabbitNode) -> None:
    queue = "selfcheck.durable"
    conn = pika.BlockingConnection(_params(node.amqp_url))
    try:
        channel = conn.channel()
        # Confirms make sure the broker has taken the message before we restart.
        channel.confirm_delivery()
        channel.queue_declare(queue, durable=True)
        channel.basic_publish(
            "",
            queue,
            b"survivor",
            pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent),
            mandatory=True,
        )
    finally:
        conn.close()

    started = time.monotonic()
    node.restart()
    print(f"\n[selfcheck] restart took {time.monotonic() - started:.1f}s")

    conn = pika.BlockingConnection(_params(node.amqp_url))
    try:
        channel = conn.channel()
        declared = channel.queue_declare(queue, durable=True, passive=True)
        assert declared.method.message_count == 1
        method, props, body = channel.basic_get(queue, auto_ack=True)
        assert method is not None, "persistent message lost across restart"
        assert body == b"survivor"
        assert props.delivery_mode == 2
        channel.queue_delete(queue)
    finally:
        conn.close()


def test_stop_app_refuses_then_start_app_recovers(node: PrivateRabbitNode) -> None:
    conn = pika.BlockingConnection(_params(node.amqp_url))
    node.stop_app()
    try:
        # The broker drops existing connections when the app stops.
        with pytest.raises(pika.exceptions.AMQPError):
            conn.process_data_events(time_limit=5)
            conn.channel()
        started = time.monotonic()
        with pytest.raises(pika.exceptions.AMQPConnectionError):
            pika.BlockingConnection(_params(node.amqp_url))
        assert time.monotonic() - started < FAST
    finally:
        node.start_app()
    conn = pika.BlockingConnection(_params(node.amqp_url))
    try:
        assert conn.is_open
    finally:
        conn.close()


def test_memory_alarm_blocks_publishers(node: PrivateRabbitNode) -> None:
    conn = pika.BlockingConnection(_params(node.amqp_url, blocked_connection_timeout=60))
    events: list[str] = []
    conn.add_on_connection_blocked_callback(lambda _conn, _frame: events.append("blocked"))
    conn.add_on_connection_unblocked_callback(lambda _conn, _frame: events.append("unblocked"))
    try:
        channel = conn.channel()
        channel.queue_declare("selfcheck.alarm", auto_delete=True)
        node.set_memory_alarm(True)
        try:
            assert node.memory_alarm_active()
            # RabbitMQ blocks a connection (and says so) when it next publishes.
            channel.basic_publish("", "selfcheck.alarm", b"x")
            deadline = time.monotonic() + 10
            while "blocked" not in events and time.monotonic() < deadline:
                conn.process_data_events(time_limit=0.5)
            assert events == ["blocked"]
        finally:
            node.set_memory_alarm(False)
        assert not node.memory_alarm_active()
        deadline = time.monotonic() + 10
        while "unblocked" not in events and time.monotonic() < deadline:
            conn.process_data_events(time_limit=0.5)
        assert events == ["blocked", "unblocked"]
    finally:
        if conn.is_open:
            conn.close()


def test_proxy_cut_and_restore_amqp(node: PrivateRabbitNode) -> None:
    with TcpProxy("127.0.0.1", node.port) as proxy:
        url = f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F"
        conn = pika.BlockingConnection(_params(url))
        assert conn.is_open
        proxy.cut()
        with pytest.raises(pika.exceptions.AMQPError):
            conn.process_data_events(time_limit=2)
            conn.channel()
        with pytest.raises(pika.exceptions.AMQPConnectionError):
            pika.BlockingConnection(_params(url))
        proxy.restore()
        conn = pika.BlockingConnection(_params(url))
        conn.close()


def test_proxy_cut_and_restore_postgres() -> None:
    # Direct connect first: a PostgreSQL outage must fail here, not look like a proxy bug.
    with psycopg.connect(_pg_dsn(PG_PORT)) as direct:
        assert direct.execute("SELECT 1").fetchone() == (1,)

    with TcpProxy(PG_HOST, PG_PORT) as proxy:
        conn = psycopg.connect(_pg_dsn(proxy.port))
        try:
            assert conn.execute("SELECT 1").fetchone() == (1,)

            proxy.cut()
            started = time.monotonic()
            with pytest.raises(psycopg.OperationalError):
                conn.execute("SELECT 1")
            assert time.monotonic() - started < FAST

            started = time.monotonic()
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(_pg_dsn(proxy.port))
            assert time.monotonic() - started < FAST
        finally:
            conn.close()

        proxy.restore()
        with psycopg.connect(_pg_dsn(proxy.port)) as again:
            assert again.execute("SELECT 2").fetchone() == (2,)

    # The shared server itself never noticed anything.
    with psycopg.connect(_pg_dsn(PG_PORT)) as direct:
        assert direct.execute("SELECT 1").fetchone() == (1,)
