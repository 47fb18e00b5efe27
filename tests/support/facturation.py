"""Finished repair orders and issued invoices for the invoicing tests."""

from __future__ import annotations

from decimal import Decimal

from metier import services
from metier.models import Facture, Reparation


def repair_terminee(*, prix: str = "50.00", duree: int = 2, client: bool = True) -> Reparation:
    """A finished order (part 1 x prix, `duree` h of labour), for a customer's car."""
    piece = services.create_piece(nom="Plaquettes AV", prix=Decimal(prix), stock=5)
    voiture = None
    if client:
        owner = services.create_client(nom="Mme Martin", email="martin@example.fr")
        voiture = services.create_voiture(
            marque="Peugeot",
            couleur="gris",
            modele="208",
            client=owner,
            immatriculation=f"AB-{Reparation.objects.count() + 100:03d}-CD",
            kilometrage=42000,
        )
    repair = services.create_reparation(piece=piece, duree=duree, voiture=voiture)
    for action in ("planifier", "demarrer", "terminer"):
        services.transition(reparation=repair, action=action)
    repair.refresh_from_db()
    return repair


def facture(**kwargs) -> Facture:
    return services.emettre_facture(reparation=repair_terminee(), **kwargs)
