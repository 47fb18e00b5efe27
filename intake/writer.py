"""Group commit for the intake: concurrent requests of one web process share a commit.

Each accepted request must be committed before its 202, and on PostgreSQL each commit of
its own costs a WAL flush and a round trip. Here request threads hand their row to one
writer thread and wait; the writer records whatever has gathered meanwhile in one
transaction (`enregistrer_demandes`, one statement), then wakes them all. There is no
added delay: under light load a batch is one request; under heavy load, requests arriving
while a commit is in progress make up the next one (README "Performance").

Used on PostgreSQL only, and never inside a transaction (a request inside one, as in the
test suite's, must see its own uncommitted rows): then the request records its row itself.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection

from metier.models import Demande
from metier.services import enregistrer_demandes

log = logging.getLogger(__name__)


class _Slot:
    __slots__ = ("done", "error", "fields", "result")

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields
        self.done = threading.Event()
        self.result: Demande | None = None
        self.error: BaseException | None = None


class GroupWriter:
    def __init__(self, max_rows: int) -> None:
        self.pid = os.getpid()
        self.max_rows = max_rows
        self.cond = threading.Condition()
        self.waiting: list[_Slot] = []
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="intake-writer", daemon=True)
        self.thread.start()

    def record(self, fields: dict[str, Any]) -> Demande | None:
        """The committed row, or None if the part is unknown; raises what the commit raised."""
        slot = _Slot(fields)
        with self.cond:
            self.waiting.append(slot)
            self.cond.notify()
        slot.done.wait()
        if slot.error is not None:
            raise slot.error
        return slot.result

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify()
        self.thread.join(5)

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.waiting and not self.stopping:
                    # Idle: let go of the connection now and then (CONN_MAX_AGE, errors).
                    if not self.cond.wait(timeout=5):
                        close_old_connections()
                if self.stopping and not self.waiting:
                    connection.close()
                    return
                batch = self.waiting[: self.max_rows]
                del self.waiting[: self.max_rows]
            try:
                results = enregistrer_demandes(demandes=[dict(s.fields) for s in batch])
            except BaseException as exc:
                log.warning("intake group commit of %d failed: %r", len(batch), exc)
                for slot in batch:
                    slot.error = exc
            else:
                for slot, demande in zip(batch, results, strict=True):
                    slot.result = demande
            for slot in batch:
                slot.done.set()


_lock = threading.Lock()
_writer: GroupWriter | None = None


def writer() -> GroupWriter | None:
    """This process's writer, or None where requests record their own rows."""
    global _writer
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return None
    max_rows = settings.GARAGE_INTAKE_GROUP_MAX
    if max_rows <= 1:
        return None
    with _lock:
        if _writer is None or _writer.pid != os.getpid():
            _writer = GroupWriter(max_rows)
        return _writer


def stop() -> None:
    """Stops this process's writer (the test suite, before it drops its database)."""
    global _writer
    with _lock:
        if _writer is not None and _writer.pid == os.getpid():
            _writer.stop()
        _writer = None
