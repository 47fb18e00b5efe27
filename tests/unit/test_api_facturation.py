"""The invoicing API: issue, credit, pay, the receivables, the PDFs; errors as JSON 4xx."""

from __future__ import annotations

import io

import pytest
from facturx import get_facturx_xml_from_pdf
from pypdf import PdfReader

from metier.models import Avoir, Facture, Paiement, Reparation
from tests.support.facturation import repair_terminee

pytestmark = pytest.mark.django_db


def test_invoice_to_paid_through_the_api(admin_api):
    repair = repair_terminee()
    r = admin_api.post(
        "/api/facture/",
        {"reparation": repair.pk, "professionnel": True, "client_siret": "98765432100017"},
        format="json",
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["numero"].endswith("-000001") and body["total_ttc"] == 204.0
    assert body["statut_paiement"] == "emise" and body["reste_du"] == 204.0
    assert len(body["lignes"]) == 2 and "indemnité forfaitaire" in body["mentions"]
    fid = body["id"]
    assert Reparation.objects.get(pk=repair.pk).statut == "facturee"

    r = admin_api.post(
        "/api/paiement/", {"facture": fid, "montant": 100, "mode": "carte"}, format="json"
    )
    assert r.status_code == 201, r.content
    assert admin_api.get(f"/api/facture/{fid}/").json()["statut_paiement"] == "partiellement_payee"
    assert [f["id"] for f in admin_api.get("/api/facture/impayees/").json()["results"]] == [fid]

    r = admin_api.post(
        "/api/paiement/", {"facture": fid, "montant": 104.01, "mode": "especes"}, format="json"
    )
    assert r.status_code == 400 and "overpayment" in r.json()["montant"][0]
    r = admin_api.post(
        "/api/paiement/", {"facture": fid, "montant": 104.00, "mode": "cheque"}, format="json"
    )
    assert r.status_code == 201
    detail = admin_api.get(f"/api/facture/{fid}/").json()
    assert (detail["statut_paiement"], detail["reste_du"]) == ("payee", 0.0)
    assert admin_api.get("/api/facture/impayees/").json()["results"] == []

    r = admin_api.get(detail["pdf"])
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    text = " ".join(PdfReader(io.BytesIO(r.content)).pages[0].extract_text().split())
    assert body["numero"] in text and "204,00 €" in text
    r = admin_api.get(detail["facturx"])
    assert r.status_code == 200
    _, xml = get_facturx_xml_from_pdf(io.BytesIO(r.content), check_xsd=True)
    assert body["numero"].encode() in xml


def test_facturer_transition_issues_the_invoice(admin_api):
    repair = repair_terminee()
    r = admin_api.post(f"/api/reparation/{repair.pk}/facturer/")
    assert r.status_code == 200 and r.json()["statut"] == "facturee"
    assert Facture.objects.filter(reparation=repair).count() == 1
    r = admin_api.post("/api/facture/", {"reparation": repair.pk}, format="json")
    assert r.status_code == 409 and "already invoiced" in r.json()["detail"]


def test_credit_note_through_the_api(admin_api):
    repair = repair_terminee()
    fid = admin_api.post("/api/facture/", {"reparation": repair.pk}, format="json").json()["id"]
    ligne = Facture.objects.get(pk=fid).lignes.get(nature="main_oeuvre")
    r = admin_api.post(
        "/api/avoir/",
        {
            "facture": fid,
            "motif": "temps surévalué",
            "lignes": [{"ligne": ligne.pk, "quantite": 1}],
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    assert r.json()["total_ttc"] == 72.0 and r.json()["numero"].startswith("A")
    avoir_pdf = r.json()["pdf"]
    assert admin_api.get(f"/api/facture/{fid}/").json()["reste_du"] == 132.0
    r = admin_api.post(
        "/api/avoir/",
        {"facture": fid, "motif": "x", "lignes": [{"ligne": ligne.pk, "quantite": 5}]},
        format="json",
    )
    assert r.status_code == 400 and "lignes" in r.json()
    pdf = admin_api.get(avoir_pdf)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_deposit_on_the_order_then_invoice(admin_api):
    repair = repair_terminee()
    r = admin_api.post(
        "/api/paiement/",
        {"reparation": repair.pk, "montant": 50, "mode": "virement"},
        format="json",
    )
    assert r.status_code == 201 and r.json()["acompte"] is True
    body = admin_api.post("/api/facture/", {"reparation": repair.pk}, format="json").json()
    assert body["reste_du"] == 154.0 and body["statut_paiement"] == "partiellement_payee"


F, R = "<facture>", "<reparation>"  # replaced by the ids of the test's invoice and order


@pytest.mark.parametrize(
    ("path", "data", "field"),
    [
        ("/api/facture/", {}, "reparation"),
        ("/api/facture/", {"reparation": 99999999}, "reparation"),
        ("/api/facture/", {"reparation": "x"}, "reparation"),
        ("/api/facture/", {"reparation": R, "client_siret": "12"}, "client_siret"),
        ("/api/facture/", {"reparation": R, "kilometrage": -1}, "kilometrage"),
        ("/api/paiement/", {"montant": 10, "mode": "carte"}, "facture"),
        ("/api/paiement/", {"facture": F, "montant": 0, "mode": "carte"}, "montant"),
        ("/api/paiement/", {"facture": F, "montant": 10, "mode": "bitcoin"}, "mode"),
        ("/api/paiement/", {"facture": F, "montant": "1e400", "mode": "carte"}, "montant"),
        ("/api/avoir/", {"facture": F}, "motif"),
        ("/api/avoir/", {"facture": F, "motif": "x", "lignes": []}, "lignes"),
        ("/api/avoir/", {"facture": F, "motif": "x", "lignes": [{"ligne": 1}]}, "lignes"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(admin_api, path, data, field):
    repair = repair_terminee()
    fid = admin_api.post("/api/facture/", {"reparation": repair.pk}, format="json").json()["id"]
    data = {
        k: {F: fid, R: repair.pk}.get(v, v) if isinstance(v, str) else v for k, v in data.items()
    }
    r = admin_api.post(path, data, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json(), r.json()
    assert Paiement.objects.count() == 0 and Avoir.objects.count() == 0


def test_issued_documents_cannot_be_changed_through_the_api(admin_api):
    repair = repair_terminee()
    fid = admin_api.post("/api/facture/", {"reparation": repair.pk}, format="json").json()["id"]
    for method in ("put", "patch", "delete"):
        r = getattr(admin_api, method)(f"/api/facture/{fid}/", {"total_ttc": 1}, format="json")
        assert r.status_code == 405 and "detail" in r.json()
    assert admin_api.get(f"/api/facture/{fid}/").json()["total_ttc"] == 204.0


def test_invoicing_an_unfinished_order_is_409(admin_api):
    repair = repair_terminee()
    other = Reparation.objects.create(piece=repair.piece, duree=1)
    r = admin_api.post("/api/facture/", {"reparation": other.pk}, format="json")
    assert r.status_code == 409 and "terminee" in r.json()["detail"]
    assert Facture.objects.count() == 0


def test_unknown_invoice_pdf_is_404_json(admin_api):
    r = admin_api.get("/api/facture/999/pdf/")
    assert r.status_code == 404 and "detail" in r.json()
