"""The staff's admin: every model listed, searches, transitions as actions, lines inline."""

from decimal import Decimal

import pytest
from django.urls import reverse

from metier import services
from metier.models import Devis, LigneMainOeuvre, Reparation, Transition

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_superuser("chef", "chef@example.fr", "pw-123456789")
    client.force_login(user)
    return client


@pytest.fixture
def order():
    client = services.create_client(nom="Durand")
    car = services.create_voiture(
        marque="Renault", couleur="bleu", client=client, immatriculation="GH-456-JK"
    )
    piece = services.create_piece(nom="Courroie", prix=Decimal("80"), stock=2)
    return services.create_reparation(piece=piece, duree=3, voiture=car)


@pytest.mark.parametrize("model", ["piece", "reparation", "voiture", "client", "demande", "devis"])
def test_every_model_is_listed(staff, model, order):
    assert staff.get(reverse(f"admin:metier_{model}_changelist")).status_code == 200


def test_search_by_plate_and_client_and_filter_by_status(staff, order):
    url = reverse("admin:metier_reparation_changelist")
    for q in ("GH456JK", "durand"):
        assert f">{order.pk}<" in staff.get(url, {"q": q}).content.decode()
    page = staff.get(url, {"statut__exact": "facturee"}).content.decode()
    assert f">{order.pk}<" not in page
    cars = staff.get(reverse("admin:metier_voiture_changelist"), {"q": "gh-456 jk"})
    assert "GH456JK" in cars.content.decode()


def test_transitions_are_admin_actions(staff, order):
    url = reverse("admin:metier_reparation_changelist")
    staff.post(url, {"action": "planifier", "_selected_action": [order.pk]})
    order.refresh_from_db()
    assert order.statut == "planifiee"
    assert (
        Transition.objects.filter(reparation=order, vers="planifiee").get().par.username == "chef"
    )
    response = staff.post(url, {"action": "facturer", "_selected_action": [order.pk]}, follow=True)
    assert "cannot facturer" in response.content.decode()


def test_a_labour_line_added_inline_updates_totals(staff, order):
    url = reverse("admin:metier_reparation_change", args=[order.pk])
    lp = order.lignes_pieces.get()
    lm = order.lignes_main_oeuvre.get()
    data = {
        "piece": order.piece_id,
        "duree": 3,
        "voiture": order.voiture_id,
        "description": "",
        "lignes_pieces-TOTAL_FORMS": 1,
        "lignes_pieces-INITIAL_FORMS": 1,
        "lignes_pieces-0-id": lp.pk,
        "lignes_pieces-0-reparation": order.pk,
        "lignes_pieces-0-piece": lp.piece_id,
        "lignes_pieces-0-quantite": 1,
        "lignes_main_oeuvre-TOTAL_FORMS": 2,
        "lignes_main_oeuvre-INITIAL_FORMS": 1,
        "lignes_main_oeuvre-0-id": lm.pk,
        "lignes_main_oeuvre-0-reparation": order.pk,
        "lignes_main_oeuvre-0-description": lm.description,
        "lignes_main_oeuvre-0-heures": "3",
        "lignes_main_oeuvre-1-reparation": order.pk,
        "lignes_main_oeuvre-1-description": "diagnostic",
        "lignes_main_oeuvre-1-heures": "0.5",
        "transitions-TOTAL_FORMS": 0,
        "transitions-INITIAL_FORMS": 0,
    }
    response = staff.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert LigneMainOeuvre.objects.filter(reparation=order).count() == 2
    assert Reparation.objects.get(pk=order.pk).total_ht == Decimal("80") + Decimal("180") + Decimal(
        "30"
    )


def test_admin_transition_actions_follow_the_roles(client, order):
    from tests.support.accounts import make_account

    mechanic, _ = make_account("mecanicien", service=False)
    mechanic.is_staff = True
    mechanic.save()
    client.force_login(mechanic)
    page = client.get(reverse("admin:metier_reparation_changelist")).content.decode()
    assert 'value="demarrer"' in page and 'value="facturer"' not in page


