"""Estimates (Devis): the domain's rules, on SQLite and on PostgreSQL (DATABASE_URL).

Made from an order's lines, numbered, sent as a signed single-use link, answered line by
line with the PIEC choice; work cannot start on lines not approved; declined work is kept;
supplementary estimates add lines to an order in progress.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import signing
from django.core.exceptions import ValidationError
from django.utils import timezone

from metier import selectors, services
from metier.models import Approbation, Devis, DevisLigne, Origine, Piece, Reparation
from metier.services import Conflict, LienInvalide, LigneProposee, Reponse

pytestmark = pytest.mark.django_db

A, R = DevisLigne.Decision.ACCEPTEE, DevisLigne.Decision.REFUSEE


@pytest.fixture
def order() -> Reparation:
    """Pads (50 €, reused ones at 30 €) x1, a 2 h labour line, discs (20 €) x2; planned."""
    pads = services.create_piece(nom="Plaquettes", prix="50.00", stock=5)
    Piece.objects.filter(pk=pads.pk).update(prix_reemploi=Decimal("30.00"))
    discs = services.create_piece(nom="Disques", prix="20.00", stock=5)
    repair = services.create_reparation(piece=pads, duree=2, description="bruit au freinage")
    services.add_ligne_piece(reparation=repair, piece=discs, quantite=2)
    services.transition(reparation=repair, action="planifier")
    return Reparation.objects.get(pk=repair.pk)


def _lines(devis: Devis) -> dict[str, DevisLigne]:
    return {line.designation: line for line in devis.lignes.order_by("id")}


def _answer(devis: Devis, decisions: dict[str, str], piec: dict[str, str] | None = None, **kw):
    lines = _lines(devis)
    reponse = Reponse(
        decisions={str(lines[name].pk): d for name, d in decisions.items()},
        choix_piec={str(lines[name].pk): c for name, c in (piec or {}).items()},
        signature=kw.pop("signature", "Claire Martin"),
    )
    _, jeton = services.envoyer_devis(devis=devis)
    return services.repondre_devis(
        jeton=jeton,
        reponse=reponse,
        document=kw.pop("document", "<p>le devis</p>"),
        adresse_ip=kw.pop("adresse_ip", "203.0.113.7"),
        user_agent=kw.pop("user_agent", "Mozilla/5.0 (Android)"),
    )


def test_an_estimate_copies_the_order_lines_and_is_numbered_per_year(order, settings):
    settings.GARAGE_DEVIS_VALIDITE_JOURS = 15
    devis = services.create_devis(reparation=order)
    year = timezone.localdate().year
    assert devis.numero == f"D{year}-000001"
    assert devis.statut == Devis.Statut.BROUILLON and not devis.complementaire
    assert devis.valide_jusqu_au == timezone.localdate() + timedelta(days=15)
    lines = _lines(devis)
    assert set(lines) == {"Plaquettes", "Disques", "main d'œuvre"}
    assert lines["Plaquettes"].prix_reemploi == Decimal("30.00")  # PIEC offered
    assert lines["Disques"].prix_reemploi is None and lines["Disques"].montant == Decimal("40.00")
    assert lines["main d'œuvre"].montant == Decimal("120.00")  # 2 h x 60
    assert (devis.total_ht, devis.montant_tva, devis.total_ttc) == (
        Decimal("210.00"),
        Decimal("42.00"),
        Decimal("252.00"),
    )
    # a second estimate for the order takes the next number and replaces the first
    second = services.create_devis(reparation=order)
    assert second.numero == f"D{year}-000002"
    devis.refresh_from_db()
    assert devis.statut == Devis.Statut.ANNULE


def test_the_link_opens_its_estimate_and_nothing_else(order):
    devis = services.create_devis(reparation=order)
    devis, jeton = services.envoyer_devis(devis=devis)
    assert devis.statut == Devis.Statut.ENVOYE and len(devis.jeton_hash) == 64
    assert jeton.split(":")[0] not in devis.jeton_hash  # the token itself is not stored
    assert services.devis_du_lien(jeton).pk == devis.pk

    def code(value: str) -> str:
        with pytest.raises(LienInvalide) as exc:
            services.devis_du_lien(value)
        return exc.value.code

    assert code(jeton[:-2] + ("A" if jeton[-2] != "A" else "B") + jeton[-1]) == "altere"
    assert code("nimportequoi") == "altere"
    # the same content signed for another purpose (another salt) is refused
    data = signing.loads(jeton, salt="garage.devis.approbation")
    assert code(signing.dumps(data, salt="garage.autre.usage")) == "altere"
    # a forged token for the right estimate, correctly signed (a leaked key) still needs the
    # stored token's hash
    assert code(signing.dumps({"d": devis.pk, "t": "x" * 43}, salt=services.devis.SALT)) in (
        "remplace",
    )
    # sending again revokes the previous link
    _, newer = services.envoyer_devis(devis=devis)
    assert code(jeton) == "remplace"
    assert services.devis_du_lien(newer).pk == devis.pk
    # past its validity date: expired
    Devis.objects.filter(pk=devis.pk).update(valide_jusqu_au=timezone.localdate() - timedelta(1))
    assert code(newer) == "expire"
    assert selectors.devis().get(pk=devis.pk).statut_affiche == Devis.Statut.EXPIRE
    # withdrawn
    Devis.objects.filter(pk=devis.pk).update(valide_jusqu_au=timezone.localdate())
    services.annuler_devis(devis=devis)
    assert code(newer) == "retire"


def test_the_answer_is_recorded_and_applied_to_the_order(order):
    devis = services.create_devis(reparation=order)
    pads = Piece.objects.get(nom="Plaquettes")
    discs = Piece.objects.get(nom="Disques")
    assert (pads.reserve, discs.reserve) == (1, 2)  # planned: everything reserved
    answered = _answer(
        devis,
        {"Plaquettes": A, "Disques": R, "main d'œuvre": A},
        {"Plaquettes": Origine.REEMPLOI},
        signature="  Claire   Martin ",
        document="<section>Devis</section>",
    )
    answered.refresh_from_db()
    assert answered.statut == Devis.Statut.PARTIELLEMENT_ACCEPTE and answered.est_approuve
    assert answered.signature == "Claire Martin"
    assert answered.adresse_ip == "203.0.113.7" and "Android" in answered.user_agent
    assert answered.document == "<section>Devis</section>"
    assert answered.empreinte == hashlib.sha256(b"<section>Devis</section>").hexdigest()
    assert answered.repondu_le is not None and answered.jeton_hash == ""
    lines = _lines(answered)
    assert lines["Plaquettes"].choix_piec == Origine.REEMPLOI
    assert lines["Disques"].decision == R and lines["Disques"].choix_piec == ""

    # the order: declined work kept, outside the totals and the reservation
    order.refresh_from_db()
    pad_line = order.lignes_pieces.get(piece__nom="Plaquettes")
    disc_line = order.lignes_pieces.get(piece__nom="Disques")
    assert (pad_line.approbation, pad_line.origine, pad_line.prix_unitaire) == (
        Approbation.APPROUVEE,
        Origine.REEMPLOI,
        Decimal("30.00"),
    )
    assert disc_line.approbation == Approbation.REFUSEE
    assert order.lignes_main_oeuvre.get().approbation == Approbation.APPROUVEE
    assert order.total_ht == Decimal("150.00")  # 30 + 120; the declined discs are not counted
    assert order.total_ttc == Decimal("180.00")
    pads.refresh_from_db()
    discs.refresh_from_db()
    assert (pads.reserve, discs.reserve) == (1, 0)
    parts, labour = selectors.travaux_refuses(order)
    assert list(parts) == [disc_line] and not labour.exists()
    assert list(selectors.devis_approuves(order)) == [answered]


def test_a_link_is_used_once(order):
    devis = services.create_devis(reparation=order)
    _, jeton = services.envoyer_devis(devis=devis)
    lines = _lines(devis)
    reponse = Reponse(
        decisions={str(x.pk): A for x in lines.values()},
        choix_piec={str(lines["Plaquettes"].pk): Origine.NEUVE},
        signature="Claire Martin",
    )
    args = {"document": "d", "adresse_ip": None, "user_agent": ""}
    assert services.repondre_devis(jeton=jeton, reponse=reponse, **args).statut == "accepte"
    with pytest.raises(LienInvalide) as exc:
        services.repondre_devis(jeton=jeton, reponse=reponse, **args)
    assert exc.value.code == "repondu"


def test_an_incomplete_answer_records_nothing(order):
    devis = services.create_devis(reparation=order)
    _, jeton = services.envoyer_devis(devis=devis)
    lines = _lines(devis)
    reponse = Reponse(
        decisions={str(lines["Plaquettes"].pk): A, str(lines["Disques"].pk): "peut-etre"},
        choix_piec={},
        signature="C",
    )
    with pytest.raises(ValidationError) as exc:
        services.repondre_devis(
            jeton=jeton, reponse=reponse, document="d", adresse_ip=None, user_agent=""
        )
    assert set(exc.value.message_dict) == {
        f"decision-{lines['Disques'].pk}",
        "decision-" + str(lines["main d'œuvre"].pk),
        f"piec-{lines['Plaquettes'].pk}",  # accepted, offers a reused part: must choose
        "signature",
    }
    devis.refresh_from_db()
    assert devis.statut == Devis.Statut.ENVOYE and devis.repondu_le is None
    assert not order.lignes_pieces.exclude(approbation=Approbation.EN_ATTENTE).exists()


def test_work_cannot_start_on_lines_not_approved(order):
    services.envoyer_devis(devis=services.create_devis(reparation=order))
    with pytest.raises(Conflict, match=r"has not approved part line .* labour line"):
        services.transition(reparation=order, action="demarrer")
    # the customer declines the discs, accepts the rest: the work starts without them
    devis = Devis.objects.get(reparation=order, statut="envoye")
    _answer(devis, {"Plaquettes": A, "Disques": R, "main d'œuvre": A}, {"Plaquettes": "neuve"})
    services.transition(reparation=order, action="demarrer")
    pads, discs = Piece.objects.get(nom="Plaquettes"), Piece.objects.get(nom="Disques")
    assert (pads.stock, pads.reserve, discs.stock, discs.reserve) == (4, 0, 5, 0)
    # cancelling gives back exactly what was taken
    services.transition(reparation=order, action="annuler")
    discs.refresh_from_db()
    pads.refresh_from_db()
    assert (pads.stock, discs.stock) == (5, 5)


def test_every_line_declined_nothing_to_start(order):
    devis = services.create_devis(reparation=order)
    answered = _answer(devis, {"Plaquettes": R, "Disques": R, "main d'œuvre": R})
    assert answered.statut == Devis.Statut.REFUSE and not answered.est_approuve
    order.refresh_from_db()
    assert order.total_ht == Decimal("0.00")
    with pytest.raises(Conflict, match="declined every line"):
        services.transition(reparation=order, action="demarrer")


def test_an_order_without_estimate_starts_as_before_unless_required(order, settings):
    services.transition(reparation=order, action="demarrer")  # the seed's path: no estimate
    other = services.create_reparation(piece=Piece.objects.get(nom="Disques"), duree=1)
    services.transition(reparation=other, action="planifier")
    settings.GARAGE_DEVIS_OBLIGATOIRE = True
    with pytest.raises(Conflict, match="has not approved"):
        services.transition(reparation=other, action="demarrer")


def test_changing_the_lines_withdraws_the_open_estimate_and_asks_again(order):
    devis = services.create_devis(reparation=order)
    _answer(devis, {"Plaquettes": A, "Disques": A, "main d'œuvre": A}, {"Plaquettes": "reemploi"})
    pending = services.create_devis(reparation=order)
    _, jeton = services.envoyer_devis(devis=pending)
    pad_line = order.lignes_pieces.get(piece__nom="Plaquettes")
    services.update_ligne_piece(ligne=pad_line, quantite=2)
    pending.refresh_from_db()
    assert pending.statut == Devis.Statut.ANNULE
    with pytest.raises(LienInvalide):
        services.devis_du_lien(jeton)
    pad_line.refresh_from_db()
    # approved for one reused pad; two is another thing: asked again, at the new-part price
    assert (pad_line.approbation, pad_line.origine, pad_line.prix_unitaire) == (
        Approbation.EN_ATTENTE,
        Origine.NEUVE,
        Decimal("50.00"),
    )
    with pytest.raises(Conflict, match="has not approved part line"):
        services.transition(reparation=order, action="demarrer")


def test_cancelling_the_order_withdraws_its_estimate(order):
    _, jeton = services.envoyer_devis(devis=services.create_devis(reparation=order))
    services.transition(reparation=order, action="annuler")
    with pytest.raises(LienInvalide) as exc:
        services.devis_du_lien(jeton)
    assert exc.value.code == "retire"
    with pytest.raises(Conflict, match="annulee"):
        services.create_devis(reparation=order)


def _started(order: Reparation) -> Reparation:
    devis = services.create_devis(reparation=order)
    _answer(devis, {"Plaquettes": A, "Disques": A, "main d'œuvre": A}, {"Plaquettes": "neuve"})
    return services.transition(reparation=order, action="demarrer")


def test_supplementary_estimate_adds_approved_work_to_the_order_in_progress(order):
    order = _started(order)
    with pytest.raises(ValidationError) as exc:
        services.create_devis(reparation=order)  # the work started: new lines are needed
    assert "lignes" in exc.value.message_dict
    filtre = services.create_piece(nom="Filtre", prix="12.00", stock=3)
    Piece.objects.filter(pk=filtre.pk).update(prix_reemploi=Decimal("7.00"))
    filtre.refresh_from_db()
    sup = services.create_devis(
        reparation=order,
        lignes=[
            LigneProposee(piece=filtre, quantite=2),
            LigneProposee(heures=Decimal("0.5"), description="purge"),
        ],
    )
    assert sup.complementaire and sup.total_ht == Decimal("54.00")  # 24 + 30
    before = order.lignes_pieces.count(), order.lignes_main_oeuvre.count()
    _answer(sup, {"Filtre": A, "purge": R}, {"Filtre": "reemploi"})
    order.refresh_from_db()
    assert (order.lignes_pieces.count(), order.lignes_main_oeuvre.count()) == (
        before[0] + 1,
        before[1] + 1,
    )
    added = order.lignes_pieces.get(piece=filtre)
    assert (added.approbation, added.origine, added.prix_unitaire) == ("approuvee", "reemploi", 7)
    assert order.lignes_main_oeuvre.get(description="purge").approbation == "refusee"
    filtre.refresh_from_db()
    assert (filtre.stock, filtre.reserve) == (1, 0)  # taken from the shelf: work in progress
    # 50 + 40 + 120 approved at first, + 14 now; the declined purge is kept, not counted
    assert order.total_ht == Decimal("224.00")
    # finishing then cancelling is impossible; cancelling in progress gives everything back
    services.transition(reparation=order, action="annuler")
    filtre.refresh_from_db()
    assert filtre.stock == 3


def test_supplementary_estimate_needs_the_parts_on_the_shelf(order):
    order = _started(order)
    rare = services.create_piece(nom="Rare", prix="99.00", stock=1)
    with pytest.raises(Conflict, match=f"piece {rare.pk} short by 1"):
        services.create_devis(reparation=order, lignes=[LigneProposee(piece=rare, quantite=2)])
    sup = services.create_devis(reparation=order, lignes=[LigneProposee(piece=rare)])
    _, jeton = services.envoyer_devis(devis=sup)
    Piece.objects.filter(pk=rare.pk).update(stock=0)  # used elsewhere meanwhile
    line = sup.lignes.get()
    with pytest.raises(Conflict, match="short by 1"):
        services.repondre_devis(
            jeton=jeton,
            reponse=Reponse(decisions={str(line.pk): A}, choix_piec={}, signature="Claire M"),
            document="d",
            adresse_ip=None,
            user_agent="",
        )
    sup.refresh_from_db()
    assert sup.statut == Devis.Statut.ENVOYE  # nothing recorded: the garage calls back


def test_finishing_withdraws_an_open_supplementary_estimate(order):
    order = _started(order)
    sup = services.create_devis(
        reparation=order, lignes=[LigneProposee(heures=Decimal("1"), description="essai")]
    )
    services.envoyer_devis(devis=sup)
    services.transition(reparation=order, action="terminer")
    sup.refresh_from_db()
    assert sup.statut == Devis.Statut.ANNULE


def test_the_database_refuses_an_answer_without_its_record(order):
    from django.db import IntegrityError, transaction

    devis = services.create_devis(reparation=order)
    with pytest.raises(IntegrityError), transaction.atomic():
        Devis.objects.filter(pk=devis.pk).update(statut=Devis.Statut.ACCEPTE)


def test_the_invoice_lists_declined_work_apart_and_does_not_invoice_it(order):
    """Estimates meet invoices: the declined discs are printed as declined work (arrêté
    87-06/C), not as an invoice line; the reused pads keep their PIEC origin."""
    import io

    from pypdf import PdfReader

    from metier.documents.pdf import facture_pdf

    devis = services.create_devis(reparation=order)
    _answer(devis, {"Plaquettes": A, "Disques": R, "main d'œuvre": A}, {"Plaquettes": "reemploi"})
    services.transition(reparation=order, action="demarrer")
    services.transition(reparation=order, action="terminer")
    facture = services.emettre_facture(reparation=Reparation.objects.get(pk=order.pk))
    lines = {line.designation: line for line in facture.lignes.all()}
    assert "Disques" not in lines
    assert lines["Plaquettes"].origine == "reemploi"
    assert lines["Plaquettes"].prix_unitaire == Decimal("30.00")
    assert facture.total_ht == Decimal("150.00")
    assert facture.travaux_refuses == [
        {"designation": "Disques", "quantite": "2", "montant_ht": "40.00"}
    ]
    pdf = PdfReader(io.BytesIO(facture_pdf(facture)))
    text = "\n".join(page.extract_text() for page in pdf.pages)
    assert "Disques" in text
