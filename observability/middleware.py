"""The HTTP edge: a request id for every request, and the intake's metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable
from time import perf_counter

from django.http import HttpRequest, HttpResponse

from . import metrics
from .context import REQUEST_ID_HEADER, accept_request_id, request_id
from .logs import ACCESS_LOGGER

access_log = logging.getLogger(ACCESS_LOGGER)

INTAKE_VIEWS = frozenset({"intake-get", "intake-post"})


class RequestIdMiddleware:
    """Takes the client's `X-Request-ID` if it is sensible, or makes one; every log line
    written while the request is handled carries it, the intake puts it on the message
    (AMQP correlation_id), and the response returns it. Writes the access log: one line
    per request, with its id (the server cannot know it)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = perf_counter()
        rid = accept_request_id(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = rid
        token = request_id.set(rid)
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = rid
            elapsed = perf_counter() - started
            match = request.resolver_match
            if getattr(request, "intake_view", False) or (
                match is not None and match.url_name in INTAKE_VIEWS
            ):
                metrics.intake_answered(response.status_code, elapsed)
            _log_access(request, response, elapsed, rid)
        finally:
            request_id.reset(token)
        return response


def _log_access(request: HttpRequest, response: HttpResponse, elapsed: float, rid: str) -> None:
    if not access_log.isEnabledFor(logging.INFO):
        return
    size = len(response.content) if not response.streaming else "-"
    path = request.get_full_path()
    ms = round(elapsed * 1000)
    access_log.info(
        '%s "%s %s %s" %s %s %sms',
        request.META.get("REMOTE_ADDR", "-"),
        request.method,
        path,
        request.META.get("SERVER_PROTOCOL", "HTTP/1.1"),
        response.status_code,
        size,
        ms,
        extra={
            "method": request.method,
            "path": path,
            "status": response.status_code,
            "bytes": size,
            "duration_ms": ms,
            "request_id": rid,
        },
    )
