"""Invoices, credit notes and payments in the domain (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction

from metier import selectors, services
from metier.models import Avoir, Compteur, EcritureJournal, Facture, Paiement, Reparation
from metier.models_facturation import TABLES_IMMUABLES
from metier.services import Conflict
from tests.support.facturation import facture, repair_terminee

pytestmark = pytest.mark.django_db
S = Reparation.Statut


def test_issue_copies_everything_and_moves_the_order(settings):
    settings.GARAGE_NOM = "Garage du Centre"
    settings.GARAGE_SIRET = "12345678900011"
    repair = repair_terminee(prix="50.00", duree=2)
    f = services.emettre_facture(reparation=repair, kilometrage=42500)
    year = f.date.year
    assert f.numero == f"F{year}-000001"
    assert (f.total_ht, f.montant_tva, f.total_ttc) == (
        Decimal("170.00"),
        Decimal("34.00"),
        Decimal("204.00"),
    )
    assert f.emetteur["nom"] == "Garage du Centre" and f.emetteur["siret"] == "12345678900011"
    assert (f.client_nom, f.kilometrage, f.vehicule) == ("Mme Martin", 42500, "Peugeot 208")
    assert f.immatriculation.startswith("AB") and f.echeance == f.date + timedelta(days=30)
    lignes = list(f.lignes.all())
    assert [(lf.nature, lf.origine, lf.montant_ht) for lf in lignes] == [
        ("piece", "neuve", Decimal("50.00")),
        ("main_oeuvre", "", Decimal("120.00")),
    ]
    assert lignes[1].mode_calcul == "temps passé" and lignes[1].prix_unitaire == Decimal("60.00")
    repair.refresh_from_db()
    assert repair.statut == S.FACTUREE
    assert repair.transitions.last().vers == S.FACTUREE
    assert f.travaux_refuses == [] and f.mentions == ""
    entry = EcritureJournal.objects.get(type="facture", objet_id=f.pk)
    assert entry.position == 1 and f.numero in entry.contenu


def test_business_customer_gets_the_late_payment_mentions():
    f = facture(professionnel=True, client_siret="123 456 789 00011")
    assert "40,00 €" in f.mentions and "pénalités" in f.mentions
    assert f.client_siret == "12345678900011"


def test_issue_refuses_bad_states_and_input():
    repair = repair_terminee()
    with pytest.raises(ValidationError) as err:
        services.emettre_facture(reparation=repair, client_siret="123")
    assert "client_siret" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        services.emettre_facture(reparation=repair, kilometrage=10)  # mileage goes down
    assert "kilometrage" in err.value.message_dict
    services.emettre_facture(reparation=repair)
    with pytest.raises(Conflict, match="already invoiced"):
        services.emettre_facture(reparation=repair)
    fresh = services.create_reparation(piece=services.create_piece(nom="X", prix="1"), duree=1)
    with pytest.raises(Conflict, match="cannot facturer"):
        services.emettre_facture(reparation=fresh)
    # nothing half-written, and no number lost by the refusals
    assert Facture.objects.count() == 1
    assert Compteur.objects.get(sequence="facture").dernier == 1


def test_a_rolled_back_issue_gives_its_number_back():
    repair = repair_terminee()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.emettre_facture(reparation=repair)
        raise RuntimeError("crash after the number was taken")
    assert Facture.objects.count() == 0
    f = services.emettre_facture(reparation=repair)
    assert f.numero.endswith("-000001")


def test_numbers_follow_each_other_and_the_format_is_a_setting(settings):
    a, b = facture(), facture()
    assert int(b.numero[-6:]) == int(a.numero[-6:]) + 1
    settings.GARAGE_FORMAT_FACTURE = "FA-{annee}-{numero:04d}"
    assert facture().numero == f"FA-{a.date.year}-0003"
    settings.GARAGE_NUMEROTATION_ANNUELLE = False
    assert facture().numero == f"FA-{a.date.year}-0001"  # one counter for ever, its own


# --- immutability, by the database -----------------------------------------------------
def _every_kind_of_record() -> Facture:
    """An invoice paid in full, a credit note for its part line, and part of that refunded:
    a row in every immutable table."""
    f = facture()
    services.enregistrer_paiement(facture=f, montant=Decimal("204.00"), mode="carte")
    avoir = services.emettre_avoir(
        facture=f, motif="geste commercial", lignes=[{"ligne": f.lignes.first().pk, "quantite": 1}]
    )
    services.enregistrer_remboursement(avoir=avoir, montant=Decimal("20.00"), mode="virement")
    return f


def _raw(sql: str, *params) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.parametrize(
    ("table", "update"),
    [
        ("metier_facture", "total_ttc = 0"),
        ("metier_lignefacture", "montant_ht = 0"),
        ("metier_avoir", "motif = 'x'"),
        ("metier_ligneavoir", "quantite = 9"),
        ("metier_paiement", "montant = 1"),
        ("metier_remboursement", "montant = 1"),
        ("metier_ecriturejournal", "hash = 'x'"),
    ],
)
def test_raw_sql_cannot_change_or_delete_issued_documents(table, update):
    assert table in TABLES_IMMUABLES
    _every_kind_of_record()
    with pytest.raises((IntegrityError, DatabaseError), match="refused"):
        _raw(f"UPDATE {table} SET {update}")
    with pytest.raises((IntegrityError, DatabaseError), match="refused"):
        _raw(f"DELETE FROM {table}")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        assert cursor.fetchone()[0] >= 1


def test_the_orm_cannot_change_an_invoice_either():
    f = facture()
    f.total_ttc = Decimal("1.00")
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        f.save()
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        Facture.objects.filter(pk=f.pk).delete()
    assert Facture.objects.get(pk=f.pk).total_ttc == Decimal("204.00")


# --- credit notes ----------------------------------------------------------------------
def test_full_credit_note_cancels_what_is_due():
    f = facture()
    a = services.emettre_avoir(facture=f, motif="erreur de client")
    assert a.numero == f"A{f.date.year}-000001"
    assert (a.total_ht, a.montant_tva, a.total_ttc) == (f.total_ht, f.montant_tva, f.total_ttc)
    assert selectors.factures().get(pk=f.pk).reste_du == 0
    with pytest.raises(Conflict, match="fully credited"):
        services.emettre_avoir(facture=f, motif="encore")


def test_partial_credit_notes_never_exceed_the_invoice():
    f = facture()  # 50.00 part + 2 h x 60.00
    mo = f.lignes.get(nature="main_oeuvre")
    a = services.emettre_avoir(
        facture=f, motif="30 min de trop", lignes=[{"ligne": mo.pk, "quantite": "0.5"}]
    )
    assert (a.total_ht, a.montant_tva, a.total_ttc) == (
        Decimal("30.00"),
        Decimal("6.00"),
        Decimal("36.00"),
    )
    for bad in (
        [{"ligne": mo.pk, "quantite": "1.75"}],  # only 1.5 left
        [{"ligne": mo.pk, "quantite": "0"}],
        [{"ligne": mo.pk, "quantite": "0.001"}],
        [{"ligne": 999999, "quantite": 1}],
        [{"ligne": mo.pk}],
        [],
    ):
        with pytest.raises(ValidationError) as err:
            services.emettre_avoir(facture=f, motif="trop", lignes=bad)
        assert "lignes" in err.value.message_dict, bad
    with pytest.raises(ValidationError) as err:
        services.emettre_avoir(facture=f, motif="  ")
    assert "motif" in err.value.message_dict
    rest = services.emettre_avoir(facture=f, motif="le reste")
    assert rest.total_ttc + a.total_ttc == f.total_ttc
    assert Avoir.objects.count() == 2 and rest.numero.endswith("-000002")


# --- payments --------------------------------------------------------------------------
def test_partial_payments_then_paid_and_overpayment_refused():
    f = facture()  # 204.00
    services.enregistrer_paiement(facture=f, montant=Decimal("100.00"), mode="carte")
    row = selectors.factures().get(pk=f.pk)
    assert (row.montant_recu, row.reste_du) == (Decimal("100.00"), Decimal("104.00"))
    with pytest.raises(ValidationError) as err:
        services.enregistrer_paiement(facture=f, montant=Decimal("104.01"), mode="especes")
    assert "overpayment" in err.value.message_dict["montant"][0]
    services.enregistrer_paiement(facture=f, montant="104.00", mode="cheque", reference="n°1234")
    assert selectors.factures().get(pk=f.pk).reste_du == 0
    assert not selectors.factures_impayees().filter(pk=f.pk).exists()


def test_deposit_before_the_invoice_counts_towards_it():
    repair = repair_terminee()  # total 204.00
    dep = services.enregistrer_paiement(reparation=repair, montant="50", mode="virement")
    assert dep.acompte and dep.facture is None
    with pytest.raises(ValidationError):
        services.enregistrer_paiement(reparation=repair, montant="154.01", mode="carte")
    f = services.emettre_facture(reparation=repair)
    assert selectors.factures().get(pk=f.pk).reste_du == Decimal("154.00")
    p = services.enregistrer_paiement(reparation=repair, montant="154", mode="carte")
    assert p.facture == f and not p.acompte


@pytest.mark.parametrize(
    ("montant", "mode", "field"),
    [
        ("0", "carte", "montant"),
        ("-5", "carte", "montant"),
        ("1.001", "carte", "montant"),
        ("abc", "carte", "montant"),
        ("NaN", "carte", "montant"),
        ("10", "bitcoin", "mode"),
    ],
)
def test_bad_payments_are_refused_with_their_field(montant, mode, field):
    f = facture()
    with pytest.raises(ValidationError) as err:
        services.enregistrer_paiement(facture=f, montant=montant, mode=mode)
    assert field in err.value.message_dict
    assert Paiement.objects.count() == 0


def test_receivables_list_oldest_first():
    a, b = facture(), facture()
    services.enregistrer_paiement(facture=b, montant=b.total_ttc, mode="carte")
    assert list(selectors.factures_impayees()) == [a]


def test_an_order_holding_a_deposit_cannot_be_deleted():
    piece = services.create_piece(nom="Filtre", prix="20")
    repair = services.create_reparation(piece=piece, duree=1)
    services.enregistrer_paiement(reparation=repair, montant="10", mode="especes")
    with pytest.raises(Conflict, match="still used"):
        services.delete_reparation(reparation=repair)
    assert Reparation.objects.filter(pk=repair.pk).exists()


def test_the_year_turning_while_waiting_for_the_lock_numbers_in_the_new_year(monkeypatch):
    """The counter's year is the issue time's year, read once the counter is locked."""
    from datetime import UTC, datetime

    from django.utils import timezone

    from metier.services import numerotation

    times = iter(
        [
            datetime(2026, 12, 31, 22, 59, 59, 999000, tzinfo=UTC),  # before the lock: 2026
            datetime(2026, 12, 31, 23, 0, 0, 1000, tzinfo=UTC),  # after it: 2027 in Paris
            datetime(2026, 12, 31, 23, 0, 0, 2000, tzinfo=UTC),
        ]
    )
    monkeypatch.setattr(timezone, "now", lambda: next(times))
    with transaction.atomic():
        numero = numerotation.prendre_numero(sequence="essai", format_="E{annee}-{numero}")
    assert numero.texte == "E2027-1" and timezone.localdate(numero.le).year == 2027


@pytest.mark.parametrize("table", TABLES_IMMUABLES)
def test_raw_sql_cannot_empty_the_immutable_tables(table):
    """PostgreSQL: TRUNCATE (which fires no row trigger) is refused by a BEFORE TRUNCATE
    trigger, also when a TRUNCATE ... CASCADE reaches the table from the repairs; an empty
    table may be truncated (Django's test flush). SQLite has no TRUNCATE: its whole-table
    DELETE is refused by the row triggers."""
    f = _every_kind_of_record()
    if connection.vendor == "postgresql":
        # The test's transaction holds deferred foreign-key checks, which TRUNCATE would
        # refuse for its own reason ("pending trigger events"): run them now.
        _raw("SET CONSTRAINTS ALL IMMEDIATE")
        with pytest.raises((IntegrityError, DatabaseError), match=r"TRUNCATE on .* refused"):
            _raw(f"TRUNCATE {table} CASCADE")
        with pytest.raises((IntegrityError, DatabaseError), match=r"TRUNCATE on .* refused"):
            _raw("TRUNCATE metier_reparation CASCADE")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM pg_trigger WHERE tgname = %s AND NOT tgisinternal",
                [f"{table}_non_vidable"],
            )
            assert cursor.fetchone()[0] == 1
    else:
        assert connection.vendor == "sqlite"
        with pytest.raises((IntegrityError, DatabaseError), match="refused"):
            _raw(f"DELETE FROM {table}")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        assert cursor.fetchone()[0] >= 1
    assert Facture.objects.filter(pk=f.pk).exists()


def test_an_empty_immutable_table_may_still_be_truncated():
    if connection.vendor != "postgresql":
        assert connection.vendor == "sqlite"  # no TRUNCATE statement there
        return
    _raw("TRUNCATE metier_ligneavoir")  # empty in this test: allowed (the test flush needs it)
    facture()
    _raw("SET CONSTRAINTS ALL IMMEDIATE")
    with pytest.raises((IntegrityError, DatabaseError), match=r"TRUNCATE on .* refused"):
        _raw("TRUNCATE metier_lignefacture, metier_ligneavoir")
