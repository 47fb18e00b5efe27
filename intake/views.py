"""The intake: accept a repair request, commit it, answer 202. Publishing happens after the
commit, off the request thread (see pipeline/outbox.py), so RabbitMQ never holds up an answer."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import (
    api_view,
    authentication_classes,
    permission_classes,
    throttle_classes,
)
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from access.authentication import TokenAuthentication
from access.permissions import requires
from access.throttling import IntakeThrottle
from metier import limits
from metier.services import accept_demande
from pipeline.outbox import publish_on_commit

from .serializers import DemandeSerializer, IntakeSerializer

IDEMPOTENCY_HEADER = "Idempotency-Key"
# Token only, never the session: the GET intake changes state, and a browser's cookie must
# not let another site request repairs in a logged-in user's name.
AUTHENTICATION = [TokenAuthentication]
PERMISSIONS = [requires("metier.add_demande")]  # the right to request repairs
THROTTLES = [IntakeThrottle]
IDEMPOTENCY_PARAM = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S"},
    OpenApiParameter.HEADER,
    description="Same key, same request: it is accepted once and the same answer is returned.",
)


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not key.strip() or len(key) > 255:
        raise ValidationError({IDEMPOTENCY_HEADER: ["must be 1 to 255 characters"]})
    return key


def _accept(request: Request, piece: int, duree: int, **extra: object) -> Response:
    key = _idempotency_key(request)
    demande, created = accept_demande(
        piece=piece,
        duree=duree,
        cle_idempotence=key,
        demandeur=request.user,
        id_requete=getattr(request, "request_id", ""),
        **extra,
    )
    if created:
        publish_on_commit(demande)  # committed already: handed to the publisher at once
    body = DemandeSerializer(demande, context={"request": request}).data
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


def _path_int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValidationError({name: ["must be a whole number"]}) from None


GET_PARAMS = [
    IDEMPOTENCY_PARAM,
    OpenApiParameter("piece", {"type": "integer", "minimum": limits.ID_MIN}, OpenApiParameter.PATH),
    OpenApiParameter(
        "duree",
        {"type": "integer", "minimum": limits.DUREE_MIN, "maximum": limits.DUREE_MAX},
        OpenApiParameter.PATH,
        description="hours",
    ),
]


@extend_schema(parameters=GET_PARAMS, responses={202: DemandeSerializer})
@api_view(["GET"])
@authentication_classes(AUTHENTICATION)
@permission_classes(PERMISSIONS)
@throttle_classes(THROTTLES)
def demande_get(request: Request, piece: str, duree: str) -> Response:
    """The seed's intake: `GET /reparation/{piece}/{duree}/`."""
    return _accept(request, _path_int("piece", piece), _path_int("duree", duree))


@extend_schema(
    parameters=[IDEMPOTENCY_PARAM], request=IntakeSerializer, responses={202: DemandeSerializer}
)
@api_view(["POST"])
@authentication_classes(AUTHENTICATION)
@permission_classes(PERMISSIONS)
@throttle_classes(THROTTLES)
def demande_post(request: Request) -> Response:
    """`POST /reparation/` with `{"piece": 1, "duree": 5}`."""
    serializer = IntakeSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return _accept(request, **serializer.validated_data)
