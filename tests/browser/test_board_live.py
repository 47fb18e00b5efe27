"""The workshop board in a real browser, against the real processes (gunicorn, the worker).

A person logs in; a client sends a repair request over HTTP; the card appears in its column
within the promised 2 seconds of the worker making the repair; the mechanic starts the
work from the board and the card moves; a service adviser has no such button.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from access.roles import ACCUEIL, MECANICIEN
from access.services import create_account
from metier import services
from metier.models import Piece, Reparation
from tests.support.browser import screenshot
from tests.support.stack import wait_until

pytestmark = [pytest.mark.rabbitmq, pytest.mark.browser]
PROMISE = 2.0  # seconds from a change anywhere to the board showing it (README)
PASSWORD = "board-test-pw-42"
S = Reparation.Statut


def person(name: str, role: str):
    user, _ = create_account(username=name, roles=[role])
    user.set_password(PASSWORD)
    user.save()
    return user


def log_in(browser, base_url: str, name: str) -> None:
    browser.get(f"{base_url}/atelier/")
    # The board sends people to the staff login page, and back once logged in.
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "id_username"))
    browser.find_element(By.ID, "id_username").send_keys(name)
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "tableau"))


def card_in(browser, statut: str, pk: int):
    found = browser.find_elements(
        By.CSS_SELECTOR, f'section[data-statut="{statut}"] article[data-reparation="{pk}"]'
    )
    return found[0] if found else None


def buttons(browser, pk: int) -> list[str]:
    cards = browser.find_elements(By.CSS_SELECTOR, f'article[data-reparation="{pk}"]')
    return [b.text for c in cards for b in c.find_elements(By.CSS_SELECTOR, "button.action")]


def _a_busy_day(pads) -> None:
    """A few more orders in every column, for the screenshot."""
    bernard = services.create_client(nom="M. Bernard")
    clio = services.create_voiture(
        marque="Renault", modele="Clio", couleur="bleue", client=bernard, immatriculation="GH456JK"
    )
    disc = Piece.objects.get(nom="Disque")
    services.create_reparation(piece=pads, duree=1, voiture=clio, description="contrôle freins")
    for text in ("disque voilé avant gauche", "disque voilé avant droit"):
        r = services.create_reparation(piece=disc, duree=2, voiture=clio, description=text)
        services.transition(reparation=r, action="planifier")  # the second one waits
    done = services.create_reparation(piece=pads, duree=1, voiture=clio, description="plaquettes")
    for action in ("planifier", "demarrer", "terminer"):
        services.transition(reparation=done, action=action)


def test_board_live_in_a_browser(stack, browser):
    stack.start_web(
        workers=2,
        threads=4,
        # Plain http on loopback: the cookies may not be Secure-only here.
        DJANGO_SESSION_COOKIE_SECURE="0",
        DJANGO_CSRF_COOKIE_SECURE="0",
        GARAGE_NOM="Garage du Centre",
    )
    stack.start_consumer()
    person("meca", MECANICIEN)
    person("accueil", ACCUEIL)
    client = services.create_client(nom="Mme Martin")
    car = services.create_voiture(
        marque="Peugeot", modele="308", couleur="gris", client=client, immatriculation="AB-123-CD"
    )
    pads = services.create_piece(nom="Plaquettes", prix=Decimal("50"), stock=10, seuil=2)
    services.create_piece(nom="Disque", prix=Decimal("80"), stock=1, seuil=3)

    log_in(browser, stack.base_url, "meca")
    assert "Garage du Centre" in browser.title

    # A client program asks for a repair over HTTP, with its token, as any client would.
    answer = stack.http.post(
        f"{stack.base_url}/reparation/",
        json={"piece": pads.pk, "duree": 2, "voiture": car.pk, "description": "bruit au freinage"},
        timeout=10,
    )
    assert answer.status_code == 202, answer.text
    request_url = f"{stack.base_url}/api/demande/{answer.json()['id']}/"
    state = {}

    def processed() -> bool:
        state.update(stack.http.get(request_url, timeout=5).json())
        return state["statut"] == "traitee"

    wait_until(processed, timeout=30, interval=0.05, message="the worker made the repair")
    pk = state["reparation"]
    # The parts are in stock: the worker planned it. On the board within the promise.
    WebDriverWait(browser, PROMISE).until(lambda d: card_in(d, S.PLANIFIEE, pk))
    card = card_in(browser, S.PLANIFIEE, pk)
    assert "AB123CD" in card.text and "bruit au freinage" in card.text
    assert "Mme Martin" not in browser.page_source  # a mechanic does not see customers

    # Tablet width: the board fits, the button is there and works.
    browser.set_window_size(800, 1100)
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth"
    )
    assert buttons(browser, pk) == ["Démarrer"]
    card_in(browser, S.PLANIFIEE, pk).find_element(By.CSS_SELECTOR, "button.action").click()
    WebDriverWait(browser, PROMISE + 3).until(lambda d: card_in(d, S.EN_COURS, pk))
    assert Reparation.objects.get(pk=pk).statut == S.EN_COURS
    assert "démarrer, fait" in browser.page_source
    assert buttons(browser, pk) == ["Terminer"]

    # A change made elsewhere (here the domain, as the admin or the API would) shows too.
    other = services.create_reparation(piece=pads, duree=1, voiture=car, description="vidange")
    services.transition(reparation=other, action="planifier")
    WebDriverWait(browser, PROMISE).until(lambda d: card_in(d, S.PLANIFIEE, other.pk))

    _a_busy_day(pads)

    # The service adviser: customers and the pipeline, but no mechanic's buttons.
    browser.set_window_size(1280, 900)
    browser.find_element(By.CSS_SELECTOR, "header form button").click()
    WebDriverWait(browser, 10).until(lambda d: "/admin/logout/" in d.current_url)
    log_in(browser, stack.base_url, "accueil")
    assert card_in(browser, S.PLANIFIEE, other.pk) is not None
    assert buttons(browser, other.pk) == [] and buttons(browser, pk) == []
    assert "Mme Martin" in card_in(browser, S.EN_COURS, pk).text
    assert browser.find_elements(By.CSS_SELECTOR, "section.pipeline")
    # The panel counts the request (cached at most GARAGE_BOARD_CACHE_SECONDS).
    WebDriverWait(browser, 10).until(
        lambda d: float(d.find_element(By.ID, "par-minute").text.replace(",", ".") or 0) > 0
    )
    time.sleep(1.2)  # one more poll, so that the picture shows the live stamp
    screenshot(browser, "board.png")
