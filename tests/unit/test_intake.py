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
