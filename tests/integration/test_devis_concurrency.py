"""Estimates under concurrent writers (SQLite and PostgreSQL): a link answers once; numbers are
never given twice."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from metier import services
from metier.models import Devis
from metier.services import LienInvalide, Reponse

pytestmark = pytest.mark.django_db(transaction=True)


def _in_thread(fn):
    def run(*args):
        try:
            return fn(*args)
        finally:
            connection.close()  # each thread's own connection

    return run


def test_the_same_link_sent_many_times_at_once_is_recorded_once():
    piece = services.create_piece(nom="Bougie", prix="9.90", stock=10)
    order = services.create_reparation(piece=piece, duree=1)
    devis, jeton = services.envoyer_devis(devis=services.create_devis(reparation=order))
    lines = list(devis.lignes.all())

    @_in_thread
    def answer(i: int) -> str:
        decision = "acceptee" if i % 2 else "refusee"
        try:
            services.repondre_devis(
                jeton=jeton,
                reponse=Reponse(
                    decisions={str(x.pk): decision for x in lines},
                    choix_piec={},
                    signature=f"Client {i}",
                ),
                document=f"doc {i}",
                adresse_ip="127.0.0.1",
                user_agent="test",
            )
            return "recorded"
        except LienInvalide:
            return "refused"

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(answer, range(12)))
    print(f"recorded={outcomes.count('recorded')} refused={outcomes.count('refused')}")
    assert outcomes.count("recorded") == 1 and outcomes.count("refused") == 11
    devis.refresh_from_db()
    winner = int(devis.signature.split()[-1])
    assert devis.document == f"doc {winner}"
    expected = "acceptee" if winner % 2 else "refusee"
    assert {line.decision for line in devis.lignes.all()} == {expected}
    assert {line.approbation for line in order.lignes_pieces.all()} == {
        "approuvee" if winner % 2 else "refusee"
    }


def test_concurrent_estimates_get_distinct_consecutive_numbers():
    piece = services.create_piece(nom="Filtre", prix="12", stock=0)
    orders = [services.create_reparation(piece=piece, duree=1) for _ in range(20)]

    @_in_thread
    def make(order):
        return services.create_devis(reparation=order).numero

    with ThreadPoolExecutor(6) as pool:
        numbers = list(pool.map(make, orders))
    assert len(set(numbers)) == 20
    assert sorted(int(n.split("-")[1]) for n in numbers) == list(range(1, 21))
    assert Devis.objects.count() == 20
