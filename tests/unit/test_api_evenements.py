"""The API of issue 12: consent per customer and channel, reminders, notifications per repair."""

from __future__ import annotations

import pytest

from metier import services
from metier.models import Consentement

pytestmark = pytest.mark.django_db


@pytest.fixture
def voiture():
    client = services.create_client(nom="Mme Roux", email="roux@example.fr")
    return services.create_voiture(marque="Fiat", couleur="rouge", client=client)


def test_consent_given_then_withdrawn(admin_api, voiture):
    client = voiture.client_id
    body = {"client": client, "canal": "sms", "accorde": True, "source": "comptoir, signé"}
    r = admin_api.post("/api/consentement/", body, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["le"] and r.json()["source"] == "comptoir, signé"
    r = admin_api.post(
        "/api/consentement/", {**body, "accorde": False, "source": "appel"}, format="json"
    )
    assert r.status_code == 201
    [row] = Consentement.objects.all()
    assert (row.accorde, row.source) == (False, "appel")
    listed = admin_api.get(f"/api/consentement/?client={client}").json()["results"]
    assert [c["canal"] for c in listed] == ["sms"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"canal": "pigeon", "accorde": True, "source": "x"}, "canal"),
        ({"canal": "sms", "accorde": True, "source": ""}, "source"),
        ({"canal": "sms", "accorde": True}, "source"),
    ],
)
def test_bad_consent_is_a_400_naming_the_field(admin_api, voiture, body, field):
    r = admin_api.post("/api/consentement/", {"client": voiture.client_id, **body}, format="json")
    assert r.status_code == 400 and field in r.json(), r.content


def test_reminders_through_the_api(admin_api, voiture):
    r = admin_api.post(
        "/api/rappel/",
        {
            "voiture": voiture.pk,
            "nature": "vidange",
            "intervalle_km": 15000,
            "intervalle_jours": 365,
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    assert r.json()["echeance_km"] == 15000 and r.json()["echeance"]
    bad = admin_api.post("/api/rappel/", {"voiture": voiture.pk, "nature": "x"}, format="json")
    assert bad.status_code == 400 and "intervalle_km" in bad.json()
    dup = admin_api.post(
        "/api/rappel/",
        {"voiture": voiture.pk, "nature": "vidange", "intervalle_km": 1},
        format="json",
    )
    assert dup.status_code == 400, dup.content
    assert admin_api.delete(f"/api/rappel/{r.json()['id']}/").status_code == 204


def test_a_repair_without_notifications_lists_none(admin_api, voiture):
    piece = services.create_piece(nom="Filtre", prix="10.00")
    rep = services.create_reparation(piece=piece, duree=1, voiture=voiture)
    assert admin_api.get(f"/api/reparation/{rep.pk}/notifications/").json() == []
