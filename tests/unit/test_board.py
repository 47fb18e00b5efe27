"""The workshop board (atelier/): who sees what, its buttons, and the same refusals as the API."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from access.roles import ACCUEIL, MAGASINIER, MECANICIEN
from metier import selectors, services
from metier.models import Demande, Reparation
from tests.support.accounts import make_account, token_client

pytestmark = pytest.mark.django_db
S = Reparation.Statut
BOARD = "/atelier/"


@pytest.fixture(autouse=True)
def no_broker(settings):
    # The figures are computed on every request, against a port where nothing listens: the
    # panel must say the broker is away, never fail.
    settings.GARAGE_BOARD_CACHE_SECONDS = 0
    settings.AMQP_URL = "amqp://guest:guest@127.0.0.1:9/%2F"
    settings.GARAGE_CONNECT_TIMEOUT = 0.5


def person(client, *roles):
    user, _ = make_account(*roles, service=False)
    client.force_login(user)
    return client


@pytest.fixture
def workshop():
    dupont = services.create_client(nom="Mme Dupont")
    car = services.create_voiture(
        marque="Peugeot", modele="208", couleur="gris", client=dupont, immatriculation="AB-123-CD"
    )
    pads = services.create_piece(nom="Plaquettes", prix=Decimal("50"), stock=5, seuil=1)
    disc = services.create_piece(nom="Disque", prix=Decimal("80"), stock=0, seuil=2)
    planned = services.create_reparation(
        piece=pads, duree=2, voiture=car, description="bruit au freinage"
    )
    services.transition(reparation=planned, action="planifier")
    asked = services.create_reparation(piece=pads, duree=1, description="vidange")
    waiting = services.create_reparation(piece=disc, duree=3, description="disque voilé")
    services.transition(reparation=waiting, action="planifier")
    return {"planned": planned, "asked": asked, "waiting": waiting, "disc": disc, "pads": pads}


def card(html: str, pk: int) -> str:
    match = re.search(rf'<article class="carte" data-reparation="{pk}">(.*?)</article>', html, re.S)
    assert match, f"no card for repair {pk}"
    return match.group(1)


def column_of(html: str, pk: int) -> str:
    for statut, body in re.findall(r'data-statut="(\w+)">(.*?)</section>', html, re.S):
        if f'data-reparation="{pk}"' in body:
            return statut
    raise AssertionError(f"repair {pk} is on no column")


def test_anonymous_goes_to_the_login_page(client):
    response = client.get(BOARD)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert client.get(reverse("atelier:fragment")).status_code == 401


def test_a_user_without_the_right_gets_an_html_403(client):
    person(client)  # no role
    response = client.get(BOARD)
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    assert "Accès refusé" in response.content.decode()


def test_columns_cards_and_what_a_mechanic_sees(client, workshop):
    html = person(client, MECANICIEN).get(BOARD).content.decode()
    assert column_of(html, workshop["planned"].pk) == S.PLANIFIEE
    assert column_of(html, workshop["asked"].pk) == S.DEMANDEE
    assert column_of(html, workshop["waiting"].pk) == S.EN_ATTENTE_PIECES
    planned = card(html, workshop["planned"].pk)
    assert "AB123CD" in planned and "Peugeot 208" in planned and "bruit au freinage" in planned
    assert "attend depuis" in planned
    assert "Mme Dupont" not in html  # mechanics do not see customers
    assert ">Démarrer<" in planned and ">Planifier<" not in card(html, workshop["asked"].pk)
    assert "Réceptionner" not in html and 'class="pipeline"' not in html


def test_the_service_adviser_sees_customers_and_the_pipeline_not_the_mechanics_buttons(
    client, workshop
):
    html = person(client, ACCUEIL).get(BOARD).content.decode()
    assert "Mme Dupont" in card(html, workshop["planned"].pk)
    assert ">Démarrer<" not in html
    assert ">Planifier<" in card(html, workshop["asked"].pk)
    assert 'class="pipeline"' in html and "RabbitMQ injoignable" in html


def test_the_storekeeper_sees_parts_to_reorder_and_receives_them(client, workshop):
    html = person(client, MAGASINIER).get(BOARD).content.decode()
    assert "Disque" in html and "Réceptionner" in html
    assert "AB123CD" not in html  # no right on cars
    url = reverse("atelier:reception", args=[workshop["disc"].pk])
    bad = client.post(url, {"quantite": "-3"})
    assert bad.status_code == 400 and "quantite: must be a whole number" in bad.content.decode()
    response = client.post(url, {"quantite": "4"})
    assert response.status_code == 302 and response["Location"] == BOARD
    workshop["disc"].refresh_from_db()
    assert workshop["disc"].stock == 4
    waiting = Reparation.objects.get(pk=workshop["waiting"].pk)
    assert waiting.statut == S.PLANIFIEE  # the stock received planned it
    assert "réceptionné" in client.get(BOARD).content.decode()


def test_a_mechanic_starts_from_the_board_and_a_refusal_reads_as_the_apis(client, workshop):
    person(client, MECANICIEN)
    pk = workshop["planned"].pk
    url = reverse("atelier:transition", args=[pk, "demarrer"])
    response = client.post(url)
    assert response.status_code == 302
    assert Reparation.objects.get(pk=pk).statut == S.EN_COURS
    assert column_of(client.get(BOARD).content.decode(), pk) == S.EN_COURS

    again = client.post(url)  # already started (another screen, a double tap)
    _, token = make_account(MECANICIEN)
    api = token_client(token).post(f"/api/reparation/{pk}/demarrer/")
    assert again.status_code == api.status_code == 409
    assert api.json()["detail"] in again.content.decode()
    assert 'id="erreur"' in again.content.decode()


def test_moves_a_role_may_not_make_are_refused(client, workshop):
    person(client, ACCUEIL)
    pk = workshop["planned"].pk
    response = client.post(reverse("atelier:transition", args=[pk, "demarrer"]))
    assert response.status_code == 403
    assert Reparation.objects.get(pk=pk).statut == S.PLANIFIEE
    assert client.post(reverse("atelier:reception", args=[workshop["disc"].pk])).status_code == 403
    # Not on the board, or nothing of that number, or not a form: a page that says so.
    assert client.post(reverse("atelier:transition", args=[pk, "facturer"])).status_code == 404
    assert client.post(reverse("atelier:transition", args=[999999, "planifier"])).status_code == 404
    assert client.get(reverse("atelier:transition", args=[pk, "planifier"])).status_code == 405


def test_the_fragment_is_the_board_without_the_page(client, workshop):
    response = person(client, MECANICIEN).get(reverse("atelier:fragment"))
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    html = response.content.decode()
    assert "<html" not in html and f'data-reparation="{workshop["planned"].pk}"' in html


def test_the_board_is_csrf_protected(workshop, django_user_model):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    user, _ = make_account(MECANICIEN, service=False)
    browser.force_login(user)
    pk = workshop["planned"].pk
    assert browser.post(reverse("atelier:transition", args=[pk, "demarrer"])).status_code == 403
    assert Reparation.objects.get(pk=pk).statut == S.PLANIFIEE


# --- the pipeline's figures -------------------------------------------------------------------
def _request(piece, accepted, processed=None):
    """A request accepted at `accepted`, made into a repair at `processed` (if given)."""
    demande = Demande.objects.create(piece=piece.pk, duree=1)
    Demande.objects.filter(pk=demande.pk).update(cree_le=accepted)
    if processed is not None:
        r = services.create_reparation(piece=piece, duree=1)
        Reparation.objects.filter(pk=r.pk).update(cree_le=processed, demande=demande)
        Demande.objects.filter(pk=demande.pk).update(
            statut=Demande.Statut.TRAITEE, traitee_le=processed
        )
    return demande


def test_pipeline_figures_from_the_requests_timestamps(piece):
    now = timezone.now()
    # Ten requests in the window, made into repairs after 100, 200, ... 1000 ms.
    for i in range(1, 11):
        t = now - timedelta(minutes=2, seconds=i)
        _request(piece, t, t + timedelta(milliseconds=100 * i))
    _request(piece, now - timedelta(seconds=5))  # still in the outbox
    _request(piece, now - timedelta(minutes=20), now - timedelta(minutes=19))  # too old
    figures = selectors.pipeline_figures(now=now, window=timedelta(minutes=5))
    assert figures.demandes == 11
    assert figures.par_minute == pytest.approx(11 / 5)
    assert figures.reparations == 10
    # percentile_cont: interpolated between the 5th and 6th (p50) and the 9th and 10th (p95).
    assert figures.latence_p50 == timedelta(milliseconds=550)
    assert figures.latence_p95 == timedelta(milliseconds=955)
    assert figures.a_publier == 1 and figures.retard_outbox >= timedelta(seconds=5)

    history = selectors.pipeline_history(now=now, minutes=60)
    assert len(history) == 60
    assert sum(m.demandes for m in history) == 12  # the 20-minute-old one included
    assert sum(m.reparations for m in history) == 11
    assert history[-1].debut <= now < history[-1].debut + timedelta(minutes=1)


def test_no_requests_no_latency(db):
    figures = selectors.pipeline_figures(now=timezone.now())
    assert (figures.demandes, figures.latence_p50, figures.retard_outbox) == (0, None, None)
