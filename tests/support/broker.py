"""Access to the shared RabbitMQ for tests: one private vhost per test, made with rabbitmqctl.

Missing RabbitMQ is a failure with a clear message, never a skip.
"""

from __future__ import annotations

import socket
import subprocess
import uuid
from collections.abc import Callable
from urllib.parse import quote

import pika
import pika.exceptions
import pytest

SHARED_HOST, SHARED_PORT = "127.0.0.1", 5672


def require_rabbitmq(host: str = SHARED_HOST, port: int = SHARED_PORT) -> None:
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        pytest.fail(
            f"RabbitMQ is not reachable on {host}:{port} ({exc}). Start it: "
            "`rabbitmq-server -detached` (tests that need RabbitMQ never skip).",
            pytrace=False,
        )


def rabbitmqctl(*args: str, node: str | None = None) -> str:
    cmd = ["rabbitmqctl", *(["-n", node] if node else []), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed: {proc.stderr or proc.stdout}", pytrace=False)
    return proc.stdout


class Vhost:
    """A fresh vhost on a broker, with guest allowed in, removed at the end."""

    def __init__(self, port: int = SHARED_PORT, ctl: Callable[..., str] = rabbitmqctl) -> None:
        """`ctl` runs rabbitmqctl for the broker (a private node passes its own)."""
        self.name = f"garage-test-{uuid.uuid4().hex[:12]}"
        self.port = port
        self.ctl = ctl
        ctl("add_vhost", self.name)
        ctl("set_permissions", "-p", self.name, "guest", ".*", ".*", ".*")
        self.url = f"amqp://guest:guest@127.0.0.1:{port}/{quote(self.name, safe='')}"

    def connection(self) -> pika.BlockingConnection:
        return pika.BlockingConnection(pika.URLParameters(self.url))

    def depth(self, queue: str) -> int | None:
        """Messages ready in the queue; None while it is not declared yet."""
        with self.connection() as conn:
            try:
                return conn.channel().queue_declare(queue, passive=True).method.message_count
            except pika.exceptions.ChannelClosedByBroker:
                return None

    def get_all(self, queue: str) -> list[tuple[pika.spec.BasicProperties, bytes]]:
        """Reads every message of a queue (and leaves them there)."""
        out = []
        with self.connection() as conn:
            ch = conn.channel()
            while True:
                method, props, body = ch.basic_get(queue)
                if method is None:
                    break
                out.append((props, body))
            # closing the channel without acks puts them back
        return out

    def publish(self, body: bytes, queue: str = "garage", **props) -> None:
        with self.connection() as conn:
            ch = conn.channel()
            ch.queue_declare(queue, durable=True)  # the seed's declaration, as the consumer's
            ch.basic_publish("", queue, body, pika.BasicProperties(**props) if props else None)

    def delete(self) -> None:
        self.ctl("delete_vhost", self.name)
