"""A throw-away RabbitMQ node for fault-injection tests.

The shared broker (rabbit@localhost on 5672/25672) must never be stopped or
reconfigured, so tests that need to kill, restart or alarm a broker start
their own node here: own temp folder, own ports, own Erlang cookie.

Recipe (works on Debian's rabbitmq-server 3.10 + Erlang 25 as root):

* The node runs as the ``rabbitmq`` user (Popen ``user=``/``group=``), in the
  foreground, in its own session, so the whole process group can be killed.
* ``HOME`` points at ``<tmp>/home`` holding a fresh ``.erlang.cookie``
  (mode 0400, owned by rabbitmq). ``rabbitmqctl`` is run as root with the same
  ``HOME``, so both sides read the same cookie; root may read a 0400 file it
  does not own and Erlang only checks the mode.
* ``RABBITMQ_CONF_ENV_FILE`` points at an empty file: the system
  ``/etc/rabbitmq/rabbitmq-env.conf`` sets ``NODENAME=rabbit@localhost``.
* ``RABBITMQ_CONFIG_FILE`` points at our own file: the system one makes the
  listener bind 5672.
* ``RABBITMQ_ENABLED_PLUGINS_FILE`` holds ``[].`` so no management plugin
  (port 15672) is started.
* The node registers with the already-running shared epmd (port 4369); only
  its name is new, which does not disturb rabbit@localhost.
* A small watchdog process holds a pipe from the test process; if the test
  process dies without calling ``stop()`` (even SIGKILL), the pipe closes and
  the watchdog kills the node's process group and removes the temp folder.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import quote

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
RABBITMQ_SERVER = RABBIT_BIN / "rabbitmq-server"
RABBITMQCTL = RABBIT_BIN / "rabbitmqctl"
RABBIT_USER = "rabbitmq"

# epmd, shared AMQP, management, shared dist, and the CLI tools' dist range.
RESERVED_PORTS = frozenset({4369, 5672, 15672, 25672, *range(35672, 35683)})
# Below the kernel's ephemeral range (32768+), so outgoing connections made
# in the meantime cannot grab the port we picked before the node binds it.
PORT_RANGE = (20000, 32000)

DEFAULT_WATERMARK = "0.4"

_WATCHDOG = r"""
import os, shutil, signal, sys, time

base = sys.argv[1]
pgid = None
for line in sys.stdin:
    cmd, _, arg = line.strip().partition(" ")
    if cmd == "pgid":
        pgid = int(arg)
    elif cmd == "clear":
        pgid = None
    elif cmd == "done":
        sys.exit(0)

# EOF without "done": the owning test process died, clean up after it.
if pgid is not None:
    for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace
        gone = False
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                gone = True
                break
            time.sleep(0.2)
        if gone:
            break
