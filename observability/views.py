"""Health checks (public) and the Prometheus endpoint (token)."""

from __future__ import annotations

import hmac
from time import perf_counter

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from metier import selectors

from . import collectors


def _ms(started: float) -> float:
    return round((perf_counter() - started) * 1000, 2)


@never_cache
@require_GET
def live(request: HttpRequest) -> JsonResponse:
    """The process answers: nothing else is checked (a restart would not help otherwise)."""
    return JsonResponse({"status": "ok"})


def _database() -> dict:
    started = perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        ok = True
    except Exception:
        ok = False
    return {"ok": ok, "ms": _ms(started)}


def _broker() -> dict:
    started = perf_counter()
    ok, age = collectors.broker_up.get()
    # `age_s`: how old the answer is (the probe is cached, so probes stay cheap).
    return {"ok": bool(ok), "ms": _ms(started), "age_s": round(age, 1)}


def _outbox() -> dict:
    started = perf_counter()
    try:
        lag = selectors.retard_publication()
    except Exception:
        return {"ok": False, "ms": _ms(started)}
    limit = settings.GARAGE_READY_MAX_OUTBOX_LAG
    return {"ok": lag <= limit, "ms": _ms(started), "lag_s": round(lag, 1), "max_lag_s": limit}


@never_cache
@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    """Ready to take traffic: the database and the broker answer, and the outbox keeps up.
    503 otherwise. Results and timings only: no host, URL, version or error text."""
    checks = {"database": _database(), "broker": _broker()}
    checks["outbox"] = _outbox() if checks["database"]["ok"] else {"ok": False, "ms": 0.0}
    ok = all(c["ok"] for c in checks.values())
    return JsonResponse(
        {"status": "ok" if ok else "fail", "checks": checks}, status=200 if ok else 503
    )


def _authorised(request: HttpRequest) -> bool:
    token = settings.GARAGE_METRICS_TOKEN
    scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return (
        bool(token)
        and scheme.lower() == "bearer"
        and hmac.compare_digest(given.strip().encode(), token.encode())
    )


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format: every process's counters (multiprocess files) and the
    figures computed now. `Authorization: Bearer <GARAGE_METRICS_TOKEN>`."""
    if not settings.GARAGE_METRICS_TOKEN:
        return JsonResponse({"detail": "metrics are off: set GARAGE_METRICS_TOKEN"}, status=404)
    if not _authorised(request):
        response = JsonResponse({"detail": "a valid metrics token is required"}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        CollectorRegistry,
        generate_latest,
        multiprocess,
    )

    from . import multiproc

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, str(multiproc.directory()))
    registry.register(collectors.ScrapeCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
