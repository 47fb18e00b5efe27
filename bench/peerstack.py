"""The Celery peer's stack for one run (bench/peer/): its own database, vhost and processes.

Its web process is the app's Procfile `web` line serving the peer's WSGI module instead
(`python -m garage.web bench.peer.wsgi:application`, or `garage.wsgi` → `bench.peer.wsgi`
in a line that names it), so both run under the same server, config, worker and thread
counts; otherwise gunicorn gthread with the same WEB_CONCURRENCY × WEB_THREADS. Its
worker is `celery worker` with Celery's default prefork concurrency (one process per
core). `close()` removes all of it.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pika
import pika.exceptions
import psycopg

from bench.stack import ROOT, VENV_BIN, HarnessError, Proc, children, free_port

CELERY_WORKER = (
    "python -m celery -A bench.peer.celery worker --loglevel WARNING "
    "--without-mingle --without-gossip --without-heartbeat"
)


def peer_web_command(app_web_line: str | None) -> str:
    """The app's web command line serving the peer instead, or gunicorn gthread."""
    if app_web_line and re.search(r"-m garage\.web\s*$", app_web_line):
        line = f"{app_web_line.rstrip()} bench.peer.wsgi:application"
        return line[len("exec ") :] if line.startswith("exec ") else line
    if app_web_line and re.search(r"\bgarage\.wsgi\b", app_web_line):
        line = re.sub(r"\bgarage\.wsgi\b", "bench.peer.wsgi", app_web_line)
        return line[len("exec ") :] if line.startswith("exec ") else line
    return (
        "gunicorn bench.peer.wsgi --bind 127.0.0.1:${PORT} --workers ${WEB_CONCURRENCY:-3} "
        "--threads ${WEB_THREADS:-4} --worker-class gthread"
    )


