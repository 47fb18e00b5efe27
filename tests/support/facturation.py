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


def purge_documents() -> None:
    """Empties the append-only tables after a test that committed (transaction=True).

    The database refuses DELETE on them (migration 0007), and Django's flush on SQLite is
    DELETE (PostgreSQL's TRUNCATE fires no row trigger): the triggers are dropped, the rows
    deleted and the triggers made again, as only the schema's owner can.
    """
    import importlib

    from django.db import connection

    from metier.models_facturation import TABLES_IMMUABLES

    migration = importlib.import_module("metier.migrations.0007_documents_immuables")
    with connection.cursor() as cursor:
        for sql in migration.sql_drop(connection.vendor):
            cursor.execute(sql)
        for table in reversed(TABLES_IMMUABLES):
            cursor.execute(f"DELETE FROM {table}")
        for sql in migration.sql_create(connection.vendor):
            cursor.execute(sql)
