"""Password guessing: django-axes counts failed logins (the admin's, the board's) per
username and per client address, and locks either out for a while past a limit.

The address is the one the API's throttles use (DRF's rule, `GARAGE_NUM_PROXIES` trusted
proxies), so that a client behind the garage's proxy is not everyone at once.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    xff = request.META.get("HTTP_X_FORWARDED_FOR")
    remote = request.META.get("REMOTE_ADDR")
    proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    if not proxies or not xff:
        return remote
    addrs = [a.strip() for a in xff.split(",")]
    return addrs[-min(proxies, len(addrs))] or remote
