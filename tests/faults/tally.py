"""Counting what happened to accepted requests: the numbers each fault test prints."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from metier.models import Demande, Reparation
from tests.support.stack import wait_until


@dataclass
class Tally:
    accepted: int
    repairs: int
    duplicates: int
    lost: int
    rejected: int
    dead_lettered: int | None = None

    def line(self, label: str) -> str:
        return (
            f"[{label}] accepted={self.accepted} repairs={self.repairs} "
            f"duplicates={self.duplicates} lost={self.lost} rejected={self.rejected} "
            f"dead_lettered={self.dead_lettered}"
        )


def tally(accepted: set[str], dead_lettered: int | None = None) -> Tally:
    done = Demande.objects.filter(id__in=accepted, statut="traitee", reparation__isnull=False)
    rejected = Demande.objects.filter(id__in=accepted, statut="rejetee").count()
    repairs = Reparation.objects.count()
    return Tally(
        accepted=len(accepted),
        repairs=repairs,
        # A repair not tied to exactly one accepted request is one too many.
        duplicates=repairs - done.count(),
        lost=len(accepted) - done.count() - rejected,
        rejected=rejected,
        dead_lettered=dead_lettered,
    )


def settle(accepted: set[str], label: str, timeout: float = 120, dead_lettered=None) -> Tally:
    """Waits until every accepted request is done or rejected (or time runs out), prints
    the counts and returns them."""
    try:
        wait_until(
            lambda: tally(accepted).lost == 0,
            timeout=timeout,
            interval=0.5,
            message="every accepted request done or rejected",
        )
    finally:
        time.sleep(1.0)  # a late duplicate would show now
        result = tally(accepted, dead_lettered() if callable(dead_lettered) else dead_lettered)
        print(result.line(label))
    return result


@dataclass
class Stream:
    """Sends repair requests from threads until stopped or `total` is reached."""

    base_url: str
    piece: int
    total: int
    concurrency: int = 8
    timeout: float = 10.0
    headers: dict[str, str] = field(default_factory=dict)  # the stack's token
    base_urls: list[str] = field(default_factory=list)  # several web processes, in turn
    accepted: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    slowest: float = 0.0
    sent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _one(self, i: int) -> None:
        key = f"stream-{uuid.uuid4()}"
        started = time.monotonic()
        try:
            base = self.base_urls[i % len(self.base_urls)] if self.base_urls else self.base_url
            r = requests.get(
                f"{base}/reparation/{self.piece}/{1 + i % 9}/",
                headers={**self.headers, "Idempotency-Key": key},
                timeout=self.timeout,
            )
            outcome = r.json()["id"] if r.status_code == 202 else f"HTTP {r.status_code}: {r.text}"
        except requests.RequestException as exc:
            outcome = f"error: {exc!r}"
        elapsed = time.monotonic() - started
        with self._lock:
            self.slowest = max(self.slowest, elapsed)
            if outcome.startswith(("HTTP", "error")):
                self.failures.append(outcome)
            else:
                self.accepted.add(outcome)

    def run(self, pause: float = 0.0) -> None:
        with ThreadPoolExecutor(self.concurrency) as pool:
            for i in range(self.total):
                pool.submit(self._one, i)
                if pause:
                    time.sleep(pause)

    def snapshot(self) -> set[str]:
        """The ids accepted so far (a copy: the sending threads keep adding)."""
        with self._lock:
            return set(self.accepted)

    def run_until(self, done: threading.Event, pause: float) -> None:
        """Sends at least `total` requests, and goes on until `done` is set: `concurrency`
        clients, each waiting for its answer and then `pause` seconds (a steady stream that
        never piles up requests the server has not taken yet)."""
        counter = iter(range(10**9))

        def client() -> None:
            while True:
                with self._lock:
                    i = next(counter)
                if i >= self.total and done.is_set():
                    return
                self._one(i)
                time.sleep(pause)

        threads = [threading.Thread(target=client) for _ in range(self.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.sent = len(self.accepted) + len(self.failures)

    def start(self, pause: float = 0.0) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(pause,), daemon=True)
        thread.start()
        return thread
