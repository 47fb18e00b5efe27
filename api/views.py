"""Thin viewsets: they read through selectors and write through metier.services."""

from __future__ import annotations

from django.db import connection
from django_filters import rest_framework as df
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import (
    action,
    api_view,
    authentication_classes,
    permission_classes,
    throttle_classes,
)
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from intake.serializers import DemandeSerializer
from metier import selectors, services
from metier.models import Reparation, Voiture, normalise_immatriculation

from . import serializers

ERRORS = {
    400: OpenApiResponse(description="invalid input: `{field: [reason]}`"),
    404: OpenApiResponse(description="not found: `{detail}`"),
    409: OpenApiResponse(description="not allowed in the current state: `{detail}`"),
}


def _user(request: Request):
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


class ServiceModelViewSet(viewsets.ModelViewSet):
    """A ModelViewSet whose writes call the domain's create/update/delete functions."""

    create_service = None
    update_service = None
    delete_service = None
    instance_kwarg = ""
    # The domain functions that record who did it (`par`) get the request's user.
    with_user = False

    def _who(self) -> dict:
        return {"par": _user(self.request)} if self.with_user else {}

    def filter_queryset(self, queryset):
        # One object by id: list filters do not apply, and building them costs more than
        # the query (django-filter makes a form per request).
        if self.action in ("retrieve", "update", "partial_update", "destroy"):
            return queryset
        return super().filter_queryset(queryset)

    def perform_create(self, serializer):
        serializer.instance = type(self).create_service(**serializer.validated_data, **self._who())

    def perform_update(self, serializer):
        serializer.instance = type(self).update_service(
            **{self.instance_kwarg: serializer.instance}, **serializer.validated_data, **self._who()
        )

    def perform_destroy(self, instance):
        type(self).delete_service(**{self.instance_kwarg: instance})