# --- invoicing ---------------------------------------------------------------------------
def test_facturer_action_issues_the_invoice_and_documents_download(staff):
    from tests.support.facturation import repair_terminee

    repair = repair_terminee()
    url = reverse("admin:metier_reparation_changelist")
    staff.post(url, {"action": "facturer", "_selected_action": [repair.pk]})
    facture = repair.facture
    page = staff.get(reverse("admin:metier_facture_change", args=[facture.pk])).content.decode()
    assert facture.numero in page and "Factur-X" in page
    assert 'name="_save"' not in page  # read-only: nothing to save
    for name in ("pdf", "facturx"):
        r = staff.get(reverse(f"admin:metier_facture_{name}", args=[facture.pk]))
        assert r.status_code == 200 and r.content.startswith(b"%PDF")
    listing = staff.get(reverse("admin:metier_facture_changelist")).content.decode()
    assert facture.numero in listing and "emise" in listing
    assert staff.get(reverse("admin:metier_facture_delete", args=[facture.pk])).status_code == 403
    avoir = services.emettre_avoir(facture=facture, motif="erreur")
    r = staff.get(reverse("admin:metier_avoir_pdf", args=[avoir.pk]))
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    for model in ("paiement", "ecriturejournal", "avoir"):
        assert staff.get(reverse(f"admin:metier_{model}_changelist")).status_code == 200


def test_invoice_pdf_in_the_admin_needs_the_view_permission(client):
    from tests.support.accounts import make_account
    from tests.support.facturation import facture

    f = facture()
    for role, expected in (("accueil", 200), ("magasinier", 403)):
        user, _ = make_account(role, service=False)
        user.is_staff = True
        user.save()
        client.force_login(user)
        r = client.get(reverse("admin:metier_facture_pdf", args=[f.pk]))
        assert r.status_code == expected, role


def test_estimates_in_the_admin_make_send_and_read(staff, order):
    changelist = reverse("admin:metier_reparation_changelist")
    r = staff.post(changelist, {"action": "faire_devis", "_selected_action": [order.pk]})
    assert r.status_code == 302
    devis = Devis.objects.get(reparation=order)
    assert devis.lignes.count() == 2
    r = staff.post(
        reverse("admin:metier_devis_changelist"),
        {"action": "envoyer", "_selected_action": [devis.pk]},
        follow=True,
    )
    page = r.content.decode()
    assert "send this link to the customer: http://testserver/devis/" in page
    devis.refresh_from_db()
    assert devis.statut == "envoye"
    detail = staff.get(reverse("admin:metier_devis_change", args=[devis.pk])).content.decode()
    assert devis.numero in detail and "jeton_hash" not in detail
    assert staff.get(reverse("admin:metier_devis_add")).status_code == 403
    pdf_url = reverse("admin:metier_devis_pdf", args=[devis.pk])
    assert pdf_url in detail
    r = staff.get(pdf_url)
    assert r.status_code == 200 and r.content.startswith(b"%PDF")


# --- the garage's language (issue 13, item 6) ---------------------------------------------
def test_the_admin_carries_the_garages_name_in_french(staff, settings):
    page = staff.get(reverse("admin:index")).content.decode()
    assert settings.GARAGE_NOM in page and "Django administration" not in page
    assert "Réparations" in page and "Pièces" in page and "Ajouter" in page


def test_repair_page_labels_money_and_what_may_not_change(staff, order):
    services.transition(reparation=order, action="planifier")
    url = reverse("admin:metier_reparation_change", args=[order.pk])
    page = staff.get(url).content.decode()
    for label in ("Pièce", "Durée (h)", "Plainte du client", "Taux de TVA", "Total TTC"):
        assert label in page, label
    assert "20 %" in page and "0.2000" not in page  # a rate as a percentage
    assert "260,00 €" in page and "312,00 €" in page  # 80 + 3 h × 60 € HT, 20 % VAT
    assert '<select name="demande"' not in page  # the request link is not editable
    assert 'name="lignes_pieces-0-prix_unitaire"' not in page  # copied prices are not
    assert 'name="duree"' in page  # the order itself may change while planned

    services.transition(reparation=order, action="demarrer")
    started = staff.get(url).content.decode()
    assert 'name="duree"' not in started and 'name="lignes_main_oeuvre-0-heures"' not in started


