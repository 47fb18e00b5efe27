"""The journal's hash chain, and `manage.py verifier_journal` catching tampering.

Tampering needs raw SQL *and* the immutability triggers out of the way (as someone with the
schema owner's rights could do): each test drops the trigger of the table it alters, within
its own transaction, so the next test finds them back.
"""

from __future__ import annotations

from decimal import Decimal
from io import StringIO
from itertools import pairwise

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from metier import services
from metier.models import EcritureJournal
from metier.services import journal
from tests.support.facturation import drop_triggers, facture

pytestmark = pytest.mark.django_db


def _tamper(sql: str, *params) -> None:
    """Raw SQL with the immutability triggers dropped (rolled back with the test)."""
    with connection.cursor() as cursor:
        drop_triggers(cursor)
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


# --- reading in lots (`--lot`) -----------------------------------------------------------------
LOTS = (1, 2, 3, 1000)


def _results(**kwargs) -> set[tuple]:
    found = set()
    for lot in LOTS:
        result = journal.verifier(lot=lot, **kwargs)
        found.add((result.entrees, result.tete, tuple(map(str, result.problemes))))
    return found


@pytest.mark.parametrize(
    "tamper",
    [
        "intact",
        "record",
        "line",
        "entry_removed",
        "last_entry_removed",
        "entry_rewritten",
        "around",
    ],
)
def test_every_lot_size_finds_the_same(tamper):
    f, p, _, _ = _documents()
    if tamper == "record":
        _tamper("UPDATE metier_paiement SET montant = %s WHERE id = %s", "1.00", p.pk)
    elif tamper == "line":
        _tamper("UPDATE metier_lignefacture SET montant_ht = 0 WHERE facture_id = %s", f.pk)
    elif tamper == "entry_removed":
        _tamper("DELETE FROM metier_ecriturejournal WHERE position = 3")
    elif tamper == "last_entry_removed":
        _tamper("DELETE FROM metier_ecriturejournal WHERE position = 4")
    elif tamper == "entry_rewritten":
        _tamper("UPDATE metier_ecriturejournal SET contenu = '{}' WHERE position = 2")
    elif tamper == "around":
        _tamper(
            "INSERT INTO metier_paiement (reparation_id, facture_id, acompte, montant, mode, "
            "reference, recu_le) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            f.reparation_id,
            f.pk,
            False,
            "5.00",
            "especes",
            "",
            f.emise_le,
        )
    first, every = _results(premier_seulement=True), _results()
    assert len(first) == 1 and len(every) == 1, (first, every)
    ((_, _, problemes),) = first
    assert bool(problemes) == (tamper != "intact")
    if tamper != "intact":
        assert len(problemes) == 1  # the first only
        assert next(iter(every))[2][0] == problemes[0]  # and it is the first of all


def test_the_check_reads_in_lots_not_one_query_per_entry():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(lot: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert journal.verifier(lot=lot).intact
        return len(ctx.captured_queries)

    _documents()
    small = queries(1000)
    for _ in range(5):
        _documents()  # 24 entries now
    assert journal.verifier().entrees == 24
    # the same queries for 6 times the entries: per lot, not per entry
    assert queries(1000) == small
    assert queries(1) > 24  # a lot of 1 is one entry per round trip, as before
    out = StringIO()
    call_command("verifier_journal", "--lot", "5", stdout=out)
    assert "journal intact: 24 entries" in out.getvalue()
    with pytest.raises(CommandError, match="--lot"):
        call_command("verifier_journal", "--lot", "0", stdout=StringIO())
