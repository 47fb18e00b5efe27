"""The pipeline benchmark ("Fast"): `make bench`, `python -m bench`, `python bench/run.py`.

Starts a private production-like stack (bench/stack.py), measures, prints a table, writes
bench-results/latest.json, and removes everything it made, also on Ctrl-C or failure.
See bench/README.md for what each figure means and how it is measured.

Exit codes: 0 done (full mode: every target met); 1 full mode only, some target short;
2 the harness or the system broke (a process died, the app answered errors, a request was
lost or duplicated, a phase timed out); 130 interrupted.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

if __package__ in (None, ""):  # `python bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import commitwatch, dataset, peerrun, profiling
from bench.loadgen import run_rate
from bench.measure import CpuSampler, describe_cpu, rss_mb
from bench.peerstack import PeerStack
from bench.stack import ROOT, HarnessError, Stack, remove_stale
from bench.wrkrun import run_wrk, wrk_path

RESULTS = ROOT / "bench-results"
PHASES = ("intake", "drain", "latency", "latency-high", "read")
STALL_SECONDS = 60

SIZES = {
    # name: (full, quick)
    "intake_seconds": (30, 5),
    "warmup_seconds": (3, 1),
    "drain_backlog": (50_000, 2_000),
    "latency_seconds": (30, 5),
    "latency_high_seconds": (30, 2),
    "read_rows": (1_000_000, 20_000),
    "read_seconds": (15, 3),
}


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    op: str  # ">=", "<=", "<", "=="
    value: float
    unit: str
    # Also at least this many times the Celery peer's figure (issue 10), when it ran.
    times_peer: float | None = None

    def met(self, measured: float | None, peer: float | None = None) -> bool | None:
        if measured is None:
            return None
        ok = {
            ">=": measured >= self.value,
            "<=": measured <= self.value,
            "<": measured < self.value,
            "==": measured == self.value,
        }[self.op]
        if self.times_peer and peer:
            ok = ok and measured >= self.times_peer * peer
        return ok


# Issue 10's figures. The peer column has the Celery peer's figure under the same key.
TARGETS = [
    Target("intake_rps", "intake: accepted requests/s (wrk, 32 conns)", ">=", 2000, "req/s", 2.0),
    Target("intake_errors", "intake: errors (non-2xx + socket errors)", "==", 0, ""),
    Target(
        "drain_rps", "drain: repairs/s from a backlog of {drain_backlog:,}", ">=", 5000, "/s", 3.0
    ),
    Target("e2e_p50", "end-to-end latency p50 at {rate:g} req/s", "<=", 20, "ms"),
    Target("e2e_p99", "end-to-end latency p99 at {rate:g} req/s", "<=", 100, "ms"),
    Target("e2e_high_p99", "end-to-end latency p99 at {rate_high:g} req/s", "<=", 250, "ms"),
    Target("e2e_high_refused", "requests not accepted at {rate_high:g} req/s", "==", 0, ""),
    Target("read_list_p99", "GET /api/reparation/ p99, {read_rows:,} repairs", "<=", 50, "ms"),
    Target(
        "read_detail_p99", "GET /api/reparation/{{id}}/ p99, {read_rows:,} repairs", "<=", 20, "ms"
    ),
    Target("relay_published", "requests published by the relay (no fault)", "==", 0, ""),
    Target("rss_web_max", "RSS of each web worker (max)", "<", 150, "MB"),
    Target("rss_consumer", "RSS of the consumer (peer: each Celery process)", "<", 150, "MB"),
]


@dataclass
class Run:
    args: argparse.Namespace
    stack: Stack
    sizes: dict
    measured: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)
    pieces: dict = field(default_factory=dict)
    profiles: dict = field(default_factory=dict)
    join: str = ""  # SQL joining d (metier_demande) and r (metier_reparation)
    peer: PeerStack | None = None  # the Celery peer (--peer), measured in the same run
    peer_pieces: dict = field(default_factory=dict)
    peer_measured: dict = field(default_factory=dict)

    def fail(self, message: str) -> None:
        print(f"  !! {message}")
        self.failures.append(message)


# --- small helpers ------------------------------------------------------------------------
def say(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def sql_one(run: Run, query: str, params: tuple = ()) -> tuple:
    return run.stack.query(query, params)


def sampler(run: Run) -> CpuSampler:
    return CpuSampler(
        cpu_groups(run),
        broker_pid=run.stack.broker_pid,
        pg_backends=run.stack.pg_backends,
        database=run.stack.name,
    )


def cpu_groups(run: Run) -> dict[str, list[int]]:
    web = [run.stack.web.pid, *run.stack.web_worker_pids()] if run.stack.web else []
    return {"web": web, "consumer": run.stack.consumer_pids(), "harness": [os.getpid()]}


def pending(run: Run, piece: list[int] | None = None) -> int:
    where = "statut IN ('acceptee', 'en_file')" + (" AND piece = ANY(%s)" if piece else "")
    return sql_one(
        run, f"SELECT count(*) FROM metier_demande WHERE {where}", (piece,) if piece else ()
    )[0]


def wait_processed(run: Run, what: str, expected: int, piece: list[int] | None = None) -> float:
    """Waits until the queue is empty and no request is left unprocessed; returns when.

    Slow is not broken: this fails only when nothing moves for STALL_SECONDS (a stuck
    consumer, a lost request), or after a generous overall cap.
    """
    cap_seconds = max(300.0, expected / 20)
    cap = time.monotonic() + cap_seconds
    last, progress_at = None, time.monotonic()

    def check(value: int, label: str) -> None:
        nonlocal last, progress_at
        run.stack.check_alive()
        if value != last:
            last, progress_at = value, time.monotonic()
        elif time.monotonic() - progress_at > STALL_SECONDS:
            raise HarnessError(f"{what}: {value} {label}, no progress for {STALL_SECONDS}s")
        if time.monotonic() > cap:
            raise HarnessError(f"{what}: {value} {label} after {cap_seconds:.0f}s")

    while (depth := run.stack.queue_depth()) > 0:
        check(depth, "message(s) still on the queue")
        time.sleep(0.1)
    last = None
    while (left := pending(run, piece)) > 0:
        check(left, "request(s) never processed (lost?)")
        time.sleep(0.05)
    return time.monotonic()


def check_exactly_once(run: Run, when: str) -> dict:
    """Every accepted request is `traitee` with exactly one repair, and every repair has its
    request: nothing lost, nothing duplicated. A correctness check, not a timing one."""
    join = run.join
    total, done, rejected, left = sql_one(
        run,
        """SELECT count(*),
                  count(*) FILTER (WHERE statut = 'traitee'),
                  count(*) FILTER (WHERE statut = 'rejetee'),
                  count(*) FILTER (WHERE statut IN ('acceptee', 'en_file'))
             FROM metier_demande""",
    )
    # Requests with a repair, (request, repair) pairs, repairs, repairs with no request.
    linked = sql_one(
        run,
        f"""SELECT count(*) FROM metier_demande d
             WHERE EXISTS (SELECT 1 FROM metier_reparation r WHERE {join})""",
    )[0]
    distinct = sql_one(
        run, f"SELECT count(*) FROM metier_demande d JOIN metier_reparation r ON {join}"
    )[0]
    repairs = sql_one(run, "SELECT count(*) FROM metier_reparation")[0]
    orphans = sql_one(
        run,
        f"""SELECT count(*) FROM metier_reparation r
             WHERE NOT EXISTS (SELECT 1 FROM metier_demande d WHERE {join})""",
    )[0]
    dlq = run.stack.queue_depth(f"{run.stack.queue}.dlq")
    result = {
        "accepted": total,
        "traitee": done,
        "rejetee": rejected,
        "unprocessed": left,
        "with_repair": linked,
        "request_repair_pairs": distinct,
        "repairs": repairs,
        "orphan_repairs": orphans,
        "dead_letters": dlq,
    }
    ok = total == done == linked == distinct == repairs and orphans == dlq == rejected == 0
    result["ok"] = ok
    if not ok:
        run.fail(f"exactly-once check {when} failed: {result}")
    else:
        say(f"  exactly-once check {when}: {total:,} accepted = {repairs:,} repairs, none lost")
    return result


def start_profiles(run: Run, phase: str, targets: dict[str, int]) -> list:
    """Web workers: where their Python CPU goes (--gil); the consumer: where its wall-clock
    time goes, waiting included (--idle), since it is one thread doing one batch at a time."""
    if not run.args.profile:
        return []
    return [
        profiling.start(
            run.stack,
            phase,
            name,
            pid,
            idle=name.startswith("consumer"),
            gil=name.startswith("web"),
        )
        for name, pid in targets.items()
    ]


def stop_profiles(run: Run, phase: str, handles: list) -> None:
    if handles:
        run.profiles[phase] = profiling.stop(handles)


def web_targets(run: Run) -> dict[str, int]:
    return {f"web-{pid}": pid for pid in run.stack.web_worker_pids()}


def consumer_targets(run: Run) -> dict[str, int]:
    return {f"consumer-{pid}": pid for pid in run.stack.consumer_pids()}


# --- phases -------------------------------------------------------------------------------
def intake_args(run: Run, piece: list[int], limit: int = 0) -> list[str]:
    args = [run.args.intake_method, ",".join(map(str, piece)), "5"]
    return [*args, str(limit)] if limit else args


def phase_intake(run: Run) -> None:
    s, a, stack = run.sizes, run.args, run.stack
    piece = run.pieces["intake"]
    say(
        f"intake: wrk {a.intake_method.upper()}, {a.connections} connections, "
        f"{s['warmup_seconds']}s warm-up + {s['intake_seconds']}s"
    )
    warm = run_wrk(
        stack,
        intake_args(run, piece),
        connections=a.connections,
        threads=a.wrk_threads,
        duration=s["warmup_seconds"],
    )
    cpu = sampler(run).start()
    profs = start_profiles(run, "intake", {**web_targets(run), **consumer_targets(run)})
    res = run_wrk(
        stack,
        intake_args(run, piece),
        connections=a.connections,
        threads=a.wrk_threads,
        duration=s["intake_seconds"],
    )
    stop_profiles(run, "intake", profs)
    cpu.add_cores("loadgen", res["wrk_cpu_cores"])
    cpu_used = cpu.stop()
    stack.check_alive()
    backlog = pending(run, piece)
    say(
        f"  {res['ok_per_s']:,.0f} accepted/s, latency p50 {res['latency_ms']['50']} ms "
        f"p99 {res['latency_ms']['99']} ms, non-2xx {res['non_2xx']}, "
        f"socket errors {res['socket_errors']}; {backlog:,} not yet processed at the end"
    )
    say(f"  {describe_cpu(cpu_used)}")
    run.measured["intake_rps"] = res["ok_per_s"]
    run.measured["intake_errors"] = res["non_2xx"] + res["socket_errors"]
    if res["non_2xx"] or warm["non_2xx"]:
        run.fail(
            f"intake: the app answered non-2xx: {res['statuses']} / warm-up {warm['statuses']}"
        )
    say("  waiting for the consumer to process the intake's requests")
    t0 = time.monotonic()
    wait_processed(run, "intake", backlog)
    catch_up = time.monotonic() - t0
    rows = sql_one(run, "SELECT count(*) FROM metier_demande WHERE piece = ANY(%s)", (piece,))[0]
    answered = warm["ok"] + res["ok"]
    in_flight = 2 * a.connections + warm["socket_errors"] + res["socket_errors"]
    if not answered <= rows <= answered + in_flight:
        run.fail(f"intake: {answered} answered 2xx but {rows} requests in the database")
    run.details["intake"] = {
        "wrk": res,
        "warmup": {k: warm[k] for k in ("ok", "statuses", "socket_errors", "seconds")},
        "cpu_cores": cpu_used,
        "unprocessed_at_end": backlog,
        "catch_up_seconds": round(catch_up, 1),
        "rows": rows,
    }
    run.details["exactly_once_after_intake"] = check_exactly_once(run, "after intake")


def phase_drain(run: Run) -> None:
    s, a, stack = run.sizes, run.args, run.stack
    n, piece = s["drain_backlog"], run.pieces["drain"]
    say(f"drain: consumer stopped; pre-loading {n:,} requests through the intake")
    stack.stop_workers()
    per_thread = math.ceil(n / a.wrk_threads)
    t0 = time.monotonic()

    def enough() -> bool:
        return (
            sql_one(run, "SELECT count(*) FROM metier_demande WHERE piece = ANY(%s)", (piece,))[0]
            >= n
        )

    res = run_wrk(
        stack,
        intake_args(run, piece, per_thread),
        connections=a.connections,
        threads=a.wrk_threads,
        duration=max(60, n / 20),
        stop_when=enough,
    )
    stack.check_alive()
    if res["non_2xx"]:
        run.fail(f"drain pre-load: the app answered non-2xx: {res['statuses']}")
    # Every request must be on the queue (published by the web processes' after-commit
    # publishers) before the consumer starts; the relay is the app's fallback path.
    relayed, relay = 0, None
    last, still = time.monotonic(), None
    while left := sql_one(run, "SELECT count(*) FROM metier_demande WHERE statut = 'acceptee'")[0]:
        if left != still:
            still, last = left, time.monotonic()
        elif relay is None and time.monotonic() - last > 10:
            say(f"  {left:,} requests not published by the web processes: running the relay")
            relayed = left
            relay = stack.start_relay()
        elif time.monotonic() - last > 120:
            raise HarnessError(f"drain pre-load: {left} requests never published")
        time.sleep(0.2)
    if relay is not None:
        relay.stop()
    preload_s = time.monotonic() - t0
    rows = sql_one(run, "SELECT count(*) FROM metier_demande WHERE piece = ANY(%s)", (piece,))[0]
    depth = stack.queue_depth()
    say(
        f"  pre-loaded {rows:,} requests in {preload_s:.1f}s ({res['ok_per_s']:,.0f}/s accepted); "
        f"queue depth {depth:,}" + (f"; {relayed:,} published by the relay" if relayed else "")
    )
    if depth < rows:
        run.fail(f"drain: {rows} requests accepted but only {depth} messages on the queue")

    cpu = sampler(run).start()
    t_start, wall_start = time.monotonic(), time.time()
    started = stack.start_workers()
    cpu.add("consumer", [p.pid for p in started])
    ready = time.monotonic() - t_start
    profs = start_profiles(run, "drain", consumer_targets(run))
    t_end = wait_processed(run, "drain", rows, piece)
    stop_profiles(run, "drain", profs)
    cpu_used = cpu.stop()
    elapsed = t_end - t_start
    first, last_commit, first_now = sql_one(
        run,
        f"""SELECT extract(epoch FROM min(r.cree_le)), extract(epoch FROM max(r.cree_le)),
                  extract(epoch FROM min(d.traitee_le))
             FROM metier_demande d JOIN metier_reparation r ON {run.join}
            WHERE d.piece = ANY(%s)""",
        (piece,),
    )
    steady = rows / (float(last_commit) - float(first_now)) if last_commit != first_now else None
    rate = rows / elapsed
    run.measured["drain_rps"] = round(rate, 1)
    say(
        f"  drained {rows:,} in {elapsed:.2f}s from the consumer's start = {rate:,.0f} repairs/s "
        f"(consumer ready after {ready:.2f}s; steady rate, first batch start to last repair: "
        f"{steady:,.0f}/s)"
    )
    say(f"  {describe_cpu(cpu_used)}")
    run.details["drain"] = {
        "backlog": rows,
        "queue_depth_before": depth,
        "relayed": relayed,
        "preload_seconds": round(preload_s, 1),
        "preload_wrk": res,
        "seconds_from_consumer_start": round(elapsed, 3),
        "consumer_ready_seconds": round(ready, 3),
        "first_batch_after_start_seconds": round(float(first_now) - wall_start, 3),
        "first_repair_after_start_seconds": round(float(first) - wall_start, 3),
        "steady_rate": round(steady, 1) if steady else None,
        "cpu_cores": cpu_used,
    }
    run.details["exactly_once_after_drain"] = check_exactly_once(run, "after drain")


def phase_latency_high(run: Run) -> None:
    phase_latency(run, high=True)


def phase_latency(run: Run, high: bool = False) -> None:
    """Open-loop latency at --rate (300), or with `high` at --rate-high (1,000), where a
    request not accepted is a figure (target 0), not a harness failure."""
    s, a, stack = run.sizes, run.args, run.stack
    name = "latency_high" if high else "latency"
    rate = a.rate_high if high else a.rate
    seconds = s["latency_high_seconds"] if high else s["latency_seconds"]
    piece = run.pieces[name]
    say(f"{name}: {rate:g} req/s for {seconds}s (open-loop Python generator)")
    watch = None
    watch_file = stack.log_dir / "commits.txt"
    if not a.no_commit_watch:
        with stack.db() as conn:
            conn.execute(commitwatch.TRIGGER_SQL)
        watch = stack.spawn_helper(
            [sys.executable, "-m", "bench.commitwatch", stack.database_url, str(watch_file)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        watch.stdout.readline()  # "listening"
    cpu = sampler(run).start()
    profs = start_profiles(run, name, {**web_targets(run), **consumer_targets(run)})
    gen = run_rate(
        stack.port,
        rate=rate,
        duration=seconds,
        method="POST",
        path="/reparation/",
        body=lambda i: {"piece": piece[i % len(piece)], "duree": 5},
        extra_headers=stack.auth_headers,
    )
    wait_processed(run, name, len(gen["ids"]), piece)
    stop_profiles(run, name, profs)
    cpu_used = cpu.stop()
    time.sleep(0.3)
    if watch is not None:
        watch.terminate()
        watch.wait(timeout=10)
        with stack.db() as conn:
            conn.execute(commitwatch.DROP_SQL)
    stack.check_alive()
    refused = gen["error_count"]
    answered_bad = sum(n for code, n in gen["statuses"].items() if code >= 300)
    if high:
        run.measured["e2e_high_refused"] = refused
    # An HTTP error is a bug; a client timeout is the machine being too slow for the rate:
    # a failure in full mode, noise in quick mode (a smoke run on whatever machine CI has).
    if answered_bad or (refused and not high and not a.quick):
        run.fail(f"{name}: {refused} failed requests: {gen['statuses']} {gen['errors']}")

    with stack.db() as conn:
        rows = conn.execute(
            f"""SELECT d.id::text, d.statut,
                      extract(epoch FROM d.cree_le)::float8,
                      extract(epoch FROM d.publiee_le)::float8,
                      extract(epoch FROM d.traitee_le)::float8,
                      extract(epoch FROM d.traitee_le)::text,
                      extract(epoch FROM r.cree_le)::float8
                 FROM metier_demande d LEFT JOIN metier_reparation r ON {run.join}
                WHERE d.piece = ANY(%s)""",
            (piece,),
        ).fetchall()
    ids_db = {r[0] for r in rows}
    ids_ok = set(gen["ids"])
    # A request that timed out on the client may still have been committed: only then may
    # the database hold more than the 202s (refused is 0 in the 300 req/s phase).
    extra = len(ids_db - ids_ok)
    if ids_ok - ids_db or extra > refused or len(gen["ids"]) != len(ids_ok):
        run.fail(
            f"{name}: {len(ids_ok - ids_db)} accepted ids missing from the database, "
            f"{extra} unexpected rows"
        )
    commits: dict[str, float] = {}
    if watch is not None and watch_file.exists():
        for line in watch_file.read_text().splitlines():
            stamp, at = line.split()
            commits.setdefault(stamp, float(at))

    def pct(values: list[float]) -> dict:
        from bench.measure import percentile

        return {
            f"p{p:g}": round(percentile(values, p), 2) if values else None
            for p in (50, 90, 99, 100)
        }

    to_repair = [(r[6] - r[2]) * 1000 for r in rows if r[6] is not None]
    to_traitee = [(r[4] - r[2]) * 1000 for r in rows if r[4] is not None]
    to_published = [(r[3] - r[2]) * 1000 for r in rows if r[3] is not None]
    to_commit = [(commits[r[5]] - r[2]) * 1000 for r in rows if r[5] in commits]
    e2e = pct(to_repair)
    if high:
        run.measured["e2e_high_p99"] = e2e["p99"]
    else:
        run.measured["e2e_p50"] = e2e["p50"]
        run.measured["e2e_p99"] = e2e["p99"]
    observed = pct(to_commit)
    say(
        f"  {gen['achieved_rate']:g} req/s achieved, generator lag p99 {gen['lag_ms']['p99']} ms, "
        f"generator CPU {gen['generator_cpu_cores']:.2f} core, at most {gen['max_in_flight']} "
        f"requests in flight; {refused} not accepted; HTTP p50 "
        f"{gen['client_latency_ms']['p50']} ms p99 {gen['client_latency_ms']['p99']} ms"
    )
    if gen["saturated_by_server"]:
        say(
            f"  NOTE: all {gen['threads']} generator connections were waiting on the server at "
            "once: the server could not keep up with the rate (it was overloaded, not the "
            "generator), so arrivals fell behind schedule"
        )
    say(
        f"  accepted → repair row (Reparation.cree_le): p50 {e2e['p50']} ms, p99 {e2e['p99']} ms;"
        f" → batch start (traitee_le) p50 {pct(to_traitee)['p50']} p99 {pct(to_traitee)['p99']};"
        f" → observed commit p50 {observed['p50']} p99 {observed['p99']} "
        f"({len(to_commit)}/{len(rows)} matched); → published p50 {pct(to_published)['p50']} "
        f"p99 {pct(to_published)['p99']}"
    )
    say(f"  {describe_cpu(cpu_used)}")
    gen = {k: v for k, v in gen.items() if k != "ids"}
    run.details[name] = {
        "rate": rate,
        "generator": gen,
        "requests": len(rows),
        "ms_accepted_to_repair_created": e2e,
        "ms_accepted_to_batch_start_traitee_le": pct(to_traitee),
        "ms_accepted_to_observed_commit": observed,
        "observed_commits_matched": len(to_commit),
        "ms_accepted_to_published": pct(to_published),
        "cpu_cores": cpu_used,
    }
    run.details[f"exactly_once_after_{name}"] = check_exactly_once(run, f"after {name}")


def cursor_maker(stack: Stack) -> Callable[[int], str]:
    """Pages at a given id, in the app's own cursor format, learnt from its first page's
    `next` link: a keyset cursor (base64 JSON, `{"o": ordering, "p": [values], "r": ...}`),
    or DRF's older one (base64 of `p=<position>`) for commits made before it."""
    code, body = stack.http("GET", "/api/reparation/")
    nxt = body.get("next") if code == 200 and isinstance(body, dict) else None
    if not nxt:
        raise HarnessError(f"read: the first page has no next link: {code} {str(body)[:300]}")
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(nxt).query)["cursor"][0]
    raw = base64.b64decode(token)
    try:
        shape = json.loads(raw)
    except ValueError:
        shape = None

    def path(position: int) -> str:
        if isinstance(shape, dict):
            text = json.dumps({**shape, "p": [position]})
        else:
            text = urllib.parse.urlencode({"p": position})
        cursor = base64.b64encode(text.encode()).decode()
        return f"/api/reparation/?cursor={urllib.parse.quote(cursor, safe='')}"

    return path


