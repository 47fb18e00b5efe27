"""Estimates through the API (JSON, 4xx shapes) and the customer's page (HTML, no account)."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from metier import services
from metier.models import Devis, Piece, Reparation

pytestmark = pytest.mark.django_db


@pytest.fixture
def order() -> Reparation:
    pads = services.create_piece(nom="Plaquettes", prix="50.00", stock=5)
    Piece.objects.filter(pk=pads.pk).update(prix_reemploi=Decimal("30.00"))
    repair = services.create_reparation(piece=pads, duree=2)
    services.transition(reparation=repair, action="planifier")
    return repair


def _sent(admin_api, order) -> tuple[dict, str]:
    made = admin_api.post("/api/devis/", {"reparation": order.pk}, format="json")
    assert made.status_code == 201, made.content
    sent = admin_api.post(f"/api/devis/{made.json()['id']}/envoyer/")
    assert sent.status_code == 200, sent.content
    body = sent.json()
    return body, body["lien"].removeprefix("http://testserver")


def test_create_send_and_read(admin_api, order):
    r = admin_api.post("/api/devis/", {"reparation": order.pk, "validite_jours": 10}, format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert re.fullmatch(r"D\d{4}-000001", body["numero"])
    assert body["statut"] == "brouillon" and body["complementaire"] is False
    assert body["valide_jusqu_au"] == str(timezone.localdate() + timedelta(days=10))
    assert [(x["nature"], x["montant"], x["prix_reemploi"]) for x in body["lignes"]] == [
        ("piece", 50.0, 30.0),
        ("main_oeuvre", 120.0, None),
    ]
    assert body["total_ttc"] == 204.0
    sent = admin_api.post(f"/api/devis/{body['id']}/envoyer/").json()
    assert sent["statut"] == "envoye" and sent["lien"].startswith("http://testserver/devis/")
    assert "lien" not in admin_api.get(f"/api/devis/{body['id']}/").json()  # shown once
    listed = admin_api.get("/api/devis/", {"reparation": order.pk, "statut": "envoye"}).json()
    assert [d["id"] for d in listed["results"]] == [body["id"]]
    # the order's lines say what awaits the customer
    lines = admin_api.get(f"/api/reparation/{order.pk}/").json()["lignes_pieces"]
    assert lines[0]["approbation"] == "en_attente" and lines[0]["origine"] == "neuve"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "reparation"),
        ({"reparation": 999999}, "reparation"),
        ({"reparation": "x"}, "reparation"),
        ({"validite_jours": 0}, "validite_jours"),
        ({"validite_jours": 366}, "validite_jours"),
        ({"lignes": [{"heures": 1}]}, "lignes"),  # before the work starts: from the order
        ({"lignes": "x"}, "lignes"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(admin_api, order, body, field):
    data = {"reparation": order.pk, **body} if "reparation" not in body and body else body
    r = admin_api.post("/api/devis/", data, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json(), r.json()
    assert not Devis.objects.exists()


def test_supplementary_lines_are_checked(admin_api, order):
    services.envoyer_devis(devis=services.create_devis(reparation=order))
    r = admin_api.post(f"/api/reparation/{order.pk}/demarrer/")
    assert r.status_code == 409 and "has not approved" in r.json()["detail"]
    Devis.objects.update(statut="annule")  # withdrawn: the order has no estimate any more
    assert admin_api.post(f"/api/reparation/{order.pk}/demarrer/").status_code == 200
    piece = Piece.objects.get()
    for lignes, where in (
        ([], "lignes"),
        ([{"piece": piece.pk, "heures": 1}], "piece"),
        ([{}], "piece"),
        ([{"heures": 0.1}], "heures"),
        ([{"piece": 424242}], "piece"),
    ):
        r = admin_api.post("/api/devis/", {"reparation": order.pk, "lignes": lignes}, format="json")
        assert r.status_code == 400, (lignes, r.content)
        errors = r.json()["lignes"]
        first = errors[0] if isinstance(errors, list) else errors["0"]
        assert where == "lignes" if isinstance(first, str) else where in first, errors
    r = admin_api.post(
        "/api/devis/", {"reparation": order.pk, "lignes": [{"piece": piece.pk}]}, format="json"
    )
    assert r.status_code == 201 and r.json()["complementaire"] is True
    too_many = [{"piece": piece.pk, "quantite": 50}]
    r = admin_api.post("/api/devis/", {"reparation": order.pk, "lignes": too_many}, format="json")
    assert r.status_code == 409 and "short by" in r.json()["detail"]


def test_conflicts_are_409(admin_api, order):
    for action in ("annuler",):
        services.transition(reparation=order, action=action)
    r = admin_api.post("/api/devis/", {"reparation": order.pk}, format="json")
    assert r.status_code == 409 and "annulee" in r.json()["detail"]
    other = services.create_reparation(piece=Piece.objects.get(), duree=1)
    devis = services.create_devis(reparation=other)
    assert admin_api.post(f"/api/devis/{devis.pk}/annuler/").status_code == 200
    for action in ("annuler", "envoyer"):
        r = admin_api.post(f"/api/devis/{devis.pk}/{action}/")
        assert r.status_code == 409 and "annule" in r.json()["detail"]


def test_estimates_are_never_changed_through_the_api(admin_api, order):
    devis = services.create_devis(reparation=order)
    assert admin_api.patch(f"/api/devis/{devis.pk}/", {}, format="json").status_code == 405
    assert admin_api.delete(f"/api/devis/{devis.pk}/").status_code == 405


# --- the customer's page ---------------------------------------------------------------------
def _form(page: str) -> dict[str, str]:
    return {
        "empreinte": re.search(r'name="empreinte" value="([0-9a-f]{64})"', page)[1],
        "csrfmiddlewaretoken": re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1],
    }


def test_the_page_records_the_answer(admin_api, order):
    body, path = _sent(admin_api, order)
    pad, labour = (line["id"] for line in body["lignes"])
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(path)
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert page["Cache-Control"].startswith("max-age=0") and "no-store" in page["Cache-Control"]
    html = page.content.decode()
    assert body["numero"] in html and 'name="viewport"' in html and "<script" not in html
    form = _form(html)
    answer = {
        **form,
        f"decision-{pad}": "acceptee",
        f"piec-{pad}": "reemploi",
        f"decision-{labour}": "refusee",
        "signature": "Claire Martin",
    }
    r = browser.post(path, answer, HTTP_USER_AGENT="Mozilla/5.0 (iPhone)")
    assert r.status_code == 200, r.content.decode()
    assert "Merci" in r.content.decode()
    devis = Devis.objects.get(pk=body["id"])
    assert devis.statut == "partiellement_accepte" and devis.signature == "Claire Martin"
    assert devis.adresse_ip == "127.0.0.1" and devis.user_agent == "Mozilla/5.0 (iPhone)"
    # the hash is that of the document the page showed, and it is in the page
    assert devis.empreinte == form["empreinte"]
    assert hashlib.sha256(devis.document.encode()).hexdigest() == devis.empreinte
    assert devis.document in html
    # used: the link now says so (403, HTML)
    again = browser.get(path)
    assert again.status_code == 403 and "déjà répondu" in again.content.decode()
    assert admin_api.get(f"/api/devis/{devis.pk}/").json()["empreinte"] == devis.empreinte


def test_an_incomplete_answer_shows_the_page_again_with_the_reasons(admin_api, order):
    body, path = _sent(admin_api, order)
    pad, labour = (line["id"] for line in body["lignes"])
    browser = Client()
    form = _form(browser.get(path).content.decode())
    r = browser.post(path, {**form, f"decision-{pad}": "acceptee", "signature": "C"})
    assert r.status_code == 400 and r["Content-Type"].startswith("text/html")
    html = r.content.decode()
    assert "Acceptez ou refusez cette ligne." in html  # the labour line
    assert "Choisissez une pièce neuve ou une pièce de réemploi." in html
    assert "Tapez votre nom complet" in html
    assert re.search(rf'name="decision-{pad}" value="acceptee" checked', html)  # kept
    assert Devis.objects.get(pk=body["id"]).statut == "envoye"
    # a document other than the one shown (changed meanwhile, or forged): 409, nothing saved
    tampered = {**form, "empreinte": "0" * 64, f"decision-{pad}": "refusee"}
    r = browser.post(path, {**tampered, f"decision-{labour}": "refusee", "signature": "Cl M"})
    assert r.status_code == 409 and "a changé" in r.content.decode()
    assert Devis.objects.get(pk=body["id"]).statut == "envoye"


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_altered_or_expired_link_is_a_403_page_that_says_so(admin_api, order, method):
    body, path = _sent(admin_api, order)
    altered = path[:-3] + ("x" if path[-3] != "x" else "y") + path[-2:]
    r = getattr(Client(), method)(altered)
    assert r.status_code == 403 and r["Content-Type"].startswith("text/html")
    assert "modifié ou mal recopié" in r.content.decode()
    Devis.objects.filter(pk=body["id"]).update(
        valide_jusqu_au=timezone.localdate() - timedelta(days=1)
    )
    r = getattr(Client(), method)(path)
    assert r.status_code == 403 and "expiré" in r.content.decode()


def test_the_form_is_protected_against_csrf(admin_api, order):
    body, path = _sent(admin_api, order)
    pad, labour = (line["id"] for line in body["lignes"])
    page = Client().get(path).content.decode()
    answer = {
        "empreinte": _form(page)["empreinte"],
        f"decision-{pad}": "refusee",
        f"decision-{labour}": "refusee",
        "signature": "Claire Martin",
    }
    r = Client(enforce_csrf_checks=True).post(path, answer)  # no token, no cookie
    assert r.status_code == 403
    assert Devis.objects.get(pk=body["id"]).statut == "envoye"


def test_the_page_behind_proxies_records_the_client_address(admin_api, order, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    body, path = _sent(admin_api, order)
    pad, labour = (line["id"] for line in body["lignes"])
    browser = Client()
    form = _form(browser.get(path).content.decode())
    answer = {**form, f"decision-{pad}": "refusee", f"decision-{labour}": "refusee"}
    r = browser.post(
        path, {**answer, "signature": "Claire"}, HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.9"
    )
    assert r.status_code == 200
    assert Devis.objects.get(pk=body["id"]).adresse_ip == "198.51.100.9"


def test_the_schema_documents_the_estimates(client):
    paths = client.get("/api/schema/?format=json").json()["paths"]
    assert {"/api/devis/", "/api/devis/{id}/", "/api/devis/{id}/envoyer/"} <= set(paths)
    assert "/api/devis/{id}/annuler/" in paths


def test_a_part_may_offer_a_reused_version(admin_api):
    r = admin_api.post(
        "/api/piece/", {"nom": "Alternateur", "prix": 300, "prix_reemploi": 120}, format="json"
    )
    assert r.status_code == 201 and r.json()["prix_reemploi"] == 120.0
    r = admin_api.patch(f"/api/piece/{r.json()['id']}/", {"prix_reemploi": None}, format="json")
    assert r.status_code == 200 and r.json()["prix_reemploi"] is None
    r = admin_api.post("/api/piece/", {"nom": "X", "prix": 3, "prix_reemploi": -1}, format="json")
    assert r.status_code == 400 and "prix_reemploi" in r.json()


def test_the_estimate_pdf_downloads(admin_api, order):
    import io

    from pypdf import PdfReader

    body, _ = _sent(admin_api, order)
    assert body["pdf"].endswith(f"/api/devis/{body['id']}/pdf/")
    r = admin_api.get(f"/api/devis/{body['id']}/pdf/")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert f'filename="{body["numero"]}.pdf"' in r["Content-Disposition"]
    text = " ".join(PdfReader(io.BytesIO(r.content)).pages[0].extract_text().split())
    assert f"Devis {body['numero']}" in text and "envoyé" in text
    assert admin_api.get("/api/devis/999999/pdf/").status_code == 404
