"""The physical floor of the intake on this machine: a bare WSGI app that inserts one row.

`python -m bench.floor [--seconds 10] [--connections 32]`

No Django, no authentication, throttle, validation, outbox semantics or publishing: each
request is one prepared `INSERT` into a table of its own scratch database (committed, as
the intake's row is), served by the same web server and counts as the Procfile's (granian,
WSGI, WEB_CONCURRENCY × WEB_THREADS = 2 × 8), loaded by wrk as the benchmark's intake.
What the app does on top of this is the price of its guarantees (README, Performance).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
TABLE = "floor_demande"


def app(environ, start_response):  # the WSGI app granian serves (one connection per thread)
    import threading

    local = app.__dict__.setdefault("local", threading.local())
    conn = getattr(local, "conn", None)
    if conn is None:
        conn = local.conn = psycopg.connect(os.environ["FLOOR_DATABASE_URL"], autocommit=True)
    conn.execute(f"INSERT INTO {TABLE} (piece, duree) VALUES (%s, %s)", (1, 5), prepare=True)
    body = b'{"statut": "acceptee"}'
    start_response("202 Accepted", [("Content-Type", "application/json")])
    return [body]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args(argv)
    name = f"garage_floor_{os.getpid()}"
    admin = psycopg.connect(args.pg_url, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    url = urllib.parse.urlunsplit(urllib.parse.urlsplit(args.pg_url)._replace(path=f"/{name}"))
    server = None
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                f"CREATE TABLE {TABLE} (id bigserial PRIMARY KEY, piece bigint, duree bigint, "
                "cree_le timestamptz DEFAULT now())"
            )
        port = 18000 + os.getpid() % 1000
        env = {**os.environ, "FLOOR_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
        server = subprocess.Popen(
            [
                sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1",
                "--port", str(port), "--workers", os.environ.get("WEB_CONCURRENCY", "2"),
                "--blocking-threads", os.environ.get("WEB_THREADS", "8"), "--no-ws",
                "--http", "1", "--log-level", "warning", "bench.floor:app",
            ],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        time.sleep(3)
        out = subprocess.run(
            [
                "wrk", "-t", "2", "-c", str(args.connections), "-d", f"{args.seconds}s",
                f"http://127.0.0.1:{port}/reparation/1/5/",
            ],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])
        with psycopg.connect(url) as conn:
            rows = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]
        print(
            f"floor: a bare WSGI app inserting one row, {args.connections} connections, "
            f"{args.seconds} s: {rate:,.0f} requests/s ({rows:,} rows committed)"
        )
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
