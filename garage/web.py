"""The Procfile's web server: granian (WSGI), configured from the environment.

`python -m garage.web` serves `garage.wsgi:application`; another WSGI target may be given
(the benchmark serves its Celery peer this way, with the same server and settings).

Why granian rather than gunicorn (measured, README "Performance"): its HTTP parsing and
connection handling are in Rust, off the GIL, so a Python worker spends its time in
Django; and a slow client holds a connection in the event loop, not a worker thread,
so a few slow clients cannot starve the others (README "Security", slow clients).

Every value comes from the environment (README, Settings):
- binds to loopback for a local run (DEBUG on, garage/local.py), to all interfaces
  otherwise, unless WEB_HOST says where; `PORT` (8000);
- WEB_CONCURRENCY worker processes (2) × WEB_THREADS threads each (8);
- WEB_HEADER_TIMEOUT_MS: a client must send its headers within this time (10,000);
- WEB_GRACEFUL_TIMEOUT: seconds a worker has to finish its requests on SIGTERM (20);
- logs like Django does (GARAGE_LOG_FORMAT, UTC, the request id on each line); the
  access log is written by the application (observability.middleware), which knows the
  request id;
- prometheus-client's multiprocess folder is prepared and the files of processes that
  are gone are removed at start.
"""

from __future__ import annotations

import logging
import os
import sys

from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings
from granian.log import LogLevels
from granian.server import Server

from garage import local
from observability import multiproc
from observability.logs import server_logging

DEFAULT_TARGET = "garage.wsgi:application"


def _int(name: str, default: int) -> int:
    value = os.environ.get(name) or ""
    try:
        return int(value) if value else default
    except ValueError:
        raise SystemExit(f"{name} must be an integer, not {value!r}") from None


def server(target: str = DEFAULT_TARGET) -> Server:
    """The configured server (not started)."""
    fmt = os.environ.get("GARAGE_LOG_FORMAT") or "plain"
    level = (os.environ.get("GARAGE_LOG_LEVEL") or "INFO").lower()
    multiproc.configure_environment()
    logging.captureWarnings(True)
    web = Server(
        target,
        address=os.environ.get("WEB_HOST") or ("127.0.0.1" if local.debug() else "0.0.0.0"),
        port=_int("PORT", 8000),
        interface=Interfaces.WSGI,
        workers=_int("WEB_CONCURRENCY", 2),
        blocking_threads=_int("WEB_THREADS", 8),
        http=HTTPModes.http1,
        websockets=False,
        http1_settings=HTTP1Settings(header_read_timeout=_int("WEB_HEADER_TIMEOUT_MS", 10_000)),
        log_level=LogLevels(level if level in LogLevels.__members__ else "info"),
        log_dictconfig=server_logging(fmt, level.upper()),
        log_access=False,
        respawn_failed_workers=True,
        workers_kill_timeout=_int("WEB_GRACEFUL_TIMEOUT", 20),
    )
    web.on_startup(multiproc.remove_dead_processes_files)
    return web


def main(argv: list[str]) -> None:
    server(argv[1] if len(argv) > 1 else DEFAULT_TARGET).serve()


if __name__ == "__main__":
    main(sys.argv)
