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


# --- deposits on the approved estimate, refunds ---------------------------------------------
def test_deposit_on_the_estimate_then_invoice_net_of_it(admin_api):
    from tests.support.facturation import devis_repondu, terminer

    devis = devis_repondu()
    r = admin_api.post(
        "/api/paiement/", {"devis": devis.pk, "montant": 50, "mode": "carte"}, format="json"
    )
    assert r.status_code == 201, r.content
    assert (r.json()["devis"], r.json()["acompte"], r.json()["reparation"]) == (
        devis.pk,
        True,
        devis.reparation_id,
    )
    r = admin_api.post(
        "/api/paiement/", {"devis": devis.pk, "montant": 130.01, "mode": "carte"}, format="json"
    )
    assert r.status_code == 400 and devis.numero in r.json()["montant"][0]
    r = admin_api.post(
        "/api/paiement/", {"devis": 999999, "montant": 5, "mode": "carte"}, format="json"
    )
    assert r.status_code == 400 and "devis" in r.json()
    terminer(devis.reparation)
    r = admin_api.post("/api/facture/", {"reparation": devis.reparation_id}, format="json")
    body = r.json()
    assert (body["total_ttc"], body["acomptes"], body["net_a_payer"], body["reste_du"]) == (
        180.0,
        50.0,
        130.0,
        130.0,
    )
    r = admin_api.post(
        "/api/paiement/", {"devis": devis.pk, "montant": 5, "mode": "carte"}, format="json"
    )
    assert r.status_code == 409 and "pay the invoice" in r.json()["detail"]


def test_deposit_on_an_estimate_not_approved_is_a_409(admin_api):
    from tests.support.facturation import devis_repondu

    devis = devis_repondu(decisions=("refusee", "refusee"))
    r = admin_api.post(
        "/api/paiement/", {"devis": devis.pk, "montant": 5, "mode": "carte"}, format="json"
    )
    assert r.status_code == 409 and "approved estimate" in r.json()["detail"]


def test_refund_through_the_api(admin_api):
    repair = repair_terminee()
    fid = admin_api.post("/api/facture/", {"reparation": repair.pk}, format="json").json()["id"]
    admin_api.post(
        "/api/paiement/", {"facture": fid, "montant": 204, "mode": "carte"}, format="json"
    )
    avoir = admin_api.post(
        "/api/avoir/", {"facture": fid, "motif": "travaux non conformes"}, format="json"
    ).json()
    assert (avoir["statut_remboursement"], avoir["a_rembourser"], avoir["montant_rembourse"]) == (
        "a_rembourser",
        204.0,
        0.0,
    )
    facture = admin_api.get(f"/api/facture/{fid}/").json()
    assert (facture["statut_paiement"], facture["reste_du"]) == ("a_rembourser", -204.0)
    due = admin_api.get("/api/avoir/a-rembourser/").json()["results"]
    assert [(a["id"], a["a_rembourser"]) for a in due] == [(avoir["id"], 204.0)]
    r = admin_api.post(
        "/api/remboursement/",
        {"avoir": avoir["id"], "montant": 204.01, "mode": "virement"},
        format="json",
    )
    assert r.status_code == 400 and "over-refund" in r.json()["montant"][0]
    r = admin_api.post(
        "/api/remboursement/",
        {"avoir": avoir["id"], "montant": 204.00, "mode": "virement", "reference": "VIR-42"},
        format="json",
    )
    assert r.status_code == 201, r.content
    assert (r.json()["facture"], r.json()["montant"], r.json()["reference"]) == (
        fid,
        204.0,
        "VIR-42",
    )
    assert admin_api.get("/api/avoir/a-rembourser/").json()["results"] == []
    after = admin_api.get(f"/api/avoir/{avoir['id']}/").json()
    assert (after["statut_remboursement"], after["a_rembourser"]) == ("rembourse", 0.0)
    listed = admin_api.get("/api/avoir/").json()["results"]
    assert listed[0]["statut_remboursement"] == "rembourse"
    facture = admin_api.get(f"/api/facture/{fid}/").json()
    assert (facture["statut_paiement"], facture["reste_du"], facture["montant_rembourse"]) == (
        "soldee_par_avoir",
        0.0,
        204.0,
    )
    r = admin_api.post(
        "/api/remboursement/",
        {"avoir": avoir["id"], "montant": 1, "mode": "virement"},
        format="json",
    )
    assert r.status_code == 409 and "nothing to refund" in r.json()["detail"]
    assert admin_api.get(f"/api/remboursement/?avoir={avoir['id']}").json()["results"][0]["id"]
    rid = admin_api.get("/api/remboursement/").json()["results"][0]["id"]
    for method in ("put", "patch", "delete"):
        assert (
            getattr(admin_api, method)(f"/api/remboursement/{rid}/", {}, format="json").status_code
            == 405
        )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"montant": 1, "mode": "carte"}, "avoir"),
        ({"avoir": 999999, "montant": 1, "mode": "carte"}, "avoir"),
        ({"avoir": None, "montant": 1, "mode": "carte"}, "avoir"),
        ({"montant": "abc", "mode": "carte"}, "montant"),
        ({"montant": 0, "mode": "carte"}, "montant"),
        ({"montant": 1.001, "mode": "carte"}, "montant"),
        ({"montant": 1, "mode": "bitcoin"}, "mode"),
        ({"montant": 1}, "mode"),
    ],
)
def test_bad_refunds_are_400s_naming_the_field(admin_api, body, field):
    from metier import services

    f = services.emettre_facture(reparation=repair_terminee())
    services.enregistrer_paiement(facture=f, montant="204.00", mode="carte")
    avoir = services.emettre_avoir(facture=f, motif="erreur")
    data = {"avoir": avoir.pk, **body}
    data = {
        k: v
        for k, v in data.items()
        if not (k == "avoir" and "avoir" not in body and field == "avoir")
    }
    r = admin_api.post("/api/remboursement/", data, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json(), r.json()
