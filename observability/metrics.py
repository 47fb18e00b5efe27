"""The metrics every process records (prometheus-client, multiprocess mode).

Recording is a counter increment or a histogram observation into a memory-mapped file:
no database or broker round trip. The gauges that need the database or the broker (outbox
lag, queue depths) are computed when /metrics is scraped (see collectors.py).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from . import multiproc

multiproc.configure_environment()  # before the first metric is made

# Answer times of the intake: milliseconds to a few seconds.
_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# A request's way to its repair: milliseconds when idle, minutes when the broker was down.
_END_TO_END = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0,
)  # fmt: skip

INTAKE_REQUESTS = Counter(
    "garage_intake_requests",
    "Intake requests (GET /reparation/{piece}/{duree}/, POST /reparation/) by outcome.",
    ["outcome"],
)
INTAKE_SECONDS = Histogram(
    "garage_intake_request_duration_seconds",
    "Time to answer an intake request, in the web process.",
    buckets=_FAST,
)
PUBLISHED = Counter(
    "garage_messages_published",
    "Request messages sent to the broker, by sender (web, relay, safety_net).",
    ["sender"],
)
CONFIRMED = Counter(
    "garage_messages_confirmed",
    "Request messages confirmed by the broker, by sender.",
    ["sender"],
)
BATCH_SIZE = Histogram(
    "garage_consumer_batch_size",
    "Messages per batch handled by the worker (one transaction each).",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
BATCH_SECONDS = Histogram(
    "garage_consumer_batch_duration_seconds",
    "Time to handle a batch: decoding and its database transaction.",
    buckets=_FAST,
)
CONSUMED = Counter(
    "garage_consumer_messages",
    "Messages handled by the worker, by result (done, duplicate, rejected).",
    ["result"],
)
END_TO_END_SECONDS = Histogram(
    "garage_request_to_repair_seconds",
    "From the request's acceptance to its repair's commit, observed by the worker.",
    buckets=_END_TO_END,
)
RETRIES = Counter("garage_consumer_retries", "Messages sent to a delay queue for a retry.")
DEAD_LETTERS = Counter("garage_consumer_dead_letters", "Messages sent to the dead-letter queue.")
PROCESS = Gauge(
    "garage_process",
    "A live process of the garage (1), by role; its pid is a label.",
    ["role"],
    multiprocess_mode="liveall",
)

INTAKE_OUTCOMES = {
    202: "accepted",
    400: "invalid",
    404: "invalid",
    413: "invalid",
    415: "invalid",
    401: "refused",
    403: "refused",
    405: "invalid",
    409: "conflict",
    429: "throttled",
    503: "unavailable",
}


def intake_answered(status: int, seconds: float) -> None:
    outcome = INTAKE_OUTCOMES.get(status) or ("error" if status >= 500 else "other")
    INTAKE_REQUESTS.labels(outcome=outcome).inc()
    INTAKE_SECONDS.observe(seconds)


def published(sender: str, sent: int, confirmed: int) -> None:
    """A publishing call of the outbox: `sent` handed to the broker, `confirmed` of them
    confirmed."""
    if sent:
        PUBLISHED.labels(sender=sender).inc(sent)
    if confirmed:
        CONFIRMED.labels(sender=sender).inc(confirmed)


def batch_handled(
    *, size: int, seconds: float, results: dict[str, int], latencies: list[float]
) -> None:
    """A batch the worker committed: its size, its time, its results, and for each new
    repair the time since its request was accepted."""
    BATCH_SIZE.observe(size)
    BATCH_SECONDS.observe(seconds)
    for result, count in results.items():
        if count:
            CONSUMED.labels(result=result).inc(count)
    for latency in latencies:
        END_TO_END_SECONDS.observe(max(0.0, latency))


def consumer_hooks():
    """The consumer's hooks (messaging.consumer.Hooks) that count retries and dead letters."""
    from messaging.consumer import Hooks

    return Hooks(
        retried=lambda _delivery, _reason: RETRIES.inc(),
        dead_lettered=lambda _delivery, _reason: DEAD_LETTERS.inc(),
    )
