"""The life of a repair through the API: the README's curl sequence, as a test."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(admin_api):
    return admin_api


def ok(response, status=200):
    assert response.status_code == status, response.content
    return response.json()


def test_life_of_a_repair(api):
    client = ok(
        api.post(
            "/api/client/",
            {"nom": "Mme Martin", "telephone": "06 12 34 56 78", "email": "martin@example.fr"},
            format="json",
        ),
        201,
    )
    car = ok(
        api.post(
            "/api/voiture/",
            {
                "marque": "Peugeot",
                "couleur": "gris",
                "modele": "208",
                "client": client["id"],
                "immatriculation": "ab-123-cd",
                "vin": "VF3ABCDEFGH123456",
                "annee": 2019,
                "kilometrage": 42000,
            },
            format="json",
        ),
        201,
    )
    assert car["immatriculation"] == "AB123CD"
    piece = ok(
        api.post(
            "/api/piece/", {"nom": "Plaquettes", "prix": 50, "stock": 0, "seuil": 2}, format="json"
        ),
        201,
    )
    rep = ok(
        api.post(
            "/api/reparation/",
            {
                "piece": piece["id"],
                "duree": 2,
                "voiture": car["id"],
                "description": "bruit au freinage",
            },
            format="json",
        ),
        201,
    )
    assert rep["statut"] == "demandee"
    assert (rep["total_ht"], rep["montant_tva"], rep["total_ttc"]) == (170.0, 34.0, 204.0)
    url = f"/api/reparation/{rep['id']}/"

    # a labour line added by the adviser
    ok(
        api.post(
            "/api/ligne-main-oeuvre/",
            {"reparation": rep["id"], "heures": 0.5, "description": "diagnostic"},
            format="json",
        ),
        201,
    )
    assert ok(api.get(url))["total_ht"] == 200.0

    # planning with no stock: waits for parts, and the shortage is visible
    assert ok(api.post(url + "planifier/"))["statut"] == "en_attente_pieces"
    assert ok(api.get("/api/piece/a-commander/"))["results"][0]["id"] == piece["id"]
    refused = api.post(url + "planifier/")
    assert refused.status_code == 409 and "short by 1" in refused.json()["detail"]

    # the storekeeper receives stock: the repair goes on by itself
    received = ok(api.post(f"/api/piece/{piece['id']}/reception/", {"quantite": 5}, format="json"))
    assert (received["stock"], received["reserve"], received["disponible"]) == (5, 1, 4)
    assert ok(api.get(url))["statut"] == "planifiee"

    refused = api.post(url + "facturer/")
    assert refused.status_code == 409 and "only from terminee" in refused.json()["detail"]
    for action, statut in [
        ("demarrer", "en_cours"),
        ("terminer", "terminee"),
        ("facturer", "facturee"),
    ]:
        assert ok(api.post(url + f"{action}/"))["statut"] == statut
    assert ok(api.get(f"/api/piece/{piece['id']}/"))["stock"] == 4

    history = ok(api.get(url + "historique/"))["results"]
    assert [(h["de"], h["vers"]) for h in history] == [
        ("", "demandee"),
        ("demandee", "en_attente_pieces"),
        ("en_attente_pieces", "planifiee"),
        ("planifiee", "en_cours"),
        ("en_cours", "terminee"),
        ("terminee", "facturee"),
    ]
    # an invoiced order is frozen
    assert api.patch(url, {"duree": 3}, format="json").status_code == 409
    assert api.delete(url).status_code == 409

    # the car's history and the searches
    assert ok(api.get(f"/api/voiture/{car['id']}/reparations/"))["results"][0]["id"] == rep["id"]
    for q in ("ab 123 cd", "VF3ABC", "martin"):
        assert [v["id"] for v in ok(api.get("/api/voiture/", {"q": q}))["results"]] == [car["id"]]
    assert (
        ok(api.get("/api/voiture/", {"immatriculation": "AB-123-CD"}))["results"][0]["id"]
        == car["id"]
    )
    assert ok(api.get("/api/reparation/", {"statut": "facturee", "voiture": car["id"]}))["results"]
    assert ok(api.get("/api/client/", {"search": "Martin"}))["results"][0]["id"] == client["id"]


def test_garage_bad_inputs_name_the_field(api):
    ok(
        api.post(
            "/api/voiture/",
            {"marque": "A", "couleur": "b", "immatriculation": "XY1"},
            format="json",
        ),
        201,
    )
    cases = [
        ("/api/client/", {"nom": "X", "email": "nope"}, "email"),
        ("/api/client/", {"nom": "X", "telephone": "abc"}, "telephone"),
        ("/api/voiture/", {"marque": "A", "couleur": "b", "vin": "123"}, "vin"),
        ("/api/voiture/", {"marque": "A", "couleur": "b", "annee": 1700}, "annee"),
        (
            "/api/voiture/",
            {"marque": "A", "couleur": "b", "immatriculation": "x-y-1"},
            "immatriculation",
        ),
        ("/api/piece/", {"nom": "A", "prix": 1, "stock": -1}, "stock"),
    ]
    for path, payload, field in cases:
        r = api.post(path, payload, format="json")
        assert r.status_code == 400 and field in r.json(), (path, payload, r.content)


def test_mileage_and_stock_are_guarded_in_the_api(api):
    car = ok(
        api.post(
            "/api/voiture/", {"marque": "A", "couleur": "b", "kilometrage": 100}, format="json"
        ),
        201,
    )
    r = api.patch(f"/api/voiture/{car['id']}/", {"kilometrage": 50}, format="json")
    assert r.status_code == 400 and "kilometrage" in r.json()
    piece = ok(api.post("/api/piece/", {"nom": "A", "prix": 1, "stock": 3}, format="json"), 201)
    # stock is not edited by hand: only receptions and repairs move it
    ok(api.patch(f"/api/piece/{piece['id']}/", {"stock": 1000}, format="json"))
    assert ok(api.get(f"/api/piece/{piece['id']}/"))["stock"] == 3
    r = api.post(f"/api/piece/{piece['id']}/reception/", {"quantite": 0}, format="json")
    assert r.status_code == 400 and "quantite" in r.json()


def test_intake_carries_car_and_complaint(api, piece, settings):
    settings.AMQP_URL = "amqp://guest:guest@127.0.0.1:1/%2F"  # no broker needed here
    car = ok(api.post("/api/voiture/", {"marque": "A", "couleur": "b"}, format="json"), 201)
    body = ok(
        api.post(
            "/reparation/",
            {"piece": piece.pk, "duree": 2, "voiture": car["id"], "description": "voyant moteur"},
            format="json",
        ),
        202,
    )
    assert (body["voiture"], body["description"]) == (car["id"], "voyant moteur")
    r = api.post("/reparation/", {"piece": piece.pk, "duree": 2, "voiture": 999999}, format="json")
    assert r.status_code == 404 and "voiture" in r.json()
