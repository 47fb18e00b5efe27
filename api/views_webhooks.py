"""Webhook subscriptions (`/api/webhook/`) and their delivery log (`/api/webhook-livraison/`).

Administrators only: the permissions are the models' (metier.*), which only the
`administrateur` role holds (access/roles.py)."""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from metier.models import AbonnementWebhook, LivraisonWebhook, TentativeWebhook
from metier.services import webhooks as service

from . import serializers_webhooks as s
from .views import ERRORS, ServiceModelViewSet


@extend_schema_view(
    create=extend_schema(
        responses={201: s.AbonnementWebhookCreeSerializer, **ERRORS},
        description="Subscribes a URL to event types. The answer holds the signing "
        "`secret`, shown this once. A URL resolving to a loopback, private or link-local "
        "address is a 400 on `url`.",
    ),
)
class AbonnementWebhookViewSet(ServiceModelViewSet):
    """Webhook subscriptions: a URL, the event types it wants, its state."""

    queryset = AbonnementWebhook.objects.order_by("id")
    serializer_class = s.AbonnementWebhookSerializer
    filterset_fields = ["statut"]
    ordering_fields = ["id", "cree_le"]
    update_service = service.update_abonnement
    delete_service = service.delete_abonnement
    instance_kwarg = "abonnement"
    action_permissions = {
        "pause": "metier.change_abonnementwebhook",
        "reprendre": "metier.change_abonnementwebhook",
    }

    def create(self, request: Request, *args, **kwargs) -> Response:
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        abonnement = service.create_abonnement(**body.validated_data)
        return Response(
            s.AbonnementWebhookCreeSerializer(
                abonnement, context=self.get_serializer_context()
            ).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=None, responses={200: s.AbonnementWebhookSerializer})
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        """Stops the deliveries; events are still recorded for it, and sent on `reprendre`."""
        abonnement = service.mettre_en_pause(
            abonnement=self.get_object(), motif=f"paused by {request.user.get_username()}"
        )
        return Response(self.get_serializer(abonnement).data)

    @extend_schema(request=None, responses={200: s.AbonnementWebhookSerializer})
    @action(detail=True, methods=["post"])
    def reprendre(self, request: Request, pk: str | None = None) -> Response:
        """Active again: pending deliveries are sent now, in order per subject."""
        abonnement = service.reprendre(abonnement=self.get_object())
        return Response(self.get_serializer(abonnement).data)


class LivraisonWebhookViewSet(viewsets.ReadOnlyModelViewSet):
    """The delivery log: each event sent to each subscription, its attempts, the next try."""

    queryset = (
        LivraisonWebhook.objects.select_related("evenement")
        .prefetch_related(
            Prefetch("essais", queryset=TentativeWebhook.objects.order_by("le", "id"))
        )
        .order_by("-id")
    )
    serializer_class = s.LivraisonWebhookSerializer
    filterset_fields = {
        "abonnement": ["exact"],
        "statut": ["exact"],
        "sujet": ["exact"],
        "evenement": ["exact"],
        "cree_le": ["gte", "lte"],
    }
    ordering_fields = ["id", "cree_le", "prochain_essai", "sequence"]
