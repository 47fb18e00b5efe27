"""PDF rendering with ReportLab: pure Python (no system library such as pango, which
WeasyPrint needs), and it embeds the TrueType fonts it uses, as PDF/A (Factur-X) asks. The
fonts are Bitstream Vera, shipped with ReportLab."""

from __future__ import annotations

import io
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ..models import Avoir, Devis, Facture

FONT, BOLD = "GarageVera", "GarageVeraBd"
_fonts_ready = False


def _fonts() -> None:
    global _fonts_ready
    if not _fonts_ready:
        pdfmetrics.registerFont(TTFont(FONT, "Vera.ttf"))
        pdfmetrics.registerFont(TTFont(BOLD, "VeraBd.ttf"))
        _fonts_ready = True


def euros(amount: Decimal) -> str:
    """1234.5 → '1 234,50 €' (French style)."""
    whole, _, frac = f"{amount:.2f}".partition(".")
    sign = "-" if whole.startswith("-") else ""
    whole = whole.lstrip("-")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return f"{sign}{' '.join(groups)},{frac} €"


def _num(value: Decimal) -> str:
    return f"{value.normalize():f}".replace(".", ",")


def _styles() -> dict[str, ParagraphStyle]:
    _fonts()
    base = ParagraphStyle("base", fontName=FONT, fontSize=9, leading=12)
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=10),
        "title": ParagraphStyle("title", parent=base, fontName=BOLD, fontSize=15, leading=19),
        "h": ParagraphStyle("h", parent=base, fontName=BOLD, fontSize=10, spaceBefore=6),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    from xml.sax.saxutils import escape

    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _table(rows: list[list], widths: list[float], header: bool = True) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    style = [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("FONTSIZE", (0, 0), (-1, -1), 8.5),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("ALIGN", (-3, 0), (-1, -1), "RIGHT"),
        ("LINEBELOW", (0, -1), (-1, -1), 0.5, colors.grey),
    ]
    if header:
        style += [
            ("FONTNAME", (0, 0), (-1, 0), BOLD),
            ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.92, 0.92, 0.92)),
        ]
    table.setStyle(TableStyle(style))
    return table


def _render(story: list, title: str, author: str) -> bytes:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=title,
        author=author,
        subject=title,
        invariant=True,  # same record, same bytes (no creation date or random id)
    )
    doc.build(story)
    return buffer.getvalue()


def _parties(facture: Facture, st: dict) -> Table:
    e = facture.emetteur
    seller = [e.get("nom", ""), e.get("adresse", "")]
    if e.get("siret"):
        seller.append(f"SIRET {e['siret']}")
    if e.get("tva"):
        seller.append(f"TVA intracommunautaire {e['tva']}")
    buyer = [facture.client_nom, facture.client_adresse]
    if facture.client_siret:
        buyer.append(f"SIRET {facture.client_siret}")
    if facture.client_tva:
        buyer.append(f"TVA {facture.client_tva}")
    rows = [
        [
            _p("\n".join(x for x in seller if x), st["base"]),
            _p("Client\n" + "\n".join(x for x in buyer if x), st["base"]),
        ]
    ]
    return Table(rows, colWidths=[95 * mm, 85 * mm])


