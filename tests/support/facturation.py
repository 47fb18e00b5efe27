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


def _trigger_migrations() -> list:
    import importlib

    return [
        importlib.import_module(f"metier.migrations.{name}")
        for name in ("0007_documents_immuables", "0011_i11_acomptes_remboursements")
    ]


def drop_triggers(cursor) -> None:
    """Drops the immutability triggers (the newest first: they use 0007's function), as only
    the schema's owner can: for tampering tests and for emptying the tables."""
    from django.db import connection

    for migration in reversed(_trigger_migrations()):
        for sql in migration.sql_drop(connection.vendor):
            cursor.execute(sql)


def create_triggers(cursor) -> None:
    from django.db import connection

    for migration in _trigger_migrations():
        for sql in migration.sql_create(connection.vendor):
            cursor.execute(sql)


def purge_documents() -> None:
    """Empties the append-only tables after a test that committed (transaction=True).

    The database refuses DELETE on them (migration 0007), and TRUNCATE while they hold rows
    (0010): the triggers are dropped, the rows deleted and the triggers made again, as only
    the schema's owner can.
    """
    from django.db import connection

    from metier.models_facturation import TABLES_IMMUABLES

    with connection.cursor() as cursor:
        drop_triggers(cursor)
        # Children first: refunds name credit notes and invoices, journal entries nothing.
        for table in ("metier_remboursement", *reversed(TABLES_IMMUABLES)):
            cursor.execute(f"DELETE FROM {table}")
        create_triggers(cursor)


def devis_repondu(*, decisions: tuple[str, str] = ("acceptee", "acceptee"), piec: str = "reemploi"):
    """An estimate answered by the customer, for a customer's car: pads (50 €, reused 30 €) and
    2 h of labour (120 €), the `decisions` for them, and the PIEC choice for the pads."""
    from metier.models import Piece
    from metier.services import Reponse

    owner = services.create_client(nom="Mme Martin", email="martin@example.fr")
    voiture = services.create_voiture(
        marque="Peugeot",
        couleur="gris",
        client=owner,
        immatriculation=f"GH-{Reparation.objects.count() + 100:03d}-JK",
        kilometrage=61000,
    )
    pads = services.create_piece(nom="Plaquettes AV", prix="50.00", stock=5)
    Piece.objects.filter(pk=pads.pk).update(prix_reemploi=Decimal("30.00"))
    repair = services.create_reparation(piece=pads, duree=2, voiture=voiture)
    devis = services.create_devis(reparation=repair)
    pad, labour = devis.lignes.order_by("id")
    _, jeton = services.envoyer_devis(devis=devis)
    return services.repondre_devis(
        jeton=jeton,
        reponse=Reponse(
            decisions={str(pad.pk): decisions[0], str(labour.pk): decisions[1]},
            choix_piec={str(pad.pk): piec} if decisions[0] == "acceptee" else {},
            signature="Claire Martin",
        ),
        document="<p>le devis</p>",
        adresse_ip="203.0.113.7",
        user_agent="Mozilla/5.0",
    )


def terminer(reparation: Reparation) -> Reparation:
    for action in ("planifier", "demarrer", "terminer"):
        services.transition(reparation=reparation, action=action)
    reparation.refresh_from_db()
    return reparation
