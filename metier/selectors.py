"""Read queries, in one place, so that the API and the admin list things the same way."""

from typing import Any

from django.db.models import Case, CharField, F, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone

from .models import (
    Approbation,
    Client,
    Demande,
    Devis,
    DevisLigne,
    LigneMainOeuvre,
    LignePiece,
    Piece,
    Reparation,
    Transition,
    Voiture,
    normalise_immatriculation,
)


def pieces() -> QuerySet[Piece]:
    return Piece.objects.all()


def pieces_a_commander() -> QuerySet[Piece]:
    """Parts whose available quantity is at or below their reorder threshold."""
    return Piece.objects.filter(stock__lte=F("seuil") + F("reserve"))


def clients() -> QuerySet[Client]:
    return Client.objects.all()


def voitures() -> QuerySet[Voiture]:
    return Voiture.objects.select_related("client")


def search_voitures(queryset: QuerySet[Voiture], text: str) -> QuerySet[Voiture]:
    """By plate (however it is written), VIN, or the client's name."""
    text = text.strip()
    plate = normalise_immatriculation(text)
    condition = Q(client__nom__icontains=text) | Q(vin__icontains=text.upper())
    if plate:
        condition |= Q(immatriculation__icontains=plate)
    return queryset.filter(condition)


def reparations() -> QuerySet[Reparation]:
    # Lines are shown with each repair: fetched per page, not per row.
    return Reparation.objects.prefetch_related(
        Prefetch("lignes_pieces", queryset=LignePiece.objects.order_by("id")),
        Prefetch("lignes_main_oeuvre", queryset=LigneMainOeuvre.objects.order_by("id")),
    )


def historique_voiture(voiture: Voiture) -> QuerySet[Reparation]:
    return reparations().filter(voiture=voiture).order_by("-id")


def transitions(reparation: Reparation) -> QuerySet[Transition]:
    return Transition.objects.filter(reparation=reparation).select_related("par")


def lignes_pieces() -> QuerySet[LignePiece]:
    return LignePiece.objects.all()


def lignes_main_oeuvre() -> QuerySet[LigneMainOeuvre]:
    return LigneMainOeuvre.objects.all()


def demandes() -> QuerySet[Demande]:
    return Demande.objects.select_related("reparation")


# --- estimates (Devis) -------------------------------------------------------------------
def devis() -> QuerySet[Devis]:
    """Estimates with `statut_affiche`: `expire` for an open one past its validity date (the
    stored status stays; nothing has to run at midnight), else the stored status."""
    today = timezone.localdate()
    return (
        Devis.objects.select_related("reparation")
        .prefetch_related(Prefetch("lignes", queryset=DevisLigne.objects.order_by("id")))
        .annotate(
            statut_affiche=Case(
                When(
                    statut__in=Devis.OUVERTS,
                    valide_jusqu_au__lt=today,
                    then=Value(Devis.Statut.EXPIRE),
                ),
                default=F("statut"),
                output_field=CharField(),
            )
        )
    )


def lignes_devis(devis: Devis) -> QuerySet[DevisLigne]:
    return DevisLigne.objects.filter(devis=devis).select_related("piece").order_by("id")


def devis_approuves(reparation: Reparation) -> QuerySet[Devis]:
    """The order's estimates the customer approved, wholly or in part (deposits, invoices)."""
    return Devis.objects.filter(reparation=reparation, statut__in=Devis.APPROUVES)


def travaux_refuses(reparation: Reparation) -> tuple[QuerySet[LignePiece], QuerySet[Any]]:
    """The declined work kept on the order: its part lines and labour lines (for invoices)."""
    return (
        reparation.lignes_pieces.filter(approbation=Approbation.REFUSEE).order_by("id"),
        reparation.lignes_main_oeuvre.filter(approbation=Approbation.REFUSEE).order_by("id"),
    )