def facture_pdf(facture: Facture) -> bytes:
    """The invoice as a PDF: every mention the rules ask for."""
    st = _styles()
    story: list = [
        _p(f"Facture {facture.numero}", st["title"]),
        _p(
            f"Date : {facture.date:%d/%m/%Y}    Échéance : {facture.echeance:%d/%m/%Y}    "
            f"Ordre de réparation n° {facture.reparation_id}",
            st["base"],
        ),
        Spacer(1, 4 * mm),
        _parties(facture, st),
        Spacer(1, 3 * mm),
        _p(
            f"Véhicule : {facture.vehicule or '-'}    Immatriculation : "
            f"{facture.immatriculation or '-'}    Kilométrage : {facture.kilometrage} km"
            + (f"    VIN : {facture.vin}" if facture.vin else ""),
            st["base"],
        ),
        _p("Pièces", st["h"]),
    ]
    lignes = list(facture.lignes.order_by("position"))
    pieces = [lf for lf in lignes if lf.nature == "piece"]
    mo = [lf for lf in lignes if lf.nature == "main_oeuvre"]
    rows = [["Référence", "Désignation", "Origine", "Qté", "P.U. HT", "Montant HT"]]
    rows += [
        [
            lf.reference,
            _p(lf.designation, st["base"]),
            lf.origine,
            _num(lf.quantite),
            euros(lf.prix_unitaire),
            euros(lf.montant_ht),
        ]
        for lf in pieces
    ]
    story.append(_table(rows, [22 * mm, 65 * mm, 20 * mm, 15 * mm, 27 * mm, 31 * mm]))
    story.append(_p("Main-d'œuvre", st["h"]))
    rows = [["Désignation", "Décompte", "Heures", "Taux\nhoraire HT", "Montant HT"]]
    rows += [
        [
            _p(lf.designation, st["base"]),
            lf.mode_calcul,
            _num(lf.quantite),
            euros(lf.prix_unitaire),
            euros(lf.montant_ht),
        ]
        for lf in mo
    ]
    story.append(_table(rows, [72 * mm, 30 * mm, 20 * mm, 27 * mm, 31 * mm]))
    story.append(Spacer(1, 3 * mm))
    taux = f"{(facture.taux_tva * 100).normalize():f}".replace(".", ",")
    totals = [
        ["Total HT", euros(facture.total_ht)],
        [f"TVA {taux} %", euros(facture.montant_tva)],
        ["Total TTC", euros(facture.total_ttc)],
    ]
    acomptes = facture.acomptes or Decimal("0.00")
    if acomptes:
        totals += [
            ["Acomptes déduits", euros(-acomptes)],
            ["Net à payer", euros(facture.total_ttc - acomptes)],
        ]
    t = Table(totals, colWidths=[40 * mm, 31 * mm], hAlign="RIGHT")
    t.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT),
                ("FONTNAME", (0, 2), (-1, 2), BOLD),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                ("LINEABOVE", (0, 2), (-1, 2), 0.5, colors.black),
            ]
        )
    )
    story.append(t)
    if acomptes:
        story.append(_p("Acomptes reçus avant la facture", st["h"]))
        rows = [["Reçu le", "Mode", "Sur le devis", "Montant TTC"]]
        deposits = facture.reparation.paiements.filter(acompte=True).select_related("devis")
        rows += [
            [
                f"{timezone.localtime(p.recu_le):%d/%m/%Y}",
                p.get_mode_display(),
                p.devis.numero if p.devis_id else "-",
                euros(p.montant),
            ]
            for p in deposits.order_by("id")
        ]
        story.append(_table(rows, [40 * mm, 45 * mm, 50 * mm, 45 * mm]))
    story.append(_p("Travaux refusés par le client", st["h"]))
    if facture.travaux_refuses:
        rows = [["Désignation", "Qté", "Montant HT"]]
        rows += [
            [
                _p(str(item.get("designation", "")), st["base"]),
                str(item.get("quantite", "")),
                euros(Decimal(str(item.get("montant_ht", "0")))),
            ]
            for item in facture.travaux_refuses
        ]
        story.append(_table(rows, [110 * mm, 25 * mm, 45 * mm]))
    else:
        story.append(_p("Aucun.", st["base"]))
    story.append(_p("Conditions de paiement", st["h"]))
    story.append(
        _p(f"Échéance : {facture.echeance:%d/%m/%Y}. {facture.conditions_paiement}", st["base"])
    )
    if facture.mentions:
        story.append(_p(facture.mentions, st["base"]))
    return _render(story, f"Facture {facture.numero}", facture.emetteur.get("nom", ""))


def avoir_pdf(avoir: Avoir) -> bytes:
    """The credit note as a PDF, naming the invoice it corrects."""
    st = _styles()
    f = avoir.facture
    story: list = [
        _p(f"Avoir {avoir.numero}", st["title"]),
        _p(
            f"Date : {avoir.date:%d/%m/%Y}    Facture corrigée : {f.numero} du {f.date:%d/%m/%Y}",
            st["base"],
        ),
        Spacer(1, 4 * mm),
        _parties(f, st),
        Spacer(1, 3 * mm),
        _p(f"Motif : {avoir.motif}", st["base"]),
        Spacer(1, 3 * mm),
    ]
    rows = [["Désignation", "Qté", "P.U. HT", "Montant HT"]]
    rows += [
        [
            _p(la.designation, st["base"]),
            _num(la.quantite),
            euros(la.prix_unitaire),
            euros(la.montant_ht),
        ]
        for la in avoir.lignes.order_by("id")
    ]
    story.append(_table(rows, [100 * mm, 20 * mm, 30 * mm, 30 * mm]))
    story.append(Spacer(1, 3 * mm))
    for label, amount in (
        ("Total HT", avoir.total_ht),
        ("TVA", avoir.montant_tva),
        ("Total TTC à déduire", avoir.total_ttc),
    ):
        story.append(_p(f"{label} : {euros(amount)}", st["base"]))
    return _render(story, f"Avoir {avoir.numero}", f.emetteur.get("nom", ""))


DECISIONS = {"en_attente": "en attente", "acceptee": "acceptée", "refusee": "refusée"}


