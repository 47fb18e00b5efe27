"""The invoice and credit note PDFs, read back; the Factur-X file, its XML extracted and
validated by the factur-x library."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from facturx import get_facturx_xml_from_pdf, xml_check_xsd
from lxml import etree
from pypdf import PdfReader

from metier import services
from metier.documents import avoir_pdf, facture_facturx, facture_pdf, facture_xml
from tests.support.facturation import facture

pytestmark = pytest.mark.django_db
NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
}


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    # words as a reader sees them, whatever the line breaks
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


@pytest.fixture
def garage(settings):
    settings.GARAGE_NOM = "Garage du Centre"
    settings.GARAGE_ADRESSE = "12 rue des Lilas, 69003 Lyon"
    settings.GARAGE_SIRET = "12345678900011"
    settings.GARAGE_TVA_INTRA = "FR32123456789"


@pytest.mark.usefixtures("garage")
def test_invoice_pdf_has_number_totals_and_mentions():
    f = facture(professionnel=True, client_siret="98765432100017", kilometrage=43000)
    text = _text(facture_pdf(f))
    for expected in (
        f"Facture {f.numero}",
        "Garage du Centre",
        "SIRET 12345678900011",
        "FR32123456789",
        "Mme Martin",
        f.immatriculation,
        "43000 km",
        "Plaquettes AV",
        "neuve",
        "temps passé",
        "60,00 €",  # hourly rate
        "170,00 €",  # total HT
        "34,00 €",  # VAT
        "204,00 €",  # total TTC
        f"{f.echeance:%d/%m/%Y}",
        "indemnité forfaitaire",
        "40,00 €",
        "Travaux refusés",
    ):
        assert expected in text, expected


def test_private_customer_pdf_has_no_business_mentions():
    text = _text(facture_pdf(facture()))
    assert "indemnité forfaitaire" not in text and "Total TTC" in text


def test_same_invoice_same_pdf():
    f = facture()
    assert facture_pdf(f) == facture_pdf(f)


def test_credit_note_pdf_names_its_invoice():
    f = facture()
    a = services.emettre_avoir(facture=f, motif="geste commercial")
    text = _text(avoir_pdf(a))
    assert f"Avoir {a.numero}" in text and f.numero in text and "204,00 €" in text


@pytest.mark.usefixtures("garage")
def test_facturx_embeds_valid_cii_xml():
    f = facture(professionnel=True, client_siret="98765432100017")
    pdf = facture_facturx(f)
    assert "Facture" in _text(pdf)
    filename, xml = get_facturx_xml_from_pdf(io.BytesIO(pdf), check_xsd=True)
    assert filename == "factur-x.xml"
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931")
    tree = etree.fromstring(xml)
    assert tree.findtext("rsm:ExchangedDocument/ram:ID", namespaces=NS) == f.numero
    total = tree.findtext(".//ram:GrandTotalAmount", namespaces=NS)
    assert Decimal(total) == f.total_ttc == Decimal("204.00")
    lines = tree.findall(".//ram:IncludedSupplyChainTradeLineItem", namespaces=NS)
    assert len(lines) == 2
    # PDF/A-3 identification in the XMP metadata, and the XML attached to the document
    reader = PdfReader(io.BytesIO(pdf))
    xmp = reader.xmp_metadata
    assert xmp is not None and b"pdfaid" in reader.trailer["/Root"]["/Metadata"].get_data()
    assert "/AF" in reader.trailer["/Root"]


def test_bad_xml_is_refused_by_the_library():
    from facturx import generate_from_binary

    f = facture()
    broken = facture_xml(f).replace(b"<ram:TypeCode>380</ram:TypeCode>", b"")
    with pytest.raises(Exception, match=r"(?i)xsd|schema|valid"):
        generate_from_binary(facture_pdf(f), broken, flavor="factur-x", level="en16931")


# --- the estimate ---------------------------------------------------------------------------
def _devis_repondu():
    """An estimate for a customer's car: pads offering a reused part (30 €), 2 h of labour;
    the customer takes the reused pads and declines the labour."""
    from metier.models import Piece
    from metier.services import Reponse

    owner = services.create_client(nom="Mme Martin", email="martin@example.fr")
    voiture = services.create_voiture(
        marque="Peugeot",
        couleur="gris",
        modele="208",
        client=owner,
        immatriculation="GH-456-JK",
        kilometrage=61000,
    )
    pads = services.create_piece(nom="Plaquettes AV", prix="50.00", stock=5)
    Piece.objects.filter(pk=pads.pk).update(prix_reemploi=Decimal("30.00"))
    repair = services.create_reparation(piece=pads, duree=2, voiture=voiture)
    devis = services.create_devis(reparation=repair)
    pad, labour = devis.lignes.order_by("id")
    _, jeton = services.envoyer_devis(devis=devis)
    return services.repondre_devis(
        jeton=jeton,
        reponse=Reponse(
            decisions={str(pad.pk): "acceptee", str(labour.pk): "refusee"},
            choix_piec={str(pad.pk): "reemploi"},
            signature="Claire Martin",
        ),
        document="<p>le devis</p>",
        adresse_ip="203.0.113.7",
        user_agent="Mozilla/5.0",
    )


@pytest.mark.usefixtures("garage")
def test_estimate_pdf_has_number_lines_totals_validity_and_answer():
    from metier.documents import devis_pdf

    devis = _devis_repondu()
    text = _text(devis_pdf(devis))
    for expected in (
        f"Devis {devis.numero}",
        f"{devis.valide_jusqu_au:%d/%m/%Y}",
        "Garage du Centre",
        "SIRET 12345678900011",
        "Mme Martin",
        "GH456JK",
        "61000 km",
        "Plaquettes AV",
        "50,00 €",  # new part
        "30,00 €",  # the reused part offered (PIEC)
        "réemploi",
        "temps passé",
        "60,00 €",  # hourly rate
        "120,00 €",  # the labour line, declined
        "refusée",
        "L224-67",
        "170,00 €",  # total HT as made
        "204,00 €",  # total TTC
        "Montant approuvé",
        "30,00 € HT",  # the reused pads alone were accepted
        "36,00 € TTC",
        "Claire Martin",
        devis.empreinte,
    ):
        assert expected in text, expected


def test_an_unanswered_estimate_pdf_says_it_awaits_the_customer():
    from metier.documents import devis_pdf

    filtre = services.create_piece(nom="Filtre", prix="12.00", stock=1)
    devis = services.create_devis(reparation=services.create_reparation(piece=filtre, duree=1))
    text = _text(devis_pdf(devis))
    assert f"Devis {devis.numero}" in text and "brouillon" in text and "client de passage" in text
    assert devis_pdf(devis) == devis_pdf(devis)  # same record, same bytes


# --- EN 16931 schematron (the official business rules, beyond the XSD) -----------------------
@pytest.mark.usefixtures("garage")
@pytest.mark.parametrize("professionnel", [True, False])
def test_facturx_xml_passes_the_en16931_schematron(professionnel):
    from tests.support import schematron

    kwargs = {"professionnel": True, "client_siret": "98765432100017"} if professionnel else {}
    _, xml = get_facturx_xml_from_pdf(io.BytesIO(facture_facturx(facture(**kwargs))))
    violations, report = schematron.check(xml)
    assert violations == [], "\n".join(map(str, violations))
    assert schematron.rules_fired(report) > 50  # the rules did run on this document


@pytest.mark.usefixtures("garage")
def test_the_schematron_catches_what_the_xsd_lets_through():
    from tests.support import schematron

    xml = facture_xml(facture())
    # a wrong total and an unknown country: both valid against the XSD
    broken = xml.replace(
        b"<ram:GrandTotalAmount>204.00</ram:GrandTotalAmount>",
        b"<ram:GrandTotalAmount>205.00</ram:GrandTotalAmount>",
    ).replace(b"<ram:CountryID>FR</ram:CountryID>", b"<ram:CountryID>XX</ram:CountryID>", 1)
    assert broken != xml and xml_check_xsd(broken, flavor="factur-x", level="en16931")
    violations = {v.rule: v for v in schematron.check(broken)[0]}
    assert "BR-CO-15" in violations  # grand total = total without VAT + VAT
    assert "BR-CO-16" in violations  # amount due = grand total - paid amount
    # the seller's country against the ISO 3166 code list (the code list database is read)
    assert "CountryID" in violations["FX-SCH-A-000580"].text
