"""Read queries, in one place, so that the API and the admin list things the same way."""

from django.db.models import QuerySet

from .models import Demande, Piece, Reparation, Voiture


def pieces() -> QuerySet[Piece]:
    return Piece.objects.all()


def voitures() -> QuerySet[Voiture]:
    return Voiture.objects.all()


def reparations() -> QuerySet[Reparation]:
    # The request link is shown on each repair: fetch it in the same query.
    return Reparation.objects.select_related("demande")


def demandes() -> QuerySet[Demande]:
    return Demande.objects.all()
