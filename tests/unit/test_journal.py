"""The journal's hash chain, and `manage.py verifier_journal` catching tampering.

Tampering needs raw SQL *and* the immutability triggers out of the way (as someone with the
schema owner's rights could do): each test drops the trigger of the table it alters, within
its own transaction, so the next test finds them back.
"""

from __future__ import annotations

import importlib
from decimal import Decimal
from io import StringIO
from itertools import pairwise

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from metier import services
from metier.models import EcritureJournal
from metier.services import journal
from tests.support.facturation import facture

pytestmark = pytest.mark.django_db
migration = importlib.import_module("metier.migrations.0007_documents_immuables")


def _tamper(sql: str, *params) -> None:
    """Raw SQL with the immutability triggers dropped (rolled back with the test)."""
    with connection.cursor() as cursor:
        for drop in migration.sql_drop(connection.vendor):
            cursor.execute(drop)
        cursor.execute(sql, params)


def _documents():
    f = facture()
    p = services.enregistrer_paiement(facture=f, montant=Decimal("100.00"), mode="carte")
    a = services.emettre_avoir(
        facture=f, motif="remise", lignes=[{"ligne": f.lignes.first().pk, "quantite": 1}]
    )
    p2 = services.enregistrer_paiement(facture=f, montant=Decimal("10.00"), mode="especes")
    return f, p, a, p2


def _check() -> str:
    with pytest.raises(CommandError) as err:
        call_command("verifier_journal", stdout=StringIO(), stderr=StringIO())
    return str(err.value)


def test_intact_chain_passes_and_prints_its_head():
    _documents()
    out = StringIO()
    call_command("verifier_journal", stdout=out)
    assert "journal intact: 4 entries" in out.getvalue()
    entries = list(EcritureJournal.objects.order_by("position"))
    assert entries[0].hash_precedent == journal.GENESE
    assert all(b.hash_precedent == a.hash for a, b in pairwise(entries))
    assert entries[-1].hash in out.getvalue()


def test_an_altered_payment_is_named():
    _, p, _, _ = _documents()
    _tamper("UPDATE metier_paiement SET montant = %s WHERE id = %s", "1.00", p.pk)
    message = _check()
    assert "entry #2" in message and "paiement" in message and "montant" in message


def test_an_altered_invoice_line_is_named():
    f, _, _, _ = _documents()
    _tamper("UPDATE metier_lignefacture SET montant_ht = 0 WHERE facture_id = %s", f.pk)
    message = _check()
    assert "entry #1" in message and f.numero in message and "lignes" in message


def test_a_removed_record_is_named():
    _, _, a, _ = _documents()
    _tamper("DELETE FROM metier_ligneavoir WHERE avoir_id = %s", a.pk)
    _tamper("DELETE FROM metier_avoir WHERE id = %s", a.pk)
    message = _check()
    assert "entry #3" in message and f"avoir id={a.pk}" in message and "removed" in message


def test_a_removed_entry_is_named():
    _documents()
    _tamper("DELETE FROM metier_ecriturejournal WHERE position = 2")
    assert "entry #2: removed" in _check()
    # the last entry too (the counter knows how many were written)
    _tamper("DELETE FROM metier_ecriturejournal WHERE position = 4")
    result = journal.verifier()
    assert any("#4" in str(p) and "removed" in str(p) for p in result.problemes)


def test_an_entry_rewritten_with_its_record_breaks_the_chain():
    _, p, _, _ = _documents()
    entry = EcritureJournal.objects.get(position=2)
    forged = entry.contenu.replace('"montant":"100.00"', '"montant":"1.00"')
    assert forged != entry.contenu
    _tamper("UPDATE metier_paiement SET montant = %s WHERE id = %s", "1.00", p.pk)
    _tamper("UPDATE metier_ecriturejournal SET contenu = %s WHERE position = 2", forged)
    assert "entry #2: altered" in _check()


def test_a_record_written_around_the_journal_is_named():
    f, _, _, _ = _documents()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO metier_paiement (reparation_id, facture_id, acompte, montant, mode, "
            "reference, recu_le) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [f.reparation_id, f.pk, False, "5.00", "especes", "", f.emise_le],
        )
    assert "not in the journal" in _check()
