"""Domain events written to the outbox in the same transaction as each change (issue 12)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from metier import evenements, services
from metier.models import Evenement, Reparation
from pipeline.demandes import RepairRequest, process_demandes
from tests.support.facturation import repair_terminee

pytestmark = pytest.mark.django_db


def _types(sujet: str) -> list[tuple[int, str]]:
    return list(
        Evenement.objects.filter(sujet=sujet).order_by("sequence").values_list("sequence", "type")
    )


def test_a_repair_life_writes_its_status_events_in_sequence():
    client = services.create_client(nom="Mme Martin", email="m@example.fr")
    voiture = services.create_voiture(marque="Peugeot", couleur="gris", client=client)
    piece = services.create_piece(nom="Filtre", prix=Decimal("12.00"), stock=3)
    rep = services.create_reparation(piece=piece, duree=1, voiture=voiture)
    for action in ("planifier", "demarrer", "terminer"):
        services.transition(reparation=rep, action=action)
    services.emettre_facture(reparation=rep)
    assert _types(f"reparation/{rep.pk}") == [
        (1, "reparation.demandee"),
        (2, "reparation.planifiee"),
        (3, "reparation.en_cours"),
        (4, "reparation.terminee"),
        (5, "reparation.facturee"),
    ]
    terminee = Evenement.objects.get(sujet=f"reparation/{rep.pk}", type="reparation.terminee")
    assert terminee.donnees["client"] == client.pk
    assert terminee.donnees["de"] == "en_cours"
    assert isinstance(terminee.donnees["total_ttc"], str)  # exact money, never a float
    [facture] = Evenement.objects.filter(type="facture.emise")
    assert facture.sequence == 1 and facture.donnees["reparation"] == rep.pk


def test_a_failed_change_writes_no_event():
    piece = services.create_piece(nom="Filtre", prix=Decimal("12.00"), stock=0)
    rep = services.create_reparation(piece=piece, duree=1)
    before = Evenement.objects.count()
    with pytest.raises(services.Conflict):
        services.transition(reparation=rep, action="terminer")
    assert Evenement.objects.count() == before


def test_the_worker_batch_writes_its_events_with_one_insert():
    piece = services.create_piece(nom="Filtre", prix=Decimal("12.00"), stock=2, seuil=0)
    requests = [RepairRequest(key=None, piece=piece.pk, duree=1) for _ in range(5)]
    with CaptureQueriesContext(connection) as queries:
        results = process_demandes(requests=requests)
    inserts = [q for q in queries if q["sql"].startswith('INSERT INTO "metier_evenement"')]
    # the orders' events, and the part falling to its threshold (a second, tiny insert)
    assert len(inserts) == 2
    made = [r.reparation_id for r in results]
    types = [
        Evenement.objects.get(sujet=f"reparation/{pk}").type for pk in made
    ]  # one event each, sequence 1
    assert types == ["reparation.planifiee"] * 2 + ["reparation.en_attente_pieces"] * 3
    assert _types(f"piece/{piece.pk}") == [(1, "piece.sous_seuil")]


def test_parts_received_and_the_waiting_repair_planned():
    piece = services.create_piece(nom="Filtre", prix=Decimal("12.00"), stock=0, seuil=1)
    rep = services.create_reparation(piece=piece, duree=1)
    services.transition(reparation=rep, action="planifier")
    assert Reparation.objects.get(pk=rep.pk).statut == "en_attente_pieces"
    services.receive_stock(piece=piece, quantite=3)
    recue = Evenement.objects.get(type="piece.recue")
    assert recue.donnees == {
        "piece": piece.pk,
        "nom": "Filtre",
        "quantite": 3,
        "stock": 3,
        "reparations_planifiees": [rep.pk],
    }
    planned = Evenement.objects.filter(sujet=f"reparation/{rep.pk}").order_by("-sequence")[0]
    assert (planned.type, planned.donnees["de"]) == ("reparation.planifiee", "en_attente_pieces")
    # 3 on the shelf, 1 reserved: 2 available, above the threshold of 1: no alert yet
    assert not Evenement.objects.filter(type="piece.sous_seuil").exists()


def test_payment_and_estimate_events():
    rep = repair_terminee()
    facture = services.emettre_facture(reparation=rep)
    services.enregistrer_paiement(facture=facture, montant=Decimal("10.00"), mode="carte")
    [paiement] = Evenement.objects.filter(type="paiement.enregistre")
    assert paiement.donnees["montant"] == "10.00" and paiement.donnees["facture"] == facture.pk

    piece = services.create_piece(nom="Disque", prix=Decimal("80.00"), stock=2)
    other = services.create_reparation(piece=piece, duree=1, voiture=rep.voiture)
    devis = services.create_devis(reparation=other)
    devis, jeton = services.envoyer_devis(devis=devis)
    [envoye] = Evenement.objects.filter(type="devis.envoye")
    from metier.chiffrement import DEVIS_LIEN, dechiffrer

    assert "jeton" not in envoye.donnees and jeton not in str(envoye.donnees)
    assert dechiffrer(envoye.donnees["jeton_chiffre"], DEVIS_LIEN) == jeton
    assert envoye.sujet == f"devis/{devis.pk}"


def test_listeners_hear_only_committed_events():
    heard: list[list[str]] = []
    listener = lambda events: heard.append([e.type for e in events])  # noqa: E731
    evenements.on_commit_listener(listener)
    try:
        piece = services.create_piece(nom="Filtre", prix=Decimal("12.00"))
        with pytest.raises(RuntimeError), transaction.atomic():
            services.create_reparation(piece=piece, duree=1)
            raise RuntimeError("rolled back")
        assert heard == []
    finally:
        evenements._listeners.remove(listener)


def test_an_unknown_event_type_is_a_bug():
    with pytest.raises(ValueError, match="unknown event type"):
        evenements.enregistrer(sujet="x/1", type_="x.y", donnees={})
