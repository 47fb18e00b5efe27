"""Runs the system's real processes (the web server, the consumer) against the test database.

Used by the integration and fault tests: what they claim is about processes, not threads.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url(host: str | None = None, port: int | None = None) -> str:
    """The URL of the database the tests use (the test database, once it is set up)."""
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    user = s.get("USER") or "postgres"
    auth = f"{user}:{s['PASSWORD']}" if s.get("PASSWORD") else user
    host = host or s["HOST"] or "127.0.0.1"
    return f"postgres://{auth}@{host}:{port or s['PORT'] or 5432}/{s['NAME']}"


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


class Process:
    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}-{time.monotonic_ns()}.log"
        self.log = open(self.log_path, "w")  # closed in stop()
        self.proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, then wait; returns the exit code (SIGKILL and -9 if it would not stop)."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return -9
        return self.proc.returncode

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.alive():
            self.terminate(timeout=15)
        self.log.close()


class Stack:
    """The Procfile's processes, started on demand, all stopped by `close()`."""

    def __init__(self, amqp_url: str, tmp_path: Path, **extra_env: str) -> None:
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "garage.settings",
            "DJANGO_SECRET_KEY": "tests-only-not-a-secret",
            "DJANGO_DEBUG": "0",
            "DATABASE_URL": database_url(),
            "AMQP_URL": amqp_url,
            "GARAGE_RELAY_GRACE": "0.5",
            "GARAGE_RELAY_INTERVAL": "0.3",
            "GARAGE_RETRY_BASE_MS": "200",
            # Plain http on loopback; the limits are tested on their own (test_throttling).
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "GARAGE_INTAKE_RATE": "1000000/min",
            "GARAGE_API_RATE": "1000000/min",
            "PYTHONUNBUFFERED": "1",
            # The stack's own metrics files: its /metrics counts its processes only.
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
            **extra_env,
        }
        # The processes are called as a superuser's program would: with its token.
        from tests.support.accounts import make_account

        self.user, self.token = make_account(admin=True)
        self.headers = {"Authorization": f"Token {self.token}"}
        self.http = requests.Session()
        self.http.headers.update(self.headers)
        self.tmp_path = tmp_path
        self.processes: list[Process] = []
        self.base_url = ""  # the last web process started
        self.base_urls: list[str] = []  # every web process started, in order

    def start_web(self, workers: int = 2, threads: int = 4, **env: str) -> Process:
        """One web process (the Procfile's server); call it again for another, on its own
        port."""
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self.base_urls.append(self.base_url)
        server_env = {
            "WEB_HOST": "127.0.0.1",
            "PORT": str(port),
            "WEB_CONCURRENCY": str(workers),
            "WEB_THREADS": str(threads),
            "WEB_GRACEFUL_TIMEOUT": "10",
        }
        proc = self._start("web", [sys.executable, "-m", "garage.web"], {**server_env, **env})
        self.wait_http(proc)
        return proc

    def start_consumer(self, *args: str, **env: str) -> Process:
        return self._start("consumer", [sys.executable, "consomateur.py", *args], env)

    def start_relay(self, **env: str) -> Process:
        return self._start("relay", [sys.executable, "manage.py", "relay"], env)

    def _start(self, name: str, args: list[str], env: dict[str, str]) -> Process:
        proc = Process(name, args, {**self.env, **env}, self.tmp_path)
        self.processes.append(proc)
        return proc

    def wait_http(self, proc: Process, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not proc.alive():
                raise AssertionError(f"web server died:\n{proc.output()}")
            try:
                if requests.get(f"{self.base_url}/health/", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"web server did not answer within {timeout}s:\n{proc.output()}")

    def close(self) -> None:
        for proc in self.processes:
            proc.stop()
        self.http.close()


def wait_until(predicate, timeout: float = 60, interval: float = 0.1, message: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for: {message or predicate}")
