"""What /metrics computes when it is scraped: figures that need the database or the
broker (never recorded on the hot path), and the standard metrics of each live process."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator

from django.conf import settings
from django.utils import timezone
from prometheus_client import multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from messaging.deadletters import queue_depths
from messaging.probe import broker_reachable
from metier import selectors

from . import multiproc

log = logging.getLogger(__name__)


class Cached:
    """A value recomputed at most every `ttl` seconds; one caller computes, the others
    take the last value meanwhile (a slow broker never piles up probes)."""

    def __init__(self, compute: Callable[[], object], ttl: Callable[[], float]) -> None:
        self.compute, self.ttl = compute, ttl
        self.value: object = None
        self.at = float("-inf")
        self.lock = threading.Lock()

    def get(self) -> tuple[object, float]:
        """(value, its age in seconds)."""
        now = time.monotonic()
        if now - self.at >= self.ttl() and self.lock.acquire(blocking=self.at == float("-inf")):
            try:
                self.value, self.at = self.compute(), time.monotonic()
            finally:
                self.lock.release()
        return self.value, max(0.0, time.monotonic() - self.at)

    def clear(self) -> None:
        self.at = float("-inf")


def _ttl() -> float:
    return settings.GARAGE_HEALTH_BROKER_CACHE


def _depths() -> dict[str, int | None] | None:
    try:
        return queue_depths()
    except Exception:
        log.warning("queue depths unavailable: broker unreachable")
        return None


broker_up = Cached(broker_reachable, _ttl)
depths = Cached(_depths, _ttl)


class ScrapeCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        lag = GaugeMetricFamily(
            "garage_outbox_lag_seconds",
            "Age of the oldest accepted request not yet published (0: none).",
        )
        lag.add_metric([], selectors.retard_publication())
        yield lag

        values, _age = depths.get()
        up = GaugeMetricFamily("garage_broker_up", "1 if the broker answered the last probe.")
        up.add_metric([], 1.0 if values is not None else 0.0)
        yield up
        if values is not None:
            queue = GaugeMetricFamily(
                "garage_queue_messages",
                "Messages ready in each queue (main, dead letters, delay queues).",
                labels=["queue"],
            )
            for name, depth in values.items():
                if depth is not None:
                    queue.add_metric([name], float(depth))
            yield queue
            dlq = values.get(f"{settings.GARAGE_QUEUE}.dlq")
            if dlq is not None:
                waiting = GaugeMetricFamily(
                    "garage_dead_letters_waiting", "Messages waiting in the dead-letter queue."
                )
                waiting.add_metric([], float(dlq))
                yield waiting

        yield from pipeline_figures_metrics()
        yield from process_metrics()


def pipeline_figures_metrics() -> Iterator[Metric]:
    """The board's pipeline panel figures (metier.selectors.pipeline_figures), the same
    numbers, from the requests' own timestamps over the last 5 minutes."""
    figures = selectors.pipeline_figures(now=timezone.now())
    window = str(int(figures.window.total_seconds()))
    rate = GaugeMetricFamily(
        "garage_pipeline_requests_per_minute",
        "Requests accepted per minute over the window (the board's figure).",
        labels=["window_seconds"],
    )
    rate.add_metric([window], figures.par_minute)
    yield rate
    latency = GaugeMetricFamily(
        "garage_pipeline_latency_seconds",
        "Request accepted → repair committed over the window, by quantile (the board's).",
        labels=["window_seconds", "quantile"],
    )
    for quantile, value in (("0.5", figures.latence_p50), ("0.95", figures.latence_p95)):
        if value is not None:
            latency.add_metric([window, quantile], value.total_seconds())
    yield latency
    pending = GaugeMetricFamily(
        "garage_outbox_pending", "Accepted requests not yet confirmed by the broker."
    )
    pending.add_metric([], figures.a_publier)
    yield pending
    queued = GaugeMetricFamily("garage_requests_queued", "Requests on the queue, no outcome yet.")
    queued.add_metric([], figures.en_file)
    yield queued


def _live_processes() -> list[tuple[str, str]]:
    """(pid, role) of each registered process still running."""
    found = []
    for family in multiprocess.MultiProcessCollector(None, str(multiproc.directory())).collect():
        if family.name != "garage_process":
            continue
        for sample in family.samples:
            pid = sample.labels.get("pid", "")
            if pid.isdigit() and sample.value and _running(int(pid)):
                found.append((pid, sample.labels.get("role", "")))
    return sorted(set(found))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_metrics() -> Iterator[Metric]:
    """prometheus-client's standard process metrics (CPU, memory, open files, start time)
    for every live process of the garage on this host, labelled with its pid and role."""
    families: dict[str, Metric] = {}
    for pid, role in _live_processes():
        collector = ProcessCollector(pid=lambda pid=pid: int(pid), registry=None)
        for family in collector.collect():
            merged = families.get(family.name)
            if merged is None:
                merged = families[family.name] = Metric(
                    family.name, family.documentation, family.type
                )
            for sample in family.samples:
                merged.add_sample(
                    sample.name, {**sample.labels, "pid": pid, "role": role}, sample.value
                )
    yield from families.values()
