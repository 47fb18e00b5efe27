"""A tiny TCP forwarder that a test can cut and restore.

Used to make a shared service (PostgreSQL, RabbitMQ) unreachable for one
process without touching the service itself: point the process at
``127.0.0.1:proxy.port`` instead of the real port, then ``cut()``.

While cut, existing connections are reset and new ones are accepted and reset
at once. Resetting (rather than not accepting) makes clients fail fast: an
unaccepted connection would sit in the listen backlog and the client would
hang until its own connect timeout.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from types import TracebackType
from typing import Self

_BUFSIZE = 65536


def _close(sock: socket.socket | None, *, reset: bool) -> None:
    if sock is None:
        return
    with contextlib.suppress(OSError):
        if reset:
            # Linger 0 makes close() send RST: the peer's next read/write fails
            # immediately with ECONNRESET instead of waiting on a half-open link.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # shutdown() wakes threads blocked in recv()/send() on this socket; close()
    # alone does not on Linux.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


class _Link:
    """One client connection and its upstream connection."""

    def __init__(self, client: socket.socket) -> None:
        self.client = client
        self.upstream: socket.socket | None = None
        self._lock = threading.Lock()
        self.closed = False

    def set_upstream(self, upstream: socket.socket) -> bool:
        with self._lock:
            if self.closed:
                return False
            self.upstream = upstream
            return True

    def close(self, *, reset: bool) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
            client, upstream = self.client, self.upstream
        _close(client, reset=reset)
        _close(upstream, reset=False)


class TcpProxy:
    """Forward 127.0.0.1:<port> to (target_host, target_port), with cut/restore."""

    def __init__(self, target_host: str, target_port: int, *, connect_timeout: float = 5.0) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.connect_timeout = connect_timeout
        self.connections_accepted = 0
        self._lock = threading.Lock()
        self._links: set[_Link] = set()
        self._cut = False
        self._closed = False
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        # A short accept timeout lets the loop notice close() without relying
        # on shutdown() semantics of listening sockets.
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(
            target=self._accept_loop, name=f"TcpProxy-accept-{self.port}", daemon=True
        )
        self._acceptor.start()

    # -- public API -------------------------------------------------------

    @property
    def is_cut(self) -> bool:
        return self._cut

    @property
    def active_connections(self) -> int:
        with self._lock:
            return len(self._links)

    def cut(self) -> None:
        """Reset every open connection and reset new ones until restore()."""
        with self._lock:
            self._cut = True
            links = list(self._links)
            self._links.clear()
        for link in links:
            link.close(reset=True)

    def restore(self) -> None:
        """Accept and forward connections again (cut ones stay dead)."""
        with self._lock:
            self._cut = False

    def close(self) -> None:
        """Stop listening and drop every connection. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.cut()
        self._acceptor.join(timeout=5)
        with contextlib.suppress(OSError):
            self._listener.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "cut" if self._cut else "open"
        return f"<TcpProxy 127.0.0.1:{self.port} -> {self.target_host}:{self.target_port} {state}>"

    # -- internals --------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._closed:
                    return
                continue
            client.settimeout(None)
            self.connections_accepted += 1
            with self._lock:
                refuse = self._cut or self._closed
                link = _Link(client)
                if not refuse:
                    self._links.add(link)
            if refuse:
                _close(client, reset=True)
                continue
            threading.Thread(
                target=self._serve, args=(link,), name=f"TcpProxy-{self.port}", daemon=True
            ).start()

    def _serve(self, link: _Link) -> None:
        try:
            upstream = socket.create_connection(
                (self.target_host, self.target_port), timeout=self.connect_timeout
            )
        except OSError:
            self._drop(link, reset=True)
            return
        upstream.settimeout(None)
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link.client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not link.set_upstream(upstream):
            # cut() ran while we were connecting.
            _close(upstream, reset=False)
            return
        back = threading.Thread(
            target=self._pump,
            args=(link, upstream, link.client),
            name=f"TcpProxy-{self.port}-down",
            daemon=True,
        )
        back.start()
        self._pump(link, link.client, upstream)
        back.join()

    def _pump(self, link: _Link, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(_BUFSIZE)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        # Either side ending ends the pair; the protocols proxied here do not
        # rely on half-closed connections.
        self._drop(link, reset=False)

    def _drop(self, link: _Link, *, reset: bool) -> None:
        with self._lock:
            self._links.discard(link)
        link.close(reset=reset)
