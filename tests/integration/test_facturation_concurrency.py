"""Invoice numbers under concurrency: many issues at the same moment, each in its own thread
and database connection, never share a number and never leave a gap, even when some of them
roll back after taking theirs. Payments racing for the last euro never overpay. Meant for
PostgreSQL (row locks, real parallel transactions); on SQLite the same tests run with writes
serialised by the database file's lock."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from metier import selectors, services
from metier.models import EcritureJournal, Facture, Paiement, Remboursement
from metier.services import journal
from tests.support.facturation import purge_documents, repair_terminee

pytestmark = pytest.mark.django_db(transaction=True)
ISSUES = 24


@pytest.fixture(autouse=True)
def _purge():
    yield
    purge_documents()


class Boom(Exception):
    pass


def test_concurrent_issues_get_distinct_contiguous_numbers():
    repairs = [repair_terminee() for _ in range(ISSUES)]
    start = threading.Barrier(ISSUES)

    def issue(i: int) -> str | None:
        try:
            start.wait(timeout=60)
            if i % 6 == 5:
                # Takes a number, then its transaction rolls back: the number is given back.
                with transaction.atomic():
                    services.emettre_facture(reparation=repairs[i])
                    raise Boom
            return services.emettre_facture(reparation=repairs[i]).numero
        except Boom:
            return None
        finally:
            connection.close()  # each thread had its own connection

    with ThreadPoolExecutor(ISSUES) as pool:
        numeros = [n for n in pool.map(issue, range(ISSUES)) if n is not None]

    committed = ISSUES - ISSUES // 6
    print(f"vendor={connection.vendor} issued={len(numeros)} numbers={sorted(numeros)[:3]}...")
    assert len(numeros) == committed == Facture.objects.count()
    assert len(set(numeros)) == committed, "a number was given twice"
    assert sorted(int(n[-6:]) for n in numeros) == list(range(1, committed + 1)), "a gap"
    # numbers follow the issue times (chronological sequence)
    by_number = list(Facture.objects.order_by("numero").values_list("emise_le", flat=True))
    assert by_number == sorted(by_number)
    # the journal took them in the same way: contiguous positions, an intact chain
    positions = list(EcritureJournal.objects.values_list("position", flat=True))
    assert positions == list(range(1, committed + 1))
    assert journal.verifier().intact


def test_concurrent_payments_never_overpay():
    f = services.emettre_facture(reparation=repair_terminee())  # 204.00
    start = threading.Barrier(12)

    def pay(i: int) -> bool:
        try:
            start.wait(timeout=60)
            services.enregistrer_paiement(facture=f, montant=Decimal("30.00"), mode="carte")
            return True
        except ValidationError:
            return False
        finally:
            connection.close()

    with ThreadPoolExecutor(12) as pool:
        accepted = sum(pool.map(pay, range(12)))
    assert accepted == 6  # 6 x 30 = 180 <= 204 < 210
    assert Paiement.objects.count() == 6
    assert selectors.factures().get(pk=f.pk).reste_du == Decimal("24.00")


def test_concurrent_refunds_never_refund_more_than_was_paid():
    """Two credit notes of one invoice share what was paid: 12 cashiers refunding 30 € at
    once, on either credit note, pay back 6 x 30 of the 204 € received, never more."""
    f = services.emettre_facture(reparation=repair_terminee())  # 204.00
    services.enregistrer_paiement(facture=f, montant=Decimal("204.00"), mode="carte")
    piece, labour = f.lignes.order_by("position")
    avoirs = [
        services.emettre_avoir(facture=f, motif="a", lignes=[{"ligne": piece.pk, "quantite": 1}]),
        services.emettre_avoir(facture=f, motif="b", lignes=[{"ligne": labour.pk, "quantite": 2}]),
    ]  # 60 + 144 = 204 owed back
    start = threading.Barrier(12)

    def refund(i: int) -> bool:
        try:
            start.wait(timeout=60)
            services.enregistrer_remboursement(
                avoir=avoirs[i % 2], montant=Decimal("30.00"), mode="virement"
            )
            return True
        except (ValidationError, services.Conflict):
            return False
        finally:
            connection.close()

    with ThreadPoolExecutor(12) as pool:
        accepted = sum(pool.map(refund, range(12)))
    refunded = sum(r.montant for r in Remboursement.objects.all())
    print(f"vendor={connection.vendor} refunds accepted={accepted} total={refunded}")
    assert refunded <= Decimal("204.00")
    # the first credit note holds 60 (two refunds), the second 144 (four): 6 in all
    assert accepted == 6 and refunded == Decimal("180.00")
    assert selectors.factures().get(pk=f.pk).reste_du == Decimal("-24.00")
    assert journal.verifier().intact


def test_concurrent_deposits_never_exceed_what_the_customer_approved():
    from tests.support.facturation import devis_repondu

    devis = devis_repondu()  # 180.00 approved
    start = threading.Barrier(12)

    def deposit(i: int) -> bool:
        try:
            start.wait(timeout=60)
            services.enregistrer_paiement(devis=devis, montant=Decimal("35.00"), mode="carte")
            return True
        except ValidationError:
            return False
        finally:
            connection.close()

    with ThreadPoolExecutor(12) as pool:
        accepted = sum(pool.map(deposit, range(12)))
    assert accepted == 5  # 5 x 35 = 175 <= 180 < 210
    assert sum(p.montant for p in devis.acomptes.all()) == Decimal("175.00")
    assert journal.verifier().intact
