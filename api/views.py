"""Thin viewsets: they read through querysets (selectors) and write through metier.services."""

from __future__ import annotations

from django.db import connection
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import (
    api_view,
    authentication_classes,
    permission_classes,
    throttle_classes,
)
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from metier import selectors, services

from . import serializers


class ServiceModelViewSet(viewsets.ModelViewSet):
    """A ModelViewSet whose writes call the domain's create/update/delete functions."""

    create_service = None
    update_service = None
    delete_service = None
    instance_kwarg = ""

    def perform_create(self, serializer):
        serializer.instance = type(self).create_service(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = type(self).update_service(
            **{self.instance_kwarg: serializer.instance}, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        type(self).delete_service(**{self.instance_kwarg: instance})


class PieceViewSet(ServiceModelViewSet):
    queryset = selectors.pieces()
    serializer_class = serializers.PieceSerializer
    filterset_fields = {"nom": ["exact", "icontains"], "prix": ["exact", "gte", "lte"]}
    ordering_fields = ["id", "nom", "prix", "cree_le"]
    create_service = services.create_piece
    update_service = services.update_piece
    delete_service = services.delete_piece
    instance_kwarg = "piece"


class VoitureViewSet(ServiceModelViewSet):
    queryset = selectors.voitures()
    serializer_class = serializers.VoitureSerializer
    filterset_fields = {"marque": ["exact", "icontains"], "couleur": ["exact", "icontains"]}
    ordering_fields = ["id", "marque", "couleur", "cree_le"]
    create_service = services.create_voiture
    update_service = services.update_voiture
    delete_service = services.delete_voiture
    instance_kwarg = "voiture"


class ReparationViewSet(ServiceModelViewSet):
    queryset = selectors.reparations()
    serializer_class = serializers.ReparationSerializer
    filterset_fields = {"piece": ["exact"], "duree": ["exact", "gte", "lte"]}
    ordering_fields = ["id", "duree", "cree_le"]
    create_service = services.create_reparation
    update_service = services.update_reparation
    delete_service = services.delete_reparation
    instance_kwarg = "reparation"


class DemandeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Repair requests and their state: read-only, they are created by the intake."""

    queryset = selectors.demandes()
    serializer_class = serializers.DemandeSerializer
    filterset_fields = ["statut", "piece"]
    ordering_fields = ["cree_le", "traitee_le"]
    ordering = ["cree_le"]


@extend_schema(responses={200: dict}, auth=[])
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])  # public: load balancers probe it
@throttle_classes([])
def health(request: Request) -> Response:
    """Liveness and database reachability, for load balancers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return Response({"status": "ok"})
