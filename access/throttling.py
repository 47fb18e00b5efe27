"""Per-client request limits on a cache shared by every web process.

A fixed window per client: one counter per (scope, client, window), which expires with the
window. Against Redis that is one round trip per request (SET NX EX + INCR in a pipeline);
the database cache (no REDIS_URL) is correct but costs a few statements per request, so
set REDIS_URL where throughput matters;
DRF's own SimpleRateThrottle would read and write back the list of every request's time in
the window (6,000 floats at 6000/min), which is the cost this avoids. The client is the user
(each token's owner), or the address for anonymous requests.

Each process takes its share of a client's window several requests at a time
(GARAGE_THROTTLE_SHARE of the limit, e.g. 60 of 6000/min): it asks the cache once per share
instead of once per request, and answers the others from memory. The limit still holds
exactly across processes (a share is never more than what is left); a client whose
requests are spread over several processes may be refused up to one share per process
before it reached its limit.

Rates come from settings.GARAGE_THROTTLE_RATES (`N/s`, `N/min`, `N/h`, `N/day` or `off`).
When the cache cannot be reached the request is let through and a warning is logged: the
limit protects capacity, it is not what keeps anyone out.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

log = logging.getLogger(__name__)

_PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*([a-z]+)\s*$")


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """`"6000/min"` -> (6000, 60); `off`, empty or None -> None (no limit)."""
    if rate is None or rate.strip().lower() in {"", "off", "none", "0"}:
        return None
    match = _RATE.match(rate.lower())
    period = match and (_PERIODS.get(match[2]) or _PERIODS.get(match[2][0]))
    if not match or not period or int(match[1]) < 1:
        raise ImproperlyConfigured(f"a rate is `N/s`, `N/min`, `N/h`, `N/day` or `off`: {rate!r}")
    return int(match[1]), period


def _increment(key: str, window: int, by: int = 1) -> int:
    """The counter after adding `by`; it is created to expire with its window."""
    client_of = getattr(getattr(cache, "_cache", None), "get_client", None)
    if client_of is not None:  # django.core.cache.backends.redis.RedisCache
        full_key = cache.make_and_validate_key(key)
        pipe = client_of(full_key, write=True).pipeline(transaction=False)
        pipe.set(full_key, 0, ex=window, nx=True)
        pipe.incrby(full_key, by)
        return int(pipe.execute()[1])
    # Other backends (the database cache): increment, and create on the window's first hit.
    try:
        return cache.incr(key, by)
    except ValueError:  # not there yet (or just expired)
        if cache.add(key, by, timeout=window):
            return by
        return cache.incr(key, by)  # another process created it meanwhile


class _Shares:
    """This process's shares: window key -> requests it may still let in."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.left: dict[str, int] = {}

    def take(self, key: str) -> bool:
        with self.lock:
            left = self.left.get(key, 0)
            if left <= 0:
                return False
            self.left[key] = left - 1
            return True

    def put(self, key: str, count: int) -> None:
        with self.lock:
            if len(self.left) >= 10_000:  # old windows' keys: never read again
                self.left.clear()
            self.left[key] = count


_shares = _Shares()


class WindowThrottle(BaseThrottle):
    scope = ""

    def __init__(self) -> None:
        self.rate = parse_rate(settings.GARAGE_THROTTLE_RATES.get(self.scope))
        self._wait = 0.0

    def client(self, request: Request) -> str:
        user = request.user
        if user is not None and user.is_authenticated:
            return f"u{user.pk}"
        return f"a{self.get_ident(request)}"

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        limit, period = self.rate
        now = time.time()
        window = int(now // period)
        key = f"throttle:{self.scope}:{self.client(request)}:{window}"
        if _shares.take(key):
            return True
        share = max(1, int(limit * settings.GARAGE_THROTTLE_SHARE))
        try:
            count = _increment(key, period, share)
        except Exception as exc:  # the cache is down: let the request through
            log.warning("throttle %s: cache unavailable (%s); not limiting", self.scope, exc)
            return True
        granted = min(share, limit - (count - share))  # never beyond the limit
        if granted > 0:
            _shares.put(key, granted - 1)  # this request is one of them
            return True
        self._wait = (window + 1) * period - now
        return False

    def wait(self) -> float:
        # Retry-After is whole seconds: round up, so that a retry then is let in.
        return max(1, math.ceil(self._wait))


# The intake's fast path (intake/fast.py) throttles first and leaves its verdict on the
# request, (allowed, wait): the view it hands a request on to keeps it, counting nothing.
VERDICT = "_garage_intake_throttled"


class IntakeThrottle(WindowThrottle):
    """The repair-request intake: GARAGE_INTAKE_RATE per client."""

    scope = "intake"

    def allow_request(self, request: Request, view: Any) -> bool:
        verdict = getattr(request, VERDICT, None)
        if verdict is not None:
            allowed, self._wait = verdict
            return allowed
        return super().allow_request(request, view)


class ApiThrottle(WindowThrottle):
    """The REST API: GARAGE_API_RATE per client."""

    scope = "api"
