"""Sends one delivery over HTTP(S) with the standard library's `http.client`.

The application imports no HTTP client library (pyproject.toml, import-linter); this module
is the one exception the contract names, for outgoing webhooks only. The connection goes to
an address `webhooks.adresses` has just checked (never to what a second DNS lookup might
say); HTTPS still verifies the certificate against the URL's host name (SNI). Redirects are
not followed (a 3xx is a failure): a redirect to an internal address would defeat the guard.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass

from .adresses import AdresseRefusee, adresses_verifiees, decouper

USER_AGENT = "garage-webhooks/1"
MAX_RESPONSE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Resultat:
    code: int | None  # the HTTP status, None when there was no answer
    erreur: str  # empty on success
    duree_ms: int

    @property
    def reussi(self) -> bool:
        return self.code is not None and 200 <= self.code < 300


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to `address` while speaking to `host` (Host header)."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def envoyer(
    url: str,
    corps: bytes,
    entetes: dict[str, str],
    *,
    timeout: float,
    allow_private: bool | None = None,
) -> Resultat:
    """POSTs `corps` to `url`; never raises for network trouble (it is the result)."""
    started = time.monotonic()

    def result(code: int | None, erreur: str) -> Resultat:
        return Resultat(code, erreur[:300], int((time.monotonic() - started) * 1000))

    try:
        scheme, host, port, path = decouper(url)
        addresses = adresses_verifiees(host, port, allow_private)
    except AdresseRefusee as exc:
        return result(None, f"refused: {exc}")
    kind = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    last_error = "no address"
    for address in addresses:
        connection = kind(host, port, address, timeout)
        try:
            try:
                connection.connect()
            except OSError as exc:  # not reached: the next address may be
                last_error = f"cannot connect to {address}: {exc!r}"
                continue
            try:
                connection.request(
                    "POST",
                    path,
                    body=corps,
                    headers={**entetes, "User-Agent": USER_AGENT},
                )
                response = connection.getresponse()
                response.read(MAX_RESPONSE_BYTES)
            except (OSError, http.client.HTTPException) as exc:
                # Sent, perhaps received: not tried on another address (the next attempt
                # sends it again, with the same webhook-id).
                return result(None, f"{address}: {exc!r}")
            if 200 <= response.status < 300:
                return result(response.status, "")
            return result(response.status, f"HTTP {response.status} {response.reason}")
        finally:
            connection.close()
    return result(None, last_error)
