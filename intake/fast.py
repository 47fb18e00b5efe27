"""The intake's fast path: the common, valid request answered without DRF's machinery.

Profiled under load (README "Performance"), an accepted request spent most of its CPU in
DRF's dispatch (request wrapping, content negotiation, authentication, permission and
throttle classes, serializer fields built per request, `Response` rendering) rather than
in what it must do. This middleware does that work directly for the one shape that
matters for throughput: an authenticated, permitted, well-formed `GET
/reparation/{piece}/{duree}/` or `POST /reparation/` with a JSON body of plain integers.

It is a fast path, not a second implementation: it uses the same token authentication
(and its cache), the same permission, the same throttle, the same domain function
(`accept_demande`), publisher and answer body. Anything else, every error included, goes
on to the DRF views (intake/views.py), which stay the reference: they give the errors
their JSON shapes. Before anything with a side effect, the fast path only reads; a request
it throttles or whose acceptance fails is handed on marked as already counted, so the
throttle never counts a request twice. tests/unit/test_intake_fast.py checks that both
paths answer alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import APIException

from access.authentication import TokenAuthentication
from access.throttling import VERDICT, IntakeThrottle
from metier import limits
from metier.services import accept_demande
from metier.services.common import Conflict, NotFound
from metier.services.demandes import texte_stockable
from pipeline.outbox import publish_on_commit

from . import writer
from .serializers import DemandeSerializer

GET_ROUTE = re.compile(r"\A/reparation/([1-9][0-9]{0,17})/([1-9][0-9]{0,3})/\Z")
POST_ROUTE = "/reparation/"
PERMISSION = "metier.add_demande"
IDEMPOTENCY_META = "HTTP_IDEMPOTENCY_KEY"
_BODY_KEYS = frozenset({"piece", "duree", "voiture", "description"})
_authentication = TokenAuthentication()


def _int_ok(value: Any, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


def _fields(request: HttpRequest) -> dict[str, Any] | None:
    """The request's fields if it is the plain shape the fast path takes, else None."""
    path = request.path_info
    if request.META.get("QUERY_STRING"):
        return None  # `?format=` and the like: DRF's to read
    if request.method == "GET":
        match = GET_ROUTE.match(path)
        if match is None:
            return None
        fields: dict[str, Any] = {"piece": int(match[1]), "duree": int(match[2])}
    elif request.method == "POST" and path == POST_ROUTE:
        if request.content_type != "application/json":
            return None
        try:
            body = json.loads(request.body)
        except (ValueError, RecursionError):
            return None
        if type(body) is not dict or not body.keys() <= _BODY_KEYS:
            return None
        fields = body
        if not (
            ("voiture" not in body or _int_ok(body["voiture"], limits.ID_MIN, limits.ID_MAX))
            and (
                "description" not in body
                or (
                    type(body["description"]) is str
                    and len(body["description"]) <= limits.DESCRIPTION_MAX
                    and texte_stockable(body["description"])  # else the view's 400
                )
            )
        ):
            return None
    else:
        return None
    if not (
        _int_ok(fields.get("piece"), limits.ID_MIN, limits.ID_MAX)
        and _int_ok(fields.get("duree"), limits.DUREE_MIN, limits.DUREE_MAX)
    ):
        return None
    accept = request.META.get("HTTP_ACCEPT", "*/*")
    if "application/json" not in accept and "*/*" not in accept:
        return None  # content negotiation: DRF's to decide
    return fields


def _key(request: HttpRequest) -> tuple[bool, str | None]:
    """(usable, the idempotency key): the same rule as the DRF view's."""
    key = request.META.get(IDEMPOTENCY_META)
    if key is None:
        return True, None
    return bool(key.strip()) and len(key) <= 255, key


def _user(request: HttpRequest) -> Any:
    """The token's user if the request is authenticated and permitted, else None."""
    try:
        found = _authentication.authenticate(request)
    except APIException:
        return None
    if found is None:
        return None
    user = found[0]
    if not (user.is_active and user.has_perm(PERMISSION)):
        return None
    return user


class FastIntakeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        fields = _fields(request)
        if fields is None:
            return self.get_response(request)
        usable, key = _key(request)
        user = _user(request) if usable else None
        if user is None:
            return self.get_response(request)
        request.get_host()  # DisallowedHost: a 400, as on every path
        request.user = user
        throttle = IntakeThrottle()
        allowed = throttle.allow_request(request, None)
        setattr(request, VERDICT, (allowed, throttle._wait))  # counted once, whatever follows
        if not allowed:
            return self.get_response(request)  # the view answers 429
        group = writer.writer() if key is None and fields.get("voiture") is None else None
        try:
            if group is not None:  # committed with the other requests of the moment
                row = {**fields, "demandeur": user, "id_requete": request.request_id}
                demande, created = group.record(row), True
                if demande is None:
                    raise NotFound("piece", "unknown part")
            else:
                demande, created = accept_demande(
                    cle_idempotence=key, demandeur=user, id_requete=request.request_id, **fields
                )
        except (ValidationError, NotFound, Conflict):
            return self.get_response(request)  # the view gives the error its shape
        if created:
            publish_on_commit(demande)
        request.intake_view = True  # for the intake's metrics (observability.middleware)
        body = DemandeSerializer(context={"request": request}).to_representation(demande)
        response = HttpResponse(
            json.dumps(body, ensure_ascii=False, separators=(",", ":")),
            status=202,
            content_type="application/json",
        )
        response["Location"] = body["url"]
        response["Allow"] = f"{request.method}, OPTIONS"
        response["X-Frame-Options"] = "DENY"
        return response
