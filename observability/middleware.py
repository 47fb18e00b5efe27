"""The HTTP edge: a request id for every request, and the intake's metrics."""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter

from django.http import HttpRequest, HttpResponse

from . import metrics
from .context import REQUEST_ID_HEADER, accept_request_id, request_id

INTAKE_VIEWS = frozenset({"intake-get", "intake-post"})


class RequestIdMiddleware:
    """Takes the client's `X-Request-ID` if it is sensible, or makes one; every log line
    written while the request is handled carries it, the intake puts it on the message
    (AMQP correlation_id), and the response returns it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = perf_counter()
        rid = accept_request_id(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = rid
        token = request_id.set(rid)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response[REQUEST_ID_HEADER] = rid
        match = request.resolver_match
        if match is not None and match.url_name in INTAKE_VIEWS:
            metrics.intake_answered(response.status_code, perf_counter() - started)
        return response
