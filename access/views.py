"""Who am I, and revoking the token in use."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from .authentication import TokenAuthentication
from .permissions import requires


@extend_schema(
    responses=inline_serializer(
        "Me",
        {
            "username": serializers.CharField(),
            "roles": serializers.ListField(child=serializers.CharField()),
            "permissions": serializers.ListField(child=serializers.CharField()),
            "superuser": serializers.BooleanField(),
        },
    )
)
@api_view(["GET"])
@permission_classes([requires()])
def me(request: Request) -> Response:
    """The authenticated user, their roles, and every permission they hold."""
    user = request.user
    return Response(
        {
            "username": user.get_username(),
            "roles": sorted(user.groups.values_list("name", flat=True)),
            "permissions": sorted(user.get_all_permissions()),
            "superuser": user.is_superuser,
        }
    )


@extend_schema(request=None, responses={204: None})
@api_view(["DELETE"])
@authentication_classes([TokenAuthentication])
@permission_classes([requires()])
def token(request: Request) -> Response:
    """Revokes the token this request was sent with (log out a program)."""
    if request.auth is None:
        raise ValidationError({"Authorization": ["only a token can be revoked"]})
    request.auth.delete()
    return Response(status=status.HTTP_204_NO_CONTENT)
