"""Maintenance reminders by date and by mileage: signalled once, reset by a finished repair
of their kind (issue 12, part 4)."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from decimal import Decimal

import jsonschema
import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from messaging.consumer import ACK, Delivery
from metier import services
from metier.models import Evenement, Rappel
from notifications import gabarits, sms
from notifications.handler import Notifier
from pipeline import catalogue
from pipeline.events import cloudevent
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def voiture():
    client = services.create_client(nom="M. Petit", email="petit@example.fr")
    return services.create_voiture(
        marque="Renault",
        couleur="blanc",
        modele="Clio",
        client=client,
        kilometrage=10_000,
        immatriculation="CD-456-EF",
    )


def _due() -> list[Evenement]:
    return list(Evenement.objects.filter(type="rappel.du").order_by("cree_le"))


def test_due_by_mileage_once(voiture):
    rappel = services.create_rappel(
        voiture=voiture, nature="vidange", intervalle_km=15_000, intervalle_jours=365
    )
    assert services.signaler_rappels_dus() == []
    services.update_voiture(voiture=voiture, kilometrage=25_000)
    assert services.signaler_rappels_dus() == [rappel.pk]
    assert services.signaler_rappels_dus() == []  # once per due reminder
    [event] = _due()
    assert event.donnees["raison"] == "kilometrage" and event.donnees["echeance_km"] == 25_000
    ce = cloudevent(event)
    jsonschema.validate(ce, catalogue.load_schema("rappel.du"))


def test_due_by_date_whichever_comes_first(voiture):
    year_ago = timezone.localdate() - timedelta(days=366)
    services.create_rappel(
        voiture=voiture,
        nature="vidange",
        intervalle_km=15_000,
        intervalle_jours=365,
        derniere_date=year_ago,
    )
    services.create_rappel(voiture=voiture, nature="courroie", intervalle_km=120_000)
    assert len(services.signaler_rappels_dus()) == 1
    [event] = _due()
    assert event.donnees["raison"] == "date" and event.donnees["nature"] == "vidange"
    assert event.donnees["client"] == voiture.client_id


def test_a_finished_repair_of_its_kind_resets_it(voiture, admin_api):
    rappel = services.create_rappel(voiture=voiture, nature="vidange", intervalle_km=15_000)
    services.update_voiture(voiture=voiture, kilometrage=26_000)
    assert services.signaler_rappels_dus() == [rappel.pk]
    piece = services.create_piece(nom="Huile 5W30", prix=Decimal("40.00"), stock=2)
    # another kind of work leaves it alone; the oil change, made through the API, resets it
    other = services.create_reparation(piece=piece, duree=1, voiture=voiture, nature="freins")
    made = admin_api.post(
        "/api/reparation/",
        {"piece": piece.pk, "duree": 1, "voiture": voiture.pk, "nature": "vidange"},
        format="json",
    )
    assert made.status_code == 201, made.content
    for rep_id in (other.pk, made.json()["id"]):
        for action in ("planifier", "demarrer", "terminer"):
            assert admin_api.post(f"/api/reparation/{rep_id}/{action}/").status_code == 200
    rappel.refresh_from_db()
    assert (rappel.dernier_km, rappel.derniere_date, rappel.du_le) == (
        26_000,
        timezone.localdate(),
        None,
    )
    assert services.signaler_rappels_dus() == []
    services.update_voiture(voiture=voiture, kilometrage=41_000)
    assert services.signaler_rappels_dus() == [rappel.pk]  # due again, 15,000 km later


def test_a_reminder_needs_an_interval_and_a_kind(voiture):
    with pytest.raises(ValidationError) as err:
        services.create_rappel(voiture=voiture, nature="vidange")
    assert "intervalle_km" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        services.create_rappel(voiture=voiture, nature=" ", intervalle_jours=30)
    assert "nature" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        services.create_rappel(voiture=voiture, nature="x", intervalle_jours=-1)
    assert "intervalle_jours" in err.value.message_dict


def test_the_command_and_the_customer_email(voiture, settings, tmp_path):
    services.enregistrer_consentement(
        client=voiture.client, canal="email", accorde=True, source="comptoir"
    )
    services.create_rappel(voiture=voiture, nature="vidange", intervalle_km=1_000)
    services.update_voiture(voiture=voiture, kilometrage=11_500)
    out = io.StringIO()
    call_command("rappels", stdout=out)
    assert "1 reminder(s) due signalled" in out.getvalue()
    [event] = _due()
    with SmtpServer() as smtp:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp.port
        notifier = Notifier(gabarits.charger(), sms.FileSms(tmp_path))
        body = json.dumps(cloudevent(event)).encode()
        assert notifier([Delivery(body, str(event.id), {}, 1)]) == [ACK]
        [mail] = smtp.messages
    assert mail["Subject"] == "entretien à prévoir pour votre Renault Clio"
    assert "à 11000 km (vous en êtes à 11500)" in mail.get_payload(decode=True).decode()
    assert Rappel.objects.get().du_le is not None
