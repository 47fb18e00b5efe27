"""For the webhook tests: a real HTTP receiver (http.server in a thread) that verifies each
delivery's Standard Webhooks signature, and CloudEvents in the contract's shape (EVENTS.md)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def cloudevent(cle: str, sujet: str, sequence: int, **data) -> dict:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/garage",
        "type": f"fr.garage.{cle}",
        "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "subject": sujet,
        "datacontenttype": "application/json",
        "sequence": sequence,
        "data": data,
    }


class Receiver:
    """Listens on 127.0.0.1:`port` (0: any free port); records what it accepts.

    Each request's signature is checked with the subscription's secret (`secret`, set once
    the subscription exists): a bad one is answered 401 and counted in `bad_signatures`.
    `status` is what it answers to a good one (200 unless a test changes it)."""

    def __init__(self, port: int = 0, secret: str | None = None) -> None:
        self.secret = secret
        self.status = 200
        self.delay = 0.0  # seconds before answering (a slow receiver)
        self.received: list[dict] = []  # {"headers", "body", "event"}
        self.bad_signatures: list[str] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    event = Webhook(receiver.secret).verify(body, headers)
                except (WebhookVerificationError, Exception) as exc:
                    with receiver.lock:
                        receiver.bad_signatures.append(repr(exc))
                    self.send_response(401)
                    self.end_headers()
                    return
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver.status
                if 200 <= status < 300:
                    with receiver.lock:
                        receiver.received.append({"headers": headers, "body": body, "event": event})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self) -> list[dict]:
        with self.lock:
            return [r["event"] for r in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def body(event: dict) -> bytes:
    return json.dumps(event).encode()
