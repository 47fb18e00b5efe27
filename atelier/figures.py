"""The pipeline panel's figures, each cached briefly in the process.

The board is polled every second by every open screen: without the cache each poll would
open a broker connection (queue depths) and run the hour's per-minute counts. One thread
refreshes a stale figure while the others keep showing the last one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.conf import settings
from django.utils import timezone

from messaging.config import topology
from messaging.deadletters import queue_depths
from metier import selectors

log = logging.getLogger(__name__)
T = TypeVar("T")


class Cached(Generic[T]):
    """`get()` returns the value computed at most `ttl` seconds ago; while one thread
    recomputes it, the others get the previous value (None before the first)."""

    def __init__(self, compute: Callable[[], T], ttl: Callable[[], float]) -> None:
        self._compute = compute
        self._ttl = ttl
        self._lock = threading.Lock()
        self._value: T | None = None
        self._at = float("-inf")

    def get(self) -> T | None:
        if time.monotonic() - self._at < self._ttl():
            return self._value
        if not self._lock.acquire(blocking=self._value is None):
            return self._value  # another thread is refreshing it
        try:
            if time.monotonic() - self._at >= self._ttl():
                self._value = self._compute()
                self._at = time.monotonic()
            return self._value
        finally:
            self._lock.release()

    def clear(self) -> None:
        self._at = float("-inf")
        self._value = None


@dataclass(frozen=True)
class Broker:
    joignable: bool
    file: int | None = None  # ready on the main queue
    reessais: int | None = None  # waiting in the delay queues
    lettres_mortes: int | None = None  # in the dead-letter queue


def _broker() -> Broker:
    topo = topology()
    try:
        depths = queue_depths(topo=topo)
    except Exception as exc:  # the broker is away: the board says so, it does not fail
        log.warning("board: queue depths unavailable: %s", exc.__class__.__name__)
        return Broker(joignable=False)
    retries = [depths.get(topo.retry_queue(a)) for a in range(1, topo.retry_limit + 1)]
    return Broker(
        joignable=True,
        file=depths.get(topo.queue),
        reessais=sum(d or 0 for d in retries),
        lettres_mortes=depths.get(topo.dlq),
    )


def _ttl() -> float:
    return settings.GARAGE_BOARD_CACHE_SECONDS


broker = Cached(_broker, _ttl)
pipeline = Cached(lambda: selectors.pipeline_figures(now=timezone.now()), _ttl)
# Minute-wide bars: refreshed every few polls is enough.
history = Cached(lambda: selectors.pipeline_history(now=timezone.now()), lambda: 5 * _ttl())
