"""A three-node RabbitMQ cluster loses nodes while requests stream in.

Quorum queues, two web processes and two worker processes, each given the three
addresses; PostgreSQL. During at least 5,000 requests: the node leading `garage` is
SIGKILLed and restarted; a second node is stopped for a while (its clients move); two nodes
are stopped at once (no majority: nothing can be confirmed, the intake keeps accepting into
the outbox) and come back. Then: accepted = repairs, none lost, none doubled, none stuck.

The relay's safety net (`GARAGE_RELAY_REQUEUE_AFTER`) is off here: a message the broker
confirmed and then lost would stay `en_file` and count as stuck, not be quietly sent again.
"""

from __future__ import annotations

import re
import threading
import time
import uuid

import pytest
from django.db.models import F, Max

from metier.models import Demande
from metier.services import create_piece
from tests.faults.tally import Stream, settle
from tests.support.rabbit_node import PrivateRabbitCluster, PrivateRabbitNode
from tests.support.stack import Stack, wait_until

pytestmark = pytest.mark.faults

REQUESTS = 5000


@pytest.fixture
def cluster():
    c = PrivateRabbitCluster(size=3).start()
    yield c
    c.stop()


CLIENT_LINE = re.compile(
    r"(web publisher connected to|relay publisher connected to|consuming \S+ on) "
    r"amqp://[^@]+@[^:]+:(\d+)/"
)


def _clients(processes) -> dict[str, int]:
    """Each AMQP client of the stack → the port (so the node) its log says it is on now."""
    found = {}
    for proc in processes:
        for kind, port in CLIENT_LINE.findall(proc.output()):
            found[f"{proc.name}-{proc.proc.pid}:{kind.split()[0]}"] = int(port)
    return found


def _queue_depths(cluster: PrivateRabbitCluster, vhost: str) -> dict[str, int]:
    out = cluster.ctl("list_queues", "-p", vhost, "name", "messages", "-q", "--no-table-headers")
    return {
        name: int(count)
        for name, _, count in (line.partition("\t") for line in out.splitlines() if line)
    }


def _at_once(*actions) -> None:
    threads = [threading.Thread(target=a) for a in actions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_cluster_loses_nodes_under_load(cluster, transactional_db, tmp_path):
    started = time.monotonic()

    def log(text: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {text}", flush=True)

    vhost = f"garage-cluster-{uuid.uuid4().hex[:8]}"
    url = cluster.add_vhost(vhost)
    stack = Stack(
        url,
        tmp_path,
        GARAGE_QUEUE_TYPE="quorum",
        GARAGE_RELAY_REQUEUE_AFTER="0",
        GARAGE_CONNECT_TIMEOUT="1",
        GARAGE_HEARTBEAT="5",
    )
    try:
        piece = create_piece(nom="Plaquettes", prix="42.50").pk
        for _ in range(2):
            stack.start_web(workers=1, threads=8)
        workers = [stack.start_consumer() for _ in range(2)]
        for w in workers:
            wait_until(lambda w=w: "consuming" in w.output(), timeout=60, message="consuming")
        log(f"cluster of 3 up, {len(stack.base_urls)} web and {len(workers)} worker processes")

        stream = Stream(
            "",
            piece,
            total=REQUESTS,
            concurrency=12,
            headers=stack.headers,
            base_urls=stack.base_urls,
        )
        faults_done = threading.Event()
        feeding = threading.Thread(target=stream.run_until, args=(faults_done, 0.03))
        feeding.start()

        def accepted_grows_by(n: int, what: str) -> None:
            target = len(stream.snapshot()) + n
            wait_until(lambda: len(stream.snapshot()) >= target, timeout=120, message=what)

        try:
            accepted_grows_by(300, "a first 300 accepted")

            # 1. SIGKILL the node leading `garage`, then bring it back.
            leader = cluster.leader("garage", vhost)
            leader.kill()
            log(f"SIGKILLed the leader of garage, {leader.nodename}")
            accepted_grows_by(300, "300 accepted without the old leader")
            leader.boot()
            now_leading = cluster.leader("garage", vhost).nodename
            log(f"{leader.nodename} restarted; {now_leading} leads garage now")

            # 2. Stop a second node, the one most clients are on, for a while: they move.
            by_port = {n.port: n for n in cluster.nodes}
            before = _clients(stack.processes)
            busiest = max(by_port, key=lambda p: sum(1 for v in before.values() if v == p))
            second: PrivateRabbitNode = by_port[busiest]
            movers = {client for client, port in before.items() if port == busiest}
            second.halt()
            log(f"stopped {second.nodename}, which had {len(movers)} client(s): {sorted(movers)}")
            accepted_grows_by(300, "300 accepted with a node stopped")

            def moved() -> bool:
                now = _clients(stack.processes)
                return all(now[client] != busiest for client in movers)

            wait_until(
                moved, timeout=90, message="the stopped node's clients reconnected elsewhere"
            )
            now = _clients(stack.processes)
            log(f"they moved: { {client: now[client] for client in movers} }")
            second.boot()
            log(f"{second.nodename} restarted")

            # 3. Two nodes at once: no majority, nothing can be confirmed.
            survivor, *lost = cluster.nodes
            outage_start = len(stream.snapshot())
            _at_once(*(n.halt for n in lost))
            log(f"stopped two nodes at once; only {survivor.nodename} left")
            accepted_grows_by(300, "300 accepted without a majority")
            accepted_now = stream.snapshot()
            during = len(accepted_now) - outage_start
            waiting = Demande.objects.filter(id__in=accepted_now, statut="acceptee").count()
            log(f"without a majority: {during} accepted, {waiting} waiting in the outbox")
            _at_once(*(n.boot for n in lost))
            log("majority back")
            accepted_grows_by(200, "accepted once the majority is back")
        finally:
            faults_done.set()
            feeding.join()
        log(f"stream done: {stream.sent} sent, {len(stream.accepted)} accepted")

        t = settle(stream.accepted, "cluster faults", timeout=240)
        depths = _queue_depths(cluster, vhost)
        rows = Demande.objects.filter(id__in=stream.accepted)
        missing = len(stream.accepted) - rows.count()
        stuck = rows.filter(statut__in=["acceptee", "en_file"]).count()
        longest = rows.aggregate(m=Max(F("traitee_le") - F("cree_le")))["m"]
        print(
            f"accepted={t.accepted} repairs={t.repairs} lost={t.lost} missing={missing} "
            f"doubled={t.duplicates} stuck={stuck} rejected={t.rejected} queues={depths}"
        )
        print(f"longest wait from acceptance to repair: {longest.total_seconds():.1f}s")
        for w in workers:
            moves = re.findall(r"consuming \S+ on (\S+)", w.output())
            print(f"worker {w.proc.pid} consumed from: {' → '.join(moves)}")

        assert stream.failures == [], stream.failures[:5]
        assert t.accepted >= REQUESTS
        assert t.accepted == t.repairs
        assert t.lost == 0 and missing == 0 and stuck == 0
        assert t.duplicates == 0
        assert t.rejected == 0
        assert depths.get("garage.dlq") == 0, depths
        assert during > 0 and waiting > 0
    finally:
        stack.close()
