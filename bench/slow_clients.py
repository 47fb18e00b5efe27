"""Slow clients against the web server: do other clients still get answers?

`python -m bench.slow_clients [--server granian|gunicorn] [--connections 40] [--seconds 20]`

Starts the app's web server on a free port (`granian`: the Procfile's `python -m
garage.web`; `gunicorn`: the old Procfile line, gthread 3 workers × 4 threads, for
comparison; or `--url` for a server already running), then opens `--connections`
connections that each send a request line and then one header line per second, never
finishing (a slowloris; a connection the server closes is opened again). Meanwhile a probe
asks `GET /health/live` every 0.2 s with a 10 s timeout. Prints how many probes were
answered, how many timed out, and their latencies.
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(kind: str, port: int, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_DEBUG": "1",
        "PORT": str(port),
        "WEB_HOST": "127.0.0.1",
        "GARAGE_VAR_DIR": tempfile.mkdtemp(prefix="garage-slow-"),
    }
    if kind == "granian":
        cmd = [sys.executable, "-m", "garage.web"]
    else:
        cmd = [
            sys.executable, "-m", "gunicorn", "garage.wsgi", "--bind", f"127.0.0.1:{port}",
            "--workers", "3", "--threads", "4", "--worker-class", "gthread",
        ]  # fmt: skip
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def wait_ready(host: str, port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(host, port, timeout=2)
            conn.request("GET", "/health/live")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the server on {host}:{port} did not answer within {timeout}s")


def slow_client(host: str, port: int, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            with socket.create_connection((host, port), timeout=5) as s:
                s.sendall(b"GET /health/live HTTP/1.1\r\nHost: localhost\r\n")
                n = 0
                while not stop.wait(1.0):
                    s.sendall(f"X-Slow-{n}: {n}\r\n".encode())
                    n += 1
        except OSError:
            stop.wait(0.1)  # closed by the server: come back, as an attacker would


def probe(host: str, port: int, seconds: float) -> tuple[list[float], int]:
    answered: list[float] = []
    timed_out = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            conn = http.client.HTTPConnection(host, port, timeout=10)
            conn.request("GET", "/health/live", headers={"Connection": "close"})
            conn.getresponse().read()
            answered.append(time.monotonic() - started)
        except OSError:
            timed_out += 1
        time.sleep(max(0.0, 0.2 - (time.monotonic() - started)))
    return answered, timed_out


def run(host: str, port: int, connections: int, seconds: float) -> dict:
    stop = threading.Event()
    clients = [
        threading.Thread(target=slow_client, args=(host, port, stop), daemon=True)
        for _ in range(connections)
    ]
    for t in clients:
        t.start()
    time.sleep(2)  # let them all get in
    try:
        answered, timed_out = probe(host, port, seconds)
    finally:
        stop.set()
    return {
        "probes": len(answered) + timed_out,
        "answered": len(answered),
        "timed_out": timed_out,
        "median_ms": round(statistics.median(answered) * 1000, 1) if answered else None,
        "max_ms": round(max(answered) * 1000, 1) if answered else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=["granian", "gunicorn"], default="granian")
    parser.add_argument("--url", help="a server already running (then --server is ignored)")
    parser.add_argument("--connections", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args(argv)
    proc = None
    if args.url:
        parsed = urllib.parse.urlsplit(args.url)
        host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
        label = args.url
    else:
        host, port = "127.0.0.1", free_port()
        log = Path(tempfile.mkdtemp(prefix="garage-slow-log-")) / "web.log"
        proc = start_server(args.server, port, log)
        label = args.server
    try:
        wait_ready(host, port)
        result = run(host, port, args.connections, args.seconds)
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
    print(
        f"{label}: {args.connections} slow connections, {args.seconds:.0f} s: "
        f"{result['answered']} of {result['probes']} probes answered, "
        f"{result['timed_out']} timed out (10 s); median {result['median_ms']} ms, "
        f"max {result['max_ms']} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