class PeerStack:
    def __init__(
        self,
        *,
        pg_admin_url: str,
        amqp_url: str,
        log_dir: Path,
        app_web_line: str | None,
        app_dir: Path,
        base_env: dict[str, str],
    ) -> None:
        self.name = f"garage_bench_{os.getpid()}_peer"
        self.pg_admin_url = pg_admin_url
        self.amqp_base = amqp_url
        self.log_dir = log_dir
        self.app_dir = app_dir  # cwd of the web process: the Procfile line's relative paths
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        parsed = urllib.parse.urlsplit(pg_admin_url)
        self.database_url = urllib.parse.urlunsplit(parsed._replace(path=f"/{self.name}"))
        self.web_command = peer_web_command(app_web_line)
        self.processes: list[Proc] = []
        self.helpers: list[subprocess.Popen] = []
        self.web: Proc | None = None
        self.worker: Proc | None = None
        self.db_created = self.vhost_created = False
        self.queue = "peer"  # our own name on the given vhost when we cannot have our own
        self.shared_vhost = False
        self.env_for_clients: dict[str, str] = {}
        self._db: psycopg.Connection | None = None
        self._amqp: pika.BlockingConnection | None = None
        self._channel = None
        keep = ("WEB_CONCURRENCY", "WEB_THREADS", "GUNICORN_CMD_ARGS", "PATH", "HOME", "LANG")
        self.env = {k: v for k, v in base_env.items() if k in keep}
        self.env.update(
            {
                "PATH": f"{VENV_BIN}{os.pathsep}{base_env.get('PATH', '')}",
                "DJANGO_SETTINGS_MODULE": "bench.peer.settings",
                "PEER_DATABASE_URL": self.database_url,
                # The harness's own bench/peer first: the app's tree may be an older commit.
                "PYTHONPATH": f"{ROOT}{os.pathsep}{app_dir}",
                "PYTHONUNBUFFERED": "1",
                "PORT": str(self.port),
                # The app's web server keeps metrics files under GARAGE_VAR_DIR: the
                # peer's must not mix with the app's.
                "GARAGE_VAR_DIR": str(log_dir / "peer-var"),
            }
        )

    # -- setup -------------------------------------------------------------------------
    def setup(self, parts: dict[str, int]) -> dict[str, list[int]]:
        """Database, vhost, migrations; `parts` parts per tag. Returns the parts' ids."""
        with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        self.db_created = True
        if self._add_vhost():
            base = urllib.parse.urlsplit(self.amqp_base)
            vhost = urllib.parse.quote(self.name, safe="")
            self.amqp_url = urllib.parse.urlunsplit(base._replace(path=f"/{vhost}"))
        else:  # as the app's stack does: our own queue (and exchange) name instead
            print("  (peer: no private vhost: its own queue name on the given vhost instead)")
            self.amqp_url, self.queue, self.shared_vhost = self.amqp_base, self.name, True
        self.env["PEER_AMQP_URL"] = self.amqp_url
        self.env["PEER_QUEUE"] = self.queue
        res = subprocess.run(
            [sys.executable, "-m", "bench.peer.manage", "migrate", "--no-input"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        (self.log_dir / "peer-migrate.log").write_text(res.stdout + res.stderr)
        if res.returncode != 0:
            raise HarnessError(f"peer migrate failed:\n{res.stderr[-3000:]}")
        ids: dict[str, list[int]] = {}
        with self.db() as conn:
            for tag, n in parts.items():
                rows = conn.execute(
                    "INSERT INTO peer_piece (nom) SELECT 'bench ' || %s || ' ' || g "
                    "FROM generate_series(1, %s) g RETURNING id",
                    (tag, n),
                ).fetchall()
                ids[tag] = [r[0] for r in rows]
        return ids

    def _add_vhost(self) -> bool:
        ctl = shutil.which("rabbitmqctl")
        if not ctl:
            return False
        for args in (
            ["add_vhost", self.name],
            ["set_permissions", "-p", self.name, self._amqp_user(), ".*", ".*", ".*"],
        ):
            res = subprocess.run([ctl, *args], capture_output=True, text=True, timeout=60)
            if res.returncode != 0:
                print(f"  peer: rabbitmqctl {args[0]} failed: {res.stderr.strip()[:300]}")
                return False
            self.vhost_created = True
        return True

    def _amqp_user(self) -> str:
        return urllib.parse.unquote(urllib.parse.urlsplit(self.amqp_base).username or "guest")

    # -- processes ---------------------------------------------------------------------
    def start_web(self, timeout: float = 60) -> Proc:
        self.web = Proc(
            "peer-web", self.web_command, self.env, self.log_dir / "peer-web.log", self.app_dir
        )
        self.processes.append(self.web)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.web.alive():
                raise HarnessError(f"peer web died at start:\n{self.web.output()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/health/")
                if conn.getresponse().status == 200:
                    return self.web
            time.sleep(0.1)
        raise HarnessError(f"peer web did not answer in {timeout}s:\n{self.web.output()}")

    def start_worker(self, timeout: float = 60) -> Proc:
        """`celery worker`; returns once it consumes the peer's queue."""
        self.worker = Proc(
            "peer-celery", CELERY_WORKER, self.env, self.log_dir / "peer-celery.log", ROOT
        )
        self.processes.append(self.worker)
        deadline = time.monotonic() + timeout
        while self.consumers() < 1:
            if not self.worker.alive():
                raise HarnessError(f"celery worker died at start:\n{self.worker.output()}")
            if time.monotonic() > deadline:
                raise HarnessError(f"celery worker not consuming after {timeout}s")
            time.sleep(0.05)
        return self.worker

    def stop_worker(self) -> None:
        if self.worker is not None:
            code = self.worker.stop(timeout=60)
            if code not in (0, None):
                raise HarnessError(f"celery worker exited {code}:\n{self.worker.output()}")
            self.worker = None

    def check_alive(self) -> None:
        for proc in self.processes:
            if not proc.stopped_on_purpose and not proc.alive():
                raise HarnessError(
                    f"{proc.name} died (exit {proc.proc.returncode}):\n{proc.output()}"
                )

    def web_pids(self) -> list[int]:
        return [self.web.pid, *children(self.web.pid)] if self.web else []

    def web_worker_pids(self) -> list[int]:
        return children(self.web.pid) if self.web else []

    def worker_pids(self) -> list[int]:
        """The Celery main process and its prefork pool."""
        if self.worker is None or not self.worker.alive():
            return []
        return [self.worker.pid, *children(self.worker.pid)]

    def spawn_helper(self, args: list[str], **kw) -> subprocess.Popen:
        kw.setdefault("env", dict(os.environ))
        proc = subprocess.Popen(args, start_new_session=True, **kw)
        self.helpers.append(proc)
        return proc

    # -- look-ups ----------------------------------------------------------------------
    def db(self) -> psycopg.Connection:
        return psycopg.connect(self.database_url, autocommit=True)

    def query(self, sql: str, params: tuple = ()) -> tuple:
        for attempt in (1, 2):
            try:
                if self._db is None or self._db.closed:
                    self._db = self.db()
                return self._db.execute(sql, params).fetchone()
            except psycopg.OperationalError:
                self._db = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _queue(self) -> tuple[int, int]:
        """(messages ready, consumers) of the peer's queue; (0, 0) before it exists."""
        for attempt in (1, 2):
            try:
                if self._amqp is None or not self._amqp.is_open:
                    self._amqp = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
                    self._channel = None
                if self._channel is None or not self._channel.is_open:
                    self._channel = self._amqp.channel()
                self._amqp.process_data_events(0)
                ok = self._channel.queue_declare(self.queue, passive=True)
                return ok.method.message_count, ok.method.consumer_count
            except pika.exceptions.ChannelClosedByBroker:
                self._channel = None
                return 0, 0
            except pika.exceptions.AMQPError:
                self._amqp = self._channel = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def queue_depth(self) -> int:
        return self._queue()[0]

    def consumers(self) -> int:
        return self._queue()[1]

    # -- teardown ----------------------------------------------------------------------
    def close(self) -> list[str]:
        problems = []
        with contextlib.suppress(Exception):
            if self._db is not None:
                self._db.close()
        with contextlib.suppress(Exception):
            if self._amqp is not None and self._amqp.is_open:
                self._amqp.close()
        for helper in self.helpers:
            if helper.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(helper.pid, 9)
                with contextlib.suppress(Exception):
                    helper.wait(timeout=10)
        for proc in reversed(self.processes):
            try:
                proc.stop(timeout=30)
            except Exception as exc:
                problems.append(f"stopping {proc.name}: {exc!r}")
        if self.db_created:
            try:
                with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
                self.db_created = False
            except Exception as exc:
                problems.append(f"dropping database {self.name}: {exc!r}")
        if self.shared_vhost:
            try:
                with pika.BlockingConnection(pika.URLParameters(self.amqp_url)) as conn:
                    ch = conn.channel()
                    ch.queue_delete(self.queue)
                    ch.exchange_delete(self.queue)
            except Exception as exc:
                problems.append(f"deleting queue {self.queue}: {exc!r}")
        if self.vhost_created:
            res = subprocess.run(
                [shutil.which("rabbitmqctl") or "rabbitmqctl", "delete_vhost", self.name],
                capture_output=True,
                text=True,
                timeout=120,
            )
            if res.returncode != 0:
                problems.append(f"deleting vhost {self.name}: {res.stderr.strip()[:300]}")
            else:
                self.vhost_created = False
        return problems
