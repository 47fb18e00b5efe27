"""Keyset pagination (api/pagination.py), issue 15 findings 1 and 2.

- A cursor that is not one the server made is a 400 naming `cursor`, on every list
  endpoint, for every value its fields can be given (never a 500, never Django's message).
- Following `next` to the end, then `previous` back to the start, over every ordering an
  endpoint allows, NULLs included, lists every row exactly once in each direction.
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from api import views
from metier import services
from metier.models import Demande, Reparation
from pipeline import demandes as pipeline_demandes
from pipeline.demandes import RepairRequest
from tests.support.facturation import facture

pytestmark = pytest.mark.django_db

LISTS = [
    "/api/piece/",
    "/api/piece/a-commander/",
    "/api/client/",
    "/api/voiture/",
    "/api/voiture/{voiture}/reparations/",
    "/api/reparation/",
    "/api/ligne-piece/",
    "/api/ligne-main-oeuvre/",
    "/api/demande/",
    "/api/devis/",
    "/api/facture/",
    "/api/facture/impayees/",
    "/api/avoir/",
    "/api/paiement/",
]


@pytest.fixture
def data(db):
    """A few of everything, with empty values and ties in the orderable fields."""
    pieces = [
        services.create_piece(nom=f"Pièce {i % 3}", prix=str(10 + i % 2), stock=i % 2)
        for i in range(5)
    ]
    client = services.create_client(nom="Durand")
    voitures = [
        services.create_voiture(
            marque=["Renault", "Peugeot"][i % 2],
            couleur="bleu",
            annee=None if i % 3 else 2000 + i % 4,
            client=client if i % 2 else None,
        )
        for i in range(11)
    ]
    for i in range(6):
        r = services.create_reparation(piece=pieces[i % 5], duree=1 + i % 2, voiture=voitures[0])
        services.add_ligne_main_oeuvre(reparation=r, heures="1", description="x")
    for i in range(7):
        d, _ = services.accept_demande(piece=pieces[0].pk, duree=2)
        if i % 2:
            pipeline_demandes.process_demandes(
                requests=[RepairRequest(key=d.pk, piece=pieces[0].pk, duree=2)]
            )
    services.create_client(nom="Martin")
    for r in Reparation.objects.all()[:2]:
        services.create_devis(reparation=r)
    factures = [facture() for _ in range(4)]
    for f in factures[:2]:
        services.enregistrer_paiement(facture=f, montant=Decimal("1.00"), mode="carte")
    for f in factures[2:]:
        services.emettre_avoir(facture=f, motif="geste commercial")
    return {"voiture": voitures[0].pk}


def _cursor(url: str) -> dict:
    raw = parse_qs(urlsplit(url).query)["cursor"][0]
    return json.loads(base64.b64decode(raw))


def _with_cursor(url: str, payload: object) -> str:
    token = base64.b64encode(json.dumps(payload).encode()).decode()
    query = {k: v for k, v in parse_qs(urlsplit(url).query).items() if k != "cursor"}
    base = urlsplit(url)._replace(query="").geturl()
    extra = "".join(f"&{k}={v[0]}" for k, v in query.items())
    return f"{base}?cursor={token.replace('=', '%3D').replace('+', '%2B')}{extra}"


CRAFTED = [
    "cD1hYmM%3D",  # base64 of `p=abc`: the probe's, DRF's old format
    "cD0yMDI2LTEzLTQ1",  # `p=2026-13-45`: a bad date (was Django's message on /api/demande/)
    "!!!",
    "bm90IGpzb24%3D",  # `not json`
    base64.b64encode(b"[1, 2]").decode(),
    base64.b64encode(b'{"o": [], "p": [], "r": false}').decode(),
    base64.b64encode(b'{"o": ["id"], "p": ["abc"], "r": 0}').decode(),
]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("cursor", CRAFTED)
def test_a_crafted_cursor_is_a_400_on_cursor(admin_api, data, path, cursor):
    r = admin_api.get(path.format(**data) + f"?cursor={cursor}")
    assert r.status_code == 400, (path, r.content)
    assert list(r.json()) == ["cursor"]


TAMPERED = ["abc", "2026-13-45", "1e999999", "NaN", "\x00", "\ud800", 12.5, True, {}, [1]]


@pytest.mark.parametrize("path", LISTS)
def test_a_tampered_cursor_value_is_a_400_for_every_field(admin_api, data, path):
    """Each field of a real cursor replaced by values its field cannot hold."""
    first = admin_api.get(path.format(**data) + "?page_size=1").json()
    if first["next"] is None:
        pytest.fail(f"{path}: the fixture must make at least two rows")  # pragma: no cover
    cursor = _cursor(first["next"])
    for i in range(len(cursor["p"])):
        for bad in TAMPERED:
            p = list(cursor["p"])
            p[i] = bad
            r = admin_api.get(_with_cursor(first["next"], {**cursor, "p": p}))
            if r.status_code == 200:
                continue  # the value happens to be valid for that field (a name: "abc")
            assert r.status_code == 400, (path, i, bad, r.content)
            assert list(r.json()) == ["cursor"]
    r = admin_api.get(_with_cursor(first["next"], {**cursor, "o": ["-zzz"]}))
    assert r.status_code == 400 and list(r.json()) == ["cursor"]


def test_every_list_has_a_second_page_here(admin_api, data):
    for path in LISTS:
        assert admin_api.get(path.format(**data) + "?page_size=1").json()["next"], path


def _walk(api, url: str) -> tuple[list, list]:
    """Follows `next` to the end, then `previous` back: the ids seen each way."""
    forward, pages = [], []
    while url:
        body = api.get(url).json()
        assert "results" in body, body
        pages.append(body)
        forward.extend(x["id"] for x in body["results"])
        url = body["next"]
    backward = []
    url = pages[-1]["previous"]
    backward_pages = [pages[-1]["results"]]
    while url:
        body = api.get(url).json()
        backward_pages.append(body["results"])
        url = body["previous"]
    for results in reversed(backward_pages):
        backward.extend(x["id"] for x in results)
    return forward, backward


ORDERED = [
    ("/api/voiture/", views.VoitureViewSet),
    ("/api/piece/", views.PieceViewSet),
    ("/api/reparation/", views.ReparationViewSet),
    ("/api/demande/", views.DemandeViewSet),
    ("/api/client/", views.ClientViewSet),
    ("/api/ligne-piece/", views.LignePieceViewSet),
    ("/api/ligne-main-oeuvre/", views.LigneMainOeuvreViewSet),
    ("/api/devis/", views.DevisViewSet),
    ("/api/facture/", views.FactureViewSet),
    ("/api/avoir/", views.AvoirViewSet),
    ("/api/paiement/", views.PaiementViewSet),
]


@pytest.mark.parametrize(("path", "viewset"), ORDERED)
@pytest.mark.parametrize("size", [1, 3, 5])
def test_paging_sees_every_row_once_in_both_directions(admin_api, data, path, viewset, size):
    everything = {x["id"] for x in admin_api.get(path + "?page_size=500").json()["results"]}
    assert len(everything) >= 2
    size = min(size, len(everything) - 1)  # at least two pages
    for field in viewset.ordering_fields:
        for ordering in (field, f"-{field}"):
            forward, backward = _walk(admin_api, f"{path}?ordering={ordering}&page_size={size}")
            assert len(forward) == len(set(forward)) == len(everything), (ordering, forward)
            assert set(forward) == everything
            assert backward == forward, ordering


def test_nulls_last_ascending_first_descending(admin_api, data):
    up = admin_api.get("/api/voiture/?ordering=annee&page_size=500").json()["results"]
    years = [x["annee"] for x in up]
    assert years == sorted(y for y in years if y is not None) + [None] * years.count(None)
    down = admin_api.get("/api/voiture/?ordering=-annee&page_size=500").json()["results"]
    empty = years.count(None)
    assert [x["annee"] for x in down] == [None] * empty + sorted(years[:-empty], reverse=True)


def test_the_probes_voiture_paging(admin_api, db):
    """101 cars, 81 without a year: `ordering=annee&page_size=7` then `-annee` list them all."""
    for i in range(101):
        services.create_voiture(marque="M", couleur="c", annee=2000 + i if i < 20 else None)
    for ordering in ("annee", "-annee"):
        forward, backward = _walk(admin_api, f"/api/voiture/?ordering={ordering}&page_size=7")
        assert len(forward) == len(set(forward)) == 101
        assert backward == forward


def test_page_size_is_checked(admin_api, data):
    assert admin_api.get("/api/piece/?page_size=x").status_code == 400
    assert "page_size" in admin_api.get("/api/piece/?page_size=0").json()
    assert admin_api.get("/api/piece/?page_size=500").status_code == 200


def test_demande_cursor_over_timestamps(admin_api, data):
    url = admin_api.get("/api/demande/?page_size=2").json()["next"]
    cursor = _cursor(url)
    assert cursor["o"] == ["cree_le", "id"]
    assert Demande.objects.count() == 7
