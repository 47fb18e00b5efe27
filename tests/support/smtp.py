"""A real SMTP server for the tests (aiosmtpd), counting what it receives."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections import Counter
from email.message import Message

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Inbox:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)
        return "250 OK"


class SmtpServer:
    """`with SmtpServer() as smtp:` a server on 127.0.0.1:<smtp.port>; `smtp.messages`."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.inbox = _Inbox()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[Message]:
        with self.inbox.lock:
            return list(self.inbox.messages)

    def per_event(self) -> Counter:
        return Counter(m["X-Garage-Evenement"] for m in self.messages)
