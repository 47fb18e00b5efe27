"""The customer's estimate page in a real browser, on a phone-sized window, without JavaScript
of our own: open the link, decline a line, choose a reused part, sign, send; then what the
garage recorded."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest
from django.urls import reverse
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from metier import services
from metier.models import Devis, Piece
from tests.support.browser import PHONE

pytestmark = pytest.mark.django_db(transaction=True)


def _radio(browser, name: str, value: str):
    return browser.find_element(By.CSS_SELECTOR, f'input[name="{name}"][value="{value}"]')


def test_the_customer_answers_on_a_phone(browser, live_server):
    pads = services.create_piece(nom="Plaquettes", prix="50.00", stock=4)
    Piece.objects.filter(pk=pads.pk).update(prix_reemploi=Decimal("30.00"))
    discs = services.create_piece(nom="Disques", prix="20.00", stock=4)
    car = services.create_voiture(
        marque="Peugeot",
        couleur="gris",
        immatriculation="AB-123-CD",
        client=services.create_client(nom="Claire Martin"),
    )
    order = services.create_reparation(piece=pads, duree=2, voiture=car)
    services.add_ligne_piece(reparation=order, piece=discs, quantite=2)
    services.transition(reparation=order, action="planifier")
    devis, jeton = services.envoyer_devis(devis=services.create_devis(reparation=order))
    lines = {line.designation: line.pk for line in devis.lignes.all()}

    browser.set_window_size(*PHONE)
    browser.get(live_server.url + reverse("portail:devis", args=[jeton]))
    assert devis.numero in browser.title
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "AB123CD" in body and "Pièce de réemploi proposée" in body
    # readable on the phone: nothing wider than the screen
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    shown_hash = browser.find_element(By.NAME, "empreinte").get_attribute("value")

    # first try: no signature and no PIEC choice: the page comes back with the reasons
    _radio(browser, f"decision-{lines['Plaquettes']}", "acceptee").click()
    _radio(browser, f"decision-{lines['Disques']}", "refusee").click()
    labour = lines["main d'œuvre"]
    _radio(browser, f"decision-{labour}", "acceptee").click()
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda b: "incomplète" in b.page_source)
    text = browser.find_element(By.TAG_NAME, "body").text
    assert "Choisissez une pièce neuve ou une pièce de réemploi." in text
    assert "Tapez votre nom complet" in text
    assert _radio(browser, f"decision-{lines['Disques']}", "refusee").is_selected()  # kept

    # then: the reused pads, the name typed as signature
    _radio(browser, f"piec-{lines['Plaquettes']}", "reemploi").click()
    browser.find_element(By.ID, "signature").send_keys("Claire Martin")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda b: "Merci" in b.page_source)
    assert "Refusée" in browser.find_element(By.TAG_NAME, "body").text

    devis.refresh_from_db()
    assert devis.statut == Devis.Statut.PARTIELLEMENT_ACCEPTE
    assert devis.signature == "Claire Martin"
    assert devis.adresse_ip == "127.0.0.1"
    assert "HeadlessChrome" in devis.user_agent
    assert devis.empreinte == shown_hash
    assert devis.empreinte == hashlib.sha256(devis.document.encode()).hexdigest()
    decisions = {line.designation: (line.decision, line.choix_piec) for line in devis.lignes.all()}
    assert decisions == {
        "Plaquettes": ("acceptee", "reemploi"),
        "Disques": ("refusee", ""),
        "main d'œuvre": ("acceptee", ""),
    }
    pad_line = order.lignes_pieces.get(piece=pads)
    assert (pad_line.approbation, pad_line.origine, pad_line.prix_unitaire) == (
        "approuvee",
        "reemploi",
        Decimal("30.00"),
    )
    assert order.lignes_pieces.get(piece=discs).approbation == "refusee"

    # the link is used: opening it again says so
    browser.get(live_server.url + reverse("portail:devis", args=[jeton]))
    assert "déjà répondu" in browser.find_element(By.TAG_NAME, "body").text