def test_amounts_in_euros_in_the_lists(staff, order):
    parts = staff.get(reverse("admin:metier_piece_changelist")).content.decode()
    assert "80,00 €" in parts


def test_refunds_in_the_admin(staff):
    from tests.support.facturation import facture

    f = facture()
    services.enregistrer_paiement(facture=f, montant="204.00", mode="carte")
    avoir = services.emettre_avoir(facture=f, motif="erreur")
    page = staff.get(reverse("admin:metier_avoir_change", args=[avoir.pk])).content.decode()
    add = reverse("admin:metier_remboursement_add")
    assert "à rembourser" in page and f"{add}?avoir={avoir.pk}&amp;montant=204.00" in page
    form = staff.get(f"{add}?avoir={avoir.pk}&montant=204.00").content.decode()
    assert 'value="204.00"' in form
    # more than is owed back: the form again, saying why; nothing written
    r = staff.post(add, {"avoir": avoir.pk, "montant": "300", "mode": "virement"})
    assert r.status_code == 200 and "over-refund" in r.content.decode()
    assert not avoir.remboursements.exists()
    r = staff.post(add, {"avoir": avoir.pk, "montant": "204.00", "mode": "virement"})
    assert r.status_code == 302, r.content.decode()[:2000]
    refund = avoir.remboursements.get()
    assert refund.par is not None and refund.montant == Decimal("204.00")
    page = staff.get(reverse("admin:metier_avoir_changelist")).content.decode()
    assert "rembourse" in page
    detail = staff.get(reverse("admin:metier_remboursement_change", args=[refund.pk]))
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    # nothing left to refund: the form says so on the credit note
    r = staff.post(add, {"avoir": avoir.pk, "montant": "1", "mode": "virement"})
    assert r.status_code == 200 and "nothing to refund" in r.content.decode()


def test_payments_and_credit_notes_are_recorded_in_the_admin(staff, client):
    from tests.support.accounts import make_account
    from tests.support.facturation import devis_repondu, terminer

    devis = devis_repondu()
    add = reverse("admin:metier_paiement_add")
    assert staff.get(add).status_code == 200
    r = staff.post(add, {"devis": devis.pk, "montant": "50.00", "mode": "carte"})
    assert r.status_code == 302, r.content.decode()[:3000]
    deposit = devis.acomptes.get()
    assert deposit.acompte and deposit.par is not None
    staff.post(
        reverse("admin:metier_reparation_changelist"),
        {"action": "facturer", "_selected_action": [terminer(devis.reparation).pk]},
    )
    facture = devis.reparation.facture
    assert facture.acomptes == Decimal("50.00")
    # more than is due: the form again with the domain's reason, nothing written
    r = staff.post(add, {"facture": facture.pk, "montant": "130.01", "mode": "cheque"})
    assert r.status_code == 200 and "overpayment" in r.content.decode()
    r = staff.post(add, {"facture": facture.pk, "montant": "130.00", "mode": "cheque"})
    assert r.status_code == 302
    assert services.statut_paiement(facture) == "payee"
    # neither given: the reason, on the form
    r = staff.post(add, {"montant": "1", "mode": "cheque"})
    assert r.status_code == 200 and "give the invoice" in r.content.decode()
    # a credit note, by an administrator: all that is left; then it shows what to refund
    r = staff.post(reverse("admin:metier_avoir_add"), {"facture": facture.pk, "motif": "erreur"})
    assert r.status_code == 302
    avoir = facture.avoirs.get()
    assert avoir.total_ttc == Decimal("180.00")
    page = staff.get(reverse("admin:metier_avoir_change", args=[avoir.pk])).content.decode()
    assert "à rembourser" in page
    # the service adviser records payments, never credit notes
    user, _ = make_account("accueil", service=False)
    user.is_staff = True
    user.save()
    client.force_login(user)
    assert client.get(add).status_code == 200
    assert client.get(reverse("admin:metier_avoir_add")).status_code == 403
    assert client.get(reverse("admin:metier_remboursement_add")).status_code == 200
