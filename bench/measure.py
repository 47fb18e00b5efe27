"""Measuring helpers: where the CPU went during a phase, percentiles, memory."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float | None:
    """Linear interpolation between closest ranks (same as PostgreSQL percentile_cont)."""
    if not values:
        return None
    xs = sorted(values)
    k = (len(xs) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(comm, parent pid, utime+stime ticks) of a process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return comm, int(fields[1]), int(fields[11]) + int(fields[12])


def _machine_ticks() -> tuple[int, int, int, int]:
    """(busy, total, irq+softirq, steal) jiffies of all CPUs, from /proc/stat."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    total = sum(parts[:8])
    return total - idle, total, parts[5] + parts[6], parts[7]


class CpuSampler:
    """CPU time used per component between start() and stop(), in cores (1.0 = one core).

    Components: the web (the server's processes), the consumer, `postgres` (the shared
    server's backends for the bench database and its background processes),
    `postgres-other-dbs` (backends of other databases on the same server: other people's
    tests), `rabbitmq` (the broker listening on the AMQP port), `rabbitmq-other-nodes` (other
    Erlang nodes on the machine), the load generator (wrk, or this harness's own Python
    generator), and `other`. Processes that started and ended within the phase are not seen
    (`machine_unattributed_cores`).
    """

    def __init__(
        self,
        groups: dict[str, Iterable[int]],
        *,
        broker_pid: int | None = None,
        pg_backends: Callable[[], dict[int, str | None]] | None = None,
        database: str | None = None,
    ) -> None:
        self.groups = {name: set(pids) for name, pids in groups.items()}
        self.extra: dict[str, float] = {}
        self.broker_pid = broker_pid
        self.pg_backends = pg_backends
        self.database = database
        self.backends: dict[int, str | None] = {}

    def _classify(self, pid: int, comm: str) -> str:
        for name, pids in self.groups.items():
            if pid in pids:
                return name
        if comm == "postgres":
            datname = self.backends.get(pid)
            if datname and self.database and datname != self.database:
                return "postgres-other-dbs"
            return "postgres"
        if comm.startswith("beam") or comm in ("epmd", "erl_child_setup", "inet_gethost"):
            if self.broker_pid and pid != self.broker_pid and comm.startswith("beam"):
                return "rabbitmq-other-nodes"
            return "rabbitmq"
        if comm == "wrk":
            return "loadgen"
        if comm == "py-spy":
            return "profiler"
        return "other"

    def _snapshot(self) -> dict[int, tuple[str, int]]:
        snap = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                st = _proc_stat(int(entry.name))
                if st:
                    snap[int(entry.name)] = (st[0], st[2])
        return snap

    def start(self) -> CpuSampler:
        self.t0 = time.monotonic()
        self.snap0 = self._snapshot()
        self.m0 = _machine_ticks()
        return self

    def add(self, name: str, pids: Iterable[int]) -> None:
        self.groups.setdefault(name, set()).update(pids)

    def add_cores(self, name: str, cores: float | None) -> None:
        """CPU measured otherwise (a child that exited before stop(): wrk)."""
        if cores:
            self.extra[name] = self.extra.get(name, 0.0) + cores

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self.t0
        if self.pg_backends is not None:
            with contextlib.suppress(Exception):
                self.backends = self.pg_backends()
        snap1 = self._snapshot()
        m1 = _machine_ticks()
        used: dict[str, float] = {}
        others: dict[str, float] = {}
        for pid, (comm, ticks) in snap1.items():
            before = self.snap0.get(pid)
            # A process started during the phase: all its ticks belong to the phase.
            delta = ticks - before[1] if before and before[0] == comm else ticks
            name = self._classify(pid, comm)
            used[name] = used.get(name, 0.0) + delta / TICKS / wall
            if name == "other":
                others[comm] = others.get(comm, 0.0) + delta / TICKS / wall
        span = max(1, m1[1] - self.m0[1])
        cores = os.cpu_count() or 1
        busy = (m1[0] - self.m0[0]) / span * cores
        result = {k: round(v, 2) for k, v in sorted(used.items(), key=lambda kv: -kv[1])}
        for name, extra in self.extra.items():
            result[name] = round(result.get(name, 0.0) + extra, 2)
        result["other_top"] = {
            k: round(v, 2)
            for k, v in sorted(others.items(), key=lambda kv: -kv[1])[:4]
            if v >= 0.01
        }
        seen = sum(v for k, v in result.items() if k != "other_top")
        # Busy CPU no visible process accounts for: processes that exited during the phase,
        # or other PID namespaces (containers) on the same machine.
        result["machine_unattributed_cores"] = round(max(0.0, busy - seen), 2)
        result["machine_busy_cores"] = round(busy, 2)
        result["machine_irq_cores"] = round((m1[2] - self.m0[2]) / span * cores, 2)
        result["machine_steal_cores"] = round((m1[3] - self.m0[3]) / span * cores, 2)
        result["cores"] = cores
        return result


def describe_cpu(cpu: dict[str, float]) -> str:
    parts = [
        f"{k} {v:.2f}"
        for k, v in cpu.items()
        if not k.startswith("machine_") and k not in ("cores", "other_top") and v >= 0.01
    ]
    if cpu.get("other_top"):
        parts.append("other = " + ", ".join(f"{k} {v:.2f}" for k, v in cpu["other_top"].items()))
    return (
        f"CPU (cores used, of {cpu.get('cores')}): machine {cpu.get('machine_busy_cores'):.2f} "
        f"(irq {cpu.get('machine_irq_cores', 0):.2f}, "
        f"steal {cpu.get('machine_steal_cores', 0):.2f}, "
        f"not seen in any process {cpu.get('machine_unattributed_cores', 0):.2f}); "
        + ", ".join(parts)
    )


def rss_mb(pid: int) -> float | None:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


def listening_pid(port: int) -> int | None:
    """The process listening on a TCP port of this machine (from /proc/net/tcp*), if visible."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                f = line.split()
                if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{f[9]}]")
    if not inodes:
        return None
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in os.scandir(f"/proc/{entry.name}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(fd.path) in inodes:
                        return int(entry.name)
    return None
