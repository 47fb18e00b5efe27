"""A private, production-like stack for one benchmark run, and its complete removal.

- its own PostgreSQL database (`garage_bench_<pid>`) and RabbitMQ vhost (same name; when
  `rabbitmqctl` is not usable, its own queue names on the given vhost instead);
- `manage.py migrate`, then the Procfile's processes, started from the Procfile's own
  command lines (`sh -c "exec <line>"`), so the benchmark follows the Procfile when it changes;
- `close()` stops every process it started (process groups, SIGTERM then SIGKILL), drops the
  database and deletes the vhost/queues. It is idempotent and safe to call on any failure.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import pika
import pika.exceptions
import psycopg

from bench.measure import listening_pid

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


class HarnessError(Exception):
    """The harness itself broke (not a slow figure): a process died, the app erred..."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SNAPSHOT_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "bench-results",
    "__pycache__",
    "*.pyc",
    "var",
    "*.sqlite3",
    ".pytest_cache",
    ".ruff_cache",
    "staticfiles",
    "*.egg-info",
)


def git(*args: str) -> str | None:
    """Read-only git queries (rev-parse, status); None when git is not usable."""
    try:
        res = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout if res.returncode == 0 else None


def describe_code(source: str, commit: str | None = None) -> dict:
    """Which code a run measures: the commit, and whether uncommitted changes were included."""
    sha = (git("rev-parse", "--verify", f"{commit or 'HEAD'}^{{commit}}") or "").strip() or None
    if commit and not sha:
        raise HarnessError(f"unknown commit {commit!r}")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {
        "source": source,
        "commit": sha,
        "uncommitted_files": None if source == "head" or dirty is None else len(dirty.splitlines()),
    }


def prepare_app(source: str, dest: Path, commit: str | None = None) -> Path:
    """The directory the stack runs from.

    live: the working tree itself (edits made during the run are picked up by restarted
    processes); snapshot: a copy of the working tree taken now; head: the last commit
    (`git archive HEAD`, which changes nothing in the repository).
    """
    if source == "live":
        return ROOT
    if dest.exists():
        shutil.rmtree(dest)
    if source == "snapshot":
        shutil.copytree(ROOT, dest, ignore=SNAPSHOT_IGNORE)
    elif source == "head":
        dest.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "archive", "--format=tar", commit or "HEAD"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    else:
        raise ValueError(f"unknown app source {source!r}")
    return dest


def read_procfile(path: Path = ROOT / "Procfile") -> dict[str, str]:
    processes = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", line.strip())
        if m:
            processes[m.group(1)] = m.group(2)
    if "web" not in processes:
        raise HarnessError(f"{path} has no web process")
    return processes


