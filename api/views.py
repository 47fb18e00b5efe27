"""Thin viewsets: they read through selectors and write through metier.services."""

from __future__ import annotations

import json

from django.db import connection
from django.http import HttpResponse
from django.urls import reverse
from django_filters import rest_framework as df
from drf_spectacular.types import OpenApiTypes
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
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from intake.serializers import DemandeSerializer
from metier import documents, selectors, services
from metier.models import (
    Consentement,
    Devis,
    Rappel,
    Reparation,
    Voiture,
    normalise_immatriculation,
)

from . import filters, serializers

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


VOIR_CLIENT = "metier.view_client"


class SansClientsCaches(filters.FilterSet):
    """Filters by client apply only for a user who may see clients: for the others they are
    ignored, so that their answers say nothing about who is a client."""

    client_filters: tuple[str, ...] = ()

    def _voit_les_clients(self) -> bool:
        user = getattr(self.request, "user", None)
        return user is not None and user.has_perm(VOIR_CLIENT)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self._voit_les_clients():
            # Gone before validation: an unknown client's id must not be a 400 either.
            for name in self.client_filters:
                self.filters.pop(name, None)


class VoitureFilter(SansClientsCaches):
    client_filters = ("client",)
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
        return selectors.search_voitures(queryset, value, clients=self._voit_les_clients())


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


class ReparationFilter(SansClientsCaches):
    client_filters = ("voiture__client",)

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
        if name == "facturer":
            # Invoicing an order is issuing its invoice (which makes the transition).
            reparation = services.emettre_facture(
                reparation=self.get_object(), par=_user(request)
            ).reparation
        else:
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
        "notifications": "metier.view_reparation",
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
        page = self.paginate_queryset(selectors.transitions(self.get_object()))
        data = serializers.TransitionSerializer(page, many=True).data
        return self.get_paginated_response(data)

    @extend_schema(responses={200: serializers.NotificationSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def notifications(self, request: Request, pk: str | None = None) -> Response:
        """What the customer was told about this repair: per event and channel, its status
        (sent, no consent, no address, failed and retried, abandoned)."""
        found = selectors.notifications_reparation(self.get_object())
        return Response(serializers.NotificationSerializer(found, many=True).data)


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


class PDFRenderer(BaseRenderer):
    """Lets a client ask for `Accept: application/pdf`; the views return the bytes."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return json.dumps(data).encode()  # an error's body


def _pdf(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


PDF_BINARY = OpenApiResponse(OpenApiTypes.BINARY, description="the PDF")


class DevisFilter(filters.FilterSet):
    statut = df.ChoiceFilter(
        field_name="statut_affiche", choices=Devis.Statut.choices, label="status as shown"
    )

    class Meta:
        model = Devis
        fields = {"reparation": ["exact"], "complementaire": ["exact"]}


class DevisViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Estimates: made from an order (`reparation`), sent as a link, answered by the customer
    on the page the link opens. Never changed once made: withdraw it and make another."""

    queryset = selectors.devis()
    serializer_class = serializers.DevisSerializer
    filterset_class = DevisFilter
    ordering_fields = ["id", "cree_le", "valide_jusqu_au"]
    action_permissions = {
        "envoyer": "metier.envoyer_devis",
        "annuler": "metier.annuler_devis",
        "pdf": "metier.view_devis",
    }

    def filter_queryset(self, queryset):
        if self.action in ("retrieve", "envoyer", "annuler", "pdf"):
            return queryset
        return super().filter_queryset(queryset)

    def _read(self, devis: Devis) -> Devis:
        return selectors.devis().get(pk=devis.pk)

    @extend_schema(
        request=serializers.DevisCreateSerializer,
        responses={201: serializers.DevisSerializer, **ERRORS},
        description=(
            "Before the work starts: an estimate of the order's lines (it replaces an open "
            "one). Once the work is in progress: a supplementary estimate of `lignes`."
        ),
    )
    def create(self, request: Request) -> Response:
        body = serializers.DevisCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        lignes = [services.LigneProposee(**line) for line in data.get("lignes", [])]
        devis = services.create_devis(
            reparation=data["reparation"],
            lignes=lignes or None,
            validite_jours=data.get("validite_jours"),
            par=_user(request),
        )
        return Response(self.get_serializer(self._read(devis)).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None, responses={200: serializers.DevisEnvoyeSerializer, 409: ERRORS[409]}
    )
    @action(detail=True, methods=["post"])
    def envoyer(self, request: Request, pk: str | None = None) -> Response:
        """Makes the customer's approval link (shown once; sending again revokes the last)."""
        devis, jeton = services.envoyer_devis(devis=self.get_object(), par=_user(request))
        devis = self._read(devis)
        devis.lien = request.build_absolute_uri(reverse("portail:devis", args=[jeton]))
        return Response(serializers.DevisEnvoyeSerializer(devis).data)

    @extend_schema(request=None, responses={200: serializers.DevisSerializer, 409: ERRORS[409]})
    @action(detail=True, methods=["post"])
    def annuler(self, request: Request, pk: str | None = None) -> Response:
        """Withdraws an estimate not yet answered: its link stops working."""
        devis = services.annuler_devis(devis=self.get_object(), par=_user(request))
        return Response(self.get_serializer(self._read(devis)).data)

    @extend_schema(responses={(200, "application/pdf"): PDF_BINARY, 404: ERRORS[404]})
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, PDFRenderer])
    def pdf(self, request: Request, pk: str | None = None) -> HttpResponse:
        """The estimate as PDF (with the customer's answer once given)."""
        devis = self.get_object()
        return _pdf(documents.devis_pdf(devis), f"{devis.numero}.pdf")


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


