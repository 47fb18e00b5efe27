"""The intake endpoints, without a broker: they commit the request and answer 202.

Publishing happens after commit in a background thread; here that thread finds no broker
at a closed port, which must not change the answer (the outbox keeps the request).
"""

import pytest

from metier.models import Demande

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_broker(settings):
    settings.AMQP_URL = "amqp://guest:guest@127.0.0.1:1/%2F"  # nothing listens there


@pytest.fixture
def api(admin_api):
    return admin_api


def test_get_intake_accepts_and_records(api, piece):
    r = api.get(f"/reparation/{piece.pk}/5/")
    assert r.status_code == 202, r.content
    body = r.json()
    assert body["statut"] == "acceptee" and body["piece"] == piece.pk and body["duree"] == 5
    assert r["Location"] == body["url"]
    assert Demande.objects.get(pk=body["id"]).duree == 5


def test_post_intake(api, piece):
    r = api.post("/reparation/", {"piece": piece.pk, "duree": 2}, format="json")
    assert r.status_code == 202
    assert api.get(r["Location"]).json()["id"] == r.json()["id"]


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/reparation/999999/5/", 404, "piece"),
        ("/reparation/{p}/-5/", 400, "duree"),
        ("/reparation/{p}/0/", 400, "duree"),
        ("/reparation/{p}/abc/", 400, "duree"),
        ("/reparation/abc/5/", 400, "piece"),
        ("/reparation/{p}/100000/", 400, "duree"),
    ],
)
def test_get_intake_bad_input(api, piece, path, status, field):
    r = api.get(path.format(p=piece.pk))
    assert r.status_code == status and field in r.json()
    assert Demande.objects.count() == 0


def test_post_intake_bad_input(api, piece):
    assert "duree" in api.post("/reparation/", {"piece": piece.pk}, format="json").json()
    r = api.post("/reparation/", {"piece": 999999, "duree": 1}, format="json")
    assert r.status_code == 404 and "piece" in r.json()
    r = api.generic("POST", "/reparation/", "{", content_type="application/json")
    assert r.status_code == 400
    assert Demande.objects.count() == 0


def test_idempotency_key(api, piece):
    h = {"HTTP_IDEMPOTENCY_KEY": "abc-123"}
    first = api.get(f"/reparation/{piece.pk}/5/", **h)
    again = api.post("/reparation/", {"piece": piece.pk, "duree": 5}, format="json", **h)
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    other = api.get(f"/reparation/{piece.pk}/6/", **h)
    assert other.status_code == 409
    assert Demande.objects.count() == 1


def test_idempotency_key_is_per_client(piece):
    """Issue 15, finding 9: another account re-sending a user's key and body gets its own
    request, never the user's (its description, status, repair), and no 409 oracle."""
    from tests.support.accounts import make_account, token_client

    _, t1 = make_account("accueil")
    _, t2 = make_account(perms=("metier.add_demande",))
    h = {"HTTP_IDEMPOTENCY_KEY": "shared-key"}
    body = {"piece": piece.pk, "duree": 5, "description": "bruit de la cliente Durand"}
    first = token_client(t1).post("/reparation/", body, format="json", **h)
    stolen = token_client(t2).post("/reparation/", body, format="json", **h)
    assert first.status_code == stolen.status_code == 202
    assert stolen.json()["id"] != first.json()["id"]
    # The same key with another body: a 409 for its owner, nothing to learn for the other.
    other = {"piece": piece.pk, "duree": 7}
    assert token_client(t1).post("/reparation/", other, format="json", **h).status_code == 409
    h3 = {"HTTP_IDEMPOTENCY_KEY": "only-t1"}
    token_client(t1).post("/reparation/", body, format="json", **h3)
    assert token_client(t2).post("/reparation/", other, format="json", **h3).status_code == 202
    assert Demande.objects.filter(cle_idempotence="shared-key").count() == 2


@pytest.mark.parametrize("text", ["\ud800", "a\udfffb", "a\x00b"])
def test_unstorable_text_is_a_400_naming_the_field(api, piece, text):
    """Issue 15, finding 6, at the API: refused (by the serializers' text fields) before
    anything is stored, never a 500 or a retry."""
    import json

    body = json.dumps({"piece": piece.pk, "duree": 1, "description": text})
    r = api.generic("POST", "/reparation/", body, content_type="application/json")
    assert r.status_code == 400 and list(r.json()) == ["description"], r.content
    r = api.generic("POST", "/api/client/", json.dumps({"nom": text}), "application/json")
    assert r.status_code == 400 and list(r.json()) == ["nom"], r.content
    assert Demande.objects.count() == 0


def test_every_request_records_its_sender(piece):
    """Keyed or not, by the fast path (and its group commit on PostgreSQL) or the view."""
    from tests.support.accounts import make_account, token_client

    user, token = make_account("accueil")
    api = token_client(token)
    plain = api.post("/reparation/", {"piece": piece.pk, "duree": 2}, format="json")
    keyed = api.get(f"/reparation/{piece.pk}/3/", HTTP_IDEMPOTENCY_KEY="k-sender")
    with_car = api.post("/reparation/", {"piece": piece.pk, "duree": 2, "voiture": 99999})
    assert plain.status_code == keyed.status_code == 202 and with_car.status_code != 202
    for r in (plain, keyed):
        assert Demande.objects.get(pk=r.json()["id"]).demandeur_id == user.pk
