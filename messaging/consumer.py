"""The consumer loop: batches, manual acks after the work is committed, failure routing.

The handler (the application's, given to `Consumer`) gets a batch of `Delivery` and returns
one outcome per delivery: `ACK`, `DeadLetter(reason)` or `Retry(reason)`; or it raises
`TransientError` when the whole batch could not be done now (database unreachable...). This
module then:

- dead-letters to `<queue>.dlq`, the reason in the `x-garage-reason` header;
- retries through delay queues (`<queue>.retry.N`, TTL doubling, jitter per message) up to
  GARAGE_RETRY_LIMIT, then dead-letters;
- acks the whole batch with one multiple ack, only after all of that is confirmed.

A batch in hand when the connection is lost is dropped, never acked on a new channel: the
broker redelivers it and the handler is idempotent.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pika
import pika.exceptions
from django.conf import settings

from . import topology
from .config import Topology, connection_parameters, describe
from .config import topology as load_topology
from .publisher import Backoff

log = logging.getLogger(__name__)

ATTEMPT_HEADER = "x-garage-attempt"
REASON_HEADER = "x-garage-reason"


class TransientError(Exception):
    """The batch failed for a reason that may go away (database down, lock timeout)."""


@dataclass(frozen=True)
class Delivery:
    body: bytes
    message_id: str | None
    headers: dict
    delivery_tag: int
    correlation_id: str | None = None  # the request id of the HTTP request it came from

    @property
    def attempt(self) -> int:
        """Retries so far, from our header; anything else a sender put there counts as 0
        (a negative or odd value must not pick a delay queue that does not exist)."""
        value = self.headers.get(ATTEMPT_HEADER, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return 0
        return value


class Ack:
    def __repr__(self) -> str:
        return "ACK"


ACK = Ack()


@dataclass(frozen=True)
class DeadLetter:
    reason: str


@dataclass(frozen=True)
class Retry:
    reason: str


Outcome = Ack | DeadLetter | Retry
Handler = Callable[[list[Delivery]], list[Outcome]]


def _nothing(_delivery: Delivery, _reason: str) -> None:
    return None


@dataclass(frozen=True)
class Hooks:
    """What the consumer tells its owner (metrics), without knowing who listens: called
    after the message is confirmed in a delay queue or the dead-letter queue."""

    retried: Callable[[Delivery, str], None] = _nothing
    dead_lettered: Callable[[Delivery, str], None] = _nothing


class Consumer:
    def __init__(
        self,
        handler: Handler,
        *,
        url: str | None = None,
        topo: Topology | None = None,
        prefetch: int | None = None,
        batch_size: int | None = None,
        batch_wait_ms: int | None = None,
        stop_event: threading.Event | None = None,
        hooks: Hooks | None = None,
    ) -> None:
        self.handler = handler
        self.hooks = hooks or Hooks()
        self.url = url or settings.AMQP_URL
        self.topo = topo or load_topology()
        self.prefetch = prefetch or settings.GARAGE_PREFETCH
        self.batch_size = batch_size or settings.GARAGE_BATCH_SIZE
        self.batch_wait = (
            batch_wait_ms if batch_wait_ms is not None else settings.GARAGE_BATCH_WAIT_MS
        ) / 1000
        self.stop_event = stop_event or threading.Event()
        self.backoff = Backoff(base=0.5, cap=15.0)
        self.connection: pika.BlockingConnection | None = None
        self.channel = None
        self.stats = {"acked": 0, "dead_lettered": 0, "retried": 0, "batches": 0}

    # -- lifecycle ---------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT: finish the batch in hand, ack it, then exit."""

        def stop(signum: int, _frame: object) -> None:
            log.info("signal %s: finishing the batch in hand, then stopping", signum)
            self.stop_event.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self._connect()
                self.backoff.succeeded()
                self._consume()
            except (pika.exceptions.AMQPError, OSError) as exc:
                log.warning("lost RabbitMQ (%r); reconnecting", exc)
                self._drop_connection()
                self.backoff.failed()
                self.stop_event.wait(self.backoff.delay())
        self._drop_connection()
        log.info("consumer stopped: %s", self.stats)

    def _connect(self) -> None:
        self.connection = pika.BlockingConnection(connection_parameters(self.url, "consumer"))
        self.channel = self.connection.channel()
        topology.declare(self.channel, self.topo)
        self.channel.basic_qos(prefetch_count=self.prefetch)
        # Confirms on this channel cover what we republish to the DLQ and delay queues.
        self.channel.confirm_delivery()
        log.info(
            "consuming %s on %s (prefetch %d, batch %d)",
            self.topo.queue,
            describe(self.connection),
            self.prefetch,
            self.batch_size,
        )

    def _drop_connection(self) -> None:
        connection, self.connection, self.channel = self.connection, None, None
        if connection is None:
            return
        try:
            if connection.is_open:
                connection.close()
        except Exception:  # already broken: nothing left to close cleanly
            log.debug("error while closing consumer connection", exc_info=True)

    # -- consuming ---------------------------------------------------------------------
    def _consume(self) -> None:
        channel = self.channel
        batch: list[Delivery] = []
        first_at = 0.0
        # The inactivity timeout is the batch wait: a partial batch is flushed once no message
        # came for that long (so a lone request waits a few ms, not a full batch), and the
        # loop notices a stop request. pika services heartbeats while it waits.
        wait = max(self.batch_wait, 0.002)
        for method, props, body in channel.consume(self.topo.queue, inactivity_timeout=wait):
            if method is not None:
                batch.append(
                    Delivery(
                        body=body,
                        message_id=props.message_id,
                        headers=dict(props.headers or {}),
                        delivery_tag=method.delivery_tag,
                        correlation_id=props.correlation_id,
                    )
                )
                if len(batch) == 1:
                    first_at = time.monotonic()
            full = len(batch) >= self.batch_size
            waited = batch and (method is None or time.monotonic() - first_at >= self.batch_wait)
            if full or waited:
                self._process(channel, batch)
                batch = []
            if self.stop_event.is_set() and not batch:
                try:
                    channel.cancel()  # unacked prefetched messages go back to the queue
                except Exception:
                    log.debug("cancel failed", exc_info=True)
                return

    def _process(self, channel, batch: list[Delivery]) -> None:
        try:
            outcomes = self.handler(batch)
            if len(outcomes) != len(batch):
                raise RuntimeError("handler returned a wrong number of outcomes")
        except TransientError as exc:
            log.warning("transient failure on a batch of %d: %s", len(batch), exc)
            outcomes = [Retry(str(exc))] * len(batch)
            # Give the failing dependency a breather before taking more work.
            self.connection.sleep(min(2.0, 0.1 * len(batch)))
        except Exception as exc:
            # A bug, not the message's fault as far as we know: retry with a limit rather than
            # crash and have the broker hand the same batch back forever.
            log.exception("handler failed on a batch of %d", len(batch))
            outcomes = [Retry(f"handler error: {exc!r}")] * len(batch)
        for delivery, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Retry):
                self._retry(channel, delivery, outcome.reason)
            elif isinstance(outcome, DeadLetter):
                self._dead_letter(channel, delivery, outcome.reason)
        # Everything is committed or republished (confirmed): one ack for the whole batch.
        channel.basic_ack(batch[-1].delivery_tag, multiple=True)
        self.stats["acked"] += len(batch)
        self.stats["batches"] += 1

    def _republish(
        self, channel, delivery: Delivery, routing_key: str, headers: dict, **kw
    ) -> None:
        channel.basic_publish(
            exchange="",
            routing_key=routing_key,
            body=delivery.body,
            properties=pika.BasicProperties(
                content_type="application/json",
                delivery_mode=pika.DeliveryMode.Persistent,
                message_id=delivery.message_id,
                correlation_id=delivery.correlation_id,
                headers=headers,
                **kw,
            ),
            mandatory=True,
        )

    def _dead_letter(self, channel, delivery: Delivery, reason: str) -> None:
        log.warning(
            "dead-lettering message %s: %s",
            delivery.message_id,
            reason,
            extra={"request_id": delivery.correlation_id or "-"},
        )
        headers = {
            **delivery.headers,
            REASON_HEADER: reason[:1000],
            "x-garage-failed-at": int(time.time()),
        }
        self._republish(channel, delivery, self.topo.dlq, headers)
        self.stats["dead_lettered"] += 1
        self.hooks.dead_lettered(delivery, reason)

    def _retry(self, channel, delivery: Delivery, reason: str) -> None:
        attempt = delivery.attempt + 1
        if attempt > self.topo.retry_limit:
            self._dead_letter(channel, delivery, f"gave up after {attempt - 1} retries: {reason}")
            return
        delay = self.topo.retry_delay_ms(attempt)
        headers = {**delivery.headers, ATTEMPT_HEADER: attempt, REASON_HEADER: reason[:1000]}
        # Jitter: spread retries over the second half of the tier so they do not return at once.
        expiration = str(int(delay * random.uniform(0.5, 1.0)))
        self._republish(
            channel, delivery, self.topo.retry_queue(attempt), headers, expiration=expiration
        )
        self.stats["retried"] += 1
        self.hooks.retried(delivery, reason)
