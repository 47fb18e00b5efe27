"""prometheus-client's multiprocess mode: every process writes its counters to files in
PROMETHEUS_MULTIPROC_DIR, and /metrics adds them up.

No Django import at module level: gunicorn's master uses this before Django is set up.
prometheus-client reads the variable when it is first imported, so it is set (with a
default under the var/ folder) before anything imports it.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

log = logging.getLogger(__name__)

ENV = "PROMETHEUS_MULTIPROC_DIR"
_PID = re.compile(r"_(\d+)\.db\Z")


def default_directory() -> Path:
    root = Path(__file__).resolve().parent.parent
    return Path(os.environ.get("GARAGE_VAR_DIR") or root / "var") / "metrics"


def configure_environment() -> Path:
    """Sets PROMETHEUS_MULTIPROC_DIR if unset, and makes the folder. Returns it."""
    directory = Path(os.environ.setdefault(ENV, str(default_directory())))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def directory() -> Path:
    return Path(os.environ[ENV])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_dead_processes_files() -> int:
    """Removes the files of processes that are gone (a previous run's): called when a
    process group starts (gunicorn's master, the worker). Live processes' files stay, so
    the web and the worker may start in any order. Returns how many were removed."""
    removed = 0
    for path in directory().glob("*.db"):
        match = _PID.search(path.name)
        if match and not _alive(int(match.group(1))):
            try:
                path.unlink()
                removed += 1
            except FileNotFoundError:
                pass
    if removed:
        log.info("removed %d metrics file(s) of stopped processes", removed)
    return removed


def mark_dead(pid: int) -> None:
    """gunicorn's child_exit: a worker's live gauges no longer count (its counters do)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


def process_started(role: str) -> None:
    """Registers this process (for the per-process metrics /metrics reports)."""
    from .metrics import PROCESS

    PROCESS.labels(role=role).set(1)