EXPLAIN_SNIPPET = """
import json
from metier import selectors
qs = selectors.reparations().order_by("id")
out = {{
  "list_first_page": qs[:51].explain(analyze=True, buffers=True),
  "list_random_page": qs.filter(id__gt={mid})[:51].explain(analyze=True, buffers=True),
  "detail": qs.filter(pk={mid}).explain(analyze=True, buffers=True),
}}
print("EXPLAIN_JSON " + json.dumps(out))
"""


def phase_read(run: Run) -> None:
    s, a, stack = run.sizes, run.args, run.stack
    n = s["read_rows"]
    pieces = [p for group in run.pieces.values() for p in group]
    say(f"read: bulk-loading {n:,} repairs (and their requests) with INSERT ... SELECT")
    linked = f"SELECT count(*) FROM metier_demande d JOIN metier_reparation r ON {run.join}"
    if sql_one(run, linked)[0] == 0:
        # The bulk load copies a repair and a request the app made itself: make one.
        code, body = stack.http("POST", "/reparation/", {"piece": pieces[0], "duree": 1})
        if code != 202:
            raise HarnessError(f"read: intake answered {code}: {body}")
        wait_processed(run, "read template", 1)
    t0 = time.monotonic()
    with stack.db() as conn:
        loaded = dataset.bulk_load(conn, n)
        lo, hi, total = conn.execute(
            "SELECT min(id), max(id), count(*) FROM metier_reparation"
        ).fetchone()
    load_s = time.monotonic() - t0
    say(f"  {total:,} repairs in the database (loaded in {load_s:.1f}s: {loaded})")

    first = stack.log_dir / "paths-first.txt"
    first.write_text("/api/reparation/\n")
    rnd = random.Random(42)
    deep = stack.log_dir / "paths-cursor.txt"
    cursor_path = cursor_maker(stack)
    deep.write_text("".join(cursor_path(rnd.randint(lo, hi)) + "\n" for _ in range(2000)))
    code, body = stack.http("GET", cursor_path(hi - 10))
    if code != 200 or not isinstance(body, dict) or not body.get("results"):
        run.fail(f"read: a cursor page did not answer as expected: {code} {str(body)[:300]}")

    conns = a.read_connections
    short = max(1, s["read_seconds"] // 2)
    cases = [
        # (figure, label, wrk script, connections, seconds)
        ("read_list_p99", "list, first page", ["paths", str(first)], conns, s["read_seconds"]),
        (
            "read_detail_p99",
            "detail, random id",
            ["detail", str(lo), str(hi)],
            conns,
            s["read_seconds"],
        ),
        (None, "list, random depth (cursor)", ["paths", str(deep)], conns, s["read_seconds"]),
        # One connection: the service time without queueing, to tell the two apart.
        (None, "list, first page, 1 connection", ["paths", str(first)], 1, short),
        (None, "detail, random id, 1 connection", ["detail", str(lo), str(hi)], 1, short),
    ]
    results = {}
    for key, label, script, n_conn, seconds in cases:
        run_wrk(stack, script, connections=n_conn, threads=1, duration=1)
        cpu = sampler(run).start()
        prof_name = f"read-{label.split(',')[0]}"
        profs = start_profiles(run, prof_name, web_targets(run)) if key else []
        res = run_wrk(stack, script, connections=n_conn, threads=1, duration=seconds)
        stop_profiles(run, prof_name, profs)
        cpu.add_cores("loadgen", res["wrk_cpu_cores"])
        cpu_used = cpu.stop()
        lat = res["latency_ms"]
        say(
            f"  {label}: {res['ok_per_s']:,.0f} req/s with {n_conn} connection(s), "
            f"p50 {lat['50']} ms, p99 {lat['99']} ms, max {lat['max']} ms; "
            f"non-2xx {res['non_2xx']}, socket errors {res['socket_errors']}"
        )
        say(f"    {describe_cpu(cpu_used)}")
        if res["non_2xx"] or res["socket_errors"]:
            run.fail(f"read {label}: errors {res['statuses']} socket {res['socket_errors']}")
        if key:  # no answer at all in the time (a very slow machine): no figure, not 0 ms
            run.measured[key] = lat["99"] if res["ok"] else None
        results[label] = {"wrk": res, "cpu_cores": cpu_used}
    stack.check_alive()
    explain = {}
    try:
        out = stack.run_manage(
            ["shell", "-c", EXPLAIN_SNIPPET.format(mid=(lo + hi) // 2)], "explain"
        )
        line = next(x for x in out.splitlines() if x.startswith("EXPLAIN_JSON "))
        explain = json.loads(line[len("EXPLAIN_JSON ") :])
        for name, plan in explain.items():
            last = [x for x in plan.splitlines() if "Execution Time" in x]
            say(f"  EXPLAIN ANALYZE {name}: {last[0].strip() if last else '?'}")
    except Exception as exc:
        say(f"  (EXPLAIN failed: {exc!r})")
    run.details["read"] = {
        "rows": total,
        "load_seconds": round(load_s, 1),
        "rows_loaded": loaded,
        "connections": a.read_connections,
        "cases": results,
        "explain": explain,
    }


def phase_memory(run: Run) -> None:
    stack = run.stack
    workers = {pid: rss_mb(pid) for pid in stack.web_worker_pids()}
    consumers = {pid: rss_mb(pid) for pid in stack.consumer_pids()}
    master = rss_mb(stack.web.pid) if stack.web else None
    workers = {k: v for k, v in workers.items() if v is not None}
    if workers:
        run.measured["rss_web_max"] = max(workers.values())
    if consumers:
        run.measured["rss_consumer"] = max(v for v in consumers.values() if v is not None)
    say(
        f"memory: web workers {sorted(workers.values())} MB (master {master} MB), "
        f"consumer {list(consumers.values())} MB"
    )
    run.details["memory_mb"] = {"web_workers": workers, "web_master": master, "consumer": consumers}


# The relay's own log lines (pipeline/outbox.py): what it published, first or again.
RELAY_LINE = re.compile(r"relay published (\d+)|republished (\d+)")


def relay_published(run: Run) -> int:
    """Requests published by the app's relay so far: from the app's process logs (the
    worker's relay thread, and `manage.py relay` if the drain had to run it)."""
    total = 0
    for path in run.stack.log_dir.glob("*.log"):
        if not path.name.startswith("peer-"):
            for m in RELAY_LINE.finditer(path.read_text(errors="replace")):
                total += int(m.group(1) or m.group(2))
    return total


def run_peer_phase(run: Run, name: str) -> None:
    """The Celery peer's counterpart of an app phase, right after it (same load around)."""
    peer, a, s = run.peer, run.args, run.sizes
    if peer is None or name == "read":  # the peer has no API to read
        return
    pieces = run.peer_pieces
    common = {"method": a.intake_method, "sizes": s, "args": a, "fail": run.fail}
    if name == "intake":
        figures, details = peerrun.intake(peer, piece=pieces["intake"], **common)
    elif name == "drain":
        figures, details = peerrun.drain(peer, piece=pieces["drain"], **common)
    elif name == "latency":
        figures, details = peerrun.latency(
            peer, rate=a.rate, seconds=s["latency_seconds"], piece=pieces["latency"],
            keys=("e2e_p50", "e2e_p99", None), fail=run.fail,
        )  # fmt: skip
    else:
        figures, details = peerrun.latency(
            peer, rate=a.rate_high, seconds=s["latency_high_seconds"],
            piece=pieces["latency_high"], keys=(None, "e2e_high_p99", "e2e_high_refused"),
            fail=run.fail,
        )  # fmt: skip
    figures.pop(None, None)
    run.peer_measured.update(figures)
    run.details.setdefault("peer", {})[name] = details


# --- report ---------------------------------------------------------------------------
def table(run: Run) -> tuple[list[dict], str]:
    """Each figure beside its target and beside the Celery peer's, with app / peer."""
    fmt = {**run.sizes, "rate": run.args.rate, "rate_high": run.args.rate_high}
    rows = []
    for t in TARGETS:
        value, peer = run.measured.get(t.key), run.peer_measured.get(t.key)
        met = t.met(value, peer)
        target = f"{t.op} {t.value:g} {t.unit}".strip()
        if t.times_peer:
            target += f", ≥ {t.times_peer:g}× peer"
        ratio = round(value / peer, 2) if value is not None and peer else None
        rows.append(
            {
                "key": t.key,
                "figure": t.label.format(**fmt),
                "target": target,
                "measured": value,
                "unit": t.unit,
                "status": {True: "met", False: "short", None: "n/a"}[met],
                "peer": peer,
                "app_over_peer": ratio,
            }
        )

    def shown(v: float | None, unit: str) -> str:
        if v is None:
            return "-"
        return f"{f'{v:,.1f}' if isinstance(v, float) else f'{v:,}'} {unit}".strip()

    w = max(len(r["figure"]) for r in rows)
    lines = [
        f"{'figure':<{w}}  {'target':>26}  {'measured':>12}  {'status':6}  "
        f"{'Celery peer':>12}  {'app/peer':>8}",
        f"{'-' * w}  {'-' * 26}  {'-' * 12}  {'-' * 6}  {'-' * 12}  {'-' * 8}",
    ]
    for r in rows:
        ratio = "-" if r["app_over_peer"] is None else f"{r['app_over_peer']:.2f}"
        lines.append(
            f"{r['figure']:<{w}}  {r['target']:>26}  {shown(r['measured'], r['unit']):>12}  "
            f"{r['status']:6}  {shown(r['peer'], r['unit']):>12}  {ratio:>8}"
        )
    return rows, "\n".join(lines)


def settings_in_effect(stack: Stack) -> dict:
    keys = [k for k in stack.env if k.startswith(("GARAGE_", "WEB_", "DATABASE_CONN"))]
    out = {k: stack.env[k] for k in sorted(keys)}
    out["web_workers_running"] = len(stack.web_worker_pids())
    out["worker_count"] = stack.worker_count
    out["procfile"] = stack.procfile
    return out


# --- main -----------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="small counts, a smoke run of the harness (exit 0 even if targets are short)",
    )
    p.add_argument(
        "--phases",
        default=",".join(PHASES),
        help=f"comma-separated subset of {','.join(PHASES)} (default: all)",
    )
    p.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="a PostgreSQL server where the run may create and drop its database",
    )
    p.add_argument(
        "--amqp-url",
        default=os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        help="the RabbitMQ to use; a private vhost is made on it (rabbitmqctl)",
    )
    p.add_argument(
        "--workers", type=int, help="web workers (WEB_CONCURRENCY; default: the Procfile's)"
    )
    p.add_argument(
        "--threads", type=int, help="threads per worker (WEB_THREADS; default: the Procfile's)"
    )
    p.add_argument(
        "--worker-count",
        type=int,
        default=1,
        help="copies of each non-web Procfile process (the consumer), like ps:scale worker=N",
    )
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the stack, e.g. GARAGE_BATCH_SIZE=500 (repeatable)",
    )
    p.add_argument("--connections", type=int, default=32, help="wrk connections for the intake")
    p.add_argument("--wrk-threads", type=int, default=2)
    p.add_argument(
        "--intake-method",
        choices=("post", "get"),
        default="post",
        help="POST /reparation/ (JSON) or the seed's GET /reparation/{piece}/{duree}/",
    )
    p.add_argument(
        "--parts", type=int, default=10, help="parts per phase the requests are spread over"
    )
    p.add_argument("--rate", type=float, default=300, help="requests/s of the latency phase")
    p.add_argument(
        "--rate-high",
        type=float,
        default=1000,
        help="requests/s of the latency-high phase (every request must be accepted)",
    )
    p.add_argument(
        "--peer",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure the Django + Celery peer (bench/peer/) after each phase, in the "
        "same run, and show it beside each figure (default: on, also in quick mode)",
    )
    p.add_argument(
        "--read-connections",
        type=int,
        default=4,
        help="wrk connections of the reading phase (closed loop)",
    )
    for name, (full, _quick) in SIZES.items():
        p.add_argument(
            f"--{name.replace('_', '-')}", type=int, help=f"default {full:,} (quick: {_quick:,})"
        )
    p.add_argument(
        "--no-commit-watch",
        action="store_true",
        help="do not observe commit times with a NOTIFY trigger in the latency phase",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="py-spy record the web workers and the consumer during each phase",
    )
    p.add_argument(
        "--app",
        choices=("snapshot", "head", "live"),
        default="snapshot",
        help="the app code to run: a copy of the working tree taken at the start (default, "
        "immune to edits during the run), the last commit (git archive HEAD), or the tree itself",
    )
    p.add_argument("--commit", help="with --app head: this commit instead of HEAD")
    p.add_argument(
        "--allow-log-errors",
        action="store_true",
        help="report ERROR lines and exceptions in the processes' logs without failing the run",
    )
    p.add_argument("--keep-logs", action="store_true", help="keep the processes' logs on success")
    p.add_argument(
        "--cluster",
        action="store_true",
        help="run twice, back to back: on one node, then on a private 3-node RabbitMQ cluster "
        "(tests/support/rabbit_node.py; needs root), quorum queues in both; prints both and "
        "the cost of replication",
    )
    p.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    p.add_argument(
        "--cleanup-stale",
        action="store_true",
        help="drop databases/vhosts left by runs that were killed (-9), then exit",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.cleanup_stale:
        remove_stale(args.pg_url)
        return 0
    if args.commit and args.app != "head":
        print("--commit needs --app head", file=sys.stderr)
        return 2
    if args.cluster:
        return compare_cluster(args)
    return run_once(args)[0]


def compare_cluster(args: argparse.Namespace) -> int:
    """One node, then three, back to back, quorum queues in both: the cost of replication.

    The same machine and the same load from others for both (as nearly as a shared machine
    allows: read the CPU lines each phase prints)."""
    sys.path.insert(0, str(ROOT))
    from tests.support.rabbit_node import PrivateRabbitCluster

    args.env = [*args.env, "GARAGE_QUEUE_TYPE=quorum"]
    base = args.output
    runs: dict[str, tuple[int, list[dict]]] = {}
    args.output = base.with_name(f"{base.stem}-1-node{base.suffix}")
    runs["1 node"] = run_once(args)
    say("starting a private 3-node RabbitMQ cluster")
    cluster = PrivateRabbitCluster(size=3).start()
    try:
        args.output = base.with_name(f"{base.stem}-3-nodes{base.suffix}")
        runs["3 nodes"] = run_once(args, cluster=cluster)
    finally:
        cluster.stop()
    one, three = runs["1 node"][1], runs["3 nodes"][1]
    w = max(len(r["figure"]) for r in one)
    lines = [
        "",
        "quorum queues, 1 node vs a 3-node cluster (run back to back; shared machine)",
        f"{'figure':<{w}}  {'1 node':>12}  {'3 nodes':>12}  {'3 / 1':>6}",
        f"{'-' * w}  {'-' * 12}  {'-' * 12}  {'-' * 6}",
    ]
    for a, b in zip(one, three, strict=True):
        va, vb = a["measured"], b["measured"]
        ratio = f"{vb / va:.2f}" if va and vb is not None else "-"
        shown = [
            "-"
            if v is None
            else f"{v:,.1f} {a['unit']}".strip()
            if isinstance(v, float)
            else f"{v:,} {a['unit']}".strip()
            for v in (va, vb)
        ]
        lines.append(f"{a['figure']:<{w}}  {shown[0]:>12}  {shown[1]:>12}  {ratio:>6}")
    print("\n".join(lines))
    comparison = {label: rows for label, (_code, rows) in runs.items()}
    base.parent.mkdir(parents=True, exist_ok=True)
    base.with_name(f"{base.stem}-cluster-comparison.json").write_text(
        json.dumps(comparison, indent=2, default=str)
    )
    codes = [code for code, _rows in runs.values()]
    return max(codes, key=lambda c: (c == 2, c == 130, c))


def run_once(args: argparse.Namespace, cluster=None) -> tuple[int, list[dict]]:
    mode = "quick" if args.quick else "full"
    sizes = {k: (getattr(args, k) or v[1 if args.quick else 0]) for k, v in SIZES.items()}
    phases = [x.strip() for x in args.phases.split(",") if x.strip()]
    unknown = set(phases) - set(PHASES)
    if unknown:
        print(f"unknown phases: {unknown}", file=sys.stderr)
        return 2
    extra_env = dict(x.split("=", 1) for x in args.env)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    log_dir = RESULTS / "logs" / f"{stamp}-{mode}"
    stack = Stack(
        pg_admin_url=args.pg_url,
        amqp_url=args.amqp_url,
        log_dir=log_dir,
        workers=args.workers,
        threads=args.threads,
        extra_env=extra_env,
        app_source=args.app,
        worker_count=args.worker_count,
        commit=args.commit,
        cluster=cluster,
    )
    run = Run(args=args, stack=stack, sizes=sizes)

    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    # SIGINT too: a shell's background job (or a CI runner) may start us with it ignored.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupted)
    started = time.monotonic()
    code, status = 0, "done"
    try:
        wrk_path()
        say(f"bench ({mode}): database and vhost {stack.name}, logs in {log_dir}")
        stack.setup()
        info = stack.code
        say(
            f"app code: {info['source']} of commit {(info.get('commit') or '?')[:10]}"
            + (
                f" + {info['uncommitted_files']} uncommitted file(s)"
                if info.get("uncommitted_files")
                else ""
            )
        )
        with stack.db() as conn:
            run.join = dataset.link(conn)
        stack.start_web()
        stack.start_workers()
        # Each phase has its own parts (its requests are told apart by them), several, as
        # in a garage: one hot part would serialize the consumers on its stock row.
        for tag in ("intake", "drain", "latency", "latency_high", "read"):
            run.pieces[tag] = []
            for i in range(args.parts):
                code_, body = stack.http(
                    "POST", "/api/piece/", {"nom": f"bench {tag} {i}", "prix": 10}
                )
                if code_ != 201:
                    raise HarnessError(f"could not create a part: {code_} {body}")
                run.pieces[tag].append(body["id"])
        say(
            f"stack up: web pid {stack.web.pid} with {len(stack.web_worker_pids())} workers "
            f"on {stack.base_url}, consumer pid {stack.consumer_pids()}"
        )
        if args.peer:
            run.peer = PeerStack(
                pg_admin_url=args.pg_url,
                amqp_url=args.amqp_url,
                log_dir=log_dir,
                app_web_line=stack.procfile.get("web"),
                app_dir=stack.app_dir,
                base_env=stack.env,
            )
            run.peer_pieces = run.peer.setup(
                {tag: args.parts for tag in ("intake", "drain", "latency", "latency_high")}
            )
            run.peer.start_web()
            run.peer.start_worker()
            say(
                f"Celery peer up: `{run.peer.web_command}` on {run.peer.base_url}, celery "
                f"worker pids {run.peer.worker_pids()}, database and vhost {run.peer.name}"
            )
        relay_by_phase = {}
        for name in phases:
            before = relay_published(run)
            {
                "intake": phase_intake,
                "drain": phase_drain,
                "latency": phase_latency,
                "latency-high": phase_latency_high,
                "read": phase_read,
            }[name](run)
            stack.check_alive()
            relay_by_phase[name] = relay_published(run) - before
            say(f"  relay: {relay_by_phase[name]:,} request(s) published during {name}")
            run_peer_phase(run, name)
        # Every phase runs without a fault: the relay, the safety net, should publish nothing
        # (counted over the whole run, the peer's phases included, when the app is idle).
        run.measured["relay_published"] = relay_published(run)
        run.details["relay_published_by_phase"] = relay_by_phase
        phase_memory(run)
        if run.peer is not None:
            figures, run.details.setdefault("peer", {})["memory_mb"] = peerrun.memory(run.peer)
            run.peer_measured.update(figures)
        problems = stack.log_problems()
        run.details["log_problems"] = problems
        if problems and args.allow_log_errors:
            say(f"errors in the processes' logs (allowed): {problems[:10]}")
        elif problems:
            run.fail(
                f"errors in the processes' logs ({len(problems)}): " + "\n".join(problems[:20])
            )
        run.details["settings"] = settings_in_effect(stack)
    except KeyboardInterrupt:
        code, status = 130, "interrupted"
        print("\ninterrupted: cleaning up", file=sys.stderr)
    except HarnessError as exc:
        code, status = 2, "failed"
        run.failures.append(str(exc))
        print(f"\nHARNESS FAILURE: {exc}", file=sys.stderr)
    except Exception as exc:
        code, status = 2, "failed"
        run.failures.append(f"{exc!r}")
        traceback.print_exc()
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip cleanup
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        say("cleaning up: processes, database, vhost")
        leftovers = run.peer.close() if run.peer is not None else []
        leftovers += stack.close()
        for item in leftovers:
            print(f"  cleanup problem: {item}", file=sys.stderr)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if run.failures and code == 0:
        code, status = 2, "failed"

    rows, text = table(run)
    elapsed = time.monotonic() - started
    print()
    commit = (stack.code.get("commit") or "?")[:10]
    print(
        f"garage pipeline benchmark ({mode}, {os.cpu_count()} cores, {elapsed:.0f}s, "
        f"{stack.code['source']} of {commit})"
    )
    print(text)
    if run.profiles:
        print()
        print(profiling.describe(run.profiles))
    if run.failures:
        print(f"\n{len(run.failures)} failure(s):")
        for f in run.failures:
            print(f"  - {f[:2000]}")
    short = [r for r in rows if r["status"] == "short"]
    if code == 0 and short and not args.quick:
        code, status = 1, "short"
    report = {
        "mode": mode,
        "status": status,
        "exit_code": code,
        "started": stamp,
        "seconds": round(elapsed, 1),
        "code": stack.code,
        "machine": {"cores": os.cpu_count(), "loadavg_at_end": os.getloadavg()},
        "sizes": sizes,
        "phases": phases,
        "figures": rows,
        "failures": run.failures,
        "details": run.details,
        "profiles": run.profiles,
        "logs": str(log_dir),
        "cleanup_problems": leftovers,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    text_json = json.dumps(report, indent=2, default=str)
    args.output.write_text(text_json)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stamp}-{mode}.json").write_text(text_json)
    print(f"\nwritten: {args.output}")
    if code == 0 and not args.keep_logs and not args.profile:
        shutil.rmtree(log_dir, ignore_errors=True)
    else:
        print(f"logs: {log_dir}")
    return code, rows


if __name__ == "__main__":
    sys.exit(main())
