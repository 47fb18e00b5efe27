"""The guarantee under faults: every 2xx becomes exactly one repair or a visible rejection.

Each test prints `accepted repairs duplicates lost rejected dead_lettered` and asserts
lost == 0 and duplicates == 0.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pika
import requests

from metier.models import Demande, Reparation
from metier.services import create_piece
from tests.faults.tally import Stream, settle
from tests.support.stack import database_url, wait_until
from tests.support.tcp_proxy import TcpProxy


def _piece() -> int:
    return create_piece(nom="Plaquettes", prix="42.50").pk


def _wait_consuming(consumer, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while consumer.alive() and "consuming" not in consumer.output():
        if time.monotonic() > deadline:
            raise AssertionError(f"consumer did not start consuming:\n{consumer.output()}")
        time.sleep(0.05)


def _assert_guarantee(t, *, all_done: bool = True) -> None:
    assert t.lost == 0, t
    assert t.duplicates == 0, t
    if all_done:
        assert t.rejected == 0, t


def test_consumer_killed_again_and_again(stack, vhost):
    """SIGKILL from outside every ~0.7 s, and the consumer also dies by itself right after a
    commit and before its ack (tests/support/dying_handler.py), while 2,000 requests stream in."""
    piece = _piece()
    stack.start_web(workers=2, threads=8)
    stream = Stream(stack.base_url, piece, headers=stack.headers, total=2000, concurrency=8)
    feeding = stream.start(pause=0.002)
    kills = commit_ack_deaths = 0
    while feeding.is_alive() or kills < 3:
        consumer = stack.start_consumer(
            GARAGE_BATCH_HANDLER="tests.support.dying_handler.handle_batch",
            GARAGE_TEST_DIE_AFTER_COMMIT="0.25",
            GARAGE_BATCH_SIZE="50",
        )
        # Its lifetime counts from when it consumes, not from its start: on a loaded machine
        # start-up alone can take longer than the lifetime, and the window is never reached.
        _wait_consuming(consumer)
        time.sleep(random.uniform(0.4, 1.0))
        if consumer.alive():
            consumer.kill()
            kills += 1
        else:
            commit_ack_deaths += 1
    feeding.join()
    stack.start_consumer()
    t = settle(
        stream.accepted,
        "consumer SIGKILL",
        timeout=180,
        dead_lettered=lambda: vhost.depth("garage.dlq"),
    )
    print(f"external kills={kills} deaths between commit and ack={commit_ack_deaths}")
    assert stream.failures == []
    assert t.accepted == 2000
    assert commit_ack_deaths > 0, "the commit→ack window was never hit"
    _assert_guarantee(t)


def test_rabbitmq_restarted_mid_stream_with_backlog(private_stack, rabbit):
    stack = private_stack
    piece = _piece()
    stack.start_web()
    first = Stream(stack.base_url, piece, headers=stack.headers, total=600, concurrency=8)
    first.run()  # no consumer yet: a backlog builds up on the queue
    wait_until(lambda: stack.vhost.depth("garage") == 600, timeout=60, message="backlog of 600")
    second = Stream(stack.base_url, piece, headers=stack.headers, total=600, concurrency=8)
    feeding = second.start(pause=0.005)
    time.sleep(0.5)
    rabbit.restart()  # persistent messages on a durable queue survive it
    feeding.join()
    stack.start_consumer()
    accepted = first.accepted | second.accepted
    t = settle(
        accepted,
        "rabbitmq restart",
        timeout=180,
        dead_lettered=lambda: stack.vhost.depth("garage.dlq"),
    )
    assert first.failures == [] and second.failures == []
    assert t.accepted == 1200
    _assert_guarantee(t)


def test_rabbitmq_down_while_requests_arrive(private_stack, rabbit):
    stack = private_stack
    piece = _piece()
    stack.start_web()
    stack.start_consumer()
    rabbit.stop_app()
    down = Stream(stack.base_url, piece, headers=stack.headers, total=300, concurrency=8)
    down.run()
    # Accepted while the broker is down: the outbox holds them.
    assert down.failures == []
    assert Demande.objects.filter(id__in=down.accepted, statut="acceptee").count() == 300
    print(f"slowest answer with RabbitMQ down: {down.slowest:.2f}s")
    rabbit.start_app()
    t = settle(
        down.accepted,
        "rabbitmq down",
        timeout=180,
        dead_lettered=lambda: stack.vhost.depth("garage.dlq"),
    )
    assert t.accepted == 300
    _assert_guarantee(t)


def test_database_unreachable_for_the_consumer(stack, vhost):
    """A TCP proxy between the consumer and PostgreSQL is cut for a while, then restored."""
    from django.db import connection

    piece = _piece()
    s = connection.settings_dict
    with TcpProxy(s["HOST"] or "127.0.0.1", int(s["PORT"] or 5432)) as proxy:
        stack.start_web()
        consumer = stack.start_consumer(
            DATABASE_URL=database_url(host="127.0.0.1", port=proxy.port), GARAGE_BATCH_SIZE="20"
        )
        stream = Stream(stack.base_url, piece, headers=stack.headers, total=800, concurrency=8)
        feeding = stream.start(pause=0.004)
        time.sleep(1.0)
        proxy.cut()
        time.sleep(4.0)
        proxy.restore()
        feeding.join()
        t = settle(
            stream.accepted,
            "database cut",
            timeout=180,
            dead_lettered=lambda: vhost.depth("garage.dlq"),
        )
        assert consumer.alive(), consumer.output()
    assert "transient failure" in consumer.output()  # the cut did hit the consumer
    assert stream.failures == []
    assert t.accepted == 800
    _assert_guarantee(t)


def test_same_message_many_times_and_client_retries(stack, vhost):
    piece = _piece()
    stack.start_web(workers=2, threads=8)
    stack.start_consumer()
    # A client retrying the same request 40 times, 20 at once, with one Idempotency-Key.
    url = f"{stack.base_url}/reparation/{piece}/4/"
    with ThreadPoolExecutor(20) as pool:
        answers = list(
            pool.map(
                lambda _: requests.get(
                    url, headers={**stack.headers, "Idempotency-Key": "retry-me"}, timeout=10
                ),
                range(40),
            )
        )
    assert {a.status_code for a in answers} == {202}
    ids = {a.json()["id"] for a in answers}
    assert len(ids) == 1
    # The same message (same message_id) published 10 times, by someone else.
    rid = str(uuid.uuid4())
    with vhost.connection() as conn:
        ch = conn.channel()
        for _ in range(10):
            ch.basic_publish(
                "",
                "garage",
                json.dumps({"piece": piece, "duree": 3}).encode(),
                pika.BasicProperties(message_id=rid, delivery_mode=2),
            )
    # And the intake's own message, published once more by hand.
    [accepted] = ids
    with vhost.connection() as conn:
        conn.channel().basic_publish(
            "",
            "garage",
            json.dumps({"piece": piece, "duree": 4}).encode(),
            pika.BasicProperties(message_id=accepted, delivery_mode=2),
        )
    t = settle(
        {accepted, rid}, "duplicates", timeout=60, dead_lettered=lambda: vhost.depth("garage.dlq")
    )
    wait_until(lambda: vhost.depth("garage") == 0, timeout=30, message="queue drained")
    time.sleep(1)
    assert Reparation.objects.count() == 2
    assert t.accepted == 2
    _assert_guarantee(t)


def test_poison_mix_keeps_the_queue_flowing(stack, vhost):
    piece = _piece()
    stack.start_web()
    stack.start_consumer()
    poison = [
        b"",
        b"\x00\xff",
        b"null",
        b"{}",
        b'{"piece": 1}',
        b'{"piece": [1], "duree": 2}',
        b'{"piece": 99999999, "duree": 2}',
        json.dumps({"piece": piece, "duree": 0}).encode(),
        json.dumps({"piece": piece, "duree": 10**9}).encode(),
        b"x" * 100_000,
    ]
    stream = Stream(stack.base_url, piece, headers=stack.headers, total=300, concurrency=8)
    feeding = stream.start(pause=0.003)
    with vhost.connection() as conn:
        ch = conn.channel()
        ch.queue_declare("garage", durable=True)
        for i, body in enumerate(poison * 3):
            ch.basic_publish("", "garage", body, pika.BasicProperties(message_id=f"poison-{i}"))
            time.sleep(0.02)
    feeding.join()
    t = settle(
        stream.accepted, "poison mix", timeout=120, dead_lettered=lambda: vhost.depth("garage.dlq")
    )
    wait_until(
        lambda: vhost.depth("garage.dlq") == len(poison) * 3,
        timeout=30,
        message="all poison dead-lettered",
    )
    letters = vhost.get_all("garage.dlq")
    assert all(props.headers.get("x-garage-reason") for props, _ in letters)
    assert Demande.objects.filter(statut="rejetee").count() == len(poison) * 3
    assert t.accepted == 300
    _assert_guarantee(t)


def test_memory_alarm_requests_never_hang(private_stack, rabbit):
    stack = private_stack
    piece = _piece()
    stack.start_web()
    stack.start_consumer()
    rabbit.set_memory_alarm(True)
    try:
        blocked = Stream(
            stack.base_url, piece, headers=stack.headers, total=200, concurrency=8, timeout=10
        )
        blocked.run(pause=0.01)
        print(f"slowest answer under the memory alarm: {blocked.slowest:.2f}s")
        assert blocked.failures == []  # answered (202) within the client's timeout: none hung
        time.sleep(3)
        waiting = Demande.objects.filter(id__in=blocked.accepted, statut="acceptee").count()
        print(f"waiting in the outbox during the alarm: {waiting}")
        assert waiting > 0
    finally:
        rabbit.set_memory_alarm(False)
    t = settle(
        blocked.accepted,
        "memory alarm",
        timeout=180,
        dead_lettered=lambda: stack.vhost.depth("garage.dlq"),
    )
    assert t.accepted == 200
    _assert_guarantee(t)