# --- invoicing ---------------------------------------------------------------------------
PDF = {
    (200, "application/pdf"): PDF_BINARY,
    404: ERRORS[404],
}


@extend_schema_view(
    create=extend_schema(
        request=serializers.FactureEmissionSerializer,
        responses={201: serializers.FactureSerializer, **ERRORS},
        description="Issues the invoice of a finished (`terminee`) repair order: the number "
        "is taken, the order moves to `facturee`. 409 if the order is not finished or "
        "already invoiced.",
    ),
)
class FactureViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Invoices: issued, never changed (no PUT, PATCH or DELETE; a credit note corrects)."""

    queryset = selectors.factures()
    serializer_class = serializers.FactureSerializer
    filterset_fields = {
        "reparation": ["exact"],
        "client": ["exact"],
        "numero": ["exact"],
        "date": ["exact", "gte", "lte"],
        "professionnel": ["exact"],
    }
    ordering_fields = ["id", "date", "total_ttc"]
    action_permissions = {
        "pdf": "metier.view_facture",
        "facturx": "metier.view_facture",
        "impayees": "metier.view_facture",
    }

    def create(self, request: Request, *args, **kwargs) -> Response:
        body = serializers.FactureEmissionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        facture = services.emettre_facture(**body.validated_data, par=_user(request))
        data = self.get_serializer(selectors.factures().get(pk=facture.pk)).data
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=PDF)
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, PDFRenderer])
    def pdf(self, request: Request, pk: str | None = None) -> HttpResponse:
        """The invoice as PDF."""
        facture = self.get_object()
        return _pdf(documents.facture_pdf(facture), f"{facture.numero}.pdf")

    @extend_schema(responses=PDF)
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, PDFRenderer])
    def facturx(self, request: Request, pk: str | None = None) -> HttpResponse:
        """The invoice as Factur-X: PDF/A-3 with its CII XML (EN 16931) embedded."""
        facture = self.get_object()
        return _pdf(documents.facture_facturx(facture), f"{facture.numero}-facturx.pdf")

    @extend_schema(responses={200: serializers.FactureSerializer(many=True)})
    @action(detail=False, methods=["get"])
    def impayees(self, request: Request) -> Response:
        """Receivables: invoices with something still due, oldest first (`age_jours`,
        `en_retard`)."""
        queryset = self.filter_queryset(selectors.factures_impayees())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


@extend_schema_view(
    create=extend_schema(
        request=serializers.AvoirEmissionSerializer,
        responses={201: serializers.AvoirSerializer, **ERRORS},
        description="A credit note against an invoice: everything not yet credited when "
        "`lignes` is omitted, else the given quantities of the given invoice lines.",
    ),
)
class AvoirViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Credit notes: the only way to correct an invoice; never changed once issued."""

    queryset = selectors.avoirs()
    serializer_class = serializers.AvoirSerializer
    filterset_fields = ["facture"]
    ordering_fields = ["id", "date"]
    action_permissions = {"pdf": "metier.view_avoir", "a_rembourser": "metier.view_avoir"}

    def create(self, request: Request, *args, **kwargs) -> Response:
        body = serializers.AvoirEmissionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        if "lignes" in data:
            data["lignes"] = [dict(item) for item in data["lignes"]]
        avoir = services.emettre_avoir(**data, par=_user(request))
        return Response(
            self.get_serializer(selectors.avoirs().get(pk=avoir.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(responses=PDF)
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, PDFRenderer])
    def pdf(self, request: Request, pk: str | None = None) -> HttpResponse:
        """The credit note as PDF."""
        avoir = self.get_object()
        return _pdf(documents.avoir_pdf(avoir), f"{avoir.numero}.pdf")

    @extend_schema(responses={200: serializers.AvoirSerializer(many=True)})
    @action(detail=False, methods=["get"], url_path="a-rembourser")
    def a_rembourser(self, request: Request) -> Response:
        """The refunds to make: credit notes on which money is owed back to the customer,
        oldest first (`a_rembourser` on each)."""
        page = self.paginate_queryset(self.filter_queryset(selectors.avoirs_a_rembourser()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


@extend_schema_view(
    create=extend_schema(
        responses={201: serializers.PaiementSerializer, **ERRORS},
        description="Money received: for an invoice (`facture`), or a deposit on a repair "
        "order before its invoice (`reparation`). An overpayment is a 400 on `montant`.",
    ),
)
class PaiementViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Payments: recorded once, never changed (the journal chains them)."""

    queryset = selectors.paiements()
    serializer_class = serializers.PaiementSerializer
    filterset_fields = ["facture", "reparation", "mode", "acompte"]
    ordering_fields = ["id", "recu_le", "montant"]

    def perform_create(self, serializer):
        serializer.instance = services.enregistrer_paiement(
            **serializer.validated_data, par=_user(self.request)
        )


@extend_schema_view(
    create=extend_schema(
        responses={201: serializers.RemboursementSerializer, **ERRORS},
        description="Pays back on a credit note (`avoir`) what it cancelled of an invoice "
        "already paid: at most what is left to refund on it (`a_rembourser` on the credit "
        "note), else a 400 on `montant`; 409 when nothing is owed back on it.",
    ),
)
class RemboursementViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Refunds: recorded once, never changed (the journal chains them, as payments)."""

    queryset = selectors.remboursements()
    serializer_class = serializers.RemboursementSerializer
    filterset_fields = ["avoir", "facture", "reparation", "mode"]
    ordering_fields = ["id", "rembourse_le", "montant"]

    def perform_create(self, serializer):
        serializer.instance = services.enregistrer_remboursement(
            **serializer.validated_data, par=_user(self.request)
        )


# --- consent and reminders (issue 12) ---------------------------------------------------------
@extend_schema_view(
    create=extend_schema(
        responses={201: serializers.ConsentementSerializer, **ERRORS},
        description="Records a customer's answer for a channel (`email`, `sms`): opt-in "
        "(`accorde` true) or withdrawal, with its source; it replaces their last answer. "
        "No consent, no message.",
    ),
)
class ConsentementViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Consentement.objects.order_by("id")
    serializer_class = serializers.ConsentementSerializer
    filterset_fields = ["client", "canal", "accorde"]
    ordering_fields = ["id", "le"]

    def perform_create(self, serializer):
        serializer.instance = services.enregistrer_consentement(**serializer.validated_data)


@extend_schema_view(
    create=extend_schema(responses={201: serializers.RappelSerializer, **ERRORS}),
)
class RappelViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """A car's maintenance reminders: due by date or mileage, whichever comes first; the
    `rappels` command signals each once (`rappel.du`); a finished repair of that `nature`
    resets it."""

    queryset = Rappel.objects.select_related("voiture").order_by("id")
    serializer_class = serializers.RappelSerializer
    filterset_fields = ["voiture", "nature"]
    ordering_fields = ["id", "derniere_date"]

    def perform_create(self, serializer):
        serializer.instance = services.create_rappel(**serializer.validated_data)

    def perform_destroy(self, instance):
        services.delete_rappel(rappel=instance)
