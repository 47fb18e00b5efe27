"""A real garage: clients, cars, repair orders through their life, lines, money, stock."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from metier import services
from metier.models import Piece, Reparation, Transition
from metier.services import Conflict, totals
from pipeline import demandes as pipeline_demandes
from pipeline.demandes import RepairRequest

pytestmark = pytest.mark.django_db
S = Reparation.Statut


@pytest.fixture
def stocked():
    return services.create_piece(nom="Disque", prix=Decimal("35.90"), stock=3, seuil=1)


def fresh(obj):
    obj.refresh_from_db()
    return obj


# --- clients and cars -----------------------------------------------------------------
def test_client_validation():
    c = services.create_client(nom=" Mme Martin ", telephone="+33 6 12 34 56 78", email="A@B.FR")
    assert (c.nom, c.email) == ("Mme Martin", "a@b.fr")
    for bad in ({"telephone": "abc"}, {"email": "not-an-email"}, {"nom": ""}):
        with pytest.raises(ValidationError) as err:
            services.create_client(**{"nom": "X", **bad})
        assert next(iter(bad)) in err.value.message_dict


def test_voiture_plate_is_normalised_unique_and_vin_checked():
    client = services.create_client(nom="Dupont")
    v = services.create_voiture(
        marque="Peugeot",
        couleur="gris",
        client=client,
        immatriculation="ab-123 cd",
        vin="vf3abcdefgh123456",
        annee=2019,
    )
    assert (v.immatriculation, v.vin) == ("AB123CD", "VF3ABCDEFGH123456")
    with pytest.raises(ValidationError) as err:
        services.create_voiture(marque="Fiat", couleur="bleu", immatriculation="AB 123 CD")
    assert "immatriculation" in err.value.message_dict
    for vin in ("SHORT", "VF3ABCDEFGH12345O", "VF3ABCDEFGH1234567"):  # length, letter O, 18
        with pytest.raises(ValidationError) as err:
            services.create_voiture(marque="Fiat", couleur="bleu", vin=vin)
        assert "vin" in err.value.message_dict
    # the seed's car still works with its two fields
    assert services.create_voiture(marque="Renault", couleur="rouge").immatriculation is None


def test_mileage_never_decreases():
    v = services.create_voiture(marque="Renault", couleur="rouge", kilometrage=1000)
    services.update_voiture(voiture=v, kilometrage=1500)
    with pytest.raises(ValidationError) as err:
        services.update_voiture(voiture=fresh(v), kilometrage=1499)
    assert "kilometrage" in err.value.message_dict
    assert fresh(v).kilometrage == 1500


# --- money ----------------------------------------------------------------------------
def test_totals_round_half_up_per_line_and_on_tax():
    # 0.125 rounds to 0.13 (half up, not banker's 0.12); tax on 10.13 at 20% = 2.026 → 2.03
    t = totals([Decimal("0.125"), Decimal("10.00")], Decimal("0.20"))
    assert (t.total_ht, t.montant_tva, t.total_ttc) == (
        Decimal("10.13"),
        Decimal("2.03"),
        Decimal("12.16"),
    )


def test_seed_request_becomes_a_part_line_and_a_labour_line(settings, stocked):
    settings.GARAGE_TAUX_HORAIRE = Decimal("55.50")
    rep = services.create_reparation(piece=stocked, duree=3)
    [lp] = rep.lignes_pieces.all()
    [lm] = rep.lignes_main_oeuvre.all()
    assert (lp.quantite, lp.prix_unitaire) == (1, Decimal("35.90"))
    assert (lm.heures, lm.taux_horaire) == (Decimal("3"), Decimal("55.50"))
    rep = fresh(rep)
    assert rep.total_ht == Decimal("202.40")  # 35.90 + 3 × 55.50
    assert rep.montant_tva == Decimal("40.48")
    assert rep.total_ttc == Decimal("242.88")


def test_price_change_does_not_rewrite_history(stocked):
    rep = services.create_reparation(piece=stocked, duree=1)
    services.update_piece(piece=stocked, prix=Decimal("99.00"))
    assert rep.lignes_pieces.get().prix_unitaire == Decimal("35.90")
    assert fresh(rep).total_ht == Decimal("95.90")


def test_lines_change_totals_until_work_starts(stocked):
    rep = services.create_reparation(piece=stocked, duree=1)
    services.add_ligne_piece(reparation=rep, piece=stocked, quantite=2)
    services.add_ligne_main_oeuvre(reparation=rep, heures=Decimal("0.5"), description="essai")
    assert fresh(rep).total_ht == Decimal("35.90") * 3 + Decimal("60") + Decimal("30")
    services.transition(reparation=rep, action="planifier")
    services.transition(reparation=rep, action="demarrer")
    with pytest.raises(Conflict):
        services.add_ligne_piece(reparation=rep, piece=stocked)


# --- lifecycle ------------------------------------------------------------------------
def test_whole_life_with_history(stocked):
    rep = services.create_reparation(piece=stocked, duree=2, description="bruit au freinage")
    for action, statut in [
        ("planifier", S.PLANIFIEE),
        ("demarrer", S.EN_COURS),
        ("terminer", S.TERMINEE),
        ("facturer", S.FACTUREE),
    ]:
        rep = services.transition(reparation=rep, action=action)
        assert fresh(rep).statut == statut
    steps = [(t.de, t.vers) for t in Transition.objects.filter(reparation=rep)]
    assert steps == [
        ("", "demandee"),
        ("demandee", "planifiee"),
        ("planifiee", "en_cours"),
        ("en_cours", "terminee"),
        ("terminee", "facturee"),
    ]
    assert fresh(stocked).stock == 2 and fresh(stocked).reserve == 0


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ([], "demarrer"),
        ([], "terminer"),
        ([], "facturer"),
        (["planifier"], "terminer"),
        (["planifier", "demarrer"], "facturer"),
        (["planifier", "demarrer", "terminer"], "annuler"),
        (["planifier", "demarrer", "terminer", "facturer"], "annuler"),
        (["annuler"], "planifier"),
        ([], "voler"),
    ],
)
def test_refused_transitions_are_conflicts_with_a_reason(stocked, path, refused):
    rep = services.create_reparation(piece=stocked, duree=1)
    for action in path:
        services.transition(reparation=rep, action=action)
    before = fresh(rep).statut
    with pytest.raises(Conflict) as err:
        services.transition(reparation=rep, action=refused)
    assert refused in str(err.value)
    assert fresh(rep).statut == before


def test_cancel_gives_back_reserved_or_taken_parts(stocked):
    planned = services.create_reparation(piece=stocked, duree=1)
    services.transition(reparation=planned, action="planifier")
    assert fresh(stocked).reserve == 1
    services.transition(reparation=planned, action="annuler")
    assert (fresh(stocked).stock, fresh(stocked).reserve) == (3, 0)
    started = services.create_reparation(piece=stocked, duree=1)
    services.transition(reparation=started, action="planifier")
    services.transition(reparation=started, action="demarrer")
    assert fresh(stocked).stock == 2
    services.transition(reparation=started, action="annuler")
    assert (fresh(stocked).stock, fresh(stocked).reserve) == (3, 0)


# --- stock ----------------------------------------------------------------------------
def test_short_of_parts_waits_then_goes_on_when_stock_arrives():
    piece = services.create_piece(nom="Turbo", prix=Decimal("800"), stock=1)
    first = services.create_reparation(piece=piece, duree=5)
    second = services.create_reparation(piece=piece, duree=5)
    services.transition(reparation=first, action="planifier")
    services.transition(reparation=second, action="planifier")
    assert fresh(second).statut == S.EN_ATTENTE_PIECES
    assert "short by 1" in Transition.objects.filter(reparation=second).last().motif
    with pytest.raises(Conflict, match="waiting for parts"):
        services.transition(reparation=second, action="planifier")
    services.receive_stock(piece=piece, quantite=1)
    assert fresh(second).statut == S.PLANIFIEE
    assert (fresh(piece).stock, fresh(piece).reserve) == (2, 2)


def test_parts_below_threshold(stocked):
    from metier.selectors import pieces_a_commander

    assert list(pieces_a_commander()) == []
    rep = services.create_reparation(piece=stocked, duree=1)
    services.add_ligne_piece(reparation=rep, piece=stocked, quantite=1)
    services.transition(reparation=rep, action="planifier")  # reserves 2 of 3
    assert list(pieces_a_commander()) == [stocked]


def test_stock_cannot_go_negative_in_the_database(stocked):
    with pytest.raises(IntegrityError), transaction.atomic():
        Piece.objects.filter(pk=stocked.pk).update(stock=-1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Piece.objects.filter(pk=stocked.pk).update(reserve=4)  # more than on the shelf


# --- the worker's planning step -------------------------------------------------------
def test_worker_plans_reserves_and_prices(stocked):
    car = services.create_voiture(marque="Citroën", couleur="blanc")
    requests = [
        RepairRequest(key=None, piece=stocked.pk, duree=2, voiture=car.pk, description="vidange")
        for _ in range(5)
    ]
    results = pipeline_demandes.process_demandes(requests=requests)
    assert [(r.statut, r.doublon) for r in results] == [("traitee", False)] * 5
    reps = list(Reparation.objects.order_by("id"))
    assert [r.statut for r in reps] == [S.PLANIFIEE] * 3 + [S.EN_ATTENTE_PIECES] * 2
    assert fresh(stocked).reserve == 3
    assert reps[0].voiture_id == car.pk and reps[0].description == "vidange"
    assert reps[0].total_ttc == Decimal("187.08")  # (35.90 + 2 × 60) × 1.2, to the cent
    assert reps[0].lignes_pieces.count() == reps[0].lignes_main_oeuvre.count() == 1
    services.receive_stock(piece=stocked, quantite=5)
    assert Reparation.objects.filter(statut=S.PLANIFIEE).count() == 5


def test_worker_rejects_unknown_car(stocked):
    [result] = pipeline_demandes.process_demandes(
        requests=[RepairRequest(key=None, piece=stocked.pk, duree=1, voiture=999999)]
    )
    assert result.statut == "rejetee" and "unknown car" in result.motif
