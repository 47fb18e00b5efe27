"""The REST API at the seed's paths: CRUD, filters, pagination and JSON errors."""

import pytest

from metier.models import Demande, Reparation

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(admin_api):
    return admin_api


def test_seed_piece_walkthrough(api):
    r = api.post("/api/piece/", {"nom": "Brake Pads", "prix": 50.00}, format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["nom"] == "Brake Pads"
    assert body["prix"] == 50.0 and isinstance(body["prix"], float)  # a number, not "50.00"
    assert api.get(f"/api/piece/{body['id']}/").json()["prix"] == 50.0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"nom": "X", "prix": -1}, "prix"),
        ({"nom": "X", "prix": "abc"}, "prix"),
        ({"nom": "X", "prix": 1.234}, "prix"),
        ({"nom": "", "prix": 1}, "nom"),
        ({"nom": "x" * 101, "prix": 1}, "nom"),
        ({"prix": 1}, "nom"),
    ],
)
def test_piece_bad_input_names_the_field(api, payload, field):
    r = api.post("/api/piece/", payload, format="json")
    assert r.status_code == 400
    assert field in r.json()


def test_reparation_crud_and_bounds(api, piece):
    r = api.post("/api/reparation/", {"piece": piece.pk, "duree": 3}, format="json")
    assert r.status_code == 201, r.content
    rid = r.json()["id"]
    assert (
        api.put(f"/api/reparation/{rid}/", {"piece": piece.pk, "duree": 4}, format="json").json()[
            "duree"
        ]
        == 4
    )
    for bad in (-5, 0, 1001, "x"):
        r = api.post("/api/reparation/", {"piece": piece.pk, "duree": bad}, format="json")
        assert r.status_code == 400 and "duree" in r.json(), bad
    r = api.post("/api/reparation/", {"piece": 999999, "duree": 2}, format="json")
    assert r.status_code == 400 and "piece" in r.json()
    assert api.delete(f"/api/reparation/{rid}/").status_code == 204
    assert Reparation.objects.count() == 0


def test_voiture_endpoint(api):
    r = api.post("/api/voiture/", {"marque": "Renault", "couleur": "rouge"}, format="json")
    assert r.status_code == 201
    assert api.get("/api/voiture/?marque=Renault").json()["results"][0]["couleur"] == "rouge"
    assert (
        api.post("/api/voiture/", {"marque": "", "couleur": "x"}, format="json").status_code == 400
    )


def test_list_filter_order_and_cursor_pages(api, piece):
    from metier.services import create_piece, create_reparation

    other = create_piece(nom="Courroie", prix="30")
    for d in range(1, 8):
        create_reparation(piece=piece if d % 2 else other, duree=d)
    r = api.get(f"/api/reparation/?piece={other.pk}")
    assert {x["duree"] for x in r.json()["results"]} == {2, 4, 6}
    r = api.get("/api/reparation/?ordering=-duree&page_size=3")
    page = r.json()
    assert [x["duree"] for x in page["results"]] == [7, 6, 5]
    assert [x["duree"] for x in api.get(page["next"]).json()["results"]] == [4, 3, 2]


def test_deleting_a_used_piece_is_a_409(api, piece):
    api.post("/api/reparation/", {"piece": piece.pk, "duree": 3}, format="json")
    r = api.delete(f"/api/piece/{piece.pk}/")
    assert r.status_code == 409 and "detail" in r.json()


def test_malformed_json_and_unknown_urls_are_json(api):
    r = api.generic("POST", "/api/piece/", "{not json", content_type="application/json")
    assert r.status_code == 400 and "detail" in r.json()
    r = api.get("/api/nothing-here/")
    assert r.status_code == 404 and r["Content-Type"] == "application/json"
    r = api.get("/api/piece/999999/")
    assert r.status_code == 404 and "detail" in r.json()
    r = api.patch("/api/demande/00000000-0000-0000-0000-000000000000/", {}, format="json")
    assert r.status_code == 405 and "detail" in r.json()


def test_too_large_body_is_refused(api):
    r = api.generic(
        "POST",
        "/api/piece/",
        '{"nom": "' + "x" * 70_000 + '", "prix": 1}',
        content_type="application/json",
    )
    assert r.status_code in (400, 413) and r["Content-Type"] == "application/json"


def test_health_and_schema(api):
    assert api.get("/health/").json() == {"status": "ok"}
    schema = api.get("/api/schema/?format=json")
    assert schema.status_code == 200
    assert "/api/piece/" in schema.json()["paths"]
    assert api.get("/api/docs/").status_code == 200


def test_demande_status_is_readable(api, piece):
    d = Demande.objects.create(piece=piece.pk, duree=2)
    body = api.get(f"/api/demande/{d.pk}/").json()
    assert body["statut"] == "acceptee" and body["reparation"] is None
    assert body["url"].endswith(f"/api/demande/{d.pk}/")


def test_openapi_schema_is_valid_and_describes_errors(api):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")
    schema = api.get("/api/schema/?format=json").json()
    planifier = schema["paths"]["/api/reparation/{id}/planifier/"]["post"]
    assert {"200", "404", "409"} <= set(planifier["responses"])
    assert "400" in schema["paths"]["/api/piece/"]["post"]["responses"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("[" * 20000, "detail"),  # deeper than the interpreter's recursion limit
        ('{"nom": "a\\ud800b", "prix": 1}', "nom"),  # a lone surrogate
        ('{"nom": "a\\u0000b", "prix": 1}', "nom"),  # NUL, which PostgreSQL refuses
        ('{"nom": "x", "prix": 1e400}', "prix"),
        ('{"nom": "x", "prix": NaN}', "detail"),  # not JSON
    ],
)
def test_hostile_json_is_a_400(api, body, field):
    r = api.generic("POST", "/api/piece/", body, content_type="application/json")
    assert r.status_code == 400, r.content
    assert field in r.json()


def test_demande_fast_representation_matches_the_declared_fields(admin_api, piece):
    """DemandeSerializer writes its fields by hand (the intake's hot path): same names,
    same values as DRF's own fields would give."""
    from rest_framework import serializers as drf

    from intake.serializers import DemandeSerializer

    d = Demande.objects.create(piece=piece.pk, duree=2, description="x")
    request = admin_api.get(f"/api/demande/{d.pk}/").wsgi_request
    fast = DemandeSerializer(d, context={"request": request}).data

    class Reference(DemandeSerializer):
        to_representation = drf.ModelSerializer.to_representation

    assert fast == dict(Reference(d, context={"request": request}).data)


def test_a_busy_database_is_a_503_to_retry_not_a_500(admin_api, monkeypatch):
    from django.db import OperationalError

    from api.views import PieceViewSet

    def deadlock(**kwargs):
        raise OperationalError("deadlock detected")

    monkeypatch.setattr(PieceViewSet, "create_service", staticmethod(deadlock))
    r = admin_api.post("/api/piece/", {"nom": "X", "prix": 1}, format="json")
    assert r.status_code == 503 and r["Retry-After"] == "1" and "retry" in r.json()["detail"]