@extend_schema_view(
    create=extend_schema(responses={201: serializers.PieceSerializer, **ERRORS}),
    destroy=extend_schema(responses={204: None, 409: ERRORS[409]}),
)
class PieceViewSet(ServiceModelViewSet):
    queryset = selectors.pieces()
    serializer_class = serializers.PieceSerializer
    filterset_fields = {
        "nom": ["exact", "icontains"],
        "prix": ["exact", "gte", "lte"],
        "stock": ["exact", "gte", "lte"],
    }
    ordering_fields = ["id", "nom", "prix", "stock", "cree_le"]
    create_service = services.create_piece
    update_service = services.update_piece
    delete_service = services.delete_piece
    instance_kwarg = "piece"
    action_permissions = {
        "reception": "metier.receptionner_piece",
        "a_commander": "metier.view_piece",
    }

    @extend_schema(
        request=serializers.ReceptionSerializer,
        responses={200: serializers.PieceSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def reception(self, request: Request, pk: str | None = None) -> Response:
        """Parts delivered: adds them to the stock, then plans the repairs that waited."""
        body = serializers.ReceptionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        piece = services.receive_stock(
            piece=self.get_object(), quantite=body.validated_data["quantite"], par=_user(request)
        )
        return Response(self.get_serializer(piece).data)

    @extend_schema(responses={200: serializers.PieceSerializer(many=True)})
    @action(detail=False, methods=["get"], url_path="a-commander")
    def a_commander(self, request: Request) -> Response:
        """Parts at or below their reorder threshold (available = stock - reserved)."""
        page = self.paginate_queryset(self.filter_queryset(selectors.pieces_a_commander()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class ClientViewSet(ServiceModelViewSet):
    queryset = selectors.clients()
    serializer_class = serializers.ClientSerializer
    filterset_fields = {"nom": ["exact", "icontains"], "email": ["exact"]}
    search_fields = ["nom", "email", "telephone"]
    ordering_fields = ["id", "nom", "cree_le"]
    create_service = services.create_client
    update_service = services.update_client
    delete_service = services.delete_client
    instance_kwarg = "client"


class VoitureFilter(df.FilterSet):
    q = df.CharFilter(method="search", label="plate, VIN or client name")
    immatriculation = df.CharFilter(method="by_plate")

    class Meta:
        model = Voiture
        fields = {
            "marque": ["exact", "icontains"],
            "couleur": ["exact", "icontains"],
            "client": ["exact"],
            "vin": ["exact"],
        }

    def by_plate(self, queryset, name, value):
        return queryset.filter(immatriculation=normalise_immatriculation(value))

    def search(self, queryset, name, value):
        return selectors.search_voitures(queryset, value)


class VoitureViewSet(ServiceModelViewSet):
    queryset = selectors.voitures()
    serializer_class = serializers.VoitureSerializer
    filterset_class = VoitureFilter
    ordering_fields = ["id", "marque", "couleur", "annee", "kilometrage", "cree_le"]
    create_service = services.create_voiture
    update_service = services.update_voiture
    delete_service = services.delete_voiture
    instance_kwarg = "voiture"
    action_permissions = {"reparations": ("metier.view_voiture", "metier.view_reparation")}

    @extend_schema(responses={200: serializers.ReparationSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def reparations(self, request: Request, pk: str | None = None) -> Response:
        """The car's repair history, newest first."""
        voiture = self.get_object()
        page = self.paginate_queryset(selectors.historique_voiture(voiture))
        data = serializers.ReparationSerializer(page, many=True, context={"request": request}).data
        return self.get_paginated_response(data)


class ReparationFilter(df.FilterSet):
    class Meta:
        model = Reparation
        fields = {
            "piece": ["exact"],
            "duree": ["exact", "gte", "lte"],
            "statut": ["exact", "in"],
            "voiture": ["exact"],
            "voiture__client": ["exact"],
            "cree_le": ["gte", "lte"],
        }


def _transition_view(name: str):
    """The view of one lifecycle action, e.g. `POST /api/reparation/{id}/planifier/`."""

    def view(self, request: Request, pk: str | None = None) -> Response:
        reparation = services.transition(
            reparation=self.get_object(), action=name, par=_user(request)
        )
        return Response(self.get_serializer(selectors.reparations().get(pk=reparation.pk)).data)

    # DRF maps the HTTP method to the function's name: it must be the action's.
    view.__name__ = name
    view.__doc__ = f"Moves the repair: {name}."
    act = services.ACTIONS[name]
    view = action(detail=True, methods=["post"], url_path=name, url_name=name)(view)
    return extend_schema(
        request=None,
        responses={200: serializers.ReparationSerializer, 409: ERRORS[409]},
        description=f"`{name}`: from {', '.join(act.sources)} to {act.target}.",
    )(view)


class ReparationViewSet(ServiceModelViewSet):
    queryset = selectors.reparations()
    serializer_class = serializers.ReparationSerializer
    filterset_class = ReparationFilter
    ordering_fields = ["id", "duree", "cree_le", "total_ttc"]
    create_service = services.create_reparation
    update_service = services.update_reparation
    delete_service = services.delete_reparation
    instance_kwarg = "reparation"
    with_user = True

    # Each transition needs its own permission (access/roles.py says which role holds it).
    action_permissions = {
        **{name: action.permission for name, action in services.ACTIONS.items()},
        "historique": "metier.view_reparation",
    }

    planifier = _transition_view("planifier")
    demarrer = _transition_view("demarrer")
    terminer = _transition_view("terminer")
    facturer = _transition_view("facturer")
    annuler = _transition_view("annuler")

    def get_serializer(self, *args, **kwargs):
        # Re-read after a write so that lines, totals and status come back as they are now.
        if (
            args
            and isinstance(args[0], Reparation)
            and self.action in ("create", "update", "partial_update")
        ):
            args = (selectors.reparations().get(pk=args[0].pk), *args[1:])
        return super().get_serializer(*args, **kwargs)

    @extend_schema(responses={200: serializers.TransitionSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def historique(self, request: Request, pk: str | None = None) -> Response:
        """Every status change: from, to, when, by whom."""
        transitions = selectors.transitions(self.get_object())
        return Response(serializers.TransitionSerializer(transitions, many=True).data)


class LignePieceViewSet(ServiceModelViewSet):
    queryset = selectors.lignes_pieces()
    serializer_class = serializers.LignePieceSerializer
    filterset_fields = ["reparation", "piece"]
    ordering_fields = ["id"]
    create_service = services.add_ligne_piece
    update_service = services.update_ligne_piece
    delete_service = services.delete_ligne_piece
    instance_kwarg = "ligne"
    with_user = True


class LigneMainOeuvreViewSet(ServiceModelViewSet):
    queryset = selectors.lignes_main_oeuvre()
    serializer_class = serializers.LigneMainOeuvreSerializer
    filterset_fields = ["reparation"]
    ordering_fields = ["id"]
    create_service = services.add_ligne_main_oeuvre
    update_service = services.update_ligne_main_oeuvre
    delete_service = services.delete_ligne_main_oeuvre
    instance_kwarg = "ligne"
    with_user = True


class DemandeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Repair requests and their state: read-only, they are created by the intake."""

    queryset = selectors.demandes()
    serializer_class = DemandeSerializer
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
    return Response({"status": "ok"}, status=status.HTTP_200_OK)
