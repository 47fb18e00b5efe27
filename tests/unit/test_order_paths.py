"""One way to make a repair order: the API's path (create, then `planifier`) and the worker's
batch (`process_demandes`) go through the same domain function and give the same order.

Run on SQLite and on PostgreSQL (`make test` runs the unit tests on both).
"""

from decimal import Decimal

import pytest

from metier import services
from metier.models import Piece, Reparation
from pipeline.demandes import RepairRequest, process_demandes

pytestmark = pytest.mark.django_db
S = Reparation.Statut


def _part(stock: int) -> Piece:
    # A price and hours whose VAT needs rounding: both paths must round the same way.
    return services.create_piece(nom="Étrier", prix=Decimal("47.35"), stock=stock)


def _order(rep: Reparation, part: Piece) -> dict:
    """Everything about an order that must not depend on the path that made it (each path
    has its own part, with the same price and stock: named "part" here)."""
    rep = Reparation.objects.get(pk=rep.pk)
    name = {part.pk: "part"}
    return {
        "piece": name[rep.piece_id],
        "duree": rep.duree,
        "voiture": rep.voiture_id,
        "description": rep.description,
        "statut": rep.statut,
        "totals": (rep.taux_tva, rep.total_ht, rep.montant_tva, rep.total_ttc),
        "lignes_pieces": sorted(
            (name[lp.piece_id], lp.quantite, lp.prix_unitaire, lp.initiale)
            for lp in rep.lignes_pieces.all()
        ),
        "lignes_main_oeuvre": sorted(
            (lmo.heures, lmo.taux_horaire, lmo.description, lmo.initiale)
            for lmo in rep.lignes_main_oeuvre.all()
        ),
    }


def _planning(rep: Reparation):
    """The transition that gave the order its planned status, and why."""
    last = rep.transitions.order_by("-id").first()
    return last.vers, last.motif


def _reserve(piece: Piece) -> tuple[int, int]:
    piece.refresh_from_db()
    return piece.stock, piece.reserve


@pytest.mark.parametrize("stock", [0, 1, 5], ids=["short", "last-one", "in-stock"])
def test_api_and_worker_make_the_same_order(stock):
    voiture = services.create_voiture(marque="Renault", couleur="bleu")
    api_part, worker_part = _part(stock), _part(stock)
    fields = {"duree": 7, "description": "bruit au freinage"}

    by_api = services.create_reparation(
        piece=api_part, voiture=voiture, description=fields["description"], duree=7
    )
    by_api = services.transition(reparation=by_api, action="planifier")
    [result] = process_demandes(
        requests=[RepairRequest(key=None, piece=worker_part.pk, voiture=voiture.pk, **fields)]
    )
    by_worker = Reparation.objects.get(pk=result.reparation_id)

    api, worker = _order(by_api, api_part), _order(by_worker, worker_part)
    assert api == worker
    assert api["statut"] == (S.PLANIFIEE if stock else S.EN_ATTENTE_PIECES)
    # 47.35 + 7 h × 60.00 = 467.35; VAT 20 % = 93.47; 560.82.
    assert api["totals"][1:] == (Decimal("467.35"), Decimal("93.47"), Decimal("560.82"))
    assert _reserve(api_part) == _reserve(worker_part) == (stock, 1 if stock else 0)

    api_vers, api_motif = _planning(by_api)
    worker_vers, worker_motif = _planning(by_worker)
    assert api_vers == worker_vers == api["statut"]
    if api["statut"] == S.EN_ATTENTE_PIECES:
        # Same reason, naming each path's own part.
        assert api_motif == f"waiting for parts: piece {api_part.pk} short by 1"
        assert worker_motif == f"waiting for parts: piece {worker_part.pk} short by 1"


def test_a_batch_plans_in_order_against_the_same_stock():
    """Two orders for the last part: the first of the batch gets it, as two API orders
    planned one after the other would."""
    api_part, worker_part = _part(1), _part(1)
    api_orders = [
        services.transition(
            reparation=services.create_reparation(piece=api_part, duree=2), action="planifier"
        )
        for _ in range(2)
    ]
    results = process_demandes(
        requests=[RepairRequest(key=None, piece=worker_part.pk, duree=2) for _ in range(2)]
    )
    worker_orders = [Reparation.objects.get(pk=r.reparation_id) for r in results]
    assert [o.statut for o in api_orders] == [o.statut for o in worker_orders]
    assert [o.statut for o in worker_orders] == [S.PLANIFIEE, S.EN_ATTENTE_PIECES]
    assert _reserve(api_part) == _reserve(worker_part) == (1, 1)
