"""Read queries, in one place, so that the API and the admin list things the same way."""

from decimal import Decimal

from django.db.models import (
    DecimalField,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from .models import (
    Avoir,
    Client,
    Demande,
    Facture,
    LigneAvoir,
    LigneFacture,
    LigneMainOeuvre,
    LignePiece,
    Paiement,
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


# --- invoicing ---------------------------------------------------------------------------
def _somme(queryset: QuerySet, group: str, field: str) -> Coalesce:
    """SUM(field) of the correlated rows, 0 when there are none."""
    return Coalesce(
        Subquery(queryset.order_by().values(group).annotate(s=Sum(field)).values("s")[:1]),
        Value(Decimal("0.00")),
        output_field=DecimalField(max_digits=12, decimal_places=2),
    )


def factures() -> QuerySet[Facture]:
    """Invoices with what they received, what was credited and what is still due. Derived
    here, because the invoice row itself never changes once issued."""
    recu = Paiement.objects.filter(reparation=OuterRef("reparation_id"))
    credite = Avoir.objects.filter(facture=OuterRef("pk"))
    return (
        Facture.objects.annotate(
            montant_recu=_somme(recu, "reparation", "montant"),
            montant_avoirs=_somme(credite, "facture", "total_ttc"),
        )
        .annotate(reste_du=F("total_ttc") - F("montant_avoirs") - F("montant_recu"))
        .prefetch_related(Prefetch("lignes", queryset=LigneFacture.objects.order_by("position")))
    )


def factures_impayees() -> QuerySet[Facture]:
    """The receivables: invoices with something still due, oldest first."""
    return factures().filter(reste_du__gt=0).order_by("date", "id")


def avoirs() -> QuerySet[Avoir]:
    return Avoir.objects.select_related("facture").prefetch_related(
        Prefetch("lignes", queryset=LigneAvoir.objects.order_by("id"))
    )


def paiements() -> QuerySet[Paiement]:
    return Paiement.objects.select_related("facture")
