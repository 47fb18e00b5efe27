"""Stock never goes negative, under concurrent writers too (SQLite and PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from metier import services
from metier.models import Piece, Reparation, Transition
from metier.services import Conflict
from pipeline import demandes as pipeline_demandes
from pipeline.demandes import RepairRequest

pytestmark = pytest.mark.django_db(transaction=True)
S = Reparation.Statut


def _in_thread(fn):
    def run(*args):
        try:
            return fn(*args)
        finally:
            connection.close()  # each thread's own connection

    return run


def test_concurrent_planning_and_starting_never_oversell():
    piece = services.create_piece(nom="Bougie", prix="9.90", stock=10)
    reps = [services.create_reparation(piece=piece, duree=1) for _ in range(30)]

    @_in_thread
    def work(rep):
        services.transition(reparation=rep, action="planifier")
        try:
            services.transition(reparation=rep, action="demarrer")
            return "started"
        except Conflict:
            return "waiting"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(work, reps))
    piece.refresh_from_db()
    print(
        f"started={outcomes.count('started')} waiting={outcomes.count('waiting')} "
        f"stock={piece.stock} reserve={piece.reserve}"
    )
    assert outcomes.count("started") == 10
    assert (piece.stock, piece.reserve) == (0, 0)
    assert Reparation.objects.filter(statut=S.EN_ATTENTE_PIECES).count() == 20


def test_concurrent_workers_and_receptions_keep_stock_true():
    piece = services.create_piece(nom="Filtre", prix="12", stock=5)

    @_in_thread
    def worker(i):
        return pipeline_demandes.process_demandes(
            requests=[RepairRequest(key=None, piece=piece.pk, duree=1) for _ in range(5)]
        )

    @_in_thread
    def reception(i):
        return services.receive_stock(piece=piece, quantite=3)

    with ThreadPoolExecutor(6) as pool:
        jobs = [pool.submit(worker, i) for i in range(8)] + [
            pool.submit(reception, i) for i in range(5)
        ]
        for job in jobs:
            job.result()
    piece.refresh_from_db()
    planned = Reparation.objects.filter(statut=S.PLANIFIEE).count()
    waiting = Reparation.objects.filter(statut=S.EN_ATTENTE_PIECES).count()
    print(f"planned={planned} waiting={waiting} stock={piece.stock} reserve={piece.reserve}")
    assert planned + waiting == 40
    assert piece.stock == 5 + 15
    assert piece.reserve == planned == min(40, 20)
    assert Piece.objects.filter(stock__lt=0).count() == 0
    # each waiting-then-planned repair has its move recorded
    assert Transition.objects.filter(vers=S.PLANIFIEE).count() == planned
