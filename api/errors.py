"""Every error is JSON: DRF's shape (`{"field": ["reason"]}` or `{"detail": "..."}`) everywhere,
including domain errors, Django's own 400/404/500 pages, and bodies that are too large."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import OperationalError
from django.http import HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from metier.services import Conflict, NotFound


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        )
    elif isinstance(exc, NotFound):
        return Response({exc.field: [exc.message]}, status=status.HTTP_404_NOT_FOUND)
    elif isinstance(exc, Conflict):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    elif isinstance(exc, OperationalError):
        # A deadlock victim, a lock or statement timeout, the database briefly away: the
        # request did nothing (its transaction rolled back) and may simply be sent again.
        response = Response(
            {"detail": "the database is busy or unavailable: retry shortly"}, status=503
        )
        response["Retry-After"] = "1"
        return response
    elif isinstance(exc, RequestDataTooBig):
        return Response({"detail": "request body too large"}, status=413)
    elif isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, list):
        # A bare list is no documented shape: reasons that name no field are DRF's own
        # `non_field_errors`, as a serializer's are.
        exc = exceptions.ValidationError({"non_field_errors": exc.detail})
    return drf_exception_handler(exc, context)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse({"detail": "request body too large"}, status=413)
    return JsonResponse({"detail": "bad request"}, status=400)


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"detail": f"no such resource: {request.path}"}, status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"detail": "internal error"}, status=500)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"detail": "permission denied"}, status=403)
