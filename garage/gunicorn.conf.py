"""gunicorn's configuration for the Procfile's `web` (`gunicorn -c garage/gunicorn.conf.py`).

Every value comes from the environment (README, Settings); command-line flags override it.
Besides the usual knobs it does three things:

- binds to loopback for a local run (DEBUG on, garage/local.py), to all interfaces
  otherwise, unless WEB_HOST says where;
- logs like Django does: same format (GARAGE_LOG_FORMAT), UTC, the request id in each line;
- prepares prometheus-client's multiprocess directory: files of dead processes are removed
  at start, and a worker that exits is marked dead, so /metrics adds up the live workers.
"""

import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `-c garage/gunicorn.conf.py` from anywhere
    sys.path.insert(0, str(ROOT))

from garage import local  # noqa: E402
from observability import multiproc  # noqa: E402
from observability.logs import gunicorn_logging  # noqa: E402

_host = os.environ.get("WEB_HOST") or ("127.0.0.1" if local.debug() else "0.0.0.0")

bind = f"{_host}:{os.environ.get('PORT') or 8000}"
workers = int(os.environ.get("WEB_CONCURRENCY") or 3)
threads = int(os.environ.get("WEB_THREADS") or 4)
graceful_timeout = 20
accesslog = "-"
# The request line, status, size and time; the request id comes from the response header.
# Never request headers (they hold tokens).
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms'
logconfig_dict = gunicorn_logging(
    os.environ.get("GARAGE_LOG_FORMAT") or "plain", os.environ.get("GARAGE_LOG_LEVEL") or "INFO"
)

multiproc.configure_environment()
logging.captureWarnings(True)  # as in Django's settings: one format for everything


def on_starting(server) -> None:
    multiproc.remove_dead_processes_files()


def post_worker_init(worker) -> None:
    multiproc.process_started("web")


def child_exit(server, worker) -> None:
    multiproc.mark_dead(worker.pid)
