"""An open-loop, rate-limited HTTP load generator (wrk cannot hold a fixed rate; Debian has no
wrk2).

Request i is due at t0 + i/rate whatever happened to the earlier ones (open loop: a slow
answer does not slow the arrivals down, it is simply one more request in flight). A pool of
threads, each with its own keep-alive `http.client` connection, takes the due slots in order.
There are enough threads (0.4 s worth of arrivals, 8 to 128) to keep the schedule through
slow answers. The result says how late each request left compared with its slot (`lag_ms`),
how many were in flight at most, and how much CPU the generator used: the evidence that the
generator is not the bottleneck (when every thread is waiting on an answer at once, the
server is what fell behind, and the result says so).
"""

from __future__ import annotations

import http.client
import json
import math
import threading
import time
from collections.abc import Callable

from bench.measure import percentile

STALE_CONNECTION = (
    BrokenPipeError,
    ConnectionResetError,
    http.client.RemoteDisconnected,
    http.client.BadStatusLine,
)


def run_rate(
    port: int,
    *,
    rate: float,
    duration: float,
    method: str,
    path: str,
    body: Callable[[int], dict] | dict | None = None,
    threads: int | None = None,
    timeout: float = 10.0,
    extra_headers: dict[str, str] | None = None,
) -> dict:
    """`body`: a JSON body, or a function of the request's index that returns one."""
    total = int(rate * duration)
    # Enough connections to keep the schedule through slow answers, few enough that each is
    # used well within the server's keep-alive timeout between requests.
    threads = threads or max(8, min(128, math.ceil(rate * 0.4)))
    headers = {"Content-Type": "application/json"} if body is not None else {}
    headers.update(extra_headers or {})
    lock = threading.Lock()
    state = {"next": 0, "in_flight": 0, "max_in_flight": 0, "retries": 0}

    def payload_for(i: int) -> bytes | None:
        if body is None:
            return None
        return json.dumps(body(i) if callable(body) else body).encode()

    def send(conn: http.client.HTTPConnection, payload: bytes | None) -> tuple[int, bytes]:
        conn.request(method, path, body=payload, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()

    samples: list[tuple[float, float, float, int, str | None, str | None]] = []
    t0 = time.monotonic() + 0.2

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        used = False  # has this connection carried a request already (keep-alive)?
        while True:
            with lock:
                i = state["next"]
                state["next"] += 1
            if i >= total:
                break
            due = t0 + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent = time.monotonic()
            with lock:
                state["in_flight"] += 1
                state["max_in_flight"] = max(state["max_in_flight"], state["in_flight"])
            status, ident, error = -1, None, None
            payload = payload_for(i)
            try:
                try:
                    status, data = send(conn, payload)
                except STALE_CONNECTION:
                    if not used:
                        raise
                    # The server closed this idle keep-alive connection before reading the
                    # request (a race every HTTP client handles): once more, on a new one.
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
                    with lock:
                        state["retries"] += 1
                    status, data = send(conn, payload)
                used = True
                if 200 <= status < 300:
                    ident = json.loads(data).get("id")
            except Exception as exc:
                error = repr(exc)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
                used = False
            with lock:
                state["in_flight"] -= 1
            samples.append((due, sent, time.monotonic(), status, ident, error))
        conn.close()

    cpu0, wall0 = time.process_time(), time.monotonic()
    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=duration + timeout + 60)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0

    statuses: dict[int, int] = {}
    for s in samples:
        statuses[s[3]] = statuses.get(s[3], 0) + 1
    sent_times = [s[1] for s in samples]
    span = (max(sent_times) - min(sent_times)) if len(sent_times) > 1 else 0.0
    lags = [(s[1] - s[0]) * 1000 for s in samples]
    latencies = [(s[2] - s[1]) * 1000 for s in samples]
    ok = [s for s in samples if 200 <= s[3] < 300]

    def pct(xs: list[float], p: float) -> float | None:
        v = percentile(xs, p)
        return round(v, 2) if v is not None else None

    return {
        "rate_asked": rate,
        "requests_due": total,
        "requests_done": len(samples),
        "achieved_rate": round((len(samples) - 1) / span, 1) if span else 0.0,
        "statuses": statuses,
        "ok": len(ok),
        "errors": [s[5] for s in samples if s[5]][:10],
        "error_count": sum(1 for s in samples if s[5] or not 200 <= s[3] < 300),
        "lag_ms": {"p50": pct(lags, 50), "p99": pct(lags, 99), "max": pct(lags, 100)},
        "client_latency_ms": {
            "p50": pct(latencies, 50),
            "p99": pct(latencies, 99),
            "max": pct(latencies, 100),
        },
        "generator_cpu_cores": round(cpu / wall, 3) if wall else None,
        "threads": threads,
        "max_in_flight": state["max_in_flight"],
        "stale_keepalive_retries": state["retries"],
        # Every thread waiting on an answer: the server, not the generator, set the pace.
        "saturated_by_server": state["max_in_flight"] >= threads,
        "ids": [s[4] for s in ok],
    }
