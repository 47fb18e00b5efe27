"""The server-side request forgery guard: which addresses a webhook may be sent to.

A subscription's host is resolved and every address it resolves to is checked; a delivery
resolves again, checks again, and connects to an address it checked (webhooks.envoi), so a
DNS answer that changes between the check and the connection (DNS rebinding) gains nothing.
Refused: loopback, private (RFC 1918, unique local, CGNAT), link-local (cloud metadata
services live there: 169.254.169.254), multicast, reserved and unspecified addresses, and
IPv6 forms of them (IPv4-mapped, 6to4, Teredo). GARAGE_WEBHOOK_ALLOW_PRIVATE=1 lets
loopback and private addresses through (tests, a receiver on the same network); multicast
and unspecified addresses are never allowed.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AdresseRefusee(ValueError):
    """The URL may not receive webhooks; the message says why."""


def _embedded_v4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            return ip.teredo[1]
    return None


def raison_refus(ip: IPAddress, allow_private: bool | None = None) -> str | None:
    """Why this address may not receive webhooks, or None when it may."""
    allow = settings.GARAGE_WEBHOOK_ALLOW_PRIVATE if allow_private is None else allow_private
    inner = _embedded_v4(ip)
    if inner is not None:
        reason = raison_refus(inner, allow)
        return f"{ip} embeds {inner}: {reason}" if reason else None
    if ip.is_multicast:
        return f"{ip} is a multicast address"
    if ip.is_unspecified:
        return f"{ip} is an unspecified address"
    if allow:
        return None
    for name in ("loopback", "link_local", "private", "reserved"):
        if getattr(ip, f"is_{name}"):
            return f"{ip} is a {name.replace('_', '-')} address"
    if not ip.is_global:
        return f"{ip} is not a public address"
    return None


def decouper(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of an http(s) URL; AdresseRefusee otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise AdresseRefusee(f"not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise AdresseRefusee("the URL must start with http:// or https://")
    if not parts.hostname:
        raise AdresseRefusee("the URL has no host")
    if parts.username or parts.password:
        raise AdresseRefusee("the URL may not hold a user name or password")
    port = port or (443 if parts.scheme == "https" else 80)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return parts.scheme, parts.hostname, port, path


def adresses_verifiees(host: str, port: int, allow_private: bool | None = None) -> list[str]:
    """Every address `host` resolves to, all of them checked; AdresseRefusee when it does not
    resolve or when any of them is refused (one bad address is enough: which one a client
    connects to is not ours to choose)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise AdresseRefusee(f"cannot resolve {host}: {exc}") from exc
    found: list[str] = []
    for *_, sockaddr in infos:
        address = sockaddr[0].split("%", 1)[0]  # an IPv6 zone id
        if address not in found:
            found.append(address)
    if not found:
        raise AdresseRefusee(f"{host} resolves to no address")
    for address in found:
        reason = raison_refus(ipaddress.ip_address(address), allow_private)
        if reason:
            raise AdresseRefusee(f"{host} resolves to a refused address: {reason}")
    return found


def verifier_url(url: str, allow_private: bool | None = None) -> None:
    """Raises AdresseRefusee unless webhooks may be sent to `url`."""
    _scheme, host, port, _path = decouper(url)
    adresses_verifiees(host, port, allow_private)
