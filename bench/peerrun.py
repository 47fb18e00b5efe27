"""The Celery peer's phases (bench/peer/, bench/peerstack.py), measured like the app's.

Each returns its figures under the app's keys (intake_rps, drain_rps, e2e_p50...) so that
the table can put them side by side; correctness problems go to `fail`, as for the app.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime

from bench.loadgen import run_rate
from bench.measure import percentile, rss_mb
from bench.peerstack import PeerStack
from bench.stack import HarnessError
from bench.wrkrun import run_wrk

STALL_SECONDS = 60


def say(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] peer: {message}", flush=True)


def rows_for(peer: PeerStack, piece: list[int]) -> int:
    return peer.query("SELECT count(*) FROM peer_demande WHERE piece = ANY(%s)", (piece,))[0]


def wait_rows(peer: PeerStack, what: str, piece: list[int], at_least: int) -> float:
    """Until the queue is empty and `at_least` requests of these parts have their rows (and
    no more arrive for a moment: a task in flight when the client stopped counting)."""
    last, progress_at, settled_at = None, time.monotonic(), None
    while True:
        peer.check_alive()
        n, depth = rows_for(peer, piece), peer.queue_depth()
        now = time.monotonic()
        if n != last:
            last, progress_at, settled_at = n, now, now
        if depth == 0 and n >= at_least and now - settled_at >= 0.5:
            return progress_at
        if now - progress_at > STALL_SECONDS:
            raise HarnessError(f"peer {what}: {n} of {at_least} rows, no progress")
        time.sleep(0.05)


def check_exactly_once(
    peer: PeerStack, when: str, piece: list[int], accepted: int, slack: int, fail: Callable
) -> dict:
    """Rows = accepted (within the requests in flight when the client stopped counting),
    one repair per request, none for an unknown request."""
    requests, repairs, orphans = peer.query(
        """SELECT (SELECT count(*) FROM peer_demande WHERE piece = ANY(%s)),
                  (SELECT count(*) FROM peer_reparation r JOIN peer_demande d
                      ON d.id = r.demande_id WHERE d.piece = ANY(%s)),
                  (SELECT count(*) FROM peer_reparation r
                    WHERE NOT EXISTS (SELECT 1 FROM peer_demande d WHERE d.id = r.demande_id))""",
        (piece, piece),
    )
    ok = accepted <= requests <= accepted + slack and repairs == requests and orphans == 0
    result = {
        "accepted": accepted,
        "requests": requests,
        "repairs": repairs,
        "orphans": orphans,
        "ok": ok,
    }
    if ok:
        say(
            f"  exactly-once check {when}: {accepted:,} answered 202, {requests:,} requests "
            f"(+{requests - accepted} in flight or timed out when the client stopped), "
            f"{repairs:,} repairs, none lost, none twice"
        )
    else:
        fail(f"peer exactly-once check {when} failed: {result}")
    return result


def intake(
    peer: PeerStack, *, method: str, piece: list[int], sizes: dict, args, fail: Callable
) -> tuple[dict, dict]:
    script = [method, ",".join(map(str, piece)), "5"]
    say(f"intake: wrk {method.upper()}, {args.connections} connections")
    warm = run_wrk(
        peer, script, connections=args.connections, threads=args.wrk_threads,
        duration=sizes["warmup_seconds"],
    )  # fmt: skip
    res = run_wrk(
        peer, script, connections=args.connections, threads=args.wrk_threads,
        duration=sizes["intake_seconds"],
    )  # fmt: skip
    peer.check_alive()
    say(
        f"  {res['ok_per_s']:,.0f} accepted/s, latency p50 {res['latency_ms']['50']} ms "
        f"p99 {res['latency_ms']['99']} ms, non-2xx {res['non_2xx']}, "
        f"socket errors {res['socket_errors']}"
    )
    if res["non_2xx"] or warm["non_2xx"]:
        fail(f"peer intake: non-2xx answers {res['statuses']} / warm-up {warm['statuses']}")
    answered = warm["ok"] + res["ok"]
    slack = 2 * args.connections + warm["socket_errors"] + res["socket_errors"]
    wait_rows(peer, "intake", piece, answered)
    check = check_exactly_once(peer, "after intake", piece, answered, slack, fail)
    figures = {
        "intake_rps": res["ok_per_s"],
        "intake_errors": res["non_2xx"] + res["socket_errors"],
    }
    return figures, {"wrk": res, "exactly_once": check}


def drain(
    peer: PeerStack, *, method: str, piece: list[int], sizes: dict, args, fail: Callable
) -> tuple[dict, dict]:
    n = sizes["drain_backlog"]
    say(f"drain: celery worker stopped; pre-loading {n:,} tasks through the view")
    peer.stop_worker()
    per_thread = math.ceil(n / args.wrk_threads)
    res = run_wrk(
        peer,
        [method, ",".join(map(str, piece)), "5", str(per_thread)],
        connections=args.connections,
        threads=args.wrk_threads,
        duration=max(60, n / 20),
        stop_when=lambda: peer.queue_depth() >= n,
    )
    if res["non_2xx"]:
        fail(f"peer drain pre-load: non-2xx answers {res['statuses']}")
    time.sleep(0.5)  # confirmed before each 202: what was answered is on the queue
    depth = peer.queue_depth()
    if depth < res["ok"]:
        fail(f"peer drain: {res['ok']} accepted but only {depth} messages on the queue")
    say(f"  {depth:,} tasks on the queue ({res['ok_per_s']:,.0f}/s accepted)")
    t_start = time.monotonic()
    peer.start_worker()
    ready = time.monotonic() - t_start
    deadline = t_start + max(300.0, depth / 20)
    last, progress_at = -1, time.monotonic()
    while (done := rows_for(peer, piece)) < depth:
        peer.check_alive()
        if done != last:
            last, progress_at = done, time.monotonic()
        elif time.monotonic() - progress_at > STALL_SECONDS or time.monotonic() > deadline:
            raise HarnessError(f"peer drain: {done} of {depth} rows, stuck")
        time.sleep(0.05)
    elapsed = time.monotonic() - t_start
    rate = depth / elapsed
    say(
        f"  drained {depth:,} in {elapsed:.2f}s from the worker's start = {rate:,.0f} repairs/s "
        f"(worker consuming after {ready:.2f}s)"
    )
    wait_rows(peer, "drain", piece, depth)
    check = check_exactly_once(peer, "after drain", piece, depth, 0, fail)
    details = {
        "backlog": depth,
        "preload_wrk": res,
        "seconds_from_worker_start": round(elapsed, 3),
        "worker_ready_seconds": round(ready, 3),
        "exactly_once": check,
    }
    return {"drain_rps": round(rate, 1)}, details


def latency(
    peer: PeerStack, *, rate: float, seconds: float, piece: list[int], keys: tuple, fail: Callable
) -> tuple[dict, dict]:
    """`keys`: (p50 key, p99 key, refused key) of the figures."""
    say(f"latency: {rate:g} req/s for {seconds}s (open loop)")
    gen = run_rate(
        peer.port,
        rate=rate,
        duration=seconds,
        method="POST",
        path="/reparation/",
        body=lambda i: {"piece": piece[i % len(piece)], "duree": 5},
    )
    refused = gen["error_count"]
    ids = gen.pop("ids")
    wait_rows(peer, "latency", piece, len(ids))
    with peer.db() as conn:
        rows = conn.execute(
            """SELECT d.id::text, extract(epoch FROM r.cree_le - d.cree_le)::float8 * 1000
                 FROM peer_demande d JOIN peer_reparation r ON r.demande_id = d.id
                WHERE d.piece = ANY(%s)""",
            (piece,),
        ).fetchall()
    in_db = {r[0] for r in rows}
    missing = set(ids) - in_db
    if missing or len(in_db) > len(ids) + refused:
        fail(
            f"peer latency at {rate:g}/s: {len(missing)} accepted ids missing, "
            f"{len(in_db)} rows for {len(ids)} accepted"
        )
    ms = [r[1] for r in rows if r[0] in set(ids)]
    p50, p99 = (round(percentile(ms, p), 2) if ms else None for p in (50, 99))
    say(
        f"  {gen['achieved_rate']:g} req/s achieved, {refused} not accepted; accepted → repair "
        f"row p50 {p50} ms, p99 {p99} ms; HTTP p99 {gen['client_latency_ms']['p99']} ms"
    )
    figures = {keys[0]: p50, keys[1]: p99}
    if keys[2]:
        figures[keys[2]] = refused
    return figures, {"generator": gen, "requests": len(rows), "p50": p50, "p99": p99}


def memory(peer: PeerStack) -> tuple[dict, dict]:
    web = {pid: rss_mb(pid) for pid in peer.web_worker_pids()}
    worker = {pid: rss_mb(pid) for pid in peer.worker_pids()}
    web = {k: v for k, v in web.items() if v is not None}
    worker = {k: v for k, v in worker.items() if v is not None}
    say(f"memory: web workers {sorted(web.values())} MB, celery {sorted(worker.values())} MB")
    figures = {}
    if web:
        figures["rss_web_max"] = max(web.values())
    if worker:
        figures["rss_consumer"] = max(worker.values())
    return figures, {"web_workers": web, "celery": worker}