shutil.rmtree(base, ignore_errors=True)
"""


class RabbitNodeError(RuntimeError):
    """The private node failed to start, or a rabbitmqctl call failed."""


class _PortClash(RabbitNodeError):
    """Startup failed because a picked port was taken in the meantime."""


_LIVE: set[PrivateRabbitNode] = set()
_LIVE_LOCK = threading.Lock()


def _stop_all_nodes() -> None:
    with _LIVE_LOCK:
        nodes = list(_LIVE)
    for node in nodes:
        with contextlib.suppress(Exception):
            node.stop()


atexit.register(_stop_all_nodes)


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_free_port(exclude: set[int] | frozenset[int] = frozenset()) -> int:
    """Return a currently bindable 127.0.0.1 port, clear of the shared services."""
    rng = random.SystemRandom()
    for _ in range(500):
        port = rng.randrange(*PORT_RANGE)
        if port in RESERVED_PORTS or port in exclude:
            continue
        if _port_is_free(port):
            return port
    raise RabbitNodeError(f"no free port found in range {PORT_RANGE}")


def _tcp_accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def _epmd_names() -> dict[str, int]:
    """Names registered with the local epmd, via its NAMES_REQ (no CLI spawn)."""
    try:
        with socket.create_connection(("127.0.0.1", 4369), timeout=2.0) as sock:
            sock.sendall(b"\x00\x01n")
            chunks = []
            while chunk := sock.recv(4096):
                chunks.append(chunk)
    except OSError:
        return {}
    names: dict[str, int] = {}
    # Reply: 4-byte epmd port, then lines "name NAME at port PORT".
    for line in b"".join(chunks)[4:].decode(errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 5 and parts[0] == "name" and parts[4].isdigit():
            names[parts[1]] = int(parts[4])
    return names


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:])


class PrivateRabbitNode:
    """A private RabbitMQ node in a temp folder, on its own free ports.

    Use ``node = PrivateRabbitNode().start()`` ... ``node.stop()``, or
    ``with PrivateRabbitNode() as node: ...``.
    """

    def __init__(self, startup_timeout: float = 60.0, cookie: str | None = None) -> None:
        """`cookie`: the Erlang cookie; nodes meant to form a cluster share one."""
        if os.geteuid() != 0:
            raise RabbitNodeError("PrivateRabbitNode must run as root (it switches to rabbitmq)")
        if not RABBITMQ_SERVER.exists():
            raise RabbitNodeError(f"{RABBITMQ_SERVER} not found: is rabbitmq-server installed?")
        self.startup_timeout = startup_timeout
        self.cookie = cookie or secrets.token_hex(20).upper()
        # A running node this one joins as it boots (classic peer discovery): a cluster
        # without the stop_app / join_cluster / start_app round.
        self.join: str | None = None
        self.nodename = f"pytest-{os.getpid()}-{secrets.token_hex(3)}@localhost"
        self.port = 0
        self.dist_port = 0
        self.base_dir: Path | None = None
        self.last_start_seconds = 0.0
        self._proc: subprocess.Popen[bytes] | None = None
        self._watchdog: subprocess.Popen[str] | None = None
        self._lock = threading.RLock()
        self._started = False
        self._stopped = False
        pw = pwd.getpwnam(RABBIT_USER)
        self._uid = pw.pw_uid
        self._gid = pw.pw_gid
        self._groups = os.getgrouplist(RABBIT_USER, pw.pw_gid)

    # -- public API -------------------------------------------------------

    @property
    def amqp_url(self) -> str:
        return self.amqp_url_for("/")

    def amqp_url_for(self, vhost: str) -> str:
        """AMQP URL for guest on ``vhost`` (guest is loopback-only, fine here)."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}/{quote(vhost, safe='')}"

    def start(self) -> Self:
        """Create the temp folder and boot the node; returns self."""
        with self._lock:
            if self._stopped:
                raise RabbitNodeError("this node was stopped; create a new PrivateRabbitNode")
            if self._started:
                return self
            with _LIVE_LOCK:
                _LIVE.add(self)
            try:
                self._prepare_dirs()
                self._start_watchdog()
                # Retry only port clashes: the ports were free when picked
                # but another process may have bound them since.
                for attempt in range(3):
                    self._pick_ports()
                    self._write_config()
                    try:
                        self._boot()
                        break
                    except _PortClash:
                        if attempt == 2:
                            raise
            except BaseException:
                self.stop()
                raise
            self._started = True
            return self

    def ctl(self, *args: str, timeout: float = 60.0) -> str:
        """Run ``rabbitmqctl -n NODE *args`` and return stdout; raise on failure."""
        cmd = [str(RABBITMQCTL), "-n", self.nodename, *args]
        try:
            res = subprocess.run(
                cmd,
                env=self._ctl_env(),
                cwd=self._require_base(),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise RabbitNodeError(f"{' '.join(cmd)} timed out after {timeout}s") from exc
        if res.returncode != 0:
            raise RabbitNodeError(
                f"{' '.join(cmd)} failed with exit code {res.returncode}\n"
                f"stderr:\n{res.stderr}\nstdout:\n{res.stdout}"
            )
        return res.stdout

    def stop_app(self) -> None:
        """Stop the RabbitMQ app but keep the Erlang node: AMQP connects are refused."""
        self.ctl("stop_app")

    def start_app(self) -> None:
        """Start the RabbitMQ app again and wait for the AMQP listener."""
        self.ctl("start_app")
        self._wait_for_listener(time.monotonic() + self.startup_timeout)

    def restart(self) -> None:
        """Full node stop and start on the same data folder and ports.

        Durable queues and persistent messages survive (clean shutdown).
        """
        with self._lock:
            if not self._started or self._stopped:
                raise RabbitNodeError("restart() needs a started node")
            self._shutdown_node()
            self._boot()

    def kill(self) -> None:
        """SIGKILL the whole node (no goodbye to its peers or clients); its data folder and
        ports stay, so `boot()` brings it back as the same cluster member."""
        with self._lock:
            proc = self._proc
            if proc is None:
                return
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            self._proc = None
            self._tell_watchdog("clear")
            self._wait_epmd_forgets()

    def halt(self, timeout: float = 90.0) -> None:
        """Stop the node gracefully, keeping its data folder and ports.

        SIGTERM to the foreground wrapper, which hands it to the VM as a clean shutdown: the
        same as `rabbitmqctl stop` without starting a CLI VM (seconds on a loaded machine).
        """
        with self._lock:
            proc = self._proc
            if proc is None:
                return
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._kill_node_group()
            self._proc = None
            self._tell_watchdog("clear")
            self._wait_epmd_forgets()

    def _wait_epmd_forgets(self) -> None:
        # epmd forgets the name a moment after the VM exits; a boot before that would take
        # the stale registration for the new node.
        short_name = self.nodename.split("@", 1)[0]
        deadline = time.monotonic() + 15
        while short_name in _epmd_names() and time.monotonic() < deadline:
            time.sleep(0.1)

    def boot(self) -> None:
        """Start a node that was killed or halted again, on the same data folder and ports."""
        with self._lock:
            if not self._started or self._stopped:
                raise RabbitNodeError("boot() needs a node that was started and not stopped")
            if self._proc is None:
                self._boot()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def set_memory_alarm(self, on: bool, timeout: float = 30.0) -> None:
        """Raise (watermark 0) or clear (watermark 0.4) the memory alarm and wait for it."""
        self.ctl("set_vm_memory_high_watermark", "0" if on else DEFAULT_WATERMARK)
        # The alarm is set asynchronously by the memory monitor; wait so the
        # caller can rely on the state right after this returns.
        deadline = time.monotonic() + timeout
        while True:
            if self.memory_alarm_active() == on:
                return
            if time.monotonic() > deadline:
                raise RabbitNodeError(f"memory alarm did not become {on} within {timeout}s")
            time.sleep(0.2)

    def memory_alarm_active(self) -> bool:
        out = self.ctl("eval", "rabbit_alarm:get_alarms().")
        return "memory" in out

    def add_vhost(self, name: str) -> str:
        """Create ``name`` and give guest full rights on it; returns its AMQP URL."""
        self.ctl("add_vhost", name)
        self.ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        return self.amqp_url_for(name)

    def log_tail(self, lines: int = 60) -> str:
        """Last lines of the node log and its console output, for error messages."""
        if self.base_dir is None:
            return "<no log: node never prepared>"
        parts = []
        logs = sorted((self.base_dir / "log").glob("*.log"))
        for path in [*logs, self.base_dir / "console.log"]:
            if path.exists() and path.stat().st_size:
                parts.append(f"--- {path} ---\n{_tail(path, lines)}")
        return "\n".join(parts) or "<logs are empty>"

    def stop(self) -> None:
        """Shut the node down for good and delete its temp folder. Idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            try:
                self._shutdown_node()
            finally:
                self._stop_watchdog()
                if self.base_dir is not None:
                    shutil.rmtree(self.base_dir, ignore_errors=True)
                with _LIVE_LOCK:
                    _LIVE.discard(self)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<PrivateRabbitNode {self.nodename} amqp={self.port} dist={self.dist_port}>"

    # -- internals --------------------------------------------------------

    def _require_base(self) -> Path:
        if self.base_dir is None:
            raise RabbitNodeError("node not started")
        return self.base_dir

    def _prepare_dirs(self) -> None:
        base = Path(tempfile.mkdtemp(prefix="private-rabbit-"))
        self.base_dir = base
        for sub in ("home", "mnesia", "log"):
            (base / sub).mkdir()
        cookie = base / "home" / ".erlang.cookie"
        cookie.write_text(self.cookie)
        cookie.chmod(0o400)
        (base / "enabled_plugins").write_text("[].\n")
        (base / "advanced.config").write_text("[].\n")
        # Empty on purpose: hides /etc/rabbitmq/rabbitmq-env.conf (NODENAME=rabbit@localhost).
        (base / "rabbitmq-env.conf").write_text("")
        base.chmod(0o750)
        for root, dirs, files in os.walk(base):
            os.chown(root, self._uid, self._gid)
            for name in dirs + files:
                os.chown(os.path.join(root, name), self._uid, self._gid)

    def _pick_ports(self) -> None:
        self.port = pick_free_port()
        self.dist_port = pick_free_port(exclude={self.port})

    def _write_config(self) -> None:
        base = self._require_base()
        conf = base / "rabbitmq.conf"
        conf.write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.port}\n"
            "loopback_users.guest = true\n"
            f"vm_memory_high_watermark.relative = {DEFAULT_WATERMARK}\n"
            # A nearly full disk must not raise a surprise alarm in tests.
            "disk_free_limit.absolute = 1MB\n"
            "log.console = false\n"
            "log.file.level = info\n"
            + (
                "cluster_formation.peer_discovery_backend = classic_config\n"
                f"cluster_formation.classic_config.nodes.1 = {self.join}\n"
                if self.join
                else ""
            )
        )
        os.chown(conf, self._uid, self._gid)

    def _common_env(self) -> dict[str, str]:
        base = self._require_base()
        # Minimal env: nothing from the test process (ERL_FLAGS, RABBITMQ_*) leaks in.
        return {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(base / "home"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def _server_env(self) -> dict[str, str]:
        base = self._require_base()
        env = self._common_env()
        env.update(
            {
                "RABBITMQ_NODENAME": self.nodename,
                "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
                "RABBITMQ_LOG_BASE": str(base / "log"),
                "RABBITMQ_PID_FILE": str(base / "rabbit.pid"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
                "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
                # Keep Erlang distribution on loopback like the shared node.
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": (
                    "-kernel inet_dist_use_interface {127,0,0,1}"
                ),
            }
        )
        return env

    def _ctl_env(self) -> dict[str, str]:
        return self._common_env()

    def _start_watchdog(self) -> None:
        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(self._require_base())],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            # Own session: a Ctrl-C aimed at pytest must not kill the cleaner.
            start_new_session=True,
        )

    def _tell_watchdog(self, line: str) -> None:
        wd = self._watchdog
        if wd is None or wd.stdin is None or wd.stdin.closed:
            return
        with contextlib.suppress(OSError):
            wd.stdin.write(line + "\n")
            wd.stdin.flush()

    def _stop_watchdog(self) -> None:
        wd = self._watchdog
        if wd is None:
            return
        self._tell_watchdog("done")
        with contextlib.suppress(OSError):
            if wd.stdin is not None:
                wd.stdin.close()
        try:
            wd.wait(timeout=10)
        except subprocess.TimeoutExpired:
            wd.kill()
            wd.wait()
        self._watchdog = None

    def _boot(self) -> None:
        base = self._require_base()
        started = time.monotonic()
        deadline = started + self.startup_timeout
        # The child gets its own copy of the fd, so ours can be closed right away.
        with open(base / "console.log", "ab") as console:
            # Foreground + own session: the process group holds the whole node
            # (sh wrapper, beam.smp, erl_child_setup, inet_gethost), so it can
            # be killed as a unit if a graceful stop fails.
            self._proc = subprocess.Popen(
                [str(RABBITMQ_SERVER)],
                env=self._server_env(),
                cwd=base,
                user=self._uid,
                group=self._gid,
                extra_groups=self._groups,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._tell_watchdog(f"pgid {self._proc.pid}")
        try:
            # await_startup fails at once while the node is not yet known to
            # epmd, so first wait (cheaply) for the registration.
            self._wait_for_epmd(deadline)
            remaining = max(5, int(deadline - time.monotonic()))
            self.ctl("await_startup", "--timeout", str(remaining), timeout=remaining + 15)
            self._wait_for_listener(deadline)
        except RabbitNodeError as exc:
            tail = self.log_tail()
            self._kill_node_group()
            if "eaddrinuse" in tail.lower():
                raise _PortClash(f"{self!r}: port clash during startup\n{tail}") from exc
            raise RabbitNodeError(
                f"{self!r} failed to start (timeout {self.startup_timeout}s): {exc}\n{tail}"
            ) from exc
        self.last_start_seconds = time.monotonic() - started

    def _wait_for_epmd(self, deadline: float) -> None:
        short_name = self.nodename.split("@", 1)[0]
        while _epmd_names().get(short_name) != self.dist_port:
            self._check_alive()
            if time.monotonic() > deadline:
                raise RabbitNodeError(f"node never registered with epmd as {short_name}")
            time.sleep(0.2)

    def _check_alive(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is not None:
            raise RabbitNodeError(f"node process exited with code {proc.returncode}")

    def _wait_for_listener(self, deadline: float) -> None:
        while not _tcp_accepts(self.port):
            self._check_alive()
            if time.monotonic() > deadline:
                raise RabbitNodeError(f"AMQP port {self.port} not accepting connections")
            time.sleep(0.2)

    def _shutdown_node(self) -> None:
        """Stop the node process (graceful first) and reap it."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(RabbitNodeError):
                self.ctl("stop", timeout=60)
            try:
                # The sh wrapper waits for beam, so its exit means beam is gone.
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._kill_node_group()
        self._proc = None
        self._tell_watchdog("clear")

    def _kill_node_group(self) -> None:
        """TERM then KILL the node's process group, then reap the wrapper."""
        proc = self._proc
        if proc is None:
            return
        # Signal while the wrapper is still unreaped, so its pid (== pgid)
        # cannot have been reused by an unrelated process.
        for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                continue
            break
        self._proc = None
        self._tell_watchdog("clear")


class PrivateRabbitCluster:
    """Private nodes (three by default) joined into one RabbitMQ cluster.

    Each node is a `PrivateRabbitNode` (own folder, ports, watchdog) sharing one Erlang
    cookie; the second and later ones `join_cluster` the first. `stop()` removes them all,
    also when a test fails half way; the atexit hook and each node's watchdog cover the rest.
    """

    def __init__(self, size: int = 3, startup_timeout: float = 120.0) -> None:
        cookie = secrets.token_hex(20).upper()
        self.nodes = [PrivateRabbitNode(startup_timeout, cookie=cookie) for _ in range(size)]

    def start(self) -> Self:
        try:
            first = self.nodes[0]
            first.start()
            # The others join the first as they boot; booting is mostly waiting on the
            # Erlang VM, so they do it side by side.
            errors: list[BaseException] = []

            def boot(node: PrivateRabbitNode) -> None:
                try:
                    node.join = first.nodename
                    node.start()
                except BaseException as exc:
                    errors.append(exc)

            threads = [threading.Thread(target=boot, args=(n,)) for n in self.nodes[1:]]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if errors:
                raise errors[0]
            for node in self.nodes[1:]:
                if first.nodename not in node.ctl("cluster_status"):
                    # Discovery gave up (a slow first node): join the old way.
                    node.ctl("stop_app")
                    node.ctl("join_cluster", first.nodename)
                    node.start_app()
            self.wait_running(len(self.nodes))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Removes every node: SIGTERM to all at once (no CLI VM per node), then each folder."""

        def halt(node: PrivateRabbitNode) -> None:
            with contextlib.suppress(Exception):
                node.halt(timeout=30)

        threads = [threading.Thread(target=halt, args=(n,)) for n in self.nodes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def ctl(self, *args: str, timeout: float = 60.0) -> str:
        """`rabbitmqctl` against the first node that is up."""
        for node in self.nodes:
            if node.running:
                return node.ctl(*args, timeout=timeout)
        raise RabbitNodeError("no node of the cluster is running")

    def running_nodes(self) -> set[str]:
        import json

        status = json.loads(self.ctl("cluster_status", "--formatter", "json"))
        return set(status.get("running_nodes", []))

    def wait_running(self, count: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(RabbitNodeError, ValueError):
                if len(self.running_nodes()) >= count:
                    return
            if time.monotonic() > deadline:
                raise RabbitNodeError(f"cluster never had {count} running nodes")
            time.sleep(0.5)

    def amqp_url_for(self, vhost: str) -> str:
        """Every node's address, comma-separated: the form AMQP_URL takes for a cluster."""
        return ",".join(node.amqp_url_for(vhost) for node in self.nodes)

    def add_vhost(self, name: str) -> str:
        self.ctl("add_vhost", name)
        self.ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        return self.amqp_url_for(name)

    def node_named(self, nodename: str) -> PrivateRabbitNode:
        return next(node for node in self.nodes if node.nodename == nodename)

    def leader(self, queue: str, vhost: str) -> PrivateRabbitNode:
        """The node that leads a quorum queue now."""
        out = self.ctl("list_queues", "-p", vhost, "name", "leader", "-q", "--no-table-headers")
        for line in out.splitlines():
            name, _, leader = line.strip().partition("\t")
            if name == queue:
                return self.node_named(leader.strip())
        raise RabbitNodeError(f"queue {queue!r} not found in vhost {vhost!r}:\n{out}")

    def queue_members(self, queue: str, vhost: str) -> str:
        out = self.ctl(
            "list_queues",
            "-p",
            vhost,
            "name",
            "leader",
            "members",
            "online",
            "-q",
            "--no-table-headers",
        )
        return next((line for line in out.splitlines() if line.startswith(queue + "\t")), "")
