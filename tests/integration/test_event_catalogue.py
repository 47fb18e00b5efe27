"""A repair's whole life, run through the API (and the customer's page), produces the
documented events on `garage.events`: each one read back from a real RabbitMQ is valid
against its JSON Schema and against the AsyncAPI document (docs/events/)."""

from __future__ import annotations

import json
import re
import time
import uuid

import jsonschema
import pytest
from django.core.management import call_command
from django.test import Client

from messaging.publisher import Publisher
from metier.models import Evenement
from pipeline import catalogue
from pipeline.outbox import relay_once
from tests.support.facturation import purge_documents

pytestmark = [pytest.mark.rabbitmq, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _purge():
    yield
    purge_documents()


def _ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.content.decode()
    return response.json()


def _answer_on_the_page(path: str) -> None:
    browser = Client(enforce_csrf_checks=True)
    html = browser.get(path).content.decode()
    form = {
        "empreinte": re.search(r'name="empreinte" value="([0-9a-f]{64})"', html)[1],
        "csrfmiddlewaretoken": re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)[1],
        "signature": "Claire Martin",
    }
    for line in set(re.findall(r'name="decision-(\d+)"', html)):
        form[f"decision-{line}"] = "acceptee"
    r = browser.post(path, form)
    assert r.status_code == 200, r.content.decode()


def _drain(vhost, queue: str) -> list:
    out = []
    with vhost.connection() as conn:
        ch = conn.channel()
        while True:
            method, props, body = ch.basic_get(queue, auto_ack=True)
            if method is None:
                return out
            out.append((method.routing_key, props, json.loads(body)))


def test_a_repair_life_emits_documented_events(admin_api, vhost, settings):
    tap = f"test.tap.{uuid.uuid4().hex[:8]}"
    settings.GARAGE_EVENT_QUEUES = {**settings.GARAGE_EVENT_QUEUES, tap: ["#"]}
    with Publisher() as p:
        p._connect()  # the topology, with the tap, before the first event
    api = "/api"
    admin_api.default_format = "json"
    client = _ok(admin_api.post(f"{api}/client/", {"nom": "Mme Martin", "email": "m@x.fr"}), 201)
    car = _ok(
        admin_api.post(
            f"{api}/voiture/",
            {"marque": "Peugeot", "couleur": "gris", "client": client["id"], "kilometrage": 1000},
        ),
        201,
    )
    piece = _ok(admin_api.post(f"{api}/piece/", {"nom": "Pads", "prix": 50, "seuil": 2}), 201)
    rep = _ok(
        admin_api.post(
            f"{api}/reparation/", {"piece": piece["id"], "duree": 2, "voiture": car["id"]}
        ),
        201,
    )
    r = f"{api}/reparation/{rep['id']}"
    _ok(admin_api.post(f"{r}/planifier/"))  # no stock: en_attente_pieces
    _ok(admin_api.post(f"{api}/piece/{piece['id']}/reception/", {"quantite": 3}))  # planned
    devis = _ok(admin_api.post(f"{api}/devis/", {"reparation": rep["id"]}), 201)
    sent = _ok(admin_api.post(f"{api}/devis/{devis['id']}/envoyer/"))
    _answer_on_the_page(sent["lien"].split("testserver", 1)[-1])
    for action in ("demarrer", "terminer", "facturer"):
        _ok(admin_api.post(f"{r}/{action}/"))
    facture = admin_api.get(f"{api}/facture/").json()["results"][0]
    _ok(
        admin_api.post(
            f"{api}/paiement/", {"facture": facture["id"], "montant": 10, "mode": "carte"}
        ),
        201,
    )
    other = _ok(admin_api.post(f"{api}/reparation/", {"piece": piece["id"], "duree": 1}), 201)
    _ok(admin_api.post(f"{api}/reparation/{other['id']}/annuler/"))

    # (after commit, mostly; the relay, as in production, for whatever that missed)
    deadline = time.monotonic() + 30
    with Publisher() as relay:
        while Evenement.objects.filter(publie_le__isnull=True).exists():
            assert time.monotonic() < deadline, "events still unpublished"
            time.sleep(0.2)
            relay_once(relay, grace=1)
    got = _drain(vhost, tap)
    doc = catalogue.load_asyncapi()
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    for key, props, ce in got:
        assert props.content_type == "application/cloudevents+json"
        schema = catalogue.load_schema(key)
        jsonschema.validate(ce, schema, format_checker=checker)
        assert catalogue.schema_from_asyncapi(doc, key) == schema
    keys = [key for key, _p, _ce in got]
    assert set(keys) >= {
        "reparation.demandee",
        "reparation.en_attente_pieces",
        "piece.recue",
        "reparation.planifiee",
        "piece.sous_seuil",
        "devis.envoye",
        "devis.accepte",
        "reparation.en_cours",
        "reparation.terminee",
        "reparation.facturee",
        "facture.emise",
        "paiement.enregistre",
        "reparation.annulee",
    }, keys
    assert len(got) == Evenement.objects.count()
    # per subject, sequences 1..n with no gap
    by_subject: dict[str, list[int]] = {}
    for _k, _p, ce in got:
        by_subject.setdefault(ce["subject"], []).append(ce["sequence"])
    for subject, seqs in by_subject.items():
        assert sorted(seqs) == list(range(1, len(seqs) + 1)), subject


def test_the_catalogue_on_disk_is_up_to_date():
    call_command("catalogue_evenements", "--check")
