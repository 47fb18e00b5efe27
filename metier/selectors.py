"""Read queries, in one place, so that the API and the admin list things the same way."""

from datetime import datetime

from django.db.models import F, Prefetch, Q, QuerySet
from django.utils import timezone

from .models import (
    Client,
    Demande,
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


def retard_publication(now: datetime | None = None) -> float:
    """The outbox's lag: seconds since the oldest request still unpublished (`acceptee`)
    was accepted; 0 when there is none. One indexed query (`demande_a_publier`)."""
    oldest = (
        Demande.objects.filter(statut=Demande.Statut.ACCEPTEE)
        .order_by("cree_le")
        .values_list("cree_le", flat=True)
        .first()
    )
    if oldest is None:
        return 0.0
    return max(0.0, ((now or timezone.now()) - oldest).total_seconds())
