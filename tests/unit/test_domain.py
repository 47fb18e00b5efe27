"""Domain rules, in the functions and in the database itself."""

import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from metier import services
from metier.models import Demande, Piece, Reparation
from pipeline import demandes as pipeline_demandes
from pipeline.demandes import RepairRequest

pytestmark = pytest.mark.django_db


def test_piece_prix_is_decimal_and_non_negative():
    p = services.create_piece(nom="Filtre", prix=Decimal("12.50"))
    assert Piece.objects.get(pk=p.pk).prix == Decimal("12.50")
    with pytest.raises(ValidationError) as err:
        services.create_piece(nom="Filtre", prix=Decimal("-1"))
    assert "prix" in err.value.message_dict


def test_database_refuses_what_the_functions_refuse(piece):
    """The seed stored duree=-5; the check constraints stop any writer that skips validation."""
    with pytest.raises(IntegrityError), transaction.atomic():
        Reparation.objects.create(piece=piece, duree=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        Reparation.objects.create(piece=piece, duree=1001)
    with pytest.raises(IntegrityError), transaction.atomic():
        Piece.objects.create(nom="X", prix=Decimal("-0.01"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Piece.objects.create(nom="", prix=Decimal("1"))


def test_reparation_bounds(piece):
    for bad in (0, -5, 1001):
        with pytest.raises(ValidationError):
            services.create_reparation(piece=piece, duree=bad)
    assert services.create_reparation(piece=piece, duree=1000).duree == 1000


def test_piece_in_use_cannot_be_deleted(piece):
    services.create_reparation(piece=piece, duree=2)
    with pytest.raises(services.Conflict):
        services.delete_piece(piece=piece)


def test_accept_demande_checks_part_and_duration(piece):
    with pytest.raises(services.NotFound):
        services.accept_demande(piece=piece.pk + 100, duree=5)
    with pytest.raises(ValidationError):
        services.accept_demande(piece=piece.pk, duree=-5)
    demande, created = services.accept_demande(piece=piece.pk, duree=5)
    assert created and demande.statut == Demande.Statut.ACCEPTEE


def test_idempotency_key_returns_the_same_demande(piece):
    first, created = services.accept_demande(piece=piece.pk, duree=5, cle_idempotence="k1")
    again, created_again = services.accept_demande(piece=piece.pk, duree=5, cle_idempotence="k1")
    assert created and not created_again and again.pk == first.pk
    assert Demande.objects.count() == 1
    with pytest.raises(services.Conflict):
        services.accept_demande(piece=piece.pk, duree=6, cle_idempotence="k1")


def test_idempotency_key_belongs_to_its_sender(piece, django_user_model):
    """Issue 15, finding 9: a key is scoped to the user who sent it, in the database too."""
    alice = django_user_model.objects.create(username="alice")
    bob = django_user_model.objects.create(username="bob")
    mine, _ = services.accept_demande(piece=piece.pk, duree=5, cle_idempotence="k", demandeur=alice)
    theirs, created = services.accept_demande(
        piece=piece.pk, duree=5, cle_idempotence="k", demandeur=bob
    )
    assert created and theirs.pk != mine.pk
    # Another body with the same key is no conflict for another sender: nothing leaks.
    other, created = services.accept_demande(
        piece=piece.pk, duree=9, cle_idempotence="k", demandeur=None
    )
    assert created and other.pk not in (mine.pk, theirs.pk)
    again, created = services.accept_demande(
        piece=piece.pk, duree=5, cle_idempotence="k", demandeur=alice
    )
    assert not created and again.pk == mine.pk
    with pytest.raises(IntegrityError), transaction.atomic():
        Demande.objects.create(piece=piece.pk, duree=5, cle_idempotence="k", demandeur=bob)
    with pytest.raises(IntegrityError), transaction.atomic():
        Demande.objects.create(piece=piece.pk, duree=5, cle_idempotence="k")


def test_process_demandes_is_idempotent(piece):
    demande, _ = services.accept_demande(piece=piece.pk, duree=5)
    req = RepairRequest(key=demande.pk, piece=piece.pk, duree=5)
    first = pipeline_demandes.process_demandes(requests=[req, req])
    assert [(r.statut, r.doublon) for r in first] == [("traitee", False), ("traitee", True)]
    again = pipeline_demandes.process_demandes(requests=[req])
    assert again[0].doublon
    assert Reparation.objects.count() == 1
    demande.refresh_from_db()
    assert demande.statut == Demande.Statut.TRAITEE
    assert demande.reparation.pk == first[0].reparation_id
    assert demande.traitee_le is not None


def test_process_demandes_rejects_with_reason(piece):
    demande, _ = services.accept_demande(piece=piece.pk, duree=5)
    piece_id = piece.pk
    Piece.objects.filter(pk=piece_id).delete()  # the part went away after acceptance
    [result] = pipeline_demandes.process_demandes(
        requests=[RepairRequest(key=demande.pk, piece=piece_id, duree=5)]
    )
    assert result.statut == "rejetee" and "unknown part" in result.motif
    demande.refresh_from_db()
    assert demande.statut == Demande.Statut.REJETEE and "unknown part" in demande.motif
    assert Reparation.objects.count() == 0


def test_unkeyed_and_foreign_keys_are_processed(piece):
    foreign = uuid.uuid4()
    results = pipeline_demandes.process_demandes(
        requests=[
            RepairRequest(key=None, piece=piece.pk, duree=1),
            RepairRequest(key=foreign, piece=piece.pk, duree=2),
            RepairRequest(key=foreign, piece=piece.pk, duree=2),
        ]
    )
    assert [(r.statut, r.doublon) for r in results] == [
        ("traitee", False),
        ("traitee", False),
        ("traitee", True),
    ]
    assert Demande.objects.get(pk=foreign).statut == Demande.Statut.TRAITEE
    assert Reparation.objects.count() == 2


def test_mark_published_does_not_undo_a_final_state(piece):
    demande, _ = services.accept_demande(piece=piece.pk, duree=5)
    pipeline_demandes.process_demandes(
        requests=[RepairRequest(key=demande.pk, piece=piece.pk, duree=5)]
    )
    pipeline_demandes.mark_published(ids=[demande.pk])
    demande.refresh_from_db()
    assert demande.statut == Demande.Statut.TRAITEE and demande.publiee_le is not None
