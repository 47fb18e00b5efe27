"""Several broker addresses in AMQP_URL, and the quorum arguments of every queue, against a
real RabbitMQ (a private vhost on the shared broker; the cluster itself is in tests/faults)."""

from __future__ import annotations

import json
import subprocess
import time

import pika
import pytest

from messaging import topology
from messaging.config import (
    amqp_urls,
    connection_parameters,
    describe,
    redact,
)
from messaging.config import (
    topology as load_topology,
)
from messaging.publisher import Message, Publisher
from tests.support.stack import free_port, wait_until


def _dead_address(vhost_url: str) -> str:
    """An address where nothing listens (a node that is down), same credentials and vhost."""
    return vhost_url.replace(":5672/", f":{free_port()}/")


def test_amqp_url_list_is_split_and_every_address_kept(settings):
    settings.AMQP_URL = " amqp://a:pa@h1:5672/v1 , amqp://b:pb@h2:5673/v2,"
    assert amqp_urls() == ["amqp://a:pa@h1:5672/v1", "amqp://b:pb@h2:5673/v2"]
    params = connection_parameters()
    assert {(p.host, p.port, p.virtual_host, p.credentials.username) for p in params} == {
        ("h1", 5672, "v1", "a"),
        ("h2", 5673, "v2", "b"),
    }
    assert all(p.connection_attempts == 1 for p in params)
    assert redact(settings.AMQP_URL) == "amqp://a:***@h1:5672/v1,amqp://b:***@h2:5673/v2"
    with pytest.raises(ValueError):
        amqp_urls(" , ")


def test_addresses_are_shuffled_on_each_connect(settings):
    settings.AMQP_URL = ",".join(f"amqp://g:g@h{i}:5672/%2F" for i in range(5))
    firsts = {connection_parameters()[0].host for _ in range(200)}
    assert len(firsts) == 5  # each address comes first sometimes: clients spread out


def test_publisher_skips_a_dead_address_and_says_where_it_is(vhost, settings, caplog):
    """A node that is down costs one refused attempt: the publisher ends up on the live one
    whatever the shuffle, and logs that address."""
    settings.AMQP_URL = f"{_dead_address(vhost.url)},{vhost.url}"
    caplog.set_level("INFO", logger="messaging")
    for _ in range(4):  # several connects: the dead address comes first in some of them
        with Publisher(role="test") as publisher:
            publisher.publish_many([Message(body=b'{"piece": 1, "duree": 1}', message_id="m")])
            assert describe(publisher._connection).endswith(f"127.0.0.1:5672/{vhost.name}")
    assert vhost.depth("garage") == 4
    assert f"test publisher connected to amqp://guest:***@127.0.0.1:5672/{vhost.name}" in (
        caplog.text
    )


def test_worker_given_a_dead_address_and_a_live_one_consumes(stack, vhost, piece):
    dead_first = f"{_dead_address(vhost.url)},{vhost.url}"
    consumer = stack.start_consumer(AMQP_URL=dead_first)
    stack.start_web(AMQP_URL=dead_first)
    r = stack.http.get(f"{stack.base_url}/reparation/{piece.pk}/2/", timeout=10)
    assert r.status_code == 202, r.text
    status_url = r.headers["Location"]
    wait_until(
        lambda: stack.http.get(status_url, timeout=5).json()["statut"] == "traitee",
        timeout=60,
        message="request processed through the live address",
    )
    assert f"consuming garage on amqp://guest:***@127.0.0.1:5672/{vhost.name}" in (
        consumer.output()
    )


def _declared(vhost) -> dict[str, dict]:
    out = subprocess.run(
        [
            "rabbitmqctl",
            "list_queues",
            "-p",
            vhost.name,
            "name",
            "type",
            "arguments",
            "--formatter",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    queues = {}
    for row in json.loads(out):
        args = row["arguments"] or []
        if isinstance(args, dict):
            args = list(args.items())
        # rabbitmqctl's JSON gives each argument as [name, value] or [name, type, value]
        queues[row["name"]] = {"type": row["type"], **{a[0]: a[-1] for a in args}}
    return queues


def test_quorum_arguments_of_every_queue_as_the_broker_has_them(vhost, settings):
    settings.GARAGE_QUEUE_TYPE = "quorum"
    settings.GARAGE_DELIVERY_LIMIT = 7
    settings.GARAGE_RETRY_LIMIT = 3
    topo = load_topology()
    with vhost.connection() as conn:
        topology.declare(conn.channel(), topo)
        topology.declare(conn.channel(), topo)  # idempotent: a second process does it again
    queues = _declared(vhost)
    # and each event consumer's queue, bound to garage.events (its own DLQ and delay queues
    # are declared by its consumer, the notifier)
    events = {name for name, _keys in topo.event_queues}
    assert set(queues) == {
        "garage",
        "garage.dlq",
        "garage.retry.1",
        "garage.retry.2",
        "garage.retry.3",
        *events,
    }
    notifier = queues["garage.notifier"]
    assert notifier["x-delivery-limit"] == 7
    assert notifier["x-dead-letter-routing-key"] == "garage.notifier.dlq"
    assert all(q["type"] == "quorum" for q in queues.values()), queues
    assert all(q["x-overflow"] == "reject-publish" for q in queues.values()), queues
    main = queues["garage"]
    assert main["x-delivery-limit"] == 7
    assert main["x-dead-letter-strategy"] == "at-least-once"
    assert main["x-dead-letter-routing-key"] == "garage.dlq"
    for n in (1, 2, 3):
        retry = queues[f"garage.retry.{n}"]
        assert retry["x-dead-letter-strategy"] == "at-least-once"
        assert retry["x-dead-letter-routing-key"] == "garage"
        assert retry["x-message-ttl"] == settings.GARAGE_RETRY_BASE_MS * 2 ** (n - 1)
    dlq = queues["garage.dlq"]
    assert "x-delivery-limit" not in dlq and "x-dead-letter-exchange" not in dlq


def test_quorum_delivery_limit_and_delay_queue_dead_letter_as_declared(vhost, settings):
    """What the arguments do on a real broker: a message handed back more often than the
    delivery limit lands in garage.dlq; one in a delay queue comes back to garage."""
    settings.GARAGE_QUEUE_TYPE = "quorum"
    settings.GARAGE_DELIVERY_LIMIT = 2
    settings.GARAGE_RETRY_BASE_MS = 200
    topo = load_topology()
    with vhost.connection() as conn:
        ch = conn.channel()
        topology.declare(ch, topo)
        ch.confirm_delivery()
        ch.basic_publish(
            "", "garage", b"crashes-every-worker", pika.BasicProperties(delivery_mode=2)
        )
        for _ in range(3):  # delivered, given back, three times: one more than the limit
            method = None
            deadline = time.monotonic() + 10
            while method is None and time.monotonic() < deadline:
                method, _props, _body = ch.basic_get("garage")
            if method is None:
                break
            ch.basic_nack(method.delivery_tag, requeue=True)
        ch.basic_publish("", "garage.retry.1", b"later", pika.BasicProperties(delivery_mode=2))
    wait_until(lambda: vhost.depth("garage.dlq") == 1, timeout=30, message="dead-lettered")
    wait_until(lambda: vhost.depth("garage") == 1, timeout=30, message="back from the delay")
    [(_props, body)] = vhost.get_all("garage")
    assert body == b"later"