class Proc:
    """One Procfile process (its own process group), its output in a log file."""

    def __init__(
        self, name: str, command: str, env: dict[str, str], log_path: Path, cwd: Path = ROOT
    ) -> None:
        self.name = name
        self.command = command
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.log_offset = self.log.tell()  # a restarted process appends to the same log
        self.started_at = time.time()
        self.proc = subprocess.Popen(
            ["/bin/sh", "-c", command if command.startswith("exec ") else f"exec {command}"],
            cwd=cwd,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.stopped_on_purpose = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self, tail: int = 4000) -> str:
        """What this process (not an earlier one with the same log) wrote, its last `tail` chars."""
        if not self.log.closed:
            self.log.flush()
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_offset)
                return f.read().decode(errors="replace")[-tail:]
        except OSError:
            return ""

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM to the process group, then SIGKILL if it would not stop in time."""
        self.stopped_on_purpose = True
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        # Whatever is left in the group (a web worker orphaned by a crash...).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()
        return self.proc.returncode


def children(pid: int) -> list[int]:
    """Direct children of a process, from /proc."""
    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            kids += [int(x) for x in (task / "children").read_text().split()]
    return kids


class Stack:
    def __init__(
        self,
        *,
        pg_admin_url: str,
        amqp_url: str,
        log_dir: Path,
        workers: int | None = None,
        threads: int | None = None,
        extra_env: dict[str, str] | None = None,
        app_source: str = "snapshot",
        worker_count: int = 1,
        commit: str | None = None,
        cluster=None,
    ) -> None:
        # A started tests.support.rabbit_node.PrivateRabbitCluster, or None: the broker of
        # `amqp_url`. On a cluster the vhost is made on it and AMQP_URL lists every node.
        self.cluster = cluster
        self.commit = commit
        self.worker_count = worker_count
        self.name = f"garage_bench_{os.getpid()}"
        self.app_source = app_source
        self.app_dir = ROOT  # replaced by the snapshot, if any, in setup()
        self.pg_admin_url = pg_admin_url
        self.amqp_base = amqp_url
        self.log_dir = log_dir
        self.procfile: dict[str, str] = {}
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.processes: list[Proc] = []
        self.helpers: list[subprocess.Popen] = []  # wrk, py-spy... killed in close()
        self.web: Proc | None = None
        self.workers: list[Proc] = []
        self.db_created = False
        self.vhost_created = False
        self.queue_prefix: str | None = None  # set when isolating by queue name instead
        self.closed = False
        self._db: psycopg.Connection | None = None
        self._amqp: pika.BlockingConnection | None = None
        self._channel = None
        self.broker_pid: int | None = None
        self.code: dict = {"source": app_source}
        self.auth_headers: dict[str, str] = {}
        self.env_for_clients: dict[str, str] = {}

        parsed = urllib.parse.urlsplit(pg_admin_url)
        self.database_url = urllib.parse.urlunsplit(parsed._replace(path=f"/{self.name}"))
        # Production settings the benchmark must relax, unless the environment says otherwise:
        # plain HTTP on loopback (as behind a TLS-terminating proxy), and throttling rates
        # high enough for one client doing thousands of requests a second (the throttle's
        # code still runs on every request, at its usual cost).
        bench_defaults = {
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "GARAGE_INTAKE_RATE": "1000000/min",
            "GARAGE_API_RATE": "1000000/min",
        }
        self.env = {
            **bench_defaults,
            **os.environ,
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "DJANGO_SETTINGS_MODULE": "garage.settings",
            "DATABASE_URL": self.database_url,
            "DJANGO_SECRET_KEY": "bench-only",
            "DJANGO_DEBUG": "0",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PYTHONUNBUFFERED": "1",
            # The app's packages from app_dir, ahead of the venv's editable install.
            "PYTHONPATH": str(self.app_dir),
            "PORT": str(self.port),
            **(extra_env or {}),
        }
        self.env.pop("GARAGE_TEST_DB_NAME", None)
        if workers:
            self.env["WEB_CONCURRENCY"] = str(workers)
        if threads:
            self.env["WEB_THREADS"] = str(threads)

    # -- setup -------------------------------------------------------------------------
    def setup(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.code = describe_code(self.app_source, self.commit)
        self.app_dir = prepare_app(
            self.app_source, Path(tempfile.gettempdir()) / self.name, self.code["commit"]
        )
        self.env["PYTHONPATH"] = str(self.app_dir)
        self.procfile = read_procfile(self.app_dir / "Procfile")
        with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        self.db_created = True
        self._setup_broker()
        self.run_manage(["migrate", "--no-input"], "migrate")
        self._authenticate()

    def _authenticate(self) -> None:
        """A service account with the roles a front-desk program would have, and its token.
        Commits without authentication (no `create_account` command) run without one."""
        if not (self.app_dir / "access/management/commands/create_account.py").exists():
            return
        roles = os.environ.get("BENCH_ROLES", "accueil,magasinier").split(",")
        args = ["create_account", "bench", "--service"]
        for role in filter(None, roles):
            args += ["--role", role]
        token = self.run_manage(args, "create_account", secret=True).strip().splitlines()[-1]
        self.auth_headers = {"Authorization": f"Token {token}"}
        self.env_for_clients["BENCH_AUTHORIZATION"] = f"Token {token}"

    def _setup_broker(self) -> None:
        if self.cluster is not None:
            self.env["AMQP_URL"] = self.cluster.add_vhost(self.name)
            self.amqp_url = self.env["AMQP_URL"].split(",")[0]  # the harness's own look-ups
            self.broker_pid = listening_pid(self.cluster.nodes[0].port)
            self.queue = self.env.get("GARAGE_QUEUE", "garage")
            return
        base = urllib.parse.urlsplit(self.amqp_base)
        ctl = shutil.which("rabbitmqctl")
        ok = False
        if ctl:
            add = subprocess.run(
                [ctl, "add_vhost", self.name], capture_output=True, text=True, timeout=60
            )
            if add.returncode == 0:
                self.vhost_created = True
                user = urllib.parse.unquote(base.username or "guest")
                perm = subprocess.run(
                    [ctl, "set_permissions", "-p", self.name, user, ".*", ".*", ".*"],
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                ok = perm.returncode == 0
                if not ok:
                    print(f"  rabbitmqctl set_permissions failed: {perm.stderr.strip()}")
            else:
                print(f"  rabbitmqctl add_vhost failed: {add.stderr.strip()[:300]}")
        if ok:
            vhost = urllib.parse.quote(self.name, safe="")
            self.env["AMQP_URL"] = urllib.parse.urlunsplit(base._replace(path=f"/{vhost}"))
        else:
            # No vhost of our own: our own queue names on the given vhost keep runs apart.
            print("  (no private vhost: isolating by queue name on the given vhost instead)")
            self.queue_prefix = self.name
            self.env["AMQP_URL"] = self.amqp_base
            self.env["GARAGE_QUEUE"] = self.name
        self.amqp_url = self.env["AMQP_URL"]
        self.broker_pid = listening_pid(base.port or 5672)
        self.queue = self.env.get("GARAGE_QUEUE", "garage")

    def run_manage(
        self, args: list[str], name: str, timeout: float = 300, secret: bool = False
    ) -> str:
        log = self.log_dir / f"{name}.log"
        res = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.app_dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        log.write_text(("(stdout not logged)\n" if secret else res.stdout) + res.stderr)
        if res.returncode != 0:
            raise HarnessError(f"manage.py {' '.join(args)} failed:\n{res.stderr[-3000:]}")
        return res.stdout

    # -- processes ---------------------------------------------------------------------
    def _start(self, name: str, copy: int = 1) -> Proc:
        label = name if copy == 1 else f"{name}.{copy}"
        proc = Proc(
            label, self.procfile[name], self.env, self.log_dir / f"{label}.log", self.app_dir
        )
        self.processes.append(proc)
        return proc

    def start_web(self, timeout: float = 60) -> Proc:
        self.web = self._start("web")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.web.alive():
                raise HarnessError(f"web died at start:\n{self.web.output()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                if self.http("GET", "/health/")[0] == 200:
                    return self.web
            time.sleep(0.1)
        raise HarnessError(f"web did not answer in {timeout}s:\n{self.web.output()}")

    def start_relay(self) -> Proc:
        """The app's outbox relay on its own (`manage.py relay`), for requests left unpublished."""
        proc = Proc(
            "relay", "python manage.py relay", self.env, self.log_dir / "relay.log", self.app_dir
        )
        self.processes.append(proc)
        return proc

    def worker_names(self) -> list[str]:
        return [n for n in self.procfile if n not in ("web", "release")]

    def start_workers(self, ready_timeout: float = 60) -> list[Proc]:
        """Starts the Procfile's non-web processes (`worker_count` of each, like
        `ps:scale worker=N`); waits until each consumer consumes."""
        started = [
            self._start(n, i) for n in self.worker_names() for i in range(1, self.worker_count + 1)
        ]
        self.workers += started
        deadline = time.monotonic() + ready_timeout
        for proc in started:
            if "consume" not in proc.command:
                continue
            while "consuming" not in proc.output(tail=100_000):
                if not proc.alive():
                    raise HarnessError(f"{proc.name} died at start:\n{proc.output()}")
                if time.monotonic() > deadline:
                    raise HarnessError(f"{proc.name} not consuming after {ready_timeout}s")
                time.sleep(0.02)
        return started

    def stop_workers(self) -> None:
        for proc in self.workers:
            code = proc.stop()
            if code not in (0, None):
                raise HarnessError(f"{proc.name} exited {code} on SIGTERM:\n{proc.output()}")
        self.workers = []

    def check_alive(self) -> None:
        for proc in self.processes:
            if not proc.stopped_on_purpose and not proc.alive():
                raise HarnessError(
                    f"{proc.name} died (exit {proc.proc.returncode}):\n{proc.output()}"
                )
        if self.web is not None and self.web.alive():
            n = len(self.web_worker_pids())
            expected = int(self.env.get("WEB_CONCURRENCY") or 0)
            if n == 0 or (expected and n < expected):
                raise HarnessError(f"the web server has {n} workers:\n{self.web.output()}")

    def web_worker_pids(self) -> list[int]:
        return children(self.web.pid) if self.web else []

    def consumer_pids(self) -> list[int]:
        return [p.pid for p in self.workers if p.alive() and "consume" in p.command]

    def log_problems(self) -> list[str]:
        """Error-level lines and exceptions in the processes' logs, grouped, with counts."""
        bad = re.compile(r"\[CRITICAL\]| CRITICAL | ERROR |\[ERROR\]|WORKER TIMEOUT")
        exc = re.compile(r"^[\w.]+(Error|Exception|Detected|Timeout)\b|^\w+\.errors\.\w+:")
        stamp = re.compile(r"^\d{4}-\d\d-\d\d[ T][\d:,.]+ |\b\d+\b")
        groups: dict[str, int] = {}
        for path in sorted(self.log_dir.glob("*.log")):
            with open(path, errors="replace") as f:
                for line in f:
                    if bad.search(line) or exc.search(line):
                        key = f"{path.name}: {stamp.sub('N', line.strip())[:240]}"
                        groups[key] = groups.get(key, 0) + 1
        return [f"{n}x {key}" for key, n in sorted(groups.items(), key=lambda kv: -kv[1])]

    # -- helpers -----------------------------------------------------------------------
    def http(
        self, method: str, path: str, body: dict | None = None, timeout: float = 10
    ) -> tuple[int, dict | str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if payload else {}
            headers.update(self.auth_headers)
            conn.request(method, path, body=payload, headers=headers)
            resp = conn.getresponse()
            text = resp.read().decode(errors="replace")
            try:
                return resp.status, json.loads(text)
            except ValueError:
                return resp.status, text
        finally:
            conn.close()

    def db(self) -> psycopg.Connection:
        return psycopg.connect(self.database_url, autocommit=True)

    def query(self, sql: str, params: tuple = ()) -> tuple:
        """One row, over one long-lived connection: polling must not cost a backend each time."""
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

    def pg_backends(self) -> dict[int, str | None]:
        """Backend pid → database, from pg_stat_activity (for CPU attribution)."""
        if self._db is None or self._db.closed:
            self._db = self.db()
        rows = self._db.execute("SELECT pid, datname FROM pg_stat_activity").fetchall()
        return {pid: datname for pid, datname in rows}

    def queue_depth(self, name: str | None = None) -> int:
        """Messages ready on a queue (unacknowledged ones are not counted), over one
        long-lived connection (opening one per poll would load RabbitMQ)."""
        for attempt in (1, 2):
            try:
                if self._amqp is None or not self._amqp.is_open:
                    self._amqp = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
                    self._channel = self._amqp.channel()
                if self._channel is None or not self._channel.is_open:
                    self._channel = self._amqp.channel()
                self._amqp.process_data_events(0)
                ok = self._channel.queue_declare(name or self.queue, passive=True)
                return ok.method.message_count
            except pika.exceptions.ChannelClosedByBroker:
                self._channel = None  # 404: the queue does not exist (yet)
                return 0
            except pika.exceptions.AMQPError:
                self._amqp = self._channel = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _close_clients(self) -> None:
        with contextlib.suppress(Exception):
            if self._db is not None:
                self._db.close()
        with contextlib.suppress(Exception):
            if self._amqp is not None and self._amqp.is_open:
                self._amqp.close()
        self._db = self._amqp = self._channel = None

    def spawn_helper(self, args: list[str], **kw) -> subprocess.Popen:
        kw.setdefault("env", {**os.environ, **self.env_for_clients})
        proc = subprocess.Popen(args, start_new_session=True, **kw)
        self.helpers.append(proc)
        return proc

    # -- teardown ----------------------------------------------------------------------
    def close(self) -> list[str]:
        """Stops and removes everything; returns what could not be cleaned (for the report)."""
        if self.closed:
            return []
        self.closed = True
        problems = []
        self._close_clients()
        for helper in self.helpers:
            if helper.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(helper.pid, signal.SIGKILL)
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
        if self.queue_prefix:
            problems += self._delete_queues()
        if self.app_dir != ROOT:
            shutil.rmtree(self.app_dir, ignore_errors=True)
        return problems

    def _delete_queues(self) -> list[str]:
        retry_limit = int(self.env.get("GARAGE_RETRY_LIMIT") or 8)
        names = [self.queue, f"{self.queue}.dlq"]
        names += [f"{self.queue}.retry.{i}" for i in range(1, retry_limit + 1)]
        try:
            with pika.BlockingConnection(pika.URLParameters(self.amqp_url)) as conn:
                for name in names:
                    ch = conn.channel()
                    ch.queue_delete(name)
                    ch.close()
        except Exception as exc:
            return [f"deleting queues {self.queue}*: {exc!r}"]
        return []


def stale_runs(pg_admin_url: str) -> tuple[list[str], list[str]]:
    """Databases and vhosts of benchmark runs whose process is gone (killed with -9...)."""

    def dead(name: str) -> bool:
        m = re.fullmatch(r"garage_bench_(\d+)(?:_peer)?", name)
        return bool(m) and not Path(f"/proc/{m.group(1)}").exists()

    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        dbs = [r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()]
    vhosts = []
    ctl = shutil.which("rabbitmqctl")
    if ctl:
        res = subprocess.run(
            [ctl, "list_vhosts", "-q", "--no-table-headers"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        vhosts = res.stdout.split()
    return [d for d in dbs if dead(d)], [v for v in vhosts if dead(v)]


def remove_stale(pg_admin_url: str) -> None:
    dbs, vhosts = stale_runs(pg_admin_url)
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        for name in dbs:
            print(f"dropping database {name}")
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    for name in vhosts:
        print(f"deleting vhost {name}")
        subprocess.run(["rabbitmqctl", "delete_vhost", name], check=False, timeout=120)
    if not dbs and not vhosts:
        print("nothing stale")
