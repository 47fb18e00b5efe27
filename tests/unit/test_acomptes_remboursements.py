"""Deposits taken on an approved estimate and deducted by the invoice; refunds of what a
credit note cancelled of a paid invoice. On SQLite and on PostgreSQL (DATABASE_URL)."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from facturx import get_facturx_xml_from_pdf
from lxml import etree
from pypdf import PdfReader

from metier import selectors, services
from metier.documents import facture_facturx, facture_pdf
from metier.models import EcritureJournal, Paiement, Remboursement
from metier.services import Conflict, journal
from tests.support import schematron
from tests.support.facturation import devis_repondu, facture, terminer

pytestmark = pytest.mark.django_db
D = Decimal
NS = {"ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"}


def _text(pdf: bytes) -> str:
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())


# --- deposits on the approved estimate ----------------------------------------------------------
def test_a_deposit_is_taken_on_the_approved_estimate_within_what_was_approved():
    devis = devis_repondu()  # reused pads 30 + labour 120 = 150 HT, 180 TTC
    assert services.montant_approuve(devis) == D("180.00")
    p = services.enregistrer_paiement(devis=devis, montant=D("50.00"), mode="carte")
    assert (p.devis, p.reparation_id, p.acompte, p.facture) == (
        devis,
        devis.reparation_id,
        True,
        None,
    )
    with pytest.raises(ValidationError) as err:
        services.enregistrer_paiement(devis=devis, montant=D("130.01"), mode="carte")
    assert "montant" in err.value.message_dict and devis.numero in str(err.value)
    services.enregistrer_paiement(devis=devis, montant=D("130.00"), mode="especes")
    assert sum(p.montant for p in devis.acomptes.all()) == D("180.00")


def test_only_what_the_customer_approved_counts():
    devis = devis_repondu(decisions=("acceptee", "refusee"), piec="neuve")  # pads 50 HT only
    assert services.montant_approuve(devis) == D("60.00")
    with pytest.raises(ValidationError, match=r"60\.00"):
        services.enregistrer_paiement(devis=devis, montant=D("61.00"), mode="carte")


@pytest.mark.parametrize("case", ["unanswered", "declined", "other_repair", "invoiced"])
def test_a_deposit_needs_an_approved_estimate_of_that_repair_before_the_invoice(case):
    if case == "unanswered":
        piece = services.create_piece(nom="Filtre", prix="10.00", stock=1)
        devis = services.create_devis(reparation=services.create_reparation(piece=piece, duree=1))
        with pytest.raises(Conflict, match=r"approved estimate: .* is brouillon"):
            services.enregistrer_paiement(devis=devis, montant=D("5.00"), mode="carte")
    elif case == "declined":
        devis = devis_repondu(decisions=("refusee", "refusee"))
        with pytest.raises(Conflict, match=r"approved estimate: .* is refuse"):
            services.enregistrer_paiement(devis=devis, montant=D("5.00"), mode="carte")
    elif case == "other_repair":
        devis, other = devis_repondu(), facture().reparation
        with pytest.raises(ValidationError) as err:
            services.enregistrer_paiement(
                devis=devis, reparation=other, montant=D("5.00"), mode="carte"
            )
        assert "devis" in err.value.message_dict
    else:
        devis = devis_repondu()
        services.emettre_facture(reparation=terminer(devis.reparation))
        with pytest.raises(Conflict, match="pay the invoice"):
            services.enregistrer_paiement(devis=devis, montant=D("5.00"), mode="carte")
    assert not Paiement.objects.exists()


def test_the_invoice_deducts_the_deposits(settings):
    settings.GARAGE_SIRET, settings.GARAGE_TVA_INTRA = "12345678900011", "FR32123456789"
    devis = devis_repondu()
    services.enregistrer_paiement(devis=devis, montant=D("50.00"), mode="carte")
    services.enregistrer_paiement(reparation=devis.reparation, montant=D("10.00"), mode="especes")
    f = services.emettre_facture(reparation=terminer(devis.reparation))
    assert (f.total_ttc, f.acomptes) == (D("180.00"), D("60.00"))
    assert selectors.factures().get(pk=f.pk).reste_du == D("120.00")
    assert services.statut_paiement(f) == "partiellement_payee"
    text = _text(facture_pdf(f))
    for expected in ("Acomptes déduits", "-60,00 €", "Net à payer", "120,00 €", devis.numero):
        assert expected in text, expected
    _, xml = get_facturx_xml_from_pdf(io.BytesIO(facture_facturx(f)), check_xsd=True)
    tree = etree.fromstring(xml)
    assert tree.findtext(".//ram:TotalPrepaidAmount", namespaces=NS) == "60.00"
    assert tree.findtext(".//ram:DuePayableAmount", namespaces=NS) == "120.00"
    violations, _ = schematron.check(xml)  # BR-CO-16: due = grand total - prepaid
    assert violations == [], "\n".join(map(str, violations))
    # the rest is paid as usual, never more
    with pytest.raises(ValidationError, match=r"120\.00"):
        services.enregistrer_paiement(facture=f, montant=D("120.01"), mode="carte")
    services.enregistrer_paiement(facture=f, montant=D("120.00"), mode="carte")
    assert services.statut_paiement(f) == "payee"
    assert journal.verifier().intact


def test_an_invoice_without_deposit_asks_for_its_total():
    f = facture()
    assert f.acomptes == D("0.00")
    _, xml = get_facturx_xml_from_pdf(io.BytesIO(facture_facturx(f)))
    tree = etree.fromstring(xml)
    assert tree.find(".//ram:TotalPrepaidAmount", namespaces=NS) is None
    assert tree.findtext(".//ram:DuePayableAmount", namespaces=NS) == "204.00"
    assert "Net à payer" not in _text(facture_pdf(f))


def test_the_journal_keeps_later_columns_out_while_null():
    """Entries written before `devis` and `acomptes` existed hold no such key: a null
    value is left out, so those entries still match their records."""
    devis = devis_repondu()
    on_devis = services.enregistrer_paiement(devis=devis, montant=D("5.00"), mode="carte")
    on_order = services.enregistrer_paiement(
        reparation=devis.reparation, montant=D("5.00"), mode="carte"
    )
    entry = {e.objet_id: e.contenu for e in EcritureJournal.objects.filter(type="paiement")}
    assert f'"devis_id":{devis.pk}' in entry[on_devis.pk]
    assert "devis_id" not in entry[on_order.pk]
    assert journal.verifier().intact


# --- refunds ------------------------------------------------------------------------------
def _paid(amount: str = "204.00"):
    f = facture()
    services.enregistrer_paiement(facture=f, montant=D(amount), mode="carte")
    return f


def test_a_paid_invoice_credited_in_full_is_refunded():
    f = _paid()
    avoir = services.emettre_avoir(facture=f, motif="travaux non conformes")
    assert services.statut_paiement(selectors.factures().get(pk=f.pk)) == "a_rembourser"
    etat = services.etat_remboursement(avoir)
    assert (etat.statut, etat.a_rembourser, etat.montant_rembourse) == (
        "a_rembourser",
        D("204.00"),
        D("0.00"),
    )
    with pytest.raises(ValidationError) as err:
        services.enregistrer_remboursement(avoir=avoir, montant=D("204.01"), mode="virement")
    assert "over-refund" in err.value.message_dict["montant"][0]
    r = services.enregistrer_remboursement(
        avoir=avoir, montant=D("100.00"), mode="virement", reference="VIR-1"
    )
    assert (r.facture, r.reparation_id) == (f, f.reparation_id)
    assert services.etat_remboursement(avoir).a_rembourser == D("104.00")
    services.enregistrer_remboursement(avoir=avoir, montant=D("104.00"), mode="cheque")
    etat = services.etat_remboursement(avoir)
    assert (etat.statut, etat.a_rembourser, etat.montant_rembourse) == (
        "rembourse",
        D("0.00"),
        D("204.00"),
    )
    annotated = selectors.factures().get(pk=f.pk)
    assert annotated.reste_du == D("0.00") and annotated.montant_rembourse == D("204.00")
    assert services.statut_paiement(annotated) == "soldee_par_avoir"
    assert services.statut_paiement(f) == "soldee_par_avoir"  # computed, same answer
    with pytest.raises(Conflict, match="nothing to refund"):
        services.enregistrer_remboursement(avoir=avoir, montant=D("1.00"), mode="cheque")
    # journalled like payments: invoice, payment, credit note, two refunds
    types = list(EcritureJournal.objects.values_list("type", flat=True))
    assert types == ["facture", "paiement", "avoir", "remboursement", "remboursement"]
    assert journal.verifier().intact


def test_a_credit_note_on_an_unpaid_invoice_has_nothing_to_refund():
    avoir = services.emettre_avoir(facture=facture(), motif="erreur")
    assert services.etat_remboursement(avoir).statut == "sans_objet"
    with pytest.raises(Conflict, match="nothing to refund"):
        services.enregistrer_remboursement(avoir=avoir, montant=D("1.00"), mode="especes")
    assert not Remboursement.objects.exists()


def test_only_what_was_paid_beyond_the_corrected_total_is_refunded():
    f = _paid("150.00")  # 54.00 still due
    ligne = f.lignes.get(nature="piece")  # 50 HT: 60 TTC
    first = services.emettre_avoir(
        facture=f, motif="remise", lignes=[{"ligne": ligne.pk, "quantite": 1}]
    )
    # 204 - 60 = 144 corrected total, 150 paid: 6 to refund, not 60
    assert services.etat_remboursement(first).a_rembourser == D("6.00")
    # a second credit note on the same invoice shares what is owed back
    second = services.emettre_avoir(
        facture=f,
        motif="geste",
        lignes=[{"ligne": f.lignes.get(nature="main_oeuvre").pk, "quantite": 1}],
    )
    assert second.total_ttc == D("72.00")
    assert services.etat_remboursement(first).a_rembourser == D("60.00")
    assert services.etat_remboursement(second).a_rembourser == D("72.00")
    # the list of refunds to make says the same, in SQL
    due = {a.pk: a.du for a in selectors.avoirs_a_rembourser()}
    assert due == {first.pk: D("60.00"), second.pk: D("72.00")}
    services.enregistrer_remboursement(avoir=second, montant=D("72.00"), mode="virement")
    # 78 owed back in all: 6 are left, on the first
    assert services.etat_remboursement(first).a_rembourser == D("6.00")
    assert services.etat_remboursement(second).statut == "rembourse"
    with pytest.raises(ValidationError, match=r"6\.00"):
        services.enregistrer_remboursement(avoir=first, montant=D("7.00"), mode="virement")
    assert {a.pk: a.du for a in selectors.avoirs_a_rembourser()} == {first.pk: D("6.00")}
    services.enregistrer_remboursement(avoir=first, montant=D("6.00"), mode="virement")
    assert not selectors.avoirs_a_rembourser().exists()
    assert selectors.factures().get(pk=f.pk).reste_du == D("0.00")


@pytest.mark.parametrize(
    ("montant", "mode", "field"),
    [
        ("0", "carte", "montant"),
        ("-1", "carte", "montant"),
        ("1.001", "carte", "montant"),
        ("abc", "carte", "montant"),
        ("NaN", "carte", "montant"),
        ("1", "bitcoin", "mode"),
    ],
)
def test_bad_refunds_are_refused_with_their_field(montant, mode, field):
    avoir = services.emettre_avoir(facture=_paid(), motif="erreur")
    with pytest.raises(ValidationError) as err:
        services.enregistrer_remboursement(avoir=avoir, montant=montant, mode=mode)
    assert field in err.value.message_dict


def test_a_refund_never_changes_and_its_tampering_is_named():
    avoir = services.emettre_avoir(facture=_paid(), motif="erreur")
    r = services.enregistrer_remboursement(avoir=avoir, montant=D("4.00"), mode="especes")
    with pytest.raises((IntegrityError, DatabaseError), match="refused"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE metier_remboursement SET montant = 1 WHERE id = %s", [r.pk])
    from tests.support.facturation import drop_triggers

    with connection.cursor() as cursor:
        drop_triggers(cursor)
        cursor.execute("UPDATE metier_remboursement SET montant = 1 WHERE id = %s", [r.pk])
    result = journal.verifier(premier_seulement=True)
    assert "remboursement" in str(result.problemes[0]) and "montant" in str(result.problemes[0])