def devis_pdf(devis: Devis) -> bytes:
    """The estimate as a PDF: the garage, the customer and the vehicle, each line (parts with
    the reused alternative offered (PIEC), labour hours, rate and how they are counted), the
    totals, the validity date and, once answered, each line's decision and the signature."""
    from ..services.factures import emetteur  # the same identity as on invoices

    st = _styles()
    e = emetteur()
    reparation = devis.reparation
    voiture = reparation.voiture
    client = voiture.client if voiture is not None else None
    titre = "Devis complémentaire" if devis.complementaire else "Devis"
    seller = [e["nom"], e["adresse"]]
    if e["siret"]:
        seller.append(f"SIRET {e['siret']}")
    if e["tva"]:
        seller.append(f"TVA intracommunautaire {e['tva']}")
    buyer = [client.nom if client else "client de passage"]
    if client is not None:
        buyer += [client.telephone, client.email]
    story: list = [
        _p(f"{titre} {devis.numero}", st["title"]),
        _p(
            f"Date : {timezone.localdate(devis.cree_le):%d/%m/%Y}    Valable jusqu'au : "
            f"{devis.valide_jusqu_au:%d/%m/%Y}    Ordre de réparation n° {reparation.pk}",
            st["base"],
        ),
        Spacer(1, 4 * mm),
        Table(
            [
                [
                    _p("\n".join(x for x in seller if x), st["base"]),
                    _p("Client\n" + "\n".join(x for x in buyer if x), st["base"]),
                ]
            ],
            colWidths=[95 * mm, 85 * mm],
        ),
        Spacer(1, 3 * mm),
    ]
    if voiture is not None:
        vehicule = " ".join(x for x in (voiture.marque, voiture.modele) if x)
        story.append(
            _p(
                f"Véhicule : {vehicule or '-'}    Immatriculation : "
                f"{voiture.immatriculation or '-'}    Kilométrage : {voiture.kilometrage} km"
                + (f"    VIN : {voiture.vin}" if voiture.vin else ""),
                st["base"],
            )
        )
    lignes = list(devis.lignes.order_by("id"))
    pieces = [ligne for ligne in lignes if ligne.nature == "piece"]
    heures = [ligne for ligne in lignes if ligne.nature == "main_oeuvre"]
    answered = devis.repondu_le is not None
    story.append(_p("Pièces", st["h"]))
    rows = [["Désignation", "Qté", "P.U. HT\nneuve", "P.U. HT\nréemploi", "Montant HT", "Choix"]]
    for ligne in pieces:
        choix = DECISIONS[ligne.decision]
        if ligne.decision == "acceptee" and ligne.choix_piec:
            choix += " (réemploi)" if ligne.choix_piec == "reemploi" else " (neuve)"
        rows.append(
            [
                _p(ligne.designation, st["base"]),
                _num(ligne.quantite),
                euros(ligne.prix_unitaire),
                euros(ligne.prix_reemploi) if ligne.prix_reemploi is not None else "-",
                euros(ligne.montant),
                choix,
            ]
        )
    story.append(_table(rows, [52 * mm, 10 * mm, 22 * mm, 22 * mm, 26 * mm, 48 * mm]))
    story.append(_p("Main-d'œuvre", st["h"]))
    rows = [["Désignation", "Décompte", "Heures", "Taux\nhoraire HT", "Montant HT", "Choix"]]
    rows += [
        [
            _p(ligne.designation, st["base"]),
            settings.GARAGE_MODE_MAIN_OEUVRE,
            _num(ligne.quantite),
            euros(ligne.prix_unitaire),
            euros(ligne.montant),
            DECISIONS[ligne.decision],
        ]
        for ligne in heures
    ]
    story.append(_table(rows, [52 * mm, 24 * mm, 14 * mm, 22 * mm, 26 * mm, 42 * mm]))
    story.append(Spacer(1, 3 * mm))
    taux = f"{(devis.taux_tva * 100).normalize():f}".replace(".", ",")
    for label, amount in (
        ("Total HT", devis.total_ht),
        (f"TVA {taux} %", devis.montant_tva),
        ("Total TTC", devis.total_ttc),
    ):
        story.append(_p(f"{label} : {euros(amount)}", st["base"]))
    if any(ligne.prix_reemploi is not None for ligne in pieces):
        story.append(
            _p(
                "Pièces issues de l'économie circulaire : le client choisit, pour chaque pièce "
                "qui en propose, une pièce neuve ou de réemploi (art. L224-67 du code de la "
                "consommation).",
                st["small"],
            )
        )
    story.append(_p("Réponse du client", st["h"]))
    if answered:
        from ..services.paiements import totaux_approuves

        ok = totaux_approuves(devis)
        story.append(
            _p(
                f"Montant approuvé par le client (lignes acceptées, au prix de la pièce "
                f"choisie) : {euros(ok.total_ht)} HT, {euros(ok.montant_tva)} de TVA, "
                f"{euros(ok.total_ttc)} TTC.",
                st["base"],
            )
        )
        when = timezone.localtime(devis.repondu_le).strftime("%d/%m/%Y %H:%M")
        story.append(
            _p(
                f"Statut : {devis.get_statut_display()}. Signé « {devis.signature} » le {when}."
                f"\nEmpreinte SHA-256 du devis présenté : {devis.empreinte}",
                st["base"],
            )
        )
    else:
        story.append(
            _p(
                f"Statut : {Devis.Statut(devis.statut_effectif).label}. Bon pour accord : "
                "le client accepte ou refuse chaque ligne par le lien reçu.",
                st["base"],
            )
        )
    return _render(story, f"{titre} {devis.numero}", e["nom"])
