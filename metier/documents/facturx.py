"""Factur-X: the invoice's PDF with its data as CII XML (UN/CEFACT Cross Industry Invoice,
EN 16931 profile) embedded, made a PDF/A-3 by the `factur-x` library, which also checks the
XML against the profile's XSD before embedding it (an invalid XML raises, nothing is
served)."""

from __future__ import annotations

from decimal import Decimal

from facturx import generate_from_binary
from lxml import etree

from ..models import Facture
from .pdf import facture_pdf

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
NS = {"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT}
EN16931 = "urn:cen.eu:en16931:2017"
UNITS = {"piece": "H87", "main_oeuvre": "HUR"}  # UN/ECE rec. 20: piece, hour


def _el(parent, tag: str, text: str | None = None, **attrs: str):
    prefix, _, name = tag.partition(":")
    node = etree.SubElement(parent, f"{{{NS[prefix]}}}{name}", **attrs)
    if text is not None:
        node.text = text
    return node


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


def _date(parent, tag: str, value) -> None:
    _el(_el(parent, tag), "udt:DateTimeString", value.strftime("%Y%m%d"), format="102")


def _party(parent, tag: str, *, nom: str, adresse: str, siret: str, tva: str, pays: str):
    party = _el(parent, tag)
    _el(party, "ram:Name", nom or "-")
    if siret:
        # SIREN: the first 9 digits of the SIRET (ISO 6523 scheme 0002).
        _el(_el(party, "ram:SpecifiedLegalOrganization"), "ram:ID", siret[:9], schemeID="0002")
    address = _el(party, "ram:PostalTradeAddress")
    if adresse:
        _el(address, "ram:LineOne", adresse.replace("\n", ", ")[:200])
    _el(address, "ram:CountryID", pays or "FR")
    if tva:
        _el(_el(party, "ram:SpecifiedTaxRegistration"), "ram:ID", tva, schemeID="VA")


def facture_xml(facture: Facture) -> bytes:
    """The invoice as CII XML (Factur-X, EN 16931 profile)."""
    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NS)
    context = _el(root, "rsm:ExchangedDocumentContext")
    _el(_el(context, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", EN16931)
    document = _el(root, "rsm:ExchangedDocument")
    _el(document, "ram:ID", facture.numero)
    _el(document, "ram:TypeCode", "380")  # commercial invoice
    _date(document, "ram:IssueDateTime", facture.date)
    if facture.mentions:
        _el(_el(document, "ram:IncludedNote"), "ram:Content", facture.mentions)

    transaction = _el(root, "rsm:SupplyChainTradeTransaction")
    rate = f"{(facture.taux_tva * 100).quantize(Decimal('0.01'))}"
    for ligne in facture.lignes.order_by("position"):
        item = _el(transaction, "ram:IncludedSupplyChainTradeLineItem")
        _el(_el(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", str(ligne.position))
        product = _el(item, "ram:SpecifiedTradeProduct")
        if ligne.reference:
            _el(product, "ram:SellerAssignedID", ligne.reference)
        _el(product, "ram:Name", ligne.designation)
        agreement = _el(item, "ram:SpecifiedLineTradeAgreement")
        price = _el(agreement, "ram:NetPriceProductTradePrice")
        _el(price, "ram:ChargeAmount", _amount(ligne.prix_unitaire))
        delivery = _el(item, "ram:SpecifiedLineTradeDelivery")
        _el(delivery, "ram:BilledQuantity", f"{ligne.quantite:.2f}", unitCode=UNITS[ligne.nature])
        settlement = _el(item, "ram:SpecifiedLineTradeSettlement")
        tax = _el(settlement, "ram:ApplicableTradeTax")
        _el(tax, "ram:TypeCode", "VAT")
        _el(tax, "ram:CategoryCode", "S")
        _el(tax, "ram:RateApplicablePercent", rate)
        summation = _el(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
        _el(summation, "ram:LineTotalAmount", _amount(ligne.montant_ht))

    agreement = _el(transaction, "ram:ApplicableHeaderTradeAgreement")
    e = facture.emetteur
    _party(
        agreement,
        "ram:SellerTradeParty",
        nom=e.get("nom", ""),
        adresse=e.get("adresse", ""),
        siret=e.get("siret", ""),
        tva=e.get("tva", ""),
        pays=e.get("pays", "FR"),
    )
    _party(
        agreement,
        "ram:BuyerTradeParty",
        nom=facture.client_nom,
        adresse=facture.client_adresse,
        siret=facture.client_siret,
        tva=facture.client_tva,
        pays="FR",
    )
    delivery = _el(transaction, "ram:ApplicableHeaderTradeDelivery")
    # BT-72: the work was handed over on the invoice's date (no empty element: PEPPOL-R008).
    _date(
        _el(delivery, "ram:ActualDeliverySupplyChainEvent"), "ram:OccurrenceDateTime", facture.date
    )
    settlement = _el(transaction, "ram:ApplicableHeaderTradeSettlement")
    _el(settlement, "ram:InvoiceCurrencyCode", "EUR")
    tax = _el(settlement, "ram:ApplicableTradeTax")
    _el(tax, "ram:CalculatedAmount", _amount(facture.montant_tva))
    _el(tax, "ram:TypeCode", "VAT")
    _el(tax, "ram:BasisAmount", _amount(facture.total_ht))
    _el(tax, "ram:CategoryCode", "S")
    _el(tax, "ram:RateApplicablePercent", rate)
    terms = _el(settlement, "ram:SpecifiedTradePaymentTerms")
    _el(terms, "ram:Description", facture.conditions_paiement or "-")
    _date(terms, "ram:DueDateDateTime", facture.echeance)
    summation = _el(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _el(summation, "ram:LineTotalAmount", _amount(facture.total_ht))
    _el(summation, "ram:TaxBasisTotalAmount", _amount(facture.total_ht))
    _el(summation, "ram:TaxTotalAmount", _amount(facture.montant_tva), currencyID="EUR")
    _el(summation, "ram:GrandTotalAmount", _amount(facture.total_ttc))
    acomptes = facture.acomptes or Decimal("0.00")
    if acomptes:
        # BT-113: the deposits received before the invoice; BR-CO-16: due = total - paid.
        _el(summation, "ram:TotalPrepaidAmount", _amount(acomptes))
    _el(summation, "ram:DuePayableAmount", _amount(facture.total_ttc - acomptes))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def facture_facturx(facture: Facture) -> bytes:
    """The invoice as Factur-X: its PDF, PDF/A-3, with `factur-x.xml` embedded."""
    return generate_from_binary(
        facture_pdf(facture),
        facture_xml(facture),
        flavor="factur-x",
        level="en16931",
        check_xsd=True,
        lang="fr-FR",
        pdf_metadata={
            "author": facture.emetteur.get("nom", ""),
            "keywords": "Factur-X, facture",
            "title": f"Facture {facture.numero}",
            "subject": f"Facture {facture.numero} du {facture.date:%d/%m/%Y}",
        },
    )
